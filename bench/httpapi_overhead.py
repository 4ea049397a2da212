"""HTTP APIs: the gateway's own cost, next to invoking the same function directly.

A real ``cumulo serve`` runs a hello-world Python function, reached three ways:

* **direct**: Lambda's Invoke API (raw HTTP, keep-alive), the floor;
* **HTTP API**: ``GET {ApiEndpoint}/hello`` through a quick-created HTTP API (payload 2.0, Lambda
  proxy): stage and route selection, the 2.0 event, the invoke, the response mapping;
* **static**: a route of the same API without an integration, which the gateway answers by
  itself (404 ``{"message":"Not Found"}``): everything but the invoke.

Latency is measured one request at a time on one keep-alive connection (p50/p99); the
overhead is HTTP API p50 minus direct p50. Throughput uses ``wrk`` (Debian package ``wrk``)
with 8 connections when it is installed, else Python client processes.
"""

from __future__ import annotations

import http.client
import multiprocessing
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._server_common import AUTH, create_python_function
from bench.report import Figure, latency_figures, percentile, print_figures, timed_samples
from tests.server import CumuloServer

HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello'}\n"
WRK_SCRIPT = """
wrk.method = "{method}"
wrk.body = "{body}"
wrk.headers["Authorization"] = "{auth}"
"""



class Target:
    def __init__(self, name: str, method: str, path: str, body: bytes, headers: dict[str, str], status: int):
        self.name, self.method, self.path = name, method, path
        self.body, self.headers, self.status = body, headers, status

    def once(self, connection: http.client.HTTPConnection) -> None:
        connection.request(self.method, self.path, body=self.body or None, headers=self.headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != self.status:
            raise RuntimeError(f"{self.name}: {response.status} {body[:300]!r}")


def _client_loop(port: int, target: Target, seconds: float, results: multiprocessing.Queue) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    target.once(connection)
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        target.once(connection)
        count += 1
    results.put(count)


def _python_throughput(port: int, target: Target, clients: int, seconds: float) -> tuple[float, None, None]:
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_client_loop, args=(port, target, seconds, results))
               for _ in range(clients)]
    for worker in workers:
        worker.start()
    total = sum(results.get(timeout=seconds + 60) for _ in workers)
    for worker in workers:
        worker.join()
    return total / seconds, None, None


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk_throughput(port: int, target: Target, connections: int, seconds: float
                    ) -> tuple[float, float | None, float | None]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(method=target.method, body=target.body.decode().replace('"', '\\"'),
                                       auth=target.headers.get("Authorization", "")))
    output = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{int(seconds)}s", "--latency",
                             "-s", script.name, f"http://127.0.0.1:{port}{target.path}"],
                            capture_output=True, text=True, check=True).stdout
    Path(script.name).unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = re.search(r"\s50%\s+([\d.]+\w+)", output)
    p99 = re.search(r"\s99%\s+([\d.]+\w+)", output)
    return rate, _ms(p50.group(1)) if p50 else None, _ms(p99.group(1)) if p99 else None


def run(quick: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data").start()
        try:
            lam = server.client("lambda")
            create_python_function(lam, "bench-hello", HANDLER, MemorySize=128)
            arn = lam.get_function(FunctionName="bench-hello")["Configuration"]["FunctionArn"]
            gw = server.client("apigatewayv2")
            api = gw.create_api(Name="bench", ProtocolType="HTTP", Target=arn, RouteKey="GET /hello")
            gw.create_route(ApiId=api["ApiId"], RouteKey="GET /static")
            prefix = f"/_api/{api['ApiId']}"
            targets = [
                Target("direct invoke", "POST", "/2015-03-31/functions/bench-hello/invocations", b"{}",
                       {"Authorization": AUTH}, 200),
                Target("HTTP API", "GET", f"{prefix}/hello", b"", {}, 200),
                Target("static", "GET", f"{prefix}/static", b"", {}, 404),
            ]
            p50s: dict[str, float] = {}
            count = 500 if quick else 5000
            for target in targets:
                connection = http.client.HTTPConnection("127.0.0.1", server.port)
                samples = timed_samples(lambda t=target, c=connection: t.once(c), count, 100)
                connection.close()
                p50s[target.name] = percentile(samples, 50) * 1000
                figures += latency_figures("httpapi_overhead", f"{target.name} latency", samples)
            figures.append(Figure("httpapi_overhead", "gateway overhead p50 (HTTP API - direct)",
                                  round(p50s["HTTP API"] - p50s["direct invoke"], 3), "ms", "target <= 1 ms"))
            seconds = 2.0 if quick else 5.0
            wrk = shutil.which("wrk") is not None
            for target in targets:
                if wrk:
                    rate, p50, p99 = _wrk_throughput(server.port, target, 8, seconds)
                else:
                    rate, p50, p99 = _python_throughput(server.port, target, 2, seconds)
                note = "wrk -t1 -c8" if wrk else "2 Python clients"
                figures.append(Figure("httpapi_overhead", f"{target.name} throughput", round(rate), "req/s", note))
                if p50 is not None and p99 is not None:
                    figures.append(Figure("httpapi_overhead", f"{target.name} under load p50", round(p50, 2), "ms",
                                          note))
                    figures.append(Figure("httpapi_overhead", f"{target.name} under load p99", round(p99, 2), "ms",
                                          note))
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
