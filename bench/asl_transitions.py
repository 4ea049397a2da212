"""ASL interpreter throughput: state transitions per second, Cumulo vs moto's interpreter.

Two workloads, both run in memory (express: no history recorded) by Cumulo's engine and, in the
same run, by moto 5's Step Functions interpreter (``execute_state_machine`` enabled) on the same
definitions:

* a chain of 100 Pass states (100 transitions per execution);
* a Map over 1,000 items with one Pass state inside (1,001 transitions per execution).

It also measures the per-transition cost of the history sink interface with a trivial in-memory
sink, the baseline for the durable (SQLite) sink.

Run: ``python -m bench.asl_transitions [--quick]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.report import Figure, print_figures
from cumulo.asl import Execution, ExecutionInfo, MemoryHistory, VirtualClock, validate

BENCH = "asl_transitions"
SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Bench"
EXEC_ARN = "arn:aws:states:us-east-1:123456789012:execution:Bench:run"


def pass_chain(length: int = 100) -> dict[str, Any]:
    states: dict[str, Any] = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(length)}
    states[f"S{length - 1}"] = {"Type": "Pass", "End": True}
    return {"StartAt": "S0", "States": states}


def map_of_pass() -> dict[str, Any]:
    return {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}


WORKLOADS: list[tuple[str, dict[str, Any], Any, int]] = [
    ("pass chain x100", pass_chain(), {"hello": "world"}, 100),
    ("map 1000 x pass", map_of_pass(), {"items": list(range(1000))}, 1001),
]


def cumulo_rate(definition: dict[str, Any], data: Any, transitions: int, budget_s: float,
                sink: Callable[[], Any] | None) -> float:
    """Transitions per second of Cumulo's engine, executions run back to back for ``budget_s``."""
    machine = validate(json.dumps(definition))

    async def loop() -> float:
        done = 0
        start = time.perf_counter()
        while True:
            info = ExecutionInfo(EXEC_ARN, SM_ARN, data)
            execution = Execution(machine, info, invoker=None,  # type: ignore[arg-type]  # no Task states
                                  clock=VirtualClock(), sink=sink() if sink else None)
            result = await execution.run()
            assert result.status == "SUCCEEDED", result
            done += transitions
            elapsed = time.perf_counter() - start
            if elapsed >= budget_s:
                return done / elapsed

    return asyncio.run(loop())


def moto_rate(definition: dict[str, Any], data: Any, transitions: int, executions: int) -> float | None:
    """Transitions per second of moto's ASL interpreter (None if moto is unavailable)."""
    try:
        import boto3
        from moto import mock_aws
    except ImportError:
        return None
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    elapsed = 0.0
    # moto fails to start a second execution in one mock (it cannot deep-copy a lock of the first),
    # so every execution runs in a fresh mock; only start-to-finish of the execution is timed
    for _ in range(executions):
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            client = boto3.client("stepfunctions", region_name="us-east-1")
            arn = client.create_state_machine(name="bench", definition=json.dumps(definition),
                                              roleArn="arn:aws:iam::123456789012:role/bench")["stateMachineArn"]
            start = time.perf_counter()
            execution = client.start_execution(stateMachineArn=arn, input=json.dumps(data))["executionArn"]
            deadline = time.monotonic() + 600
            while (status := client.describe_execution(executionArn=execution)["status"]) == "RUNNING":
                if time.monotonic() > deadline:
                    raise TimeoutError("moto execution did not finish")
                time.sleep(0.001)
            elapsed += time.perf_counter() - start
            assert status == "SUCCEEDED", status
    return executions * transitions / elapsed


def best_rate(definition: dict[str, Any], data: Any, transitions: int, budget_s: float,
              sink: Callable[[], Any] | None, rounds: int = 3) -> float:
    """The best of a few rounds: the machine's capability, less the noise of GC and neighbours."""
    return max(cumulo_rate(definition, data, transitions, budget_s / rounds, sink) for _ in range(rounds))


def run(quick: bool = False) -> list[Figure]:
    budget = 0.6 if quick else 3.0
    figures: list[Figure] = []
    for label, definition, data, transitions in WORKLOADS:
        express = best_rate(definition, data, transitions, budget, sink=None)
        recorded = best_rate(definition, data, transitions, budget, sink=MemoryHistory)
        moto = moto_rate(definition, data, transitions, executions=1 if quick else 3)
        figures.append(Figure(BENCH, f"{label}: cumulo express", round(express), "tr/s",
                              "in memory, one core, no history"))
        figures.append(Figure(BENCH, f"{label}: cumulo + in-memory history sink", round(recorded), "tr/s",
                              "every history event built and appended"))
        overhead_us = (1 / recorded - 1 / express) * 1e6
        figures.append(Figure(BENCH, f"{label}: history sink overhead", round(overhead_us, 2), "us",
                              "per transition; baseline for the durable sink"))
        if moto is not None:
            figures.append(Figure(BENCH, f"{label}: moto 5 interpreter", round(moto, 1), "tr/s",
                                  "execute_state_machine=True, same definition"))
            figures.append(Figure(BENCH, f"{label}: cumulo/moto", round(express / moto, 1), "x", ""))
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv[1:]))
