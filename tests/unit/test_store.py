"""The store contract (records, transactions, queues), run against both implementations:
the embedded SQLite store and the cluster's PostgreSQL store (skipped, saying why, when no
PostgreSQL server is reachable). Tests of one implementation's own mechanics name it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime

import pytest

from cumulo.store.base import DeadLetterPolicy
from cumulo.store.migrations import MIGRATIONS
from cumulo.store.record_cache import RecordCache
from cumulo.store.sqlite import SqliteStore
from tests.postgres import temporary_database


@pytest.fixture(scope="module")
def postgres_url():
    with temporary_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        instance = SqliteStore(tmp_path / "state.db")
    else:
        from cumulo.store.postgres import PostgresStore
        instance = PostgresStore(request.getfixturevalue("postgres_url"))
        instance._execute("TRUNCATE records, queue_messages, queue_dedup")  # one database per module
    yield instance
    instance.close()


def test_records_put_get_insert_delete(store):
    assert store.get("t", "a") is None
    store.put("t", "a", {"v": 1})
    assert store.get("t", "a") == {"v": 1}
    assert store.insert("t", "a", {"v": 2}) is False
    assert store.get("t", "a") == {"v": 1}
    assert store.insert("t", "b", {"v": 3}) is True
    assert store.delete("t", "a") is True
    assert store.delete("t", "a") is False
    assert store.get("other", "b") is None


def test_a_value_json_cannot_encode_is_refused_and_nothing_is_stored(store):
    store.put("t", "a", {"v": 1})
    with pytest.raises(TypeError):
        store.put("t", "a", {"v": datetime(2026, 1, 1)})
    with pytest.raises(TypeError):
        store.put_many("t", [("b", {"v": 2}), ("c", {"v": b"raw bytes"})])
    assert store.get("t", "a") == {"v": 1}
    assert store.get("t", "b") is None and store.get("t", "c") is None


def test_scan_orders_by_key_with_prefix_bounds_limits_and_reverse(store):
    for key in ["x:3", "x:1", "x:2", "y:1", "x"]:
        store.put("t", key, {"k": key})
    assert [k for k, _ in store.scan("t", "x:")] == ["x:1", "x:2", "x:3"]
    assert [k for k, _ in store.scan("t", "x:", start_after="x:1")] == ["x:2", "x:3"]
    assert [k for k, _ in store.scan("t", "x:", limit=2, reverse=True)] == ["x:3", "x:2"]
    assert [k for k, _ in store.scan("t", "x:", end_before="x:3")] == ["x:1", "x:2"]
    assert store.delete_prefix("t", "x:") == 3
    assert [k for k, _ in store.scan("t")] == ["x", "y:1"]


def test_transactions_commit_together_or_not_at_all(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.put("t", "a", {"v": 1})
        with store.transaction():  # nested blocks join the outer transaction
            store.put("t", "b", {"v": 2})
        raise RuntimeError("abort")
    assert store.get("t", "a") is None and store.get("t", "b") is None
    with store.transaction():
        store.put("t", "a", {"v": 1})
        store.put("t", "b", {"v": 2})
    assert store.get("t", "b") == {"v": 2}


def test_generation_changes_with_every_write_to_its_table_and_with_rollbacks(store):
    seen = {store.generation("t")}
    for write in (lambda: store.put("t", "a", {"v": 1}), lambda: store.insert("t", "b", {"v": 2}),
                  lambda: store.put_many("t", [("c", {"v": 3})]), lambda: store.delete("t", "a"),
                  lambda: store.delete_prefix("t", "b")):
        write()
        assert store.generation("t") not in seen
        seen.add(store.generation("t"))
    other = store.generation("other")
    store.put("t", "d", {"v": 4})
    assert store.generation("other") == other  # a write elsewhere leaves other tables' caches alone
    with pytest.raises(RuntimeError), store.transaction():
        raise RuntimeError("abandon")
    assert store.generation("other") != other  # a rollback may have undone anything


def test_record_cache_sees_writes_deletes_and_rolled_back_changes(store):
    cache = RecordCache(store)
    assert cache.get("t", "a") is None
    store.put("t", "a", {"v": 1})
    assert cache.get("t", "a") == {"v": 1}
    assert cache.get("t", "a") is cache.get("t", "a")  # decoded once while nothing changes
    with pytest.raises(RuntimeError), store.transaction():
        store.put("t", "a", {"v": 2})
        assert cache.get("t", "a") == {"v": 2}  # the open transaction's own view
        raise RuntimeError("abandon")
    assert cache.get("t", "a") == {"v": 1}
    store.delete("t", "a")
    assert cache.get("t", "a") is None


def test_record_cache_does_not_keep_a_read_that_raced_a_write(tmp_path):
    """A read made while a write is under way (from another thread, in the server) sees the old
    record; the cache must not keep trusting it once the write is done."""
    class RacingStore(SqliteStore):
        read_during_next_write = None

        def _execute(self, sql, params=()):
            race, self.read_during_next_write = self.read_during_next_write, None
            if race is not None:
                race()
            return super()._execute(sql, params)

    store = RacingStore(tmp_path / "state.db")
    cache = RecordCache(store)
    store.put("t", "a", {"v": 1})
    store.read_during_next_write = lambda: cache.get("t", "a")
    store.put("t", "a", {"v": 2})
    assert cache.get("t", "a") == {"v": 2}
    store.close()


def test_committed_writes_survive_a_killed_process(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal
        from cumulo.store.sqlite import SqliteStore
        store = SqliteStore(__import__("pathlib").Path({str(tmp_path / 'db')!r}))
        store.put("t", "k", {{"v": 42}})
        store.enqueue("q", b"body", message_id="m1")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    subprocess.run([sys.executable, "-c", script], check=False)
    reopened = SqliteStore(tmp_path / "db")
    assert reopened.get("t", "k") == {"v": 42}
    assert [m.message_id for m in reopened.receive("q", 10, 30)] == ["m1"]
    reopened.close()


def test_schema_version_is_recorded_and_newer_schemas_are_refused(tmp_path):
    store = SqliteStore(tmp_path / "db")
    assert store.schema_version == len(MIGRATIONS)
    store.close()
    connection = sqlite3.connect(tmp_path / "db")
    connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    connection.close()
    with pytest.raises(RuntimeError, match="newer Cumulo"):
        SqliteStore(tmp_path / "db")


def test_queue_delivers_oldest_first_and_hides_for_the_visibility_timeout(store):
    for index in range(3):
        store.enqueue("q", f"m{index}".encode(), message_id=f"id{index}", now=100.0 + index)
    first = store.receive("q", 2, 30, now=200.0)
    assert [m.body for m in first] == [b"m0", b"m1"]
    assert all(m.receive_count == 1 and m.receipt for m in first)
    assert [m.body for m in store.receive("q", 10, 30, now=201.0)] == [b"m2"]
    assert store.receive("q", 10, 30, now=210.0) == []
    again = store.receive("q", 10, 30, now=230.5)
    assert [m.body for m in again] == [b"m0", b"m1"]
    assert [m.receive_count for m in again] == [2, 2]
    assert store.delete_message("q", first[0].receipt) is False  # an old receipt no longer works
    assert store.delete_message("q", again[0].receipt) is True
    stats = store.queue_stats("q", now=230.6)
    assert (stats.visible, stats.in_flight, stats.delayed) == (0, 2, 0)  # m1 and m2


def test_delay_and_change_visibility(store):
    store.enqueue("q", b"later", message_id="a", delay_s=10, now=0.0)
    assert store.receive("q", 1, 30, now=5.0) == []
    assert store.queue_stats("q", now=5.0).delayed == 1
    assert store.next_visible_at("q") == 10.0
    [message] = store.receive("q", 1, 30, now=10.0)
    assert store.change_visibility("q", message.receipt, 0, now=11.0)
    assert [m.message_id for m in store.receive("q", 1, 30, now=11.0)] == ["a"]


def test_fifo_groups_block_while_a_message_is_in_flight(store):
    for index, group in enumerate(["a", "a", "b", "a"]):
        store.enqueue("f", f"{group}{index}".encode(), message_id=str(index), group_id=group, now=float(index))
    batch = store.receive("f", 2, 30, fifo=True, now=10.0)
    assert [m.body for m in batch] == [b"a0", b"a1"]
    nxt = store.receive("f", 10, 30, fifo=True, now=11.0)
    assert [m.body for m in nxt] == [b"b2"]  # group a is blocked until its messages are done
    for message in batch:
        store.delete_message("f", message.receipt)
    assert [m.body for m in store.receive("f", 10, 30, fifo=True, now=12.0)] == [b"a3"]


def test_deduplication_window(store):
    first = store.enqueue("f", b"x", message_id="1", dedup_id="d", now=0.0)
    duplicate = store.enqueue("f", b"y", message_id="2", dedup_id="d", now=100.0)
    assert duplicate.duplicate and duplicate.message_id == "1"
    fresh = store.enqueue("f", b"z", message_id="3", dedup_id="d", now=301.0)
    assert not fresh.duplicate and fresh.sequence > first.sequence


def test_dead_letter_after_max_receives(store):
    store.enqueue("src", b"poison", message_id="p", attributes={"k": "v"}, now=0.0)
    policy = DeadLetterPolicy("dlq", max_receive_count=2)
    assert len(store.receive("src", 1, 1, dead_letter=policy, now=1.0)) == 1
    assert len(store.receive("src", 1, 1, dead_letter=policy, now=3.0)) == 1
    assert store.receive("src", 1, 1, dead_letter=policy, now=5.0) == []
    [moved] = store.receive("dlq", 1, 30, now=6.0)
    assert (moved.message_id, moved.body, moved.attributes) == ("p", b"poison", {"k": "v"})


def test_purge_expire_and_move(store):
    for index in range(4):
        store.enqueue("q", b"x", message_id=str(index), now=float(index))
    assert store.expire("q", sent_before=2.0) == 2
    assert store.move_messages("q", "other", limit=1) == 1
    assert sorted(store.iter_queues()) == ["other", "q"]
    assert store.purge("q") == 1
    assert store.queue_stats("q").visible == 0
