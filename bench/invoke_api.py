"""Invoke through the HTTP API: warm latency, throughput under concurrency, and cold starts.

A real ``cumulo serve`` runs a hello-world Python function. Warm latency uses one keep-alive
raw HTTP connection (the server's own cost, no SDK); throughput runs 1, 2 and 8 client
processes for a fixed time, each with its own connection; cold starts publish a new code
revision before each invoke so every invoke needs a new environment, and report total time
and platform overhead (total minus the handler's own duration from the REPORT line).
"""

from __future__ import annotations

import base64
import http.client
import json
import multiprocessing
import re
import tempfile
import time
from pathlib import Path

from bench._server_common import AUTH, create_python_function, update_python_code
from bench.report import Figure, latency_figures, percentile, print_figures, timed_samples
from tests.server import CumuloServer

HANDLER = "def handler(event, context):\n    return {'hello': event.get('name', 'world')}\n"



def _invoke_once(connection: http.client.HTTPConnection, name: str, headers: dict[str, str] | None = None
                 ) -> http.client.HTTPResponse:
    connection.request("POST", f"/2015-03-31/functions/{name}/invocations", body=b'{"name": "bench"}',
                       headers={"Authorization": AUTH, **(headers or {})})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200 or response.getheader("X-Amz-Function-Error"):
        raise RuntimeError(f"invoke failed: {response.status} {body[:500]!r}")
    return response


def _client_loop(port: int, name: str, seconds: float, results: multiprocessing.Queue) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    _invoke_once(connection, name)
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        _invoke_once(connection, name)
        count += 1
    results.put(count)


def _throughput(port: int, name: str, clients: int, seconds: float) -> float:
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_client_loop, args=(port, name, seconds, results))
               for _ in range(clients)]
    for worker in workers:
        worker.start()
    total = sum(results.get(timeout=seconds + 60) for _ in workers)
    for worker in workers:
        worker.join()
    return total / seconds


def _cold_starts(server: CumuloServer, count: int) -> tuple[list[float], list[float]]:
    client = server.client("lambda")
    name = "bench-cold"
    create_python_function(client, name, HANDLER)
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    totals, overheads = [], []
    for index in range(count):
        update_python_code(client, name, HANDLER + f"# revision {index}\n")
        started = time.perf_counter()
        response = _invoke_once(connection, name, {"X-Amz-Log-Type": "Tail"})
        total_ms = (time.perf_counter() - started) * 1000
        tail = base64.b64decode(response.getheader("X-Amz-Log-Result")).decode()
        duration = float(re.search(r"\tDuration: ([\d.]+) ms", tail).group(1))
        if index:  # the first one also starts the interpreter's zygote
            totals.append(total_ms)
            overheads.append(total_ms - duration)
    connection.close()
    return totals, overheads


def _burst(server: CumuloServer, size: int, rounds: int) -> list[float]:
    """``size`` concurrent first invokes of a new function, each on its own connection:
    the time until the last one has answered (every one must succeed)."""
    import threading

    client = server.client("lambda")
    walls = []
    for index in range(rounds):
        name = f"bench-burst-{index}"
        create_python_function(client, name, HANDLER, Timeout=3)
        connections = [http.client.HTTPConnection("127.0.0.1", server.port) for _ in range(size)]
        for connection in connections:
            connection.connect()
        barrier = threading.Barrier(size + 1)
        errors: list[Exception] = []

        def one(connection: http.client.HTTPConnection, name: str = name, barrier: threading.Barrier = barrier,
                errors: list[Exception] = errors) -> None:
            barrier.wait()
            try:
                _invoke_once(connection, name)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(c,)) for c in connections]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        walls.append((time.perf_counter() - started) * 1000)
        for connection in connections:
            connection.close()
        if errors:
            raise RuntimeError(f"burst of cold starts failed: {errors[0]}")
    return walls


def run(quick: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data").start()
        try:
            client = server.client("lambda")
            create_python_function(client, "bench-warm", HANDLER, MemorySize=128)
            connection = http.client.HTTPConnection("127.0.0.1", server.port)
            samples = timed_samples(lambda: _invoke_once(connection, "bench-warm"), 300 if quick else 3000, 50)
            connection.close()
            figures += latency_figures("invoke_api", "warm invoke raw HTTP", samples)
            seconds = 2.0 if quick else 5.0
            for clients in (1, 2, 8):
                rate = _throughput(server.port, "bench-warm", clients, seconds)
                figures.append(Figure("invoke_api", f"warm throughput, {clients} client(s)", round(rate),
                                      "inv/s", "sync invokes, keep-alive, one process per client"))
            walls = _burst(server, 8, 3 if quick else 10)
            figures += [
                Figure("invoke_api", "burst of 8 concurrent cold starts p50", round(percentile(walls, 50), 2), "ms",
                       "8 connections, first invokes of a new function, until the last answers"),
                Figure("invoke_api", "burst of 8 concurrent cold starts worst", round(max(walls), 2), "ms"),
            ]
            totals, overheads = _cold_starts(server, 6 if quick else 31)
            figures += [
                Figure("invoke_api", "cold start total p50", round(percentile(totals, 50), 2), "ms",
                       "new code revision -> first response (Python)"),
                Figure("invoke_api", "cold start total p95", round(percentile(totals, 95), 2), "ms"),
                Figure("invoke_api", "cold start overhead p50", round(percentile(overheads, 50), 2), "ms",
                       "total minus handler Duration"),
                Figure("invoke_api", "cold start overhead p95", round(percentile(overheads, 95), 2), "ms"),
            ]
            health = server.health()
            figures.append(Figure("invoke_api", "isolation", 1.0 if health["isolation"].get("namespaces") else 0.0,
                                  "flag", json.dumps(health["isolation"].get("cgroups", {}))[:60]))
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    print_figures(run())
