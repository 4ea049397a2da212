"""Asynchronous invocation settings (event invoke configs) and where finished events go.

Mixed into ``LambdaProvider``. An event invoke config sets the retry limit and maximum event
age for a function version or alias and its OnSuccess/OnFailure destinations; a function's
DeadLetterConfig receives failed events when no OnFailure destination is set. Destination
records have AWS's shape and are written inside the transaction that ends the event, through
``cumulo.targets`` (a function destination goes straight to this provider's own queue).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Any

from cumulo.arns import split_arn
from cumulo.invoke.async_events import DEFAULT_MAX_AGE_S, DEFAULT_RETRIES, AsyncEvent, Outcome
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.lambda_.names import LATEST, parse_function
from cumulo.services.lambda_.repository import LambdaRepository
from cumulo.services.pagination import decode_token, take_page
from cumulo.targets.dead_letters import invocation_failure_attributes
from cumulo.targets.send import BusEvent, Delivery, send_now

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.lambda")
DESTINATION_SERVICES = ("sqs", "sns", "lambda", "events")


def _now() -> float:
    return dt.datetime.now(dt.UTC).timestamp()


def _check_destination(arn: str | None) -> None:
    if arn is None:
        return
    parsed = split_arn(arn)
    if parsed is None or parsed.service not in DESTINATION_SERVICES:
        raise AwsError("InvalidParameterValueException", f"The destination ARN {arn} is invalid.",
                       fields={"Type": "User"})


class AsyncConfigOperations:
    """Event invoke configs (needs ``self.repo``/``self.platform`` of the Lambda provider)."""

    platform: Platform

    def _config_target(self, context: RequestContext, params: dict[str, Any]
                       ) -> tuple[LambdaRepository, str, str]:
        repo = self.repo(context)  # type: ignore[attr-defined]
        ref = parse_function(params["FunctionName"], params.get("Qualifier"))
        qualifier = ref.qualifier or LATEST
        repo.resolve(ref.name, None if qualifier == LATEST else qualifier)
        return repo, ref.name, qualifier

    @staticmethod
    def _not_configured(repo: LambdaRepository, name: str, qualifier: str) -> AwsError:
        return AwsError("ResourceNotFoundException",
                        f"The function {repo.arn(name, qualifier)} doesn't have an EventInvokeConfig",
                        fields={"Type": "User"})

    def _write_config(self, context: RequestContext, params: dict[str, Any], merge: bool) -> dict[str, Any]:
        repo, name, qualifier = self._config_target(context, params)
        destinations = params.get("DestinationConfig") or {}
        for key in ("OnSuccess", "OnFailure"):
            _check_destination((destinations.get(key) or {}).get("Destination"))
        with self.platform.store.transaction():
            record = repo.function(name)
            configs = record.setdefault("event_invoke_configs", {})
            if merge and qualifier not in configs:
                raise self._not_configured(repo, name, qualifier)
            config = dict(configs.get(qualifier) or {}) if merge else {}
            for member in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
                if params.get(member) is not None:
                    config[member] = params[member]
            if "DestinationConfig" in params or not merge:
                merged = dict(config.get("DestinationConfig") or {}) if merge else {}
                for key in ("OnSuccess", "OnFailure"):
                    if key in destinations:
                        merged[key] = destinations[key]
                config["DestinationConfig"] = {"OnSuccess": merged.get("OnSuccess") or {},
                                               "OnFailure": merged.get("OnFailure") or {}}
            config["FunctionArn"] = repo.arn(name, qualifier)
            config["LastModified"] = _now()
            configs[qualifier] = config
            repo.save_function(name, record)
        return config

    def put_function_event_invoke_config(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._write_config(context, params, merge=False)

    def update_function_event_invoke_config(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._write_config(context, params, merge=True)

    def get_function_event_invoke_config(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name, qualifier = self._config_target(context, params)
        config = (repo.function(name).get("event_invoke_configs") or {}).get(qualifier)
        if config is None:
            raise self._not_configured(repo, name, qualifier)
        return config

    def delete_function_event_invoke_config(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name, qualifier = self._config_target(context, params)
        with self.platform.store.transaction():
            record = repo.function(name)
            if (record.get("event_invoke_configs") or {}).pop(qualifier, None) is None:
                raise self._not_configured(repo, name, qualifier)
            repo.save_function(name, record)
        return {}

    def list_function_event_invoke_configs(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name, _ = self._config_target(context, {"FunctionName": params["FunctionName"]})
        configs = sorted((repo.function(name).get("event_invoke_configs") or {}).items())
        after = decode_token(params.get("Marker"), "lambda-invoke-configs", "InvalidParameterValueException",
                             "Invalid Marker")
        page, marker = take_page(((q, c) for q, c in configs if after is None or q > after),
                                 params.get("MaxItems") or 50, "lambda-invoke-configs")
        return {"FunctionEventInvokeConfigs": page, "NextMarker": marker}

    # ------------------------------------------------------------ policy and destinations
    def _event_config(self, event: AsyncEvent) -> tuple[dict[str, Any], dict[str, Any]]:
        """(event invoke config for the event's qualifier, the function record)."""
        repo = LambdaRepository(self.platform.store, event.account, event.region)
        record = repo.find_function(event.function) or {}
        configs = record.get("event_invoke_configs") or {}
        return configs.get(event.qualifier or LATEST) or {}, record

    def _async_policy(self, event: AsyncEvent) -> tuple[int, float]:
        config, _ = self._event_config(event)
        return (config.get("MaximumRetryAttempts", DEFAULT_RETRIES),
                float(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_S)))

    def _finish_async_event(self, event: AsyncEvent, outcome: Outcome, reason: str) -> None:
        config, record = self._event_config(event)
        destinations = config.get("DestinationConfig") or {}
        succeeded = reason == "Success"
        target = (destinations.get("OnSuccess" if succeeded else "OnFailure") or {}).get("Destination")
        if target:
            self._deliver(event, target, self._destination_record(event, outcome, reason), succeeded)
            return
        dead_letter = ((record.get("config") or {}).get("DeadLetterConfig") or {}).get("TargetArn")
        if not succeeded and dead_letter:
            self._dead_letter(event, outcome, dead_letter)
        elif not succeeded:
            log.info("asynchronous invocation %s of %s dropped: %s after %d attempt(s)", event.request_id,
                     event.function, reason, event.attempts)

    def _destination_record(self, event: AsyncEvent, outcome: Outcome, reason: str) -> dict[str, Any]:
        repo = LambdaRepository(self.platform.store, event.account, event.region)
        function_arn = repo.arn(event.function, event.qualifier or LATEST)
        response_context: dict[str, Any] = {"statusCode": outcome.status_code,
                                            "executedVersion": outcome.executed_version or LATEST}
        if outcome.function_error:
            response_context["functionError"] = outcome.function_error
        stamp = dt.datetime.now(dt.UTC)
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "requestContext": {"requestId": event.request_id, "functionArn": function_arn, "condition": reason,
                               "approximateInvokeCount": max(event.attempts, 1)},
            "requestPayload": _json_or_text(event.payload),
            "responseContext": response_context,
        }
        if outcome.payload:
            record["responsePayload"] = _json_or_text(outcome.payload)
        return record

    def _deliver(self, event: AsyncEvent, arn: str, record: dict[str, Any], succeeded: bool) -> None:
        body = json.dumps(record)
        destination = split_arn(arn)
        if destination is not None and destination.service == "lambda":
            self.async_invoker.accept(AsyncEvent(  # type: ignore[attr-defined]
                account=event.account, region=event.region, function=parse_function(arn).name,
                qualifier=parse_function(arn).qualifier, payload=body.encode()))
            return
        result = BusEvent(source="lambda", resources=[record["requestContext"]["functionArn"]],
                          detail_type="Lambda Function Invocation Result - " + ("Success" if succeeded else "Failure"))
        send_now(self.platform, arn, body, Delivery(account=event.account, region=event.region, sender=event.account,
                                                    bus_event=result))

    def _dead_letter(self, event: AsyncEvent, outcome: Outcome, arn: str) -> None:
        """Send the original event to the DLQ with AWS's RequestID/ErrorCode/ErrorMessage attributes."""
        attributes = invocation_failure_attributes(event.request_id, outcome.status_code, _error_message(outcome))
        send_now(self.platform, arn, event.payload.decode(errors="replace"),
                 Delivery(account=event.account, region=event.region, message_attributes=attributes,
                          sender=event.account))


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return base64.b64encode(payload).decode()


def _error_message(outcome: Outcome) -> str:
    if outcome.error is not None:
        return outcome.error.message
    try:
        return str(json.loads(outcome.payload).get("errorMessage", ""))
    except (ValueError, AttributeError, UnicodeDecodeError):
        return ""
