"""HTTP APIs: the gateway's own cost, next to invoking the same function directly.

A real ``cumulo serve`` runs a hello-world Python function, reached three ways:

* **direct**: Lambda's Invoke API (raw HTTP, keep-alive), the floor;
* **HTTP API**: ``GET {ApiEndpoint}/hello`` through a quick-created HTTP API (payload 2.0, Lambda
  proxy): stage and route selection, the 2.0 event, the invoke, the response mapping;
* **static**: a route of the same API without an integration, which the gateway answers by
  itself (404 ``{"message":"Not Found"}``): everything but the invoke.

Latency is measured one request at a time on one keep-alive raw connection (p50/p99); the
overhead is HTTP API p50 minus direct p50. Throughput uses ``wrk`` (Debian package ``wrk``)
with 8 connections when it is installed, else Python client processes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench._load import WrkResult, check, client_processes, wrk
from bench._raw_http import RawConnection
from bench._server_common import AUTH, create_python_function
from bench.report import Figure, latency_figures, percentile, print_figures, timed_samples
from tests.server import CumuloServer

HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello'}\n"



class Target:
    def __init__(self, name: str, method: str, path: str, body: bytes, headers: dict[str, str], status: int):
        self.name, self.method, self.path = name, method, path
        self.body, self.headers, self.status = body, headers, status
        self.request = RawConnection.build(method, path, body, headers)

    def once(self, connection: RawConnection) -> None:
        check(connection.send(self.request), self.status)


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
                connection = RawConnection(server.port)
                samples = timed_samples(lambda t=target, c=connection: t.once(c), count, 100)
                connection.close()
                p50s[target.name] = percentile(samples, 50) * 1000
                figures += latency_figures("httpapi_overhead", f"{target.name} latency", samples)
            figures.append(Figure("httpapi_overhead", "gateway overhead p50 (HTTP API - direct)",
                                  round(p50s["HTTP API"] - p50s["direct invoke"], 3), "ms", "target <= 1 ms"))
            seconds = 2.0 if quick else 5.0
            for target in targets:
                result = wrk(server.port, target.method, target.path, target.body, target.headers, 8, seconds,
                             success_only=target.status < 300)
                note = "wrk -t1 -c8"
                if result is None:
                    result = WrkResult(client_processes(server.port, target.request, target.status, 2, seconds),
                                       None, None)
                    note = "2 Python clients"
                figures.append(Figure("httpapi_overhead", f"{target.name} throughput", round(result.rate), "req/s",
                                      note))
                if result.p50_ms is not None and result.p99_ms is not None:
                    figures.append(Figure("httpapi_overhead", f"{target.name} under load p50",
                                          round(result.p50_ms, 2), "ms", note))
                    figures.append(Figure("httpapi_overhead", f"{target.name} under load p99",
                                          round(result.p99_ms, 2), "ms", note))
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
