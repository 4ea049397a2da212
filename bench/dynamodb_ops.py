"""DynamoDB PutItem, GetItem and Query (1, 10 and 100 items per page) through boto3: Cumulo
against moto's server mode, same script, one connection and four.

For each operation: operations/s and p50/p99 latency on one client, then operations/s with four
client threads at once. Both servers run here as subprocesses (``cumulo serve`` with a fresh data
directory, ``python -m moto.server``), so the client's own cost is in both figures. moto gets a
fifth of the operations (a rate does not depend on the count); its figures are skipped when moto
is not installed (``pip install -e '.[bench]'``).

With ``--full``, Cumulo also loads a table of 1,000,000 items (BatchWriteItem, 25 a call) and
measures GetItem and Query on it: a Query reads only its key range, so the figures stay those of
a small table.

    python -m bench.dynamodb_ops            # 2,000 operations each
    python -m bench.dynamodb_ops --quick    # 300
    python -m bench.dynamodb_ops --full     # plus the 1M-item table
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from bench.report import Figure, latency_figures, print_figures
from tests.server import CumuloServer, free_port, wait_for

BENCH = "dynamodb_ops"
CLIENTS = 4
PARTITION_ITEMS = 1_000


def client(url: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}, max_pool_connections=CLIENTS * 2))


@contextlib.contextmanager
def cumulo_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data").start()
        try:
            yield server.url
        finally:
            server.stop()


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        probe = client(url)
        wait_for(lambda: _answers(probe), timeout=30, interval=0.1, message="moto server")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(ddb: Any) -> bool:
    try:
        ddb.list_tables()
        return True
    except Exception:
        return False


def _table(ddb: Any) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}])
    return name


def _item(pk: str, sk: int) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}, "name": {"S": f"item {sk}"}, "price": {"N": f"{sk}.99"},
            "tags": {"SS": ["a", "b"]}, "body": {"S": "x" * 200}}


def _load(ddb: Any, name: str, pk: str, count: int, offset: int = 0) -> None:
    for start in range(0, count, 25):
        ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": _item(pk, offset + i)}}
                                                  for i in range(start, min(count, start + 25))]})


def _concurrent(url: str, operation: Callable[[Any, int, int], None], count: int) -> float:
    """Operations/s with CLIENTS threads, each with its own client, sharing ``count`` operations."""
    clients = [client(url) for _ in range(CLIENTS)]
    share = count // CLIENTS
    threads = [threading.Thread(target=lambda c=c, n=n: [operation(c, n, i) for i in range(share)])
               for n, c in enumerate(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return share * CLIENTS / (time.perf_counter() - started)


def _measure(label: str, operation: Callable[[Any, int, int], None], ddb: Any, url: str,
             count: int) -> list[Figure]:
    for i in range(20):  # warm-up
        operation(ddb, 9, i)
    samples = []
    for i in range(count):
        began = time.perf_counter()
        operation(ddb, 0, i)
        samples.append(time.perf_counter() - began)
    figures = [Figure(BENCH, f"{label}, 1 connection", round(count / sum(samples)), "op/s")]
    figures += latency_figures(BENCH, label, samples)[:2]
    figures.append(Figure(BENCH, f"{label}, {CLIENTS} connections", round(_concurrent(url, operation, count)),
                          "op/s", f"{CLIENTS} threads"))
    return figures


def operations(url: str, label: str, count: int) -> list[Figure]:
    ddb = client(url)
    name = _table(ddb)
    _load(ddb, name, "q", PARTITION_ITEMS)

    def put(c: Any, worker: int, i: int) -> None:
        c.put_item(TableName=name, Item=_item(f"w{worker}", i))

    def get(c: Any, worker: int, i: int) -> None:
        c.get_item(TableName=name, Key={"pk": {"S": "q"}, "sk": {"N": str(i % PARTITION_ITEMS)}})

    def query(page: int) -> Callable[[Any, int, int], None]:
        def run(c: Any, worker: int, i: int) -> None:
            start = (i * 7) % (PARTITION_ITEMS - page)
            answer = c.query(TableName=name, KeyConditionExpression="pk = :p AND sk >= :s", Limit=page,
                             ExpressionAttributeValues={":p": {"S": "q"}, ":s": {"N": str(start)}})
            assert answer["Count"] == page, answer["Count"]
        return run

    figures = _measure(f"{label} PutItem", put, ddb, url, count)
    figures += _measure(f"{label} GetItem", get, ddb, url, count)
    for page in (1, 10, 100):
        figures += _measure(f"{label} Query {page}/page", query(page), ddb, url, count if page < 100 else count // 2)
    return figures


def million(url: str) -> list[Figure]:
    """GetItem and Query on a table of 1,000,000 items (1,000 partitions of 1,000)."""
    ddb = client(url)
    name = _table(ddb)
    began = time.perf_counter()
    loaders = [client(url) for _ in range(CLIENTS)]

    def load(worker: int) -> None:
        for partition in range(worker, 1000, CLIENTS):
            _load(loaders[worker], name, f"p{partition}", 1000)

    threads = [threading.Thread(target=load, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    loaded = time.perf_counter() - began
    figures = [Figure(BENCH, "cumulo 1M items: load (BatchWriteItem)", round(1_000_000 / loaded), "item/s",
                      f"{CLIENTS} threads")]

    def get(c: Any, worker: int, i: int) -> None:
        c.get_item(TableName=name, Key={"pk": {"S": f"p{(i * 31) % 1000}"}, "sk": {"N": str((i * 17) % 1000)}})

    def query(c: Any, worker: int, i: int) -> None:
        c.query(TableName=name, KeyConditionExpression="pk = :p AND sk >= :s", Limit=10,
                ExpressionAttributeValues={":p": {"S": f"p{(i * 31) % 1000}"}, ":s": {"N": str((i * 17) % 900)}})

    figures += _measure("cumulo 1M items: GetItem", get, ddb, url, 2000)
    figures += _measure("cumulo 1M items: Query 10/page", query, ddb, url, 2000)
    return figures


def run(quick: bool = False, full: bool = False) -> list[Figure]:
    count = 300 if quick else 2_000
    figures: list[Figure] = []
    with cumulo_server() as url:
        figures += operations(url, "cumulo", count)
        if full:
            figures += million(url)
    if importlib.util.find_spec("moto") is None:
        return figures
    with moto_server() as url:
        figures += operations(url, "moto", max(100, count // 5))
    by_metric = {f.metric: f.value for f in figures}
    for figure in list(figures):
        if not figure.metric.startswith("cumulo ") or "1M" in figure.metric:
            continue
        other = by_metric.get("moto " + figure.metric[len("cumulo "):])
        if not other or not figure.value:
            continue
        faster = figure.value / other if figure.unit == "op/s" else other / figure.value
        figures.append(Figure(BENCH, figure.metric[len("cumulo "):] + " vs moto", round(faster, 2), "x",
                              "Cumulo / moto" if figure.unit == "op/s" else "moto / Cumulo (latency)"))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dynamodb_ops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer operations")
    parser.add_argument("--full", action="store_true", help="also a table of 1,000,000 items")
    args = parser.parse_args(argv)
    print_figures(run(quick=args.quick, full=args.full))


if __name__ == "__main__":
    main()
