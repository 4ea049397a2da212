"""Cluster mode against the embedded store: SQS throughput with 1 and 2 nodes, and database
transactions per message.

Each configuration gets fresh nodes (``cumulo serve``; ``--cluster`` on a fresh database of the
local PostgreSQL named by ``CUMULO_TEST_POSTGRES_URL``) and one boto3 client per node: each
client sends its share of the messages in batches of 10 through its node, then receives and
deletes through its node until the queue is empty. ``transactions per message`` is the growth of
PostgreSQL's committed transactions (``pg_stat_database.xact_commit``, every statement outside a
transaction is one, each a round trip) divided by the messages sent, received and deleted.

On this 2-core machine the nodes, the clients and PostgreSQL share the same cores, so a second
node adds no CPU: the figures show the cost of the shared store, not the scaling a cluster of
machines gets. Skipped (no figures) when psycopg or the PostgreSQL server is missing.

    python -m bench cluster_throughput [--quick]
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from bench.report import Figure
from bench.sqs_throughput import _drain, _send, client
from tests.server import CumuloServer

BENCH = "cluster_throughput"
ADMIN_URL = os.environ.get("CUMULO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def database() -> Iterator[str]:
    import psycopg

    name = f"cumulo_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _commits(url: str) -> int:
    import psycopg

    time.sleep(1.5)  # backends flush their statistics about once a second
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname=current_database()"
                            ).fetchone()[0]


@contextlib.contextmanager
def nodes(count: int, cluster_url: str | None) -> Iterator[list[CumuloServer]]:
    with tempfile.TemporaryDirectory() as directory:
        data_dir = Path(directory) / "data"
        started: list[CumuloServer] = []
        try:
            for index in range(count):
                args = ["--cluster", cluster_url, "--node-name", f"n{index}"] if cluster_url else []
                started.append(CumuloServer(data_dir, extra_args=args).start(timeout=60))
            yield started
        finally:
            for node in started:
                node.stop()


def measure(label: str, servers: list[CumuloServer], messages: int, cluster_url: str | None) -> list[Figure]:
    queue = client(servers[0].url).create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    share = messages // len(servers)
    clients = [client(server.url) for server in servers]
    before = _commits(cluster_url) if cluster_url else 0
    started = time.perf_counter()
    threads = [threading.Thread(target=_send, args=(sqs, queue, share)) for sqs in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = time.perf_counter()
    threads = [threading.Thread(target=_drain, args=(sqs, queue, share)) for sqs in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = time.perf_counter()
    total = share * len(servers)
    note = f"{len(servers)} node(s), one client each"
    figures = [Figure(BENCH, f"{label} SQS send (batches of 10)", round(total / (sent - started)), "msg/s", note),
               Figure(BENCH, f"{label} SQS receive+delete", round(total / (done - sent)), "msg/s", note)]
    if cluster_url:
        per_message = (_commits(cluster_url) - before) / total
        figures.append(Figure(BENCH, f"{label} PostgreSQL transactions per message", round(per_message, 2),
                              "xact", "send + receive + delete, batches of 10; includes heartbeats"))
    return figures


def run(quick: bool = False) -> list[Figure]:
    try:
        import psycopg

        psycopg.connect(ADMIN_URL, connect_timeout=3).close()
    except Exception as error:  # no driver or no server: nothing to measure
        print(f"cluster_throughput skipped: {error}", file=sys.stderr)
        return []
    messages = 400 if quick else 4000
    figures: list[Figure] = []
    with nodes(1, None) as servers:
        figures += measure("SQLite, 1 node:", servers, messages, None)
    for count in (1, 2):
        with database() as url, nodes(count, url) as servers:
            figures += measure(f"PostgreSQL, {count} node(s):", servers, messages, url)
    return figures
