"""What the PostgreSQL store adds for a cluster: several stores (nodes) on one database.

Schema migrations run once whichever node starts first, a queue leases each message to one
node, a FIFO group goes to one node at a time, deduplication holds across nodes, a write on
one node invalidates the others' caches, and a commit survives ``kill -9``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from cumulo.store.record_cache import RecordCache
from tests.postgres import temporary_database
from tests.server import wait_for

psycopg = pytest.importorskip("psycopg", reason="the cluster extra (psycopg) is not installed")

from cumulo.store.postgres import PostgresStore  # noqa: E402
from cumulo.store.postgres_schema import MIGRATIONS  # noqa: E402


@pytest.fixture(scope="module")
def url():
    with temporary_database() as database_url:
        yield database_url


@pytest.fixture
def nodes(url):
    """Two stores on one database, as two cluster nodes have; emptied before each test."""
    first, second = PostgresStore(url), PostgresStore(url)
    first._execute("TRUNCATE records, queue_messages, queue_dedup")
    yield first, second
    first.close()
    second.close()


def test_migrations_run_once_when_several_nodes_start_together():
    with temporary_database() as database_url:
        script = textwrap.dedent(f"""
            from cumulo.store.postgres import PostgresStore
            store = PostgresStore({database_url!r})
            print(store.schema_version)
            store.close()
        """)
        processes = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(3)]
        results = [process.communicate(timeout=60) for process in processes]
        assert [(process.returncode, out.strip()) for process, (out, _) in zip(processes, results, strict=True)] \
            == [(0, str(len(MIGRATIONS)))] * 3, [err for _, err in results]
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT version FROM cumulo_schema").fetchall() == [(len(MIGRATIONS),)]


def test_a_newer_schema_is_refused(url):
    PostgresStore(url).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE cumulo_schema SET version=version+1")
        try:
            with pytest.raises(RuntimeError, match="newer Cumulo"):
                PostgresStore(url)
        finally:
            conn.execute("UPDATE cumulo_schema SET version=version-1")


def test_nodes_receiving_at_once_get_every_message_exactly_once(nodes):
    first, second = nodes
    sent = {f"m{index}" for index in range(300)}
    for message_id in sorted(sent):
        first.enqueue("q", message_id.encode(), message_id=message_id)
    received: list[list[str]] = [[], []]

    def consume(store: PostgresStore, into: list[str]) -> None:
        while batch := store.receive("q", 7, 60):
            into.extend(message.message_id for message in batch)

    threads = [threading.Thread(target=consume, args=(store, into))
               for store, into in zip(nodes, received, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = received[0] + received[1]
    assert sorted(everything) == sorted(sent)  # none lost, none delivered twice
    assert received[0] and received[1]  # both nodes took part
    assert second.queue_stats("q").in_flight == 300


def test_a_fifo_group_goes_to_one_node_at_a_time(nodes):
    first, second = nodes
    for index, group in enumerate(["a", "a", "b", "b"]):
        first.enqueue("f", f"{group}{index}".encode(), message_id=str(index), group_id=group)
    batch = first.receive("f", 1, 60, fifo=True)
    assert [m.body for m in batch] == [b"a0"]
    assert [m.body for m in second.receive("f", 10, 60, fifo=True)] == [b"b2", b"b3"]
    assert first.receive("f", 10, 60, fifo=True) == []  # a waits for a0, b is in flight
    assert second.delete_message("f", batch[0].receipt)
    assert [m.body for m in second.receive("f", 10, 60, fifo=True)] == [b"a1"]


def test_deduplication_holds_across_nodes(nodes):
    first, second = nodes
    original = first.enqueue("f", b"x", message_id="1", dedup_id="d")
    duplicate = second.enqueue("f", b"y", message_id="2", dedup_id="d")
    assert duplicate.duplicate and (duplicate.message_id, duplicate.sequence) == ("1", original.sequence)
    assert [m.body for m in second.receive("f", 10, 60, fifo=True)] == [b"x"]


def test_a_write_on_one_node_reaches_the_other_nodes_cache(nodes):
    first, second = nodes
    cache = RecordCache(second)
    first.put("functions", "f", {"memory": 128})
    wait_for(lambda: cache.get("functions", "f") == {"memory": 128})
    first.put("functions", "f", {"memory": 256})
    wait_for(lambda: cache.get("functions", "f") == {"memory": 256})
    first.delete("functions", "f")
    wait_for(lambda: cache.get("functions", "f") is None)


def test_committed_writes_survive_a_killed_node(url):
    script = textwrap.dedent(f"""
        import os, signal
        from cumulo.store.postgres import PostgresStore
        store = PostgresStore({url!r})
        store.put("t", "k", {{"v": 42}})
        store.enqueue("killed", b"body", message_id="m1")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    store = PostgresStore(url)
    try:
        assert store.get("t", "k") == {"v": 42}
        assert [m.message_id for m in store.receive("killed", 10, 30)] == ["m1"]
    finally:
        store.close()


def test_a_node_whose_connection_was_cut_reconnects_for_the_next_call(nodes):
    first, second = nodes
    first.put("t", "before", {"v": 1})
    second._execute("SELECT pg_terminate_backend(%s)", (first._backend_pid,))
    with pytest.raises(psycopg.OperationalError):
        first.get("t", "before")  # the call that finds the connection gone fails, never retried
    assert first.get("t", "before") == {"v": 1}
    first.put("t", "after", {"v": 2})
    assert second.get("t", "after") == {"v": 2}
