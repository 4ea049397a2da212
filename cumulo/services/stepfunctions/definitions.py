"""Checking a definition the way CreateStateMachine does: the language, then the Task resources.

`cumulo.asl.validate` checks the Amazon States Language. On top of it the service checks what
depends on the service: every Task ``Resource`` must name an integration AWS offers with an
integration pattern that integration supports, and express machines cannot use ``.sync``,
``.waitForTaskToken`` or activities. Messages follow AWS's
``Invalid State Machine Definition: 'CODE: message at /path'`` format.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cumulo.asl import InvalidDefinition, ParsedStateMachine, validate
from cumulo.asl.invoker import REQUEST_RESPONSE, RUN_JOB, RUN_JOB_V2, WAIT_FOR_TASK_TOKEN, parse_resource
from cumulo.protocol.errors import AwsError

RR, SYNC, SYNC2, TOKEN = REQUEST_RESPONSE, RUN_JOB, RUN_JOB_V2, WAIT_FOR_TASK_TOKEN
_CALLBACK = frozenset({RR, TOKEN})
_JOB = frozenset({RR, SYNC, TOKEN})

#: AWS's optimized integrations: service -> action -> supported patterns (None: any action).
#: The first five are implemented by Cumulo; the others are accepted (as AWS does) and fail at
#: run time with States.TaskFailed.
OPTIMIZED: dict[str, dict[str | None, frozenset[str]]] = {
    "lambda": {"invoke": _CALLBACK},
    "sqs": {"sendMessage": _CALLBACK},
    "sns": {"publish": _CALLBACK},
    "events": {"putEvents": _CALLBACK},
    "states": {"startExecution": frozenset({RR, SYNC, SYNC2, TOKEN})},
    "dynamodb": {a: frozenset({RR}) for a in ("getItem", "putItem", "updateItem", "deleteItem")},
    "apigateway": {"invoke": _CALLBACK},
    "http": {"invoke": frozenset({RR})},
    "ecs": {"runTask": _JOB},
    "batch": {"submitJob": _JOB},
    "glue": {"startJobRun": _JOB},
    "athena": {None: frozenset({RR, SYNC})},
    "codebuild": {None: frozenset({RR, SYNC})},
    "eks": {None: frozenset({RR, SYNC})},
    "elasticmapreduce": {None: frozenset({RR, SYNC})},
    "emr-containers": {None: frozenset({RR, SYNC})},
    "emr-serverless": {None: frozenset({RR, SYNC})},
    "sagemaker": {None: frozenset({RR, SYNC})},
    "databrew": {None: frozenset({RR, SYNC})},
    "bedrock": {None: frozenset({RR, SYNC})},
    "mediaconvert": {None: frozenset({RR, SYNC})},
    "glue-databrew": {None: frozenset({RR, SYNC})},
}
IMPLEMENTED = frozenset({"lambda", "sqs", "sns", "events", "states", "aws-sdk"})


def _not_recognized(resource: str) -> str:
    return (f"The resource provided {resource} is not recognized. The value is not a valid resource ARN, "
            "or the resource is not available in this region.")


def task_resources(document: Any, location: str = "") -> Iterator[tuple[str, str]]:
    """(Resource, location) of every Task state in a definition, nested ones included."""
    if not isinstance(document, dict):
        return
    states = document.get("States")
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        here = f"{location}/States/{name}"
        if state.get("Type") == "Task" and isinstance(state.get("Resource"), str):
            yield state["Resource"], f"{here}/Resource"
        for index, branch in enumerate(state.get("Branches") or []):
            yield from task_resources(branch, f"{here}/Branches[{index}]")
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield from task_resources(state[key], f"{here}/{key}")


def resource_problem(resource: str, express: bool) -> str | None:
    """Why a Task resource is rejected (None when it is accepted)."""
    parsed = parse_resource(resource)
    if parsed.kind == "activity":
        return "Express state machine does not support Activity ARN" if express else None
    if parsed.kind == "lambda":
        return None
    if parsed.service is None or parsed.action is None:
        return _not_recognized(resource)
    if parsed.service == "aws-sdk":
        service, _, action = parsed.action.partition(":")
        if not service or not action or parsed.pattern in (SYNC, SYNC2):
            return _not_recognized(resource)
    else:
        actions = OPTIMIZED.get(parsed.service)
        if actions is None:
            return _not_recognized(resource)
        patterns = actions.get(parsed.action, actions.get(None))
        if patterns is None or parsed.pattern not in patterns:
            return _not_recognized(resource)
    if express and parsed.pattern in (SYNC, SYNC2):
        return "Express state machine does not support '.sync' service integration"
    if express and parsed.pattern == TOKEN:
        # AWS's message has two spaces before "at"
        return "Express state machine does not support '.waitForTaskToken' service integration "
    return None


def diagnostics(definition: str, machine_type: str = "STANDARD") -> tuple[ParsedStateMachine | None,
                                                                         list[tuple[str, str, str]]]:
    """The compiled machine (or None) and AWS-style findings ``(code, message, location)``."""
    try:
        machine = validate(definition)
    except InvalidDefinition as exc:
        return None, exc.diagnostics
    problems = []
    for resource, location in task_resources(machine.definition):
        problem = resource_problem(resource, machine_type == "EXPRESS")
        if problem is not None:
            problems.append(("SCHEMA_VALIDATION_FAILED", problem, location))
    return (None if problems else machine), problems


def check_definition(definition: str, machine_type: str = "STANDARD") -> ParsedStateMachine:
    """The compiled machine, or AWS's InvalidDefinition error."""
    machine, problems = diagnostics(definition, machine_type)
    if machine is None:
        raise AwsError("InvalidDefinition", InvalidDefinition(problems).message)
    return machine
