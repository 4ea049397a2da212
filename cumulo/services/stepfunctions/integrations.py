"""Task states talking to the rest of the platform: the `TaskInvoker` of an execution.

Routes on the parsed ``Resource``:

* a Lambda function ARN (the legacy form): the function's result is the task result, its
  ``errorType`` the error name (``LambdaFunction*`` history events);
* ``arn:aws:states:::lambda:invoke`` - output ``{ExecutedVersion, Payload, SdkHttpMetadata,
  SdkResponseMetadata, StatusCode}``;
* ``sqs:sendMessage``, ``sns:publish``, ``events:putEvents`` - the providers' operations, called
  in-process with the API's parameters (``calls.py``);
* ``states:startExecution`` - fire and forget, ``.sync`` (Output as a JSON string), ``.sync:2``
  (Output as JSON); a child started without a ``Name`` gets one derived from the parent's
  execution and the task's position, so a task replayed after a crash finds the child it started
  instead of starting another;
* ``aws-sdk:<service>:<action>`` - any operation of a service this build serves;
* ``.waitForTaskToken`` on all of the above: the call only submits the work, the engine then waits
  for SendTaskSuccess/Failure.

Everything that goes wrong becomes a `TaskFailure` with AWS's error name and cause.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.arns import split_arn
from cumulo.asl import TaskFailure, TaskRequest
from cumulo.asl.invoker import RUN_JOB, RUN_JOB_V2
from cumulo.protocol.errors import AwsError
from cumulo.services.api_calls import CallError, ServiceUnavailable, call_json_api
from cumulo.services.stepfunctions.calls import (
    SDK_SERVICES,
    operation_name,
    optimized_error,
    pascal_input,
    pascal_output,
    sdk_error,
    sdk_metadata,
)
from cumulo.services.stepfunctions.definitions import IMPLEMENTED

if TYPE_CHECKING:
    from cumulo.services.stepfunctions.provider import StepFunctionsProvider

log = logging.getLogger("cumulo.stepfunctions")
_CHILD_NAMES = uuid.UUID("6d1c3a52-5d2c-4c85-9a55-1b0f1f0d7c11")
_UNKNOWN_LAMBDA_ERROR = ("The cause could not be determined because Lambda did not return an error type. "
                         "Returned payload: {payload}")


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else compact(value)


def _decode(payload: bytes) -> Any:
    text = payload.decode("utf-8", "replace")
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def function_error(payload: bytes, compact_cause: bool) -> TaskFailure:
    """A Lambda function error: its ``errorType`` is the error, its error document the cause."""
    text = payload.decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("errorType"), str):
        return TaskFailure(document["errorType"], compact(document) if compact_cause else text)
    return TaskFailure("Lambda.Unknown", _UNKNOWN_LAMBDA_ERROR.format(payload=text))


def lambda_service_error(error: AwsError, request_id: str | None = None) -> TaskFailure:
    status = error.status or (429 if error.code == "TooManyRequestsException" else
                              404 if error.code == "ResourceNotFoundException" else 400)
    code = error.code if error.code.endswith("Exception") else "AWSLambdaException"
    cause = (f"{error.message} (Service: AWSLambda; Status Code: {status}; Error Code: {error.code}; "
             f"Request ID: {request_id or uuid.uuid4()}; Proxy: null)")
    return TaskFailure(f"Lambda.{code}", cause)


class ExecutionInvoker:
    """The TaskInvoker of one execution."""

    def __init__(self, service: StepFunctionsProvider, execution_arn: str, machine_arn: str) -> None:
        self.service = service
        self.platform = service.platform
        self.execution_arn = execution_arn
        self.machine_arn = machine_arn
        arn = split_arn(execution_arn)
        assert arn is not None, execution_arn
        self.region, self.account = arn.region, arn.account

    async def invoke(self, request: TaskRequest) -> Any:
        try:
            return await self._dispatch(request)
        except (TaskFailure, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug must fail the task, never the engine
            log.exception("task %s of %s failed unexpectedly", request.state_name, self.execution_arn)
            raise TaskFailure("States.TaskFailed", f"Internal error: {exc!r}") from None

    async def _dispatch(self, request: TaskRequest) -> Any:
        resource = request.resource
        if resource.kind == "lambda":
            return await self._lambda_function(request)
        if resource.kind == "activity":
            try:
                self.service.schedule_activity(resource.arn, request.task_token or "", compact(request.parameters))
            except AwsError as error:
                raise TaskFailure("States.TaskFailed", error.message) from None
            return None
        service = resource.service
        if service not in IMPLEMENTED:
            raise TaskFailure("States.TaskFailed", f"Cumulo does not implement the {resource.arn} integration yet")
        if service == "lambda":
            return await self._lambda_invoke(request)
        if service == "states":
            return await self._start_execution(request)
        if service == "aws-sdk":
            return await self._aws_sdk(request)
        params = request.parameters if isinstance(request.parameters, dict) else {}
        if service == "sqs":
            params = dict(params)
            if "MessageBody" in params and params["MessageBody"] is not None:
                params["MessageBody"] = _as_text(params["MessageBody"])
            return await self._optimized("sqs", "SendMessage", params, "application/x-amz-json-1.0")
        if service == "sns":
            params = dict(params)
            if "Message" in params and params["Message"] is not None:
                params["Message"] = _as_text(params["Message"])
            return await self._optimized("sns", "Publish", params, "text/xml")
        if service == "events":
            return await self._put_events(params)
        raise TaskFailure("States.TaskFailed", f"Cumulo does not implement the {resource.arn} integration yet")

    # -- Lambda -----------------------------------------------------------------------------

    async def _invoke_function(self, function: str, payload: bytes, **options: Any) -> dict[str, Any]:
        """Invoke a function; a task that times out or is stopped leaves the invocation running to
        its end (as on AWS), rather than cancelling it half-way in its execution environment."""
        call = self.platform.spawn(self.platform.functions.invoke_function(
            function, payload, account=self.account, region=self.region, **options), name=f"sfn:invoke:{function}")
        return await asyncio.shield(call)

    async def _lambda_function(self, request: TaskRequest) -> Any:
        payload = compact(request.parameters).encode()
        try:
            response = await self._invoke_function(request.resource.arn, payload)
        except AwsError as error:
            raise lambda_service_error(error) from None
        if response.get("FunctionError"):
            raise function_error(response.get("Payload") or b"", compact_cause=False)
        return _decode(response.get("Payload") or b"")

    async def _lambda_invoke(self, request: TaskRequest) -> Any:
        params = request.parameters if isinstance(request.parameters, dict) else {}
        function = params.get("FunctionName")
        if not isinstance(function, str) or not function:
            raise lambda_service_error(AwsError(
                "ValidationException", "1 validation error detected: Value null at 'functionName' failed to "
                "satisfy constraint: Member must not be null", status=400))
        payload = compact(params["Payload"]).encode() if "Payload" in params else b"{}"
        invocation_type = params.get("InvocationType") or "RequestResponse"
        try:
            response = await self._invoke_function(function, payload, invocation_type=invocation_type,
                                                   qualifier=params.get("Qualifier"),
                                                   client_context=params.get("ClientContext"))
        except AwsError as error:
            raise lambda_service_error(error) from None
        if response.get("FunctionError"):
            raise function_error(response.get("Payload") or b"", compact_cause=True)
        raw = response.get("Payload") or b""
        request_id = response.get("RequestId") or str(uuid.uuid4())
        version = response.get("ExecutedVersion", "$LATEST")
        extra = {"x-amzn-Remapped-Content-Length": "0", "X-Amzn-Trace-Id": f"root={uuid.uuid4()};sampled=0"}
        if invocation_type == "RequestResponse":
            extra["X-Amz-Executed-Version"] = version
        out: dict[str, Any] = {}
        if invocation_type == "RequestResponse":
            out["ExecutedVersion"] = version
        out["Payload"] = _decode(raw) if raw else ""
        out.update(sdk_metadata(request_id, "application/json", len(raw), extra))
        out["StatusCode"] = response.get("StatusCode", 200)
        return out

    # -- SQS, SNS, EventBridge, any SDK operation --------------------------------------------

    async def _optimized(self, service: str, operation: str, params: dict[str, Any], content_type: str) -> Any:
        try:
            output, request_id = await call_json_api(self.platform, service, operation, params,
                                                      account=self.account, region=self.region)
        except ServiceUnavailable:
            raise TaskFailure("States.TaskFailed", f"The {service.upper()} service is not available in this "
                                                   "build of Cumulo") from None
        except CallError as failure:
            raise TaskFailure(*optimized_error(self.platform, service, failure)) from None
        body = len(compact(output))
        return dict(sorted({**output, **sdk_metadata(request_id, content_type, body)}.items()))

    async def _put_events(self, params: dict[str, Any]) -> Any:
        entries = []
        for entry in params.get("Entries") or []:
            if not isinstance(entry, dict):
                entries.append(entry)
                continue
            entry = dict(entry)
            if "Detail" in entry and entry["Detail"] is not None:
                entry["Detail"] = _as_text(entry["Detail"])
            entry["Resources"] = [*(entry.get("Resources") or []), self.machine_arn, self.execution_arn]
            entries.append(entry)
        try:
            output, _ = await call_json_api(self.platform, "events", "PutEvents", {**params, "Entries": entries},
                                             account=self.account, region=self.region)
        except ServiceUnavailable:
            raise TaskFailure("States.TaskFailed", "The EventBridge service is not available in this build "
                                                   "of Cumulo") from None
        except CallError as failure:
            raise TaskFailure(*optimized_error(self.platform, "events", failure)) from None
        result = {"Entries": output.get("Entries", []), "FailedEntryCount": output.get("FailedEntryCount", 0)}
        if result["FailedEntryCount"]:
            raise TaskFailure("EventBridge.FailedEntry", compact(result))
        return result

    async def _aws_sdk(self, request: TaskRequest) -> Any:
        client, _, action = (request.resource.action or "").partition(":")
        service = SDK_SERVICES.get(client, client)
        operation = operation_name(self.platform, service, action)
        if operation is None:
            raise TaskFailure("States.TaskFailed", f"Cumulo does not implement the {request.resource.arn} "
                                                   "integration yet")
        op = self.platform.catalog.model(service).operation_model(operation)
        params = pascal_input(op.input_shape, request.parameters if isinstance(request.parameters, dict) else {})
        try:
            output, _ = await call_json_api(self.platform, service, operation, params,
                                             account=self.account, region=self.region)
        except ServiceUnavailable:
            raise TaskFailure("States.TaskFailed", f"Cumulo does not implement the {request.resource.arn} "
                                                   "integration yet") from None
        except CallError as failure:
            raise TaskFailure(*sdk_error(self.platform, service, failure)) from None
        return pascal_output(op.output_shape, output)

    # -- Step Functions -------------------------------------------------------------------------

    async def _start_execution(self, request: TaskRequest) -> Any:
        params = request.parameters if isinstance(request.parameters, dict) else {}
        target = params.get("StateMachineArn")
        raw_input = params.get("Input")
        input_text = "{}" if raw_input is None else _as_text(raw_input)
        name = params.get("Name") or str(uuid.uuid5(_CHILD_NAMES, f"{self.execution_arn}/{request.site}"))
        request_id = str(uuid.uuid4())
        try:
            if not isinstance(target, str):
                raise AwsError("ValidationException", "1 validation error detected: Value null at "
                               "'stateMachineArn' failed to satisfy constraint: Member must not be null",
                               status=400)
            started = await self.service.start_child(target, name, input_text, params.get("TraceHeader"),
                                                     wait=request.resource.pattern in (RUN_JOB, RUN_JOB_V2),
                                                     started_by=f"{self.execution_arn}{request.site}")
        except AwsError as error:
            failure = CallError(error, request_id, error.status or 400)
            raise TaskFailure(*optimized_error(self.platform, "stepfunctions", failure)) from None
        if request.resource.pattern not in (RUN_JOB, RUN_JOB_V2):
            out = {"ExecutionArn": started["executionArn"]}
            out.update(sdk_metadata(request_id, "application/x-amz-json-1.0", 160))
            out["StartDate"] = int(started["startDate"] * 1000)
            return out
        try:
            final = await self.service.wait_child(started)
        except asyncio.CancelledError:
            if self.service.runner.stopping(self.execution_arn):  # StopExecution, not a shutdown
                self.service.stop_child(started["executionArn"])
            raise
        return sync_output(final, request.resource.pattern == RUN_JOB_V2)


def sync_output(record: dict[str, Any], as_json: bool) -> dict[str, Any]:
    """The result of a ``startExecution.sync`` task (raises TaskFailure unless it succeeded)."""
    out: dict[str, Any] = {"ExecutionArn": record["executionArn"]}
    text_input = record.get("input", "{}")
    out["Input"] = json.loads(text_input) if as_json else text_input
    out["InputDetails"] = {"Included": True}
    out["Name"] = record["name"]
    if "output" in record:
        out["Output"] = json.loads(record["output"]) if as_json else record["output"]
        out["OutputDetails"] = {"Included": True}
    if record.get("redriveCount") is not None:
        out["RedriveCount"] = record.get("redriveCount", 0)
    out["StartDate"] = int(record["startDate"] * 1000)
    out["StateMachineArn"] = record["stateMachineArn"]
    out["Status"] = record["status"]
    if record.get("stopDate") is not None:
        out["StopDate"] = int(record["stopDate"] * 1000)
    if record["status"] != "SUCCEEDED":
        for name in ("error", "cause"):
            if record.get(name) is not None:
                out[name.capitalize()] = record[name]
        raise TaskFailure("States.TaskFailed", compact(out))
    return out
