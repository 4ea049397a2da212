"""Control-plane speed: server start-up time and GetFunction through boto3 and raw HTTP.

Starts a real ``cumulo serve`` on a free port with a fresh data directory several times
(median and slowest start to the first healthy answer, with the package's bytecode compiled
first, as ``pip install`` leaves it), creates one function, then measures sequential
GetFunction round trips (requests/s, p50, p99) with boto3 (SDK overhead included) and with a
keep-alive raw HTTP client (the server's own cost).
"""

from __future__ import annotations

import compileall
import http.client
import statistics
import tempfile
import time
from pathlib import Path

import cumulo
from bench._server_common import create_python_function
from bench.report import Figure, latency_figures, print_figures, timed_samples
from tests.server import CumuloServer

NAME = "bench-control-plane"



def _start_times(runs: int) -> list[float]:
    """Milliseconds from spawning ``cumulo serve`` to its first healthy answer, per fresh start."""
    compileall.compile_dir(str(Path(cumulo.__file__).parent), quiet=1)
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as directory:
            server = CumuloServer(Path(directory) / "data")
            started = time.perf_counter()
            server.start()
            times.append((time.perf_counter() - started) * 1000)
            server.stop()
    return times


def run(quick: bool = False) -> list[Figure]:
    count = 300 if quick else 3000
    starts = _start_times(3 if quick else 9)
    figures = [
        Figure("control_plane", "serve start to healthy p50", round(statistics.median(starts), 1), "ms",
               f"{len(starts)} fresh starts: process spawn + imports + first /_cumulo/health"),
        Figure("control_plane", "serve start to healthy max", round(max(starts), 1), "ms", ""),
    ]
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data")
        server.start()
        try:
            client = server.client("lambda")
            create_python_function(client, NAME, "def handler(event, context):\n    return event\n")

            samples = timed_samples(lambda: client.get_function(FunctionName=NAME), count)
            figures.append(Figure("control_plane", "GetFunction boto3 throughput",
                                  round(len(samples) / sum(samples)), "req/s", "1 client, sequential"))
            figures += latency_figures("control_plane", "GetFunction boto3", samples)

            connection = http.client.HTTPConnection("127.0.0.1", server.port)
            headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, "
                                        "SignedHeaders=host, Signature=00"}

            def raw_get() -> None:
                connection.request("GET", f"/2015-03-31/functions/{NAME}", headers=headers)
                response = connection.getresponse()
                response.read()
                assert response.status == 200

            samples = timed_samples(raw_get, count)
            figures.append(Figure("control_plane", "GetFunction raw HTTP throughput",
                                  round(len(samples) / sum(samples)), "req/s", "keep-alive, sequential"))
            figures += latency_figures("control_plane", "GetFunction raw HTTP", samples)
            connection.close()
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    print_figures(run())
