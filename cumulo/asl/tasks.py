"""The Task state: build the request, invoke it (or replay its recorded result), record its events.

Each attempt is one `TaskRequest` to the `TaskInvoker`, with the Lambda*, Activity* or Task*
history events of its kind. A ``.waitForTaskToken`` task or an activity only submits the work
and then waits for its `Callback`; ``.sync`` waits inside the invoker.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from cumulo.asl import errors
from cumulo.asl.callbacks import Callback, HeartbeatTimeout
from cumulo.asl.clock import DeadlineReached, until
from cumulo.asl.error_handling import with_error_handling
from cumulo.asl.history import NO_DETAILS, Memo, error_details
from cumulo.asl.invoker import Resource, TaskFailure, TaskRequest, make_task_token, parse_resource
from cumulo.asl.model import TaskState
from cumulo.asl.paths import to_json
from cumulo.asl.replay import replayed_result
from cumulo.asl.visit import Visit

if TYPE_CHECKING:
    from cumulo.asl.engine import Execution

DEFAULT_TASK_TIMEOUT = 99_999_999


async def run_task(ex: Execution, state: TaskState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
    resource = parse_resource(state.resource)

    async def attempt(n: int) -> Any:
        site = f"{visit.key}@{n}"
        if resource.waits_for_callback:
            visit.set_task_token(ex.memo(f"{site}:token", lambda: make_task_token(
                ex.info.execution_arn, site, uuid.uuid4().hex)))
        states = {"input": raw}
        if state.jsonata:
            params = ex.render(state.parameters, None, visit, states, raw)
        else:
            effective = ex.input_path(state, raw, visit)
            params = ex.render(state.parameters, effective, visit, None, effective)
            if ex.inspection is not None and state.parameters is not None:
                ex.inspection["afterParameters"] = params
        if ex.inspection is not None:
            ex.inspection["afterArguments" if state.jsonata else "afterParameters"] = params
        timeout = visit.count(state.timeout_seconds, raw, raw, "TimeoutSeconds", 1)
        heartbeat = visit.count(state.heartbeat_seconds, raw, raw, "HeartbeatSeconds", 1)
        credentials = ex.render(state.credentials, raw, visit, states)
        request = TaskRequest(resource, params, visit.task_token, timeout or DEFAULT_TASK_TIMEOUT,
                              heartbeat, credentials,
                              ex.info.execution_arn, state.name, n, ex.info.region, site)
        return await _invoke(ex, request, site, visit)

    return await with_error_handling(ex, state, raw, visit, attempt)


async def _invoke(ex: Execution, request: TaskRequest, site: str, visit: Visit) -> Any:
    """Invoke (or replay) one task attempt, emitting the task's history events."""
    resource = request.resource
    prefix, names = _event_names(resource)
    frame = visit.frame
    recorded = ex.replay.get(f"{site}:result")
    scheduled = ex.emit(frame, names[0], f"{site}:scheduled", ex.recording and _scheduled_details(request))
    if recorded is None:
        await ex.flush()  # the attempt is durable before its side effect
    ex.emit(frame, names[1], f"{site}:started", (ex.recording and (
        {"resourceType": resource.resource_type, "resource": resource.resource_name}
        if prefix == "Task" else {})) or None)
    if recorded is not None:
        return replayed_result(recorded)  # type: ignore[arg-type]
    # no clock timer for the default (practically infinite) timeout: only an explicit one races
    deadline = None if request.timeout_seconds == DEFAULT_TASK_TIMEOUT else \
        scheduled.timestamp + request.timeout_seconds
    try:
        if resource.waits_for_callback:
            result = await _invoke_and_wait(ex, request, site, visit, deadline)
        else:
            result = await until(ex.clock, ex.invoker.invoke(request), deadline)
    except DeadlineReached:
        exc = errors.StatesError(errors.TIMEOUT, None)
        ex.emit(frame, f"{prefix}TimedOut", f"{site}:result", _result_error(prefix, resource, exc))
        raise exc from None
    except HeartbeatTimeout:
        exc = errors.StatesError(errors.HEARTBEAT_TIMEOUT, None)
        ex.emit(frame, f"{prefix}TimedOut", f"{site}:result", _result_error(prefix, resource, exc))
        raise exc from None
    except TaskFailure as failure:
        exc = errors.StatesError(failure.error, failure.cause)
        ex.emit(frame, f"{prefix}Failed", f"{site}:result", _result_error(prefix, resource, exc))
        raise exc from None
    details: dict[str, Any] = {"output": to_json(result), "outputDetails": NO_DETAILS}
    if prefix == "Task":
        details = {"resourceType": resource.resource_type, "resource": resource.resource_name, **details}
    ex.emit(frame, f"{prefix}Succeeded", f"{site}:result", details)
    return result


async def _invoke_and_wait(ex: Execution, request: TaskRequest, site: str, visit: Visit,
                           deadline: float | None) -> Any:
    token = request.task_token or ""
    callback = Callback(site, ex.replay.get(f"{site}:hb"), visit.entered_time)
    early = ex.replay.get(f"{site}:early")
    if isinstance(early, Memo):  # delivered during the submission, before a crash
        callback.future.set_result(tuple(early.value))
    ex.callbacks[token] = callback
    try:
        if f"{site}:submitted" not in ex.replay:
            callback.submitting = ex
            try:
                response = await until(ex.clock, ex.invoker.invoke(request), deadline)
            finally:
                callback.submitting = None
            if request.resource.kind != "activity":
                ex.emit(visit.frame, "TaskSubmitted", f"{site}:submitted", {
                    "resourceType": request.resource.resource_type,
                    "resource": request.resource.resource_name,
                    "output": to_json(response), "outputDetails": NO_DETAILS})
            else:
                ex.set_memo(f"{site}:submitted", True)
        await ex.flush()
        outcome = await callback.wait(ex.clock, deadline, request.heartbeat_seconds)
    finally:
        ex.callbacks.pop(token, None)
    try:
        if outcome[0] == "failure":
            raise TaskFailure(outcome[1] or "", outcome[2])
        return outcome[1]
    finally:
        callback.recorded_after(ex)


def _event_names(resource: Resource) -> tuple[str, tuple[str, str]]:
    if resource.kind == "lambda":
        return "LambdaFunction", ("LambdaFunctionScheduled", "LambdaFunctionStarted")
    if resource.kind == "activity":
        return "Activity", ("ActivityScheduled", "ActivityStarted")
    return "Task", ("TaskScheduled", "TaskStarted")


def _scheduled_details(request: TaskRequest) -> dict[str, Any]:
    resource = request.resource
    if resource.kind == "service":
        details: dict[str, Any] = {
            "resourceType": resource.resource_type, "resource": resource.resource_name,
            "region": request.region, "parameters": to_json(request.parameters),
        }
        if request.timeout_seconds != DEFAULT_TASK_TIMEOUT:
            details["timeoutInSeconds"] = request.timeout_seconds
        if request.heartbeat_seconds is not None:
            details["heartbeatInSeconds"] = request.heartbeat_seconds
        return details
    details = {"resource": resource.arn, "input": to_json(request.parameters), "inputDetails": NO_DETAILS}
    if request.timeout_seconds != DEFAULT_TASK_TIMEOUT:
        details["timeoutInSeconds"] = request.timeout_seconds
    if resource.kind == "activity" and request.heartbeat_seconds is not None:
        details["heartbeatInSeconds"] = request.heartbeat_seconds
    return details


def _result_error(prefix: str, resource: Resource, exc: errors.StatesError) -> dict[str, Any]:
    details = error_details(exc.error, exc.cause)
    if prefix == "Task":
        details = {"resourceType": resource.resource_type, "resource": resource.resource_name, **details}
    return details
