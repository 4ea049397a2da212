"""The TestState API: run one state with a given input and report what it did.

Returns the TestState response shape: ``status`` (SUCCEEDED, FAILED, RETRIABLE or CAUGHT_ERROR),
``output``, ``error``/``cause``, ``nextState`` and, at DEBUG/TRACE inspection levels,
``inspectionData`` (the data after each processing step). A retrier that matches is not waited
for: the state is reported RETRIABLE with the backoff it would have used.
"""

from __future__ import annotations

import json
from typing import Any

from cumulo.asl import errors
from cumulo.asl.clock import Clock, SystemClock
from cumulo.asl.engine import Execution, ExecutionInfo
from cumulo.asl.error_handling import Retriable
from cumulo.asl.invoker import TaskFailure, TaskInvoker, TaskRequest
from cumulo.asl.model import JSONPATH, ParsedStateMachine, Program
from cumulo.asl.paths import to_json
from cumulo.asl.validation import validate, validate_state

TEST_EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:TestStateMachine:test-state"
TEST_STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:TestStateMachine"


class MockInvoker:
    """A TaskInvoker that answers with the TestState ``mock`` (a result or an error output)."""

    def __init__(self, result: Any = None, error: str | None = None, cause: str | None = None) -> None:
        self.result, self.error, self.cause = result, error, cause

    async def invoke(self, request: TaskRequest) -> Any:
        if self.error is not None:
            raise TaskFailure(self.error, self.cause)
        return self.result


async def run_test_state(
    definition: str,
    input: Any = None,
    invoker: TaskInvoker | None = None,
    *,
    state_name: str | None = None,
    variables: dict[str, Any] | None = None,
    inspection_level: str = "INFO",
    role_arn: str = "",
    retrier_retry_count: int = 0,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Run one state (``definition`` is a state, or a machine plus ``state_name``)."""
    document = json.loads(definition)
    if "States" in document:
        machine = validate(definition)
        name = state_name or machine.program.start_at
        if name not in machine.program.states:
            raise errors.InvalidDefinition([("SCHEMA_VALIDATION_FAILED",
                                             f"State '{name}' does not exist", "/States")])
        state = machine.program.states[name]
    else:
        name = state_name or "TestState"
        state = validate_state(name, document, document.get("QueryLanguage", JSONPATH))
        program = Program(name, {name: state}, state.query_language)
        machine = ParsedStateMachine(program, document)
    execution = Execution(machine, ExecutionInfo(TEST_EXECUTION_ARN, TEST_STATE_MACHINE_ARN,
                                                 {} if input is None else input, role_arn),
                          invoker or MockInvoker(), clock=clock or SystemClock())
    execution.prior_retries = retrier_retry_count
    response: dict[str, Any] = {}
    try:
        data = {} if input is None else input
        output, next_state = await execution.run_single_state(state, data, variables)
        inspection = execution.inspection or {}
        caught = inspection.pop("caughtError", None)
        response["status"] = "CAUGHT_ERROR" if caught is not None else "SUCCEEDED"
        if caught is not None:
            response.update(error=caught.error, cause=caught.cause)
        response["output"] = to_json(output)
        if next_state is not None:
            response["nextState"] = next_state
    except Retriable as retriable:
        inspection = execution.inspection or {}
        inspection["errorDetails"] = {"retryIndex": retriable.index,
                                      "retryBackoffIntervalSeconds": int(retriable.delay)}
        response.update(status="RETRIABLE", error=retriable.error.error, cause=retriable.error.cause)
    except errors.StatesError as exc:
        inspection = execution.inspection or {}
        response.update(status="FAILED", error=exc.error, cause=exc.cause)
    if response.get("cause") is None:
        response.pop("cause", None)
    if inspection_level != "INFO":
        response["inspectionData"] = {
            key: value if key == "errorDetails" else to_json(value)
            for key, value in inspection.items()
        }
    return response
