"""One durable execution's state: its operations, its history, and how a checkpoint changes them.

An execution is one store record (``EXECUTIONS`` keyed by its ARN) holding the operations the
handler's SDK has checkpointed, in order, and the history events they produced. Everything here
is pure: functions take the record and the time and change the record; the engine commits it.
The operation model is AWS's (CheckpointDurableExecution): an update names an operation id, its
type and an action (START, SUCCEED, FAIL, RETRY, CANCEL); the service answers with the new state.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from cumulo.protocol.errors import AwsError

EXECUTIONS = "lambda.durable.executions"
CALLBACKS = "lambda.durable.callbacks"  # callback id -> execution ARN

EVENT_PREFIX = {"STEP": "Step", "WAIT": "Wait", "CALLBACK": "Callback", "CHAINED_INVOKE": "ChainedInvoke",
                "CONTEXT": "Context", "EXECUTION": "Execution"}
DETAILS = {"STEP": "StepDetails", "WAIT": "WaitDetails", "CALLBACK": "CallbackDetails",
           "CHAINED_INVOKE": "ChainedInvokeDetails", "CONTEXT": "ContextDetails"}
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"}


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message, fields={"Type": "User"})


def new_token() -> str:
    return base64.b64encode(secrets.token_bytes(24)).decode()


def new_execution(arn: str, name: str, function_arn: str, version: str, payload: str,
                  durable_config: dict[str, Any], now: float) -> dict[str, Any]:
    """A RUNNING execution whose only operation is the EXECUTION one carrying the input (its id is
    the last part of the ARN: the SDK finds the input there)."""
    execution_op = {"Id": execution_id(arn), "Type": "EXECUTION", "StartTimestamp": now, "Status": "STARTED",
                    "ExecutionDetails": {"InputPayload": payload}}
    record: dict[str, Any] = {
        "arn": arn, "name": name, "function_arn": function_arn, "version": version, "status": "RUNNING",
        "input": payload, "start": now, "timeout_s": durable_config["ExecutionTimeout"],
        "retention_days": durable_config["RetentionPeriodInDays"], "token": new_token(),
        "ops": {execution_id(arn): execution_op}, "order": [execution_id(arn)], "events": [], "updated": [],
    }
    add_event(record, "ExecutionStarted", execution_op, now, ExecutionStartedDetails={
        "Input": {"Payload": payload}, "ExecutionTimeout": durable_config["ExecutionTimeout"]})
    return record


def execution_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def add_event(record: dict[str, Any], event_type: str, op: dict[str, Any], now: float, **details: Any) -> None:
    event: dict[str, Any] = {"EventType": event_type, "EventId": len(record["events"]) + 1,
                             "EventTimestamp": now}
    if op.get("Type") != "EXECUTION":
        for member in ("Id", "Name", "ParentId", "SubType"):
            if op.get(member):
                event[member] = op[member]
    event.update(details)
    record["events"].append(event)


def _payload(value: str | None) -> dict[str, Any]:
    return {"Payload": value or "", "Truncated": False}


def _error(value: dict[str, Any] | None) -> dict[str, Any]:
    return {"Payload": value or {}, "Truncated": False}


def finish(record: dict[str, Any], status: str, now: float, *, result: str | None = None,
           error: dict[str, Any] | None = None) -> None:
    """End the execution (SUCCEEDED, FAILED, TIMED_OUT or STOPPED) and record its closing event."""
    if record["status"] != "RUNNING":
        return
    record.update(status=status, end=now, token=None)
    execution_op = record["ops"][execution_id(record["arn"])]
    execution_op.update(Status=status, EndTimestamp=now)
    if result is not None:
        record["result"] = result
    if error is not None:
        record["error"] = error
    if status == "SUCCEEDED":
        add_event(record, "ExecutionSucceeded", execution_op, now,
                  ExecutionSucceededDetails={"Result": _payload(result)})
    else:
        kind = {"FAILED": "Failed", "TIMED_OUT": "TimedOut", "STOPPED": "Stopped"}[status]
        add_event(record, f"Execution{kind}", execution_op, now,
                  **{f"Execution{kind}Details": {"Error": _error(error)}})


def _details(op: dict[str, Any]) -> dict[str, Any]:
    return op.setdefault(DETAILS[op["Type"]], {})


def apply_update(record: dict[str, Any], update: dict[str, Any], now: float) -> list[str]:
    """Apply one OperationUpdate; returns the ids of the CALLBACK operations it opened."""
    op_id, kind, action = update["Id"], update["Type"], update["Action"]
    if kind == "EXECUTION":
        if action == "SUCCEED":
            finish(record, "SUCCEEDED", now, result=update.get("Payload") or "")
        elif action == "FAIL":
            finish(record, "FAILED", now, error=update.get("Error") or {})
        else:
            raise invalid(f"Invalid action {action} for operation type EXECUTION.")
        return []
    ops = record["ops"]
    op = ops.get(op_id)
    prefix = EVENT_PREFIX[kind]
    if op is None:
        if action not in ("START", "SUCCEED", "FAIL", "RETRY"):
            raise invalid(f"Operation {op_id} does not exist.")
        if update.get("ParentId") and update["ParentId"] not in ops:
            raise invalid(f"Parent operation {update['ParentId']} does not exist.")
        op = {"Id": op_id, "Type": kind, "StartTimestamp": now, "Status": "STARTED"}
        for member in ("ParentId", "Name", "SubType"):
            if update.get(member):
                op[member] = update[member]
        ops[op_id] = op
        record["order"].append(op_id)
        _started(record, op, update, now)
    elif op["Type"] != kind:
        raise invalid(f"Operation {op_id} is of type {op['Type']}, not {kind}.")
    elif op["Status"] in TERMINAL:
        raise invalid(f"Operation {op_id} has already completed.")
    opened: list[str] = []
    if action == "START":
        if op["Status"] == "READY" and kind == "STEP":  # the retry that was due has begun
            op["Status"] = "STARTED"
            add_event(record, "StepStarted", op, now, StepStartedDetails={})
        if kind == "CALLBACK":
            opened.append(op_id)
    elif action == "SUCCEED":
        details = _details(op)
        if update.get("Payload") is not None:  # no payload (an undefined result) stays absent
            details["Result"] = update["Payload"]
        op.update(Status="SUCCEEDED", EndTimestamp=now)
        extra: dict[str, Any] = {"Result": _payload(update.get("Payload"))}
        if kind == "STEP":
            extra["RetryDetails"] = {"CurrentAttempt": details.get("Attempt", 0) + 1}
        add_event(record, f"{prefix}Succeeded", op, now, **{f"{prefix}SucceededDetails": extra})
    elif action == "FAIL":
        details = _details(op)
        details["Error"] = update.get("Error") or {}
        op.update(Status="FAILED", EndTimestamp=now)
        extra = {"Error": _error(update.get("Error"))}
        if kind == "STEP":
            extra["RetryDetails"] = {"CurrentAttempt": details.get("Attempt", 0) + 1}
        add_event(record, f"{prefix}Failed", op, now, **{f"{prefix}FailedDetails": extra})
    elif action == "RETRY":
        if kind != "STEP":
            raise invalid(f"Invalid action RETRY for operation type {kind}.")
        details = _details(op)
        delay = (update.get("StepOptions") or {}).get("NextAttemptDelaySeconds") or 1
        details["NextAttemptTimestamp"] = now + delay
        details["Attempt"] = details.get("Attempt", 0) + 1  # attempts made so far
        if update.get("Error"):
            details["Error"] = update["Error"]
        if update.get("Payload") is not None:
            details["Result"] = update["Payload"]
        op["Status"] = "PENDING"
        add_event(record, "StepFailed", op, now, StepFailedDetails={
            "Error": _error(update.get("Error")),
            "RetryDetails": {"CurrentAttempt": details["Attempt"], "NextAttemptDelaySeconds": delay}})
    elif action == "CANCEL":
        if kind == "WAIT":
            op.update(Status="CANCELLED", EndTimestamp=now)
            add_event(record, "WaitCancelled", op, now, WaitCancelledDetails={})
        else:
            op.update(Status="CANCELLED", EndTimestamp=now)
    return opened


def _started(record: dict[str, Any], op: dict[str, Any], update: dict[str, Any], now: float) -> None:
    kind = op["Type"]
    if kind == "WAIT":
        seconds = (update.get("WaitOptions") or {}).get("WaitSeconds") or 1
        _details(op)["ScheduledEndTimestamp"] = now + seconds
        add_event(record, "WaitStarted", op, now,
                  WaitStartedDetails={"Duration": seconds, "ScheduledEndTimestamp": now + seconds})
    elif kind == "CALLBACK":
        options = update.get("CallbackOptions") or {}
        callback_id = base64.b64encode(f"{record['arn']}#{op['Id']}#{secrets.token_hex(8)}".encode()).decode()
        _details(op)["CallbackId"] = callback_id
        op["_timeout"] = options.get("TimeoutSeconds") or 0
        op["_heartbeat"] = options.get("HeartbeatTimeoutSeconds") or 0
        op["_last_beat"] = now
        add_event(record, "CallbackStarted", op, now, CallbackStartedDetails={
            "CallbackId": callback_id, "Timeout": op["_timeout"], "HeartbeatTimeout": op["_heartbeat"]})
    elif kind == "CHAINED_INVOKE":
        options = update.get("ChainedInvokeOptions") or {}
        op["_function"] = options.get("FunctionName")
        op["_input"] = update.get("Payload") or ""
        started = {"FunctionName": options.get("FunctionName"), "Input": _payload(update.get("Payload"))}
        add_event(record, "ChainedInvokeStarted", op, now, ChainedInvokeStartedDetails=started)
    elif kind == "CONTEXT":
        if (update.get("ContextOptions") or {}).get("ReplayChildren"):
            _details(op)["ReplayChildren"] = True
        add_event(record, "ContextStarted", op, now, ContextStartedDetails={})
    elif kind == "STEP":
        add_event(record, "StepStarted", op, now, StepStartedDetails={})


def complete(record: dict[str, Any], op_id: str, status: str, now: float, *, result: str | None = None,
             error: dict[str, Any] | None = None) -> bool:
    """Complete a WAIT, CALLBACK or CHAINED_INVOKE from outside the handler (time, a callback
    API call, the invoked function); returns False when it had already completed."""
    op = record["ops"].get(op_id)
    if op is None or op["Status"] in TERMINAL or record["status"] != "RUNNING":
        return False
    op.update(Status=status, EndTimestamp=now)
    prefix = EVENT_PREFIX[op["Type"]]
    details = _details(op)
    kind = {"SUCCEEDED": "Succeeded", "FAILED": "Failed", "TIMED_OUT": "TimedOut", "STOPPED": "Stopped"}[status]
    if status == "SUCCEEDED":
        if op["Type"] == "WAIT":
            extra: dict[str, Any] = {"Duration": round(now - op["StartTimestamp"])}
        else:
            details["Result"] = result or ""
            extra = {"Result": _payload(result)}
    else:
        details["Error"] = error or {}
        extra = {"Error": _error(error)}
    add_event(record, f"{prefix}{kind}", op, now, **{f"{prefix}{kind}Details": extra})
    record["updated"].append(op_id)
    return True


def advance_timers(record: dict[str, Any], now: float) -> None:
    """Complete the waits that have elapsed, make due retries READY, time out callbacks and the
    execution itself."""
    if record["status"] != "RUNNING":
        return
    if now >= record["start"] + record["timeout_s"]:
        finish(record, "TIMED_OUT", now, error={"ErrorType": "Execution.TimedOut",
                                                "ErrorMessage": "The durable execution timed out."})
        return
    for op in list(record["ops"].values()):
        if op["Status"] in TERMINAL:
            continue
        details = op.get(DETAILS.get(op["Type"], ""), {})
        if op["Type"] == "WAIT" and now >= details.get("ScheduledEndTimestamp", now + 1):
            complete(record, op["Id"], "SUCCEEDED", now)
        elif op["Type"] == "STEP" and op["Status"] == "PENDING" and now >= details.get("NextAttemptTimestamp", 0):
            op["Status"] = "READY"
            record["updated"].append(op["Id"])
        elif op["Type"] == "CALLBACK":
            deadline = callback_deadline(op)
            if deadline is not None and now >= deadline:
                complete(record, op["Id"], "TIMED_OUT", now, error={
                    "ErrorType": "Callback.Timeout", "ErrorMessage": "Callback timed out"})


def callback_deadline(op: dict[str, Any]) -> float | None:
    deadlines = []
    if op.get("_timeout"):
        deadlines.append(op["StartTimestamp"] + op["_timeout"])
    if op.get("_heartbeat"):
        deadlines.append(op.get("_last_beat", op["StartTimestamp"]) + op["_heartbeat"])
    return min(deadlines) if deadlines else None


def next_due(record: dict[str, Any]) -> float | None:
    """When the earliest timer of a RUNNING execution falls due."""
    if record["status"] != "RUNNING":
        return None
    due = [record["start"] + record["timeout_s"]]
    for op in record["ops"].values():
        if op["Status"] in TERMINAL:
            continue
        details = op.get(DETAILS.get(op["Type"], ""), {})
        if op["Type"] == "WAIT":
            due.append(details["ScheduledEndTimestamp"])
        elif op["Type"] == "STEP" and op["Status"] == "PENDING":
            due.append(details.get("NextAttemptTimestamp", time.time()))
        elif op["Type"] == "CALLBACK":
            deadline = callback_deadline(op)
            if deadline is not None:
                due.append(deadline)
    return min(due)


def public_operation(op: dict[str, Any]) -> dict[str, Any]:
    """The Operation shape (internal bookkeeping members start with an underscore)."""
    return {k: v for k, v in op.items() if not k.startswith("_")}


TIMESTAMPS = (("StartTimestamp",), ("EndTimestamp",), ("StepDetails", "NextAttemptTimestamp"),
              ("WaitDetails", "ScheduledEndTimestamp"))


def envelope_operation(op: dict[str, Any]) -> dict[str, Any]:
    """An operation as the invocation event carries it (JSON: timestamps in epoch milliseconds)."""
    result = public_operation(op)
    for path in TIMESTAMPS:
        holder = result
        for member in path[:-1]:
            holder = holder.get(member) or {}
            if holder:
                result[member] = holder = dict(holder)
        if isinstance(holder.get(path[-1]), (int, float)):
            holder[path[-1]] = int(holder[path[-1]] * 1000)
    return result
