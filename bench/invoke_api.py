"""Invoke through the HTTP API: warm latency, throughput under concurrency, and cold starts.

A real ``cumulo serve`` runs a hello-world Python function. Warm latency uses one keep-alive
raw HTTP connection (the server's own cost, no SDK; see ``bench/_raw_http.py``); throughput
runs 1, 2 and 8 client processes for a fixed time, each with its own connection, and wrk
with 2 and 8 connections where it is installed; cold starts publish a new code
revision before each invoke so every invoke needs a new environment, and report total time
and platform overhead (total minus the handler's own duration from the REPORT line).
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
import time
from pathlib import Path

from bench._load import check, client_processes, wrk
from bench._raw_http import RawConnection
from bench._server_common import AUTH, create_python_function, update_python_code
from bench.report import Figure, latency_figures, percentile, print_figures, timed_samples
from tests.server import CumuloServer

HANDLER = "def handler(event, context):\n    return {'hello': event.get('name', 'world')}\n"
BODY = b'{"name": "bench"}'


def _invoke_request(name: str, headers: dict[str, str] | None = None) -> bytes:
    return RawConnection.build("POST", f"/2015-03-31/functions/{name}/invocations", BODY,
                               {"Authorization": AUTH, **(headers or {})})


def _invoke_once(connection: RawConnection, request: bytes) -> dict[str, str]:
    return check(connection.send(request), 200)


def _cold_starts(server: CumuloServer, count: int) -> tuple[list[float], list[float]]:
    client = server.client("lambda")
    name = "bench-cold"
    create_python_function(client, name, HANDLER)
    connection = RawConnection(server.port)
    request = _invoke_request(name, {"X-Amz-Log-Type": "Tail"})
    totals, overheads = [], []
    for index in range(count):
        update_python_code(client, name, HANDLER + f"# revision {index}\n")
        started = time.perf_counter()
        headers = _invoke_once(connection, request)
        total_ms = (time.perf_counter() - started) * 1000
        tail = base64.b64decode(headers["x-amz-log-result"]).decode()
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
        connections = [RawConnection(server.port) for _ in range(size)]
        request = _invoke_request(name)
        barrier = threading.Barrier(size + 1)
        errors: list[Exception] = []

        def one(connection: RawConnection, request: bytes = request, barrier: threading.Barrier = barrier,
                errors: list[Exception] = errors) -> None:
            barrier.wait()
            try:
                _invoke_once(connection, request)
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
            connection = RawConnection(server.port)
            request = _invoke_request("bench-warm")
            samples = timed_samples(lambda: _invoke_once(connection, request), 300 if quick else 3000, 50)
            connection.close()
            figures += latency_figures("invoke_api", "warm invoke raw HTTP", samples)
            seconds = 2.0 if quick else 5.0
            for clients in (1, 2, 8):
                rate = client_processes(server.port, request, 200, clients, seconds)
                figures.append(Figure("invoke_api", f"warm throughput, {clients} client(s)", round(rate),
                                      "inv/s", "sync invokes, keep-alive, one process per client"))
            for connections in (2, 8):
                result = wrk(server.port, "POST", "/2015-03-31/functions/bench-warm/invocations", BODY,
                             {"Authorization": AUTH}, connections, seconds)
                if result is not None:
                    figures.append(Figure("invoke_api", f"warm throughput, wrk -c{connections}", round(result.rate),
                                          "inv/s", "a C client (wrk -t1): the server and environments get the cores"))
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
