"""Lambda's durable execution API, mixed into ``LambdaProvider``.

The data plane the SDK inside the function calls (CheckpointDurableExecution,
GetDurableExecutionState), the control plane (Get/List/Stop, history) and the callback API.
Starting an execution is ``start_durable``, called by Invoke for functions with a DurableConfig.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.lambda_.durable import state as st
from cumulo.services.lambda_.durable.engine import DurableEngine
from cumulo.services.lambda_.names import parse_function

if TYPE_CHECKING:
    from cumulo.invoke.runner import FunctionRunner, Target
    from cumulo.platform import Platform
    from cumulo.services.lambda_.repository import LambdaRepository

SYNC_WAIT_S = 900.0  # a synchronous invoke waits for the execution at most as long as any invoke


def _not_found(arn: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Durable execution not found: {arn}", status=404,
                    fields={"Type": "User"})


def _callback_error(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message, fields={"Type": "User"})


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


class DurableOperations:
    """Needs ``self.platform``, ``self.runner``, ``resolve_target_exact`` and ``invoke_function``."""

    platform: Platform
    runner: FunctionRunner
    durable: DurableEngine

    def _init_durable(self) -> None:
        self.durable = DurableEngine(self.platform, self)

    # ------------------------------------------------------------ starting
    def start_durable(self, repo: LambdaRepository, target: Target, payload: bytes,
                      name: str | None) -> tuple[dict[str, Any], bool]:
        """Start (or, for a name already used with the same input, find) an execution.

        Returns the record and whether it is new. The record and its first ``run`` are committed
        together before this returns."""
        name = name or str(uuid.uuid4())
        function_arn = repo.arn(target.name, target.version)
        prefix = f"{function_arn}/durable-execution/{name}/"
        text = payload.decode()
        with self.platform.store.transaction():
            for _key, existing in self.platform.store.scan(st.EXECUTIONS, prefix):
                if existing["input"] != text:
                    raise AwsError("DurableExecutionAlreadyStartedException",
                                   f"Durable execution with name {name} already exists with a different input.",
                                   status=409, fields={"Type": "User"})
                return existing, False
            arn = prefix + uuid.uuid4().hex
            record = st.new_execution(arn, name, function_arn, target.version, text,
                                      target.config["DurableConfig"], time.time())
            self.durable.save(record)
            self.durable.wake_now(arn)
        self.durable.wake()
        return record, True

    async def durable_invoke(self, repo: LambdaRepository, target: Target, payload: bytes,
                             name: str | None, invocation_type: str) -> dict[str, Any]:
        """Invoke's answer for a durable function (Event: 202 at once; otherwise the result)."""
        record, _ = self.start_durable(repo, target, payload, name)
        if invocation_type == "Event":
            return {"StatusCode": 202, "DurableExecutionArn": record["arn"]}
        arn = record["arn"]
        try:
            record = await self.durable.wait_for_end(arn, SYNC_WAIT_S)
        except TimeoutError:
            record = {**record, "status": "RUNNING", "error": {
                "ErrorType": "Sandbox.Timedout",
                "ErrorMessage": f"The durable execution is still running after {SYNC_WAIT_S:.0f} seconds; "
                                "follow it with GetDurableExecution."}}
        response: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": target.version,
                                    "DurableExecutionArn": arn}
        if record["status"] == "SUCCEEDED":
            response["Payload"] = (record.get("result") or "null").encode()
        else:
            error = record.get("error") or {}
            response["FunctionError"] = "Unhandled"
            response["Payload"] = json.dumps({"errorType": error.get("ErrorType", record["status"]),
                                              "errorMessage": error.get("ErrorMessage", "")}).encode()
        return response

    # ------------------------------------------------------------ data plane (the SDK)
    def _execution(self, arn: str) -> dict[str, Any]:
        record = self.durable.load(arn)
        if record is None:
            raise _not_found(arn)
        return record

    @staticmethod
    def _check_token(record: dict[str, Any], token: str) -> None:
        if record["status"] != "RUNNING" or token != record["token"]:
            raise AwsError("InvalidParameterValueException", "Invalid Checkpoint Token", fields={"Type": "User"})

    def checkpoint_durable_execution(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["DurableExecutionArn"]
        now = time.time()
        with self.platform.store.transaction():
            record = self._execution(arn)
            self._check_token(record, params["CheckpointToken"])
            touched: list[str] = []
            for update in params.get("Updates") or []:
                for callback_op in st.apply_update(record, update, now):
                    callback_id = record["ops"][callback_op]["CallbackDetails"]["CallbackId"]
                    self.platform.store.put(st.CALLBACKS, callback_id, {"arn": arn, "op": callback_op})
                if update["Type"] == "CHAINED_INVOKE" and update["Action"] == "START":
                    self.platform.store.enqueue(
                        "lambda.durable", json.dumps({"kind": "chained", "arn": arn, "op": update["Id"]}).encode(),
                        message_id=str(uuid.uuid4()))
                if update["Type"] != "EXECUTION":
                    touched.append(update["Id"])
            changed = list(dict.fromkeys(touched + record["updated"]))
            operations = [st.public_operation(record["ops"][i]) for i in changed if i in record["ops"]]
            answer: dict[str, Any] = {"NewExecutionState": {"Operations": operations}}
            if record["status"] == "RUNNING":
                record["token"] = st.new_token()
                answer["CheckpointToken"] = record["token"]
            self.durable.save(record)
        self.durable.wake()
        return answer

    def get_durable_execution_state(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(params["DurableExecutionArn"])
        self._check_token(record, params["CheckpointToken"])
        start = int(params.get("Marker") or 0)
        operations, marker = self.durable.operations_page(record, start, params.get("MaxItems") or 1000)
        answer: dict[str, Any] = {"Operations": operations}
        if marker:
            answer["NextMarker"] = marker
        return answer

    # ------------------------------------------------------------ control plane
    @staticmethod
    def _summary(record: dict[str, Any]) -> dict[str, Any]:
        summary = {"DurableExecutionArn": record["arn"], "DurableExecutionName": record["name"],
                   "FunctionArn": record["function_arn"], "Status": record["status"],
                   "StartTimestamp": record["start"]}
        if record.get("end"):
            summary["EndTimestamp"] = record["end"]
        return summary

    def get_durable_execution(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(params["DurableExecutionArn"])
        answer = {**self._summary(record), "InputPayload": record["input"], "Version": record["version"]}
        if record.get("result") is not None and record["status"] == "SUCCEEDED":
            answer["Result"] = record["result"]
        if record.get("error"):
            answer["Error"] = record["error"]
        return answer

    def get_durable_execution_history(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(params["DurableExecutionArn"])
        events = list(reversed(record["events"])) if params.get("ReverseOrder") else list(record["events"])
        if not params.get("IncludeExecutionData"):
            events = [_without_data(event) for event in events]
        start = int(params.get("Marker") or 0)
        size = params.get("MaxItems") or 1000
        answer: dict[str, Any] = {"Events": events[start:start + size]}
        if start + size < len(events):
            answer["NextMarker"] = str(start + size)
        return answer

    def list_durable_executions_by_function(self, context: RequestContext,
                                            params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)  # type: ignore[attr-defined]
        ref = parse_function(params["FunctionName"], params.get("Qualifier"))
        repo.function(ref.name)  # ResourceNotFoundException for an unknown function
        prefix = repo.arn(ref.name) + ":"
        statuses = set(params.get("Statuses") or [])
        after, before = _epoch(params.get("StartedAfter")), _epoch(params.get("StartedBefore"))
        found = []
        for _key, record in self.platform.store.scan(st.EXECUTIONS, prefix):
            if ref.qualifier and record["version"] != ref.qualifier:
                continue
            if params.get("DurableExecutionName") and record["name"] != params["DurableExecutionName"]:
                continue
            if statuses and record["status"] not in statuses:
                continue
            if (after is not None and record["start"] < after) or (before is not None and record["start"] > before):
                continue
            found.append(self._summary(record))
        found.sort(key=lambda s: s["StartTimestamp"], reverse=not params.get("ReverseOrder"))
        start = int(params.get("Marker") or 0)
        size = params.get("MaxItems") or 50
        answer: dict[str, Any] = {"DurableExecutions": found[start:start + size]}
        if start + size < len(found):
            answer["NextMarker"] = str(start + size)
        return answer

    def stop_durable_execution(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["DurableExecutionArn"]
        now = time.time()
        with self.platform.store.transaction():
            record = self._execution(arn)
            if record["status"] != "RUNNING":
                raise AwsError("InvalidParameterValueException", f"Durable execution {arn} has already completed.",
                               fields={"Type": "User"})
            st.finish(record, "STOPPED", now, error=params.get("Error") or {})
            self.durable.save(record)
        return {"StopTimestamp": now}

    # ------------------------------------------------------------ callbacks
    def _callback(self, callback_id: str) -> tuple[dict[str, Any], str]:
        link = self.platform.store.get(st.CALLBACKS, callback_id)
        record = self.durable.load(link["arn"]) if link else None
        if link is None or record is None:
            raise _callback_error(f"Callback {callback_id} does not exist.")
        op = record["ops"][link["op"]]
        if op["Status"] == "TIMED_OUT":
            raise AwsError("CallbackTimeoutException", "Callback timed out", fields={"Type": "User"})
        if op["Status"] in st.TERMINAL or record["status"] != "RUNNING":
            raise _callback_error(f"Callback {callback_id} has already completed.")
        st.advance_timers(record, time.time())
        if op["Status"] == "TIMED_OUT":
            self.durable.save(record)
            raise AwsError("CallbackTimeoutException", "Callback timed out", fields={"Type": "User"})
        return record, link["op"]

    def _complete_callback(self, callback_id: str, status: str, **outcome: Any) -> dict[str, Any]:
        with self.platform.store.transaction():
            record, op_id = self._callback(callback_id)
            st.complete(record, op_id, status, time.time(), **outcome)
            self.durable.wake_now(record["arn"])
            self.durable.save(record)
        self.durable.wake()
        return {}

    def send_durable_execution_callback_success(self, context: RequestContext,
                                                params: dict[str, Any]) -> dict[str, Any]:
        result = params.get("Result") or b""
        text = result.decode() if isinstance(result, bytes) else str(result)
        return self._complete_callback(params["CallbackId"], "SUCCEEDED", result=text)

    def send_durable_execution_callback_failure(self, context: RequestContext,
                                                params: dict[str, Any]) -> dict[str, Any]:
        return self._complete_callback(params["CallbackId"], "FAILED", error=params.get("Error") or {})

    def send_durable_execution_callback_heartbeat(self, context: RequestContext,
                                                  params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            record, op_id = self._callback(params["CallbackId"])
            record["ops"][op_id]["_last_beat"] = time.time()
            record.pop("wake_at", None)  # the heartbeat deadline moved: re-arm the timer
            self.durable.schedule(record)
            self.durable.save(record)
        return {}


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    """An event without payloads (GetDurableExecutionHistory without IncludeExecutionData)."""
    copy = dict(event)
    for member, details in event.items():
        if member.endswith("Details") and isinstance(details, dict):
            trimmed = dict(details)
            for field in ("Input", "Result"):
                if isinstance(trimmed.get(field), dict):
                    trimmed[field] = {k: v for k, v in trimmed[field].items() if k != "Payload"}
            copy[member] = trimmed
    return copy

