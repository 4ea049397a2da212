"""Function URLs and response streaming.

A real ``cumulo serve`` runs:

* a hello-world Python function reached by Lambda's Invoke API (raw HTTP, keep-alive: the floor)
  and by its function URL (AuthType NONE, payload 2.0 event and response mapping): the URL's
  overhead is the difference of the p50s;
* a Node.js function wrapped in ``awslambda.streamifyResponse`` that writes a chunk, sleeps
  ``PAUSE_S``, and writes another, reached by ``InvokeWithResponseStream`` (boto3) and by its
  RESPONSE_STREAM function URL: the time to the first byte should be a small fraction of the
  time to the last, which is at least ``PAUSE_S``.
"""

from __future__ import annotations

import http.client
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from bench._load import check
from bench._raw_http import RawConnection
from bench._server_common import AUTH, ROLE, create_python_function
from bench.report import Figure, latency_figures, percentile, print_figures, timed_samples
from tests.conftest import make_zip
from tests.server import CumuloServer

HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello'}\n"
PAUSE_S = 0.5
STREAMER = f"""
exports.handler = awslambda.streamifyResponse(async (event, stream) => {{
  stream.setContentType("text/plain");
  stream.write("first ");
  await new Promise((resolve) => setTimeout(resolve, {int(PAUSE_S * 1000)}));
  stream.write("last");
  stream.end();
}});
"""


def public_url(lam, name: str, mode: str = "BUFFERED") -> str:
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode=mode)["FunctionUrl"]
    lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    lam.add_permission(FunctionName=name, StatementId="invoke", Action="lambda:InvokeFunction", Principal="*",
                       InvokedViaFunctionUrl=True)
    return url


def first_and_last_via_url(url: str) -> tuple[float, float]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        started = time.perf_counter()
        connection.request("GET", parts.path)
        response = connection.getresponse()
        response.read1()
        first = time.perf_counter() - started
        response.read()
        return first, time.perf_counter() - started
    finally:
        connection.close()


def first_and_last_via_api(lam, name: str) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    for event in lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}")["EventStream"]:
        if first is None and "PayloadChunk" in event:
            first = time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


def run(quick: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data").start()
        try:
            lam = server.client("lambda", read_timeout=70)
            create_python_function(lam, "bench-hello", HANDLER, MemorySize=128)
            url_path = urlsplit(public_url(lam, "bench-hello")).path
            count = 300 if quick else 3000
            p50s: dict[str, float] = {}
            for label, request in (
                    ("direct invoke", RawConnection.build("POST", "/2015-03-31/functions/bench-hello/invocations",
                                                          b"{}", {"Authorization": AUTH})),
                    ("function URL", RawConnection.build("GET", url_path))):
                connection = RawConnection(server.port)
                samples = timed_samples(lambda c=connection, r=request: check(c.send(r), 200), count, 50)
                connection.close()
                p50s[label] = percentile(samples, 50) * 1000
                figures += latency_figures("function_urls", f"{label} latency", samples)
            figures.append(Figure("function_urls", "function URL overhead p50 (URL - direct)",
                                  round(p50s["function URL"] - p50s["direct invoke"], 3), "ms"))

            name = f"bench-stream-{uuid.uuid4().hex[:6]}"
            lam.create_function(FunctionName=name, Runtime="nodejs20.x", Handler="index.handler", Role=ROLE,
                                Timeout=30, Code={"ZipFile": make_zip({"index.js": STREAMER})})
            lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
            stream_url = public_url(lam, name, "RESPONSE_STREAM")
            rounds = 3 if quick else 10
            for label, measure in (("InvokeWithResponseStream", lambda: first_and_last_via_api(lam, name)),
                                   ("RESPONSE_STREAM URL", lambda: first_and_last_via_url(stream_url))):
                measure()  # cold start out of the way
                firsts, lasts = zip(*(measure() for _ in range(rounds)), strict=True)
                note = f"function pauses {PAUSE_S * 1000:.0f} ms between its two writes"
                figures.append(Figure("function_urls", f"{label} time to first byte p50",
                                      round(percentile(list(firsts), 50) * 1000, 2), "ms", note))
                figures.append(Figure("function_urls", f"{label} time to last byte p50",
                                      round(percentile(list(lasts), 50) * 1000, 2), "ms", note))
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
