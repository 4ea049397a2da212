"""Shared test doubles for the ASL tests.

`FunctionInvoker` is the TaskInvoker boundary as a plain function table: a resource ARN maps to a
Python function of the task's parameters (raise `TaskFailure` to fail). It records every call so
tests can assert what was (and was not) invoked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from cumulo.asl import Execution, ExecutionInfo, ManualClock, MemoryHistory, TaskRequest, validate

REGION = "us-east-1"
ACCOUNT = "123456789012"
SM_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Machine"
EXEC_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:Machine:run-1"


def lambda_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


class FunctionInvoker:
    def __init__(self, functions: dict[str, Callable[..., Any]] | None = None) -> None:
        self.functions = dict(functions or {})
        self.calls: list[TaskRequest] = []

    async def invoke(self, request: TaskRequest) -> Any:
        self.calls.append(request)
        fn = self.functions[request.resource.arn]
        result = fn(request.parameters)
        if asyncio.iscoroutine(result):
            result = await result
        return result


def execution(
    definition: dict[str, Any] | str,
    input: Any = None,
    *,
    functions: dict | None = None,
    clock: Any = None,
    sink: Any = None,
    **kwargs: Any,
) -> Execution:
    machine = validate(definition if isinstance(definition, str) else json.dumps(definition))
    invoker = kwargs.pop("invoker", None) or FunctionInvoker(functions)
    return Execution(
        machine,
        ExecutionInfo(
            EXEC_ARN, SM_ARN, {} if input is None else input, role_arn="arn:aws:iam::123456789012:role/R"
        ),
        invoker,
        clock=clock or ManualClock(),
        sink=sink if sink is not None else MemoryHistory(),
        **kwargs,
    )


def run(definition: dict[str, Any] | str, input: Any = None, **kwargs: Any):
    """Run to completion; return the ExecutionResult."""
    return asyncio.run(execution(definition, input, **kwargs).run())


def chain(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A definition from (name, state) pairs, linked with Next in order, the last one End."""
    named = dict(states)
    names = list(named)
    for i, name in enumerate(names):
        state = named[name]
        if state["Type"] not in ("Choice", "Succeed", "Fail") and "Next" not in state and "End" not in state:
            if i + 1 < len(names):
                state["Next"] = names[i + 1]
            else:
                state["End"] = True
    return {"StartAt": names[0], "States": named, **top}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
