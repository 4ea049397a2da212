"""AWS Step Functions on the ``cumulo.asl`` engine.

The control plane (state machines, versions, aliases, tags) lives in ``machines.py``; this module
has the execution API: starting (standard, express asynchronous and synchronous), describing,
listing, stopping, redriving, the execution history, task tokens, and TestState. Running
executions, their durable logs and resumption after a restart are in ``executions.py``; task
integrations in ``integrations.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.asl import HistoryEvent, InvalidDefinition
from cumulo.asl.test_state import MockInvoker, run_test_state
from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext
from cumulo.services.pagination import decode_token, encode_token
from cumulo.services.stepfunctions.activities import ActivityOperations
from cumulo.services.stepfunctions.clock import ScaledClock
from cumulo.services.stepfunctions.executions import Runner
from cumulo.services.stepfunctions.integrations import ExecutionInvoker, compact
from cumulo.services.stepfunctions.machines import MachineOperations, Target
from cumulo.services.stepfunctions.names import (
    check_name,
    execution_arn,
    execution_not_found,
    express_execution_arn,
    parse_arn,
    type_not_supported,
    validation,
)
from cumulo.services.stepfunctions.repository import CLOCK, RUNNING, Repository
from cumulo.services.stepfunctions.sinks import load_log

if TYPE_CHECKING:
    from cumulo.platform import Platform

DEFAULT_PAGE = 100
#: TestState runs one state in the request; a callback nobody answers must not hold it forever
TEST_STATE_TIMEOUT_S = 300
_DATA_FIELDS = ("input", "inputDetails", "output", "outputDetails")
_NOT_REDRIVABLE = {"RUNNING", "SUCCEEDED"}


def _invalid_input(reason: str) -> AwsError:
    return AwsError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{reason}'")


def _json_input(text: str | None) -> str:
    if text is None:
        return "{}"
    if not text.strip():
        raise _invalid_input("Invalid execution input.")
    try:
        json.loads(text)
    except ValueError as exc:
        raise _invalid_input(str(exc)) from None
    return text


def _redrive_status(record: dict[str, Any]) -> tuple[str, str | None]:
    status = record["status"]
    if status in _NOT_REDRIVABLE:
        return "NOT_REDRIVABLE", f"Execution is {status} and cannot be redriven"
    return "REDRIVABLE", None


class StepFunctionsProvider(ActivityOperations, MachineOperations, Provider):
    service = "stepfunctions"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.repo = Repository(platform.store)
        scale = getattr(platform.settings, "states_clock_scale", 1.0)
        self.clock = ScaledClock(scale)
        self.runner = Runner(self)
        self._resumer: asyncio.Task[None] | None = None

    def now(self) -> float:
        return self.clock.now()

    async def start(self) -> None:
        if self.clock.scale != 1.0:
            self.repo.store.insert(CLOCK, "anchor", {"anchor": time.time()})
            self.clock.anchor = self.repo.store.get(CLOCK, "anchor")["anchor"]
        self._resumer = asyncio.get_running_loop().create_task(self._resume_when_started())

    async def _resume_when_started(self) -> None:
        # Resumed executions call other services: wait until every provider has started.
        while any(state == "starting" for state in self.platform.state.values()):
            await asyncio.sleep(0.005)
        await self.runner.resume_all()

    async def stop(self) -> None:
        if self._resumer is not None and not self._resumer.done():
            self._resumer.cancel()
        await self.runner.shutdown()

    def execution_running(self, arn: str) -> bool:
        try:
            record = self.repo.execution(parse_arn(arn, "execution"))
        except AwsError:
            return False
        return record is not None and record["status"] == "RUNNING"

    def execution_exists(self, arn: str) -> bool:
        try:
            return self.repo.execution(parse_arn(arn, "execution")) is not None
        except AwsError:
            return False

    # ------------------------------------------------------------ starting executions
    def _spec(self, target: Target, name: str, input_text: str, arn: str) -> dict[str, Any]:
        source = target.source
        machine = target.machine
        spec: dict[str, Any] = {
            "executionArn": arn, "stateMachineArn": machine["arn"], "name": name, "machineName": machine["name"],
            "input": input_text, "definition": source["digest"], "roleArn": source["roleArn"],
            "logging": source["loggingConfiguration"], "redriveCount": 0,
        }
        if target.version is not None:
            spec["stateMachineVersionArn"] = target.version["arn"]
        if target.alias_arn is not None:
            spec["stateMachineAliasArn"] = target.alias_arn
        return spec

    async def start_execution(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        target = self.target(params["stateMachineArn"])
        name = check_name(params.get("name") or str(uuid.uuid4()))
        input_text = _json_input(params.get("input"))
        if target.machine["type"] == "EXPRESS":
            return self._start_express(target, name, input_text)
        record = self._start_standard(target, name, input_text, params.get("traceHeader"))
        return {"executionArn": record["executionArn"], "startDate": record["startDate"]}

    def _start_standard(self, target: Target, name: str, input_text: str, trace_header: str | None,
                        started_by: str | None = None) -> dict[str, Any]:
        arn = target.arn
        machine = target.machine
        exec_arn = execution_arn(arn.region, arn.account, machine["name"], name, arn.partition)
        key = f"{arn.scope}{machine['name']}:{name}"
        existing = self.repo.execution_by_key(key)
        if existing is not None:
            # idempotent while it runs; and for the parent task that started it, replayed after a crash
            mine = started_by is not None and existing.get("startedBy") == started_by
            if existing["input"] == input_text and (existing["status"] == "RUNNING" or mine):
                return existing
            raise AwsError("ExecutionAlreadyExists", f"Execution Already Exists: '{exec_arn}'")
        source = target.source
        record = self._spec(target, name, input_text, exec_arn)
        record.update(status="RUNNING", startDate=self.now(), logId=uuid.uuid4().hex, type="STANDARD")
        if trace_header:
            record["traceHeader"] = trace_header
        if started_by:
            record["startedBy"] = started_by
        record["sm"] = {
            "name": machine["name"], "roleArn": source["roleArn"],
            "loggingConfiguration": source["loggingConfiguration"],
            "tracingConfiguration": source["tracingConfiguration"],
            "updateDate": machine.get("updateDate", machine["creationDate"]),
        }
        if source.get("revisionId"):
            record["sm"]["revisionId"] = source["revisionId"]
        with self.repo.store.transaction():
            if not self.repo.insert_execution(key, record, arn.scope):
                raise AwsError("ExecutionAlreadyExists", f"Execution Already Exists: '{exec_arn}'")
            self.repo.store.put(RUNNING, record["logId"], {"kind": "standard", "key": key})
        self.runner.launch_standard(key, record)
        return record

    def _start_express(self, target: Target, name: str, input_text: str) -> dict[str, Any]:
        arn = target.arn
        exec_arn = express_execution_arn(arn.region, arn.account, target.machine["name"], name, str(uuid.uuid4()),
                                         arn.partition)
        spec = self._spec(target, name, input_text, exec_arn)
        start = spec["startDate"] = self.now()
        pending_id = uuid.uuid4().hex
        self.repo.store.put(RUNNING, pending_id, {"kind": "express", "spec": spec})  # at least once
        self.runner.launch_express(spec, pending_id)
        return {"executionArn": exec_arn, "startDate": start}

    async def start_sync_execution(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        target = self.target(params["stateMachineArn"])
        if target.machine["type"] != "EXPRESS":
            raise type_not_supported()
        name = check_name(params.get("name") or str(uuid.uuid4()))
        input_text = _json_input(params.get("input"))
        arn = target.arn
        exec_arn = express_execution_arn(arn.region, arn.account, target.machine["name"], name, str(uuid.uuid4()),
                                         arn.partition)
        spec = self._spec(target, name, input_text, exec_arn)
        started = time.perf_counter()
        result = await self.runner.run_express(spec)
        billed = max(100, math.ceil((time.perf_counter() - started) * 10) * 100)
        out: dict[str, Any] = {
            "executionArn": exec_arn, "stateMachineArn": target.machine["arn"], "name": name,
            "startDate": result.start_time, "stopDate": result.stop_time, "status": result.status,
        }
        if result.error is not None:
            out["error"] = result.error
        if result.cause is not None:
            out["cause"] = result.cause
        metadata_only = params.get("includedData") == "METADATA_ONLY"
        out["inputDetails"] = {"included": not metadata_only}
        if not metadata_only:
            out["input"] = input_text
        if result.status == "SUCCEEDED":
            out["outputDetails"] = {"included": not metadata_only}
            if not metadata_only:
                out["output"] = compact(result.output)
        if params.get("traceHeader"):
            out["traceHeader"] = params["traceHeader"]
        out["billingDetails"] = {"billedDurationInMilliseconds": billed, "billedMemoryUsedInMB": 64}
        return out

    # -- child executions (the states:startExecution integration) ----------------------------

    async def start_child(self, target_arn: str, name: str, input_text: str, trace_header: str | None,
                          wait: bool, started_by: str) -> dict[str, Any]:
        target = self.target(target_arn)
        check_name(name)
        _json_input(input_text)
        if target.machine["type"] == "EXPRESS":
            arn = target.arn
            exec_arn = express_execution_arn(arn.region, arn.account, target.machine["name"], name,
                                             str(uuid.uuid4()), arn.partition)
            if not wait:
                return self._start_express(target, name, input_text)
            spec = self._spec(target, name, input_text, exec_arn)
            result = await self.runner.run_express(spec)
            record = {"executionArn": exec_arn, "stateMachineArn": target.machine["arn"], "name": name,
                      "input": input_text, "status": result.status, "startDate": result.start_time,
                      "stopDate": result.stop_time}
            if result.status == "SUCCEEDED":
                record["output"] = compact(result.output)
            for key in ("error", "cause"):
                if getattr(result, key) is not None:
                    record[key] = getattr(result, key)
            return record
        return self._start_standard(target, name, input_text, trace_header, started_by)

    async def wait_child(self, started: dict[str, Any]) -> dict[str, Any]:
        if started.get("status", "RUNNING") != "RUNNING" or ":express:" in started["executionArn"]:
            return started
        arn = parse_arn(started["executionArn"], "execution")
        return await self.runner.wait(started["executionArn"], lambda: self.repo.execution(arn))

    def stop_child(self, arn: str) -> None:
        if arn in self.runner.live and ":express:" not in arn:
            self.platform.spawn(self.runner.stop(arn, "States.Aborted", "The parent execution was stopped."),
                                name=f"sfn:stop:{arn}")

    # ------------------------------------------------------------ reading executions
    def _execution(self, text: str) -> tuple[Any, dict[str, Any]]:
        arn = parse_arn(text, "execution")
        record = self.repo.execution(arn)
        if record is None:
            raise execution_not_found(text)
        return arn, record

    def describe_execution(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, record = self._execution(params["executionArn"])
        metadata_only = params.get("includedData") == "METADATA_ONLY"
        out: dict[str, Any] = {k: record[k] for k in ("executionArn", "stateMachineArn", "name", "status",
                                                      "startDate") if k in record}
        for name in ("stopDate", "traceHeader", "error", "cause", "stateMachineVersionArn",
                     "stateMachineAliasArn", "redriveDate"):
            if record.get(name) is not None:
                out[name] = record[name]
        out["inputDetails"] = {"included": not metadata_only}
        if not metadata_only:
            out["input"] = record["input"]
        if "output" in record:
            out["outputDetails"] = {"included": not metadata_only}
            if not metadata_only:
                out["output"] = record["output"]
        out["redriveCount"] = record.get("redriveCount", 0)
        status, reason = _redrive_status(record)
        out["redriveStatus"] = status
        if reason:
            out["redriveStatusReason"] = reason
        return out

    def describe_state_machine_for_execution(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, record = self._execution(params["executionArn"])
        sm = record["sm"]
        out = {"stateMachineArn": record["stateMachineArn"], "name": sm["name"],
               "definition": self.repo.definition(record["definition"]), "roleArn": sm["roleArn"],
               "updateDate": sm["updateDate"], "loggingConfiguration": sm["loggingConfiguration"],
               "tracingConfiguration": sm["tracingConfiguration"]}
        if sm.get("revisionId"):
            out["revisionId"] = sm["revisionId"]
        return out

    def list_executions(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("mapRunArn"):
            if params.get("stateMachineArn"):
                raise validation("Only one of stateMachineArn or mapRunArn can be specified")
            raise AwsError("ResourceNotFound", f"Resource not found: '{params['mapRunArn']}'")
        if not params.get("stateMachineArn"):
            raise validation("Must specify a stateMachineArn or a mapRunArn")
        target_arn = params["stateMachineArn"]
        arn = parse_arn(target_arn, "stateMachine")
        machine = self.repo.machine(arn)
        if machine is None:
            raise AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{target_arn}'")
        if machine["type"] == "EXPRESS":
            raise type_not_supported()
        if arn.version is not None and self.repo.version(arn.scope, arn.name, arn.version) is None:
            raise AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{target_arn}'")
        wanted_status = params.get("statusFilter")
        redrive = params.get("redriveFilter")
        limit = params.get("maxResults") or DEFAULT_PAGE
        after = decode_token(params.get("nextToken"), "sfn.executions", "InvalidToken",
                             "Invalid Token: 'Invalid token'")
        found: list[dict[str, Any]] = []
        cursor = after
        last_key = None
        while len(found) <= limit:
            keys = self.repo.executions_by_start(arn.scope, arn.name, cursor, 500)
            if not keys:
                break
            for index_key in keys:
                cursor = index_key
                record = self.repo.execution_by_key(self.repo.execution_key_of_index(index_key))
                if record is None or not self._listed(record, arn, target_arn, wanted_status, redrive):
                    continue
                if len(found) == limit:
                    found.append(record)
                    break
                found.append(record)
                last_key = index_key
            else:
                continue
            break
        out: dict[str, Any] = {"executions": [self._list_item(r) for r in found[:limit]]}
        if len(found) > limit and last_key is not None:
            out["nextToken"] = encode_token("sfn.executions", last_key)
        return out

    @staticmethod
    def _listed(record: dict[str, Any], arn: Any, target_arn: str, status: str | None, redrive: str | None) -> bool:
        if status is not None and record["status"] != status:
            return False
        if arn.version is not None and record.get("stateMachineVersionArn") != target_arn:
            return False
        if arn.alias is not None and record.get("stateMachineAliasArn") != target_arn:
            return False
        if redrive == "REDRIVEN" and not record.get("redriveCount"):
            return False
        return not (redrive == "NOT_REDRIVEN" and record.get("redriveCount"))

    @staticmethod
    def _list_item(record: dict[str, Any]) -> dict[str, Any]:
        item = {k: record[k] for k in ("executionArn", "stateMachineArn", "name", "status", "startDate")}
        for name in ("stopDate", "stateMachineVersionArn", "stateMachineAliasArn", "redriveDate"):
            if record.get(name) is not None:
                item[name] = record[name]
        item["redriveCount"] = record.get("redriveCount", 0)
        return item

    def get_execution_history(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, record = self._execution(params["executionArn"])
        records, _ = load_log(self.repo, record["logId"])
        # committed events only: what the history shows has happened, durably
        events = [r for r in records if isinstance(r, HistoryEvent) and r.child is None]
        if params.get("reverseOrder"):
            events.reverse()
        limit = params.get("maxResults") or DEFAULT_PAGE
        start = decode_token(params.get("nextToken"), "sfn.history", "InvalidToken",
                             "Invalid Token: 'Invalid token'") or 0
        include = params.get("includeExecutionData", True) is not False
        started_with = {k: record[k] for k in ("stateMachineAliasArn", "stateMachineVersionArn") if k in record}
        out: dict[str, Any] = {"events": [_api_event(e, include, started_with) for e in events[start:start + limit]]}
        if start + limit < len(events):
            out["nextToken"] = encode_token("sfn.history", start + limit)
        return out

    # ------------------------------------------------------------ controlling executions
    async def stop_execution(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["executionArn"]
        arn, record = self._execution(text)
        if record["status"] == "RUNNING":
            await self.runner.stop(text, params.get("error"), params.get("cause"))
            record = self.repo.execution(arn) or record
        return {"stopDate": record.get("stopDate") or self.now()}

    async def redrive_execution(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["executionArn"]
        arn, record = self._execution(text)
        if record["status"] in _NOT_REDRIVABLE:
            raise AwsError("ExecutionNotRedrivable", f"Execution is {record['status']} and cannot be redriven")
        key = f"{arn.scope}{arn.resource_path[0]}:{arn.resource_path[1]}"
        records, next_chunk = load_log(self.repo, record["logId"])
        now = self.now()
        record.update(status="RUNNING", redriveCount=record.get("redriveCount", 0) + 1, redriveDate=now)
        for name in ("stopDate", "output", "error", "cause"):
            record.pop(name, None)
        with self.repo.store.transaction():
            self.repo.save_execution(key, record)
            self.repo.store.put(RUNNING, record["logId"], {"kind": "standard", "key": key})
        self.runner.launch_standard(key, record, records, next_chunk, redrive=True)
        return {"redriveDate": now}

    # ------------------------------------------------------------ task tokens
    async def send_task_success(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            output = json.loads(params["output"])
        except ValueError as exc:
            raise AwsError("InvalidOutput", f"Invalid Output: '{exc}'") from None
        await self.runner.send_task(params["taskToken"], ("success", output))
        return {}

    async def send_task_failure(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self.runner.send_task(params["taskToken"], ("failure", params.get("error"), params.get("cause")))
        return {}

    async def send_task_heartbeat(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self.runner.send_task(params["taskToken"], ("heartbeat",))
        return {}

    # ------------------------------------------------------------ TestState
    async def test_state(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            data = json.loads(params["input"]) if params.get("input") else {}
        except ValueError as exc:
            raise _invalid_input(str(exc)) from None
        try:
            variables = json.loads(params["variables"]) if params.get("variables") else None
        except ValueError as exc:
            raise validation(f"Invalid variables: {exc}") from None
        mock = params.get("mock")
        if mock:
            if mock.get("errorOutput") is not None:
                invoker: Any = MockInvoker(error=mock["errorOutput"].get("error", ""),
                                           cause=mock["errorOutput"].get("cause"))
            else:
                try:
                    invoker = MockInvoker(result=json.loads(mock.get("result") or "null"))
                except ValueError as exc:
                    raise validation(f"Invalid mock result: {exc}") from None
        else:
            arn = f"arn:aws:states:{context.region}:{context.account_id}:execution:TestStateMachine:test-state"
            invoker = ExecutionInvoker(self, arn, arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0])
        config = params.get("stateConfiguration") or {}
        try:
            return await asyncio.wait_for(run_test_state(
                params["definition"], data, invoker, state_name=params.get("stateName"), variables=variables,
                inspection_level=params.get("inspectionLevel") or "INFO", role_arn=params.get("roleArn") or "",
                retrier_retry_count=config.get("retrierRetryCount", 0), clock=self.clock), TEST_STATE_TIMEOUT_S)
        except TimeoutError:
            return {"status": "FAILED", "error": "States.Timeout",
                    "cause": f"TestState stopped waiting for the state after {TEST_STATE_TIMEOUT_S} seconds"}
        except InvalidDefinition as exc:
            raise AwsError("InvalidDefinition", exc.message) from None
        except ValueError as exc:
            raise AwsError("InvalidDefinition",
                           f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {exc}'") from None


def _api_event(event: HistoryEvent, include_data: bool, started_with: dict[str, str]) -> dict[str, Any]:
    out = event.to_api()
    if event.type == "ExecutionStarted" and started_with:
        out["executionStartedEventDetails"] = {**out.get("executionStartedEventDetails", {}), **started_with}
    if event.type == "ExecutionAborted" and "executionAbortedEventDetails" not in out:
        out["executionAbortedEventDetails"] = {}
    if not include_data:
        for key, value in out.items():
            if key.endswith("EventDetails") and isinstance(value, dict):
                out[key] = {k: v for k, v in value.items() if k not in _DATA_FIELDS}
    return out


__all__ = ["StepFunctionsProvider"]
