"""Step Functions state transitions per second: express and standard, Cumulo vs moto.

Two workloads (the same definitions as ``bench/asl_transitions.py``):

* a chain of 100 Pass states (100 transitions per execution);
* a Map over 1,000 items with one Pass state inside (1,001 transitions per execution).

Measured, in one run:

* **express over HTTP**: StartSyncExecution requests to a real ``cumulo serve`` (raw HTTP on one
  keep-alive connection, one request at a time), transitions of finished executions per second;
* **express in-process**: the provider's StartSyncExecution called directly (no HTTP);
* **standard (durable) over HTTP**: StartExecution requests, measured from the first
  StartExecution to the last execution SUCCEEDED (DescribeExecution polled); every history event
  is committed to SQLite;
* **standard (durable) in-process**: the provider's StartExecution, awaiting the end of the run;
* **moto 5**: the same definitions on moto's interpreter (``execute_state_machine`` enabled).

Run: ``python -m bench.sfn_transitions [--quick]``.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.asl_transitions import WORKLOADS, moto_rate
from bench.report import Figure, print_figures
from tests.server import CumuloServer

BENCH = "sfn_transitions"
ROLE = "arn:aws:iam::000000000000:role/bench"


class Api:
    """The Step Functions JSON protocol over one keep-alive connection (no SDK in the way)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port)

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        self.connection.request("POST", "/", body=json.dumps(params).encode(), headers={
            "X-Amz-Target": f"AWSStepFunctions.{operation}", "Content-Type": "application/x-amz-json-1.0"})
        response = self.connection.getresponse()
        body = json.loads(response.read() or b"{}")
        if response.status != 200:
            raise RuntimeError(f"{operation} failed: {response.status} {body}")
        return body


def _http_express(api: Api, arn: str, data: str, transitions: int, budget: float) -> float:
    api.call("StartSyncExecution", stateMachineArn=arn, input=data)  # warm up
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < budget:
        result = api.call("StartSyncExecution", stateMachineArn=arn, input=data)
        assert result["status"] == "SUCCEEDED", result
        done += transitions
    return done / elapsed


def _http_standard(api: Api, arn: str, data: str, transitions: int, executions: int) -> float:
    api.call("StartExecution", stateMachineArn=arn, input=data)  # warm up
    start = time.perf_counter()
    started = [api.call("StartExecution", stateMachineArn=arn, input=data)["executionArn"]
               for _ in range(executions)]
    for execution in started:
        while (status := api.call("DescribeExecution", executionArn=execution)["status"]) == "RUNNING":
            time.sleep(0.002)
        assert status == "SUCCEEDED", status
    return executions * transitions / (time.perf_counter() - start)


def http_rates(quick: bool) -> dict[tuple[str, str], float]:
    rates: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = CumuloServer(Path(tmp) / "data").start()
        try:
            api = Api(server.port)
            for label, definition, data, transitions in WORKLOADS:
                text = json.dumps(definition)
                express = api.call("CreateStateMachine", name=f"x{uuid.uuid4().hex[:8]}", definition=text,
                                   roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
                standard = api.call("CreateStateMachine", name=f"s{uuid.uuid4().hex[:8]}", definition=text,
                                    roleArn=ROLE)["stateMachineArn"]
                payload = json.dumps(data)
                rates[(label, "express http")] = max(
                    _http_express(api, express, payload, transitions, 0.5 if quick else 2.0) for _ in range(2))
                count = (5 if quick else 40) if transitions < 500 else (2 if quick else 8)
                rates[(label, "standard http")] = max(
                    _http_standard(api, standard, payload, transitions, count) for _ in range(2))
        finally:
            server.stop()
    return rates


def inprocess_rates(quick: bool) -> dict[tuple[str, str], float]:
    from cumulo.platform import Platform
    from cumulo.services.base import RequestContext
    from cumulo.settings import load_settings

    async def measure(data_dir: Path) -> dict[tuple[str, str], float]:
        platform = Platform(load_settings({"data_dir": data_dir}, environ={}))
        await platform.start()
        provider = platform.providers["stepfunctions"]
        from cumulo.protocol.http import HttpRequest
        context = RequestContext("bench", "us-east-1", "000000000000", "stepfunctions", "", HttpRequest("POST", "/"))
        rates = {}
        try:
            for label, definition, data, transitions in WORKLOADS:
                text, payload = json.dumps(definition), json.dumps(data)
                express = provider.create_state_machine(context, {
                    "name": f"x{uuid.uuid4().hex[:8]}", "definition": text, "roleArn": ROLE,
                    "type": "EXPRESS"})["stateMachineArn"]
                standard = provider.create_state_machine(context, {
                    "name": f"s{uuid.uuid4().hex[:8]}", "definition": text, "roleArn": ROLE})["stateMachineArn"]
                budget = 0.5 if quick else 2.0
                best = 0.0
                for _ in range(2):
                    done, start = 0, time.perf_counter()
                    while (elapsed := time.perf_counter() - start) < budget:
                        result = await provider.start_sync_execution(context, {"stateMachineArn": express,
                                                                               "input": payload})
                        assert result["status"] == "SUCCEEDED", result
                        done += transitions
                    best = max(best, done / elapsed)
                rates[(label, "express in-process")] = best
                best = 0.0
                for _ in range(2):
                    done, start = 0, time.perf_counter()
                    while (elapsed := time.perf_counter() - start) < budget:
                        started = await provider.start_execution(context, {"stateMachineArn": standard,
                                                                           "input": payload})
                        live = provider.runner.live.get(started["executionArn"])
                        if live is not None:
                            await live.done.wait()
                        assert provider.describe_execution(context, {"executionArn": started["executionArn"]})[
                            "status"] == "SUCCEEDED"
                        done += transitions
                    best = max(best, done / elapsed)
                rates[(label, "standard in-process")] = best
        finally:
            await platform.stop()
        return rates

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(measure(Path(tmp) / "data"))


def run(quick: bool = False) -> list[Figure]:
    rates = {**inprocess_rates(quick), **http_rates(quick)}
    figures: list[Figure] = []
    notes = {
        "express http": "StartSyncExecution over HTTP, one connection",
        "express in-process": "provider StartSyncExecution, no HTTP",
        "standard http": "StartExecution to SUCCEEDED over HTTP, every event committed",
        "standard in-process": "provider StartExecution to SUCCEEDED, every event committed",
    }
    for label, definition, data, transitions in WORKLOADS:
        moto = moto_rate(definition, data, transitions, executions=1 if quick else 3)
        for mode, note in notes.items():
            rate = rates[(label, mode)]
            figures.append(Figure(BENCH, f"{label}: cumulo {mode}", round(rate), "tr/s", note))
            if moto:
                figures.append(Figure(BENCH, f"{label}: cumulo {mode} / moto", round(rate / moto, 1), "x", ""))
        if moto:
            figures.append(Figure(BENCH, f"{label}: moto 5 interpreter", round(moto, 1), "tr/s",
                                  "execute_state_machine=True, same definition"))
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv[1:]))
