"""Invoke latency through the HTTP API: provisioned vs on-demand warm vs cold, in one run.

A real ``cumulo serve`` runs a hello-world Python function with a published version and an
alias ``live`` that has provisioned concurrency 1.  Measured on one keep-alive raw HTTP
connection:

* **provisioned**: invokes of ``live`` (served by the provisioned environment, initialized
  ahead of traffic: no Init Duration ever);
* **on-demand warm**: invokes of ``$LATEST`` after a first (cold) one;
* **cold**: first invokes of a new code revision of another function (an on-demand
  environment is created for each);
* **provisioned, first invoke after READY**: the first request a freshly provisioned
  alias gets (what provisioned concurrency buys compared to the cold figure).

Run: ``python -m bench.invoke_provisioned [--quick]``.
"""

from __future__ import annotations

import base64
import http.client
import re
import sys
import tempfile
import time
from pathlib import Path

from bench._server_common import AUTH, create_python_function, update_python_code
from bench.report import Figure, latency_figures, percentile, print_figures
from tests.server import CumuloServer, wait_for

NAME = "invoke_provisioned"
HANDLER = "def handler(event, context):\n    return {'hello': event.get('name', 'world')}\n"



def _invoke(connection: http.client.HTTPConnection, path: str) -> http.client.HTTPResponse:
    connection.request("POST", path, body=b'{"name": "bench"}', headers={"Authorization": AUTH,
                                                                        "X-Amz-Log-Type": "Tail"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200 or response.getheader("X-Amz-Function-Error"):
        raise RuntimeError(f"invoke failed: {response.status} {body[:300]!r}")
    return response


def _timed(connection: http.client.HTTPConnection, path: str, count: int) -> tuple[list[float], int]:
    samples, cold = [], 0
    for _ in range(count):
        started = time.perf_counter()
        response = _invoke(connection, path)
        samples.append(time.perf_counter() - started)
        cold += "Init Duration" in base64.b64decode(response.getheader("X-Amz-Log-Result")).decode()
    return samples, cold


def _provision(client, name: str) -> None:
    client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    wait_for(lambda: client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")["Status"]
             == "READY", timeout=30, message="provisioned concurrency READY")


def run(quick: bool = False) -> list[Figure]:
    count = 300 if quick else 2000
    cold_count = 6 if quick else 25
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data").start()
        try:
            client = server.client("lambda")
            create_python_function(client, "bench-pc", HANDLER)
            version = client.publish_version(FunctionName="bench-pc")["Version"]
            client.create_alias(FunctionName="bench-pc", Name="live", FunctionVersion=version)
            connection = http.client.HTTPConnection("127.0.0.1", server.port)
            _invoke(connection, "/2015-03-31/functions/bench-pc/invocations")  # starts the zygote

            first = []
            for index in range(3 if quick else 10):  # first invoke of a freshly provisioned alias
                alias = f"pc{index}"
                client.create_alias(FunctionName="bench-pc", Name=alias, FunctionVersion=version)
                client.put_provisioned_concurrency_config(FunctionName="bench-pc", Qualifier=alias,
                                                          ProvisionedConcurrentExecutions=1)
                wait_for(lambda a=alias: client.get_provisioned_concurrency_config(
                    FunctionName="bench-pc", Qualifier=a)["Status"] == "READY", timeout=30)
                samples, cold = _timed(connection, f"/2015-03-31/functions/bench-pc/invocations?Qualifier={alias}", 1)
                assert cold == 0
                first.extend(samples)
                client.delete_provisioned_concurrency_config(FunctionName="bench-pc", Qualifier=alias)

            _provision(client, "bench-pc")
            path = "/2015-03-31/functions/bench-pc/invocations?Qualifier=live"
            _timed(connection, path, 50)
            provisioned, cold = _timed(connection, path, count)
            assert cold == 0, "a provisioned invoke reported an Init Duration"
            figures += latency_figures(NAME, "provisioned warm invoke", provisioned)

            path = "/2015-03-31/functions/bench-pc/invocations"
            _timed(connection, path, 50)
            warm, _ = _timed(connection, path, count)
            figures += latency_figures(NAME, "on-demand warm invoke", warm)

            create_python_function(client, "bench-cold", HANDLER)
            colds, inits = [], []
            for index in range(cold_count):
                update_python_code(client, "bench-cold", HANDLER + f"# {index}\n")
                started = time.perf_counter()
                response = _invoke(connection, "/2015-03-31/functions/bench-cold/invocations")
                colds.append(time.perf_counter() - started)
                tail = base64.b64decode(response.getheader("X-Amz-Log-Result")).decode()
                inits.append(float(re.search(r"Init Duration: ([\d.]+)", tail).group(1)))
            figures += latency_figures(NAME, "cold invoke (new environment)", colds)
            figures += [
                Figure(NAME, "provisioned, first invoke after READY p50", round(percentile(first, 50) * 1000, 3),
                       "ms", "the environment was initialized ahead of traffic"),
                Figure(NAME, "cold Init Duration p50", round(percentile(inits, 50), 2), "ms"),
                Figure(NAME, "cold / provisioned p50", round(percentile(colds, 50) / percentile(provisioned, 50), 1),
                       "x"),
            ]
            connection.close()
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
