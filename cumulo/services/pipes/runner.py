"""One running pipe: its source poller, then enrichment, the input template and the target per batch.

Sources plug in through ``SOURCE_POLLERS``: a poller class built with (platform, settings,
process) whose ``start``/``stop`` run it and which calls ``process(settings, event)`` with a
batch ``{"Records": [...]}``; ``process`` answers ``(ok, payload)`` where ``payload`` may
carry ``batchItemFailures``. SQS (standard and FIFO) reuses the event source mapping poller
(``cumulo.eventsources.sqs``): batch size, batching window, filters (rejected messages are
deleted), and messages deleted only once the target accepted them. A Kinesis or DynamoDB
Streams poller adds an entry here with the same contract.

Partial failures follow AWS (not from the enrichment, which AWS does not support): a Lambda or
Step Functions target that answers
``{"batchItemFailures": [{"itemIdentifier": id}]}`` fails only those records (ids are SQS
message ids); any other error fails the whole batch, which comes back after the visibility
timeout.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn, service_of
from cumulo.eventsources.sqs import SqsPoller
from cumulo.protocol.errors import AwsError
from cumulo.services.pipes.api_gateway import EndpointError, call_endpoint
from cumulo.services.pipes.dynamodb_source import DynamoDbStreamPoller, sequence_of
from cumulo.services.pipes.templates import TemplateError, render
from cumulo.targets.errors import TargetError
from cumulo.targets.send import BusEvent, Delivery, call_target_api, send

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.pipes")
SOURCE_POLLERS: dict[str, type] = {"sqs": SqsPoller, "dynamodb": DynamoDbStreamPoller}
# The largest batch each batching target takes (AWS's table); Lambda and Step Functions take any.
TARGET_MAX_BATCH = {"sqs": 10, "sns": 10, "events": 10, "logs": 10_000}


class BatchFailed(Exception):
    """The enrichment or the target failed the whole batch."""


class PipeRunner:
    def __init__(self, platform: Platform, pipe: dict[str, Any]) -> None:
        self.platform = platform
        self.pipe = pipe
        source = pipe["SourceParameters"] or {}
        sqs = source.get("SqsQueueParameters") or {}
        # The poller's settings, in the event source mapping's spelling (plus the source's own parameters).
        self.settings = {**source, "UUID": pipe["Arn"], "EventSourceArn": pipe["Source"],
                         "BatchSize": sqs.get("BatchSize") or 10,
                         "MaximumBatchingWindowInSeconds": sqs.get("MaximumBatchingWindowInSeconds") or 0,
                         "FunctionResponseTypes": ["ReportBatchItemFailures"]}
        stream = source.get("DynamoDBStreamParameters")
        if stream is not None and not stream.get("BatchSize"):  # 100, or less when the target takes fewer
            self.settings["DynamoDBStreamParameters"] = {
                **stream, "BatchSize": min(100, TARGET_MAX_BATCH.get(service_of(pipe["Target"]), 100))}
        self.poller = SOURCE_POLLERS[service_of(pipe["Source"])](platform, self.settings, self.process)
        arn = parse_arn(pipe["Arn"])
        assert arn is not None
        self.account, self.region = arn.account, arn.region

    def start(self) -> None:
        self.poller.start()

    async def stop(self) -> None:
        await self.poller.stop()

    # ------------------------------------------------------------ one batch
    async def process(self, _settings: dict[str, Any], event: bytes) -> tuple[bool, bytes]:
        records = json.loads(event)["Records"]
        try:
            events, failed = await self._enrich(records)
            if events:
                failed |= await self._deliver(events, records)
        except BatchFailed as error:
            log.info("pipe %s: batch failed: %s", self.pipe["Name"], error)
            return False, b""
        return True, json.dumps({"batchItemFailures": [{"itemIdentifier": i} for i in sorted(failed)]}).encode()

    async def _enrich(self, records: list[dict[str, Any]]) -> tuple[list[Any], set[str]]:
        arn = self.pipe.get("Enrichment")
        if not arn:
            return records, set()
        template = ((self.pipe.get("EnrichmentParameters") or {}).get("InputTemplate"))
        batch = [self._templated(r, template, arn) for r in records] if template else records
        if service_of(arn) == "execute-api":  # no batches: one request per event
            enriched = []
            for item in batch:
                try:
                    answer = await call_endpoint(self.platform.settings.endpoint_url, arn, item,
                                                 self.pipe.get("EnrichmentParameters") or {})
                except EndpointError as error:
                    raise BatchFailed(str(error)) from error
                if answer is not None:
                    enriched += answer if isinstance(answer, list) else [answer]
            return enriched, set()
        output = await self._call(arn, batch, synchronous=True)
        if output is None:
            return [], set()  # an empty enrichment answer ends the batch here, as on AWS
        return (output if isinstance(output, list) else [output]), set()

    async def _deliver(self, events: list[Any], records: list[dict[str, Any]]) -> set[str]:
        arn = self.pipe["Target"]
        parameters = self.pipe.get("TargetParameters") or {}
        template = parameters.get("InputTemplate")
        shaped = [self._templated(e, template, arn) for e in events] if template else events
        service = service_of(arn)
        if len(shaped) > TARGET_MAX_BATCH.get(service, len(shaped)):
            raise BatchFailed(f"the enrichment answered {len(shaped)} events, more than the target takes")
        if service in ("lambda", "states"):
            kind = (parameters.get("LambdaFunctionParameters") or parameters.get("StepFunctionStateMachineParameters")
                    or {}).get("InvocationType", "REQUEST_RESPONSE")
            return _failures(await self._call(arn, shaped, synchronous=kind == "REQUEST_RESPONSE"), records)
        for item in shaped:
            body = item if isinstance(item, str) else json.dumps(item)
            try:
                await send(self.platform, arn, body, self._delivery(item, parameters))
            except TargetError as error:
                raise BatchFailed(error.message) from error
        return set()

    def _delivery(self, item: Any, parameters: dict[str, Any]) -> Delivery:
        sqs = parameters.get("SqsQueueParameters") or {}
        bus = parameters.get("EventBridgeEventBusParameters") or {}
        logs = parameters.get("CloudWatchLogsParameters") or {}
        source_kind = f"aws:{service_of(self.pipe['Source'])}"
        return Delivery(
            account=self.account, region=self.region, group_id=sqs.get("MessageGroupId"),
            dedup_id=sqs.get("MessageDeduplicationId"),
            log_stream=logs.get("LogStreamName") or self.pipe["Name"],
            bus_event=BusEvent(source=bus.get("Source") or f"Pipe {self.pipe['Name']}",
                               detail_type=bus.get("DetailType") or f"Event from {source_kind}",
                               resources=list(bus.get("Resources") or []))
            if service_of(self.pipe["Target"]) == "events" else None)

    def _templated(self, item: Any, template: str, _arn: str) -> Any:
        variables = {"aws.pipes.pipe-name": self.pipe["Name"], "aws.pipes.pipe-arn": self.pipe["Arn"],
                     "aws.pipes.source-arn": self.pipe["Source"], "aws.pipes.target-arn": self.pipe["Target"],
                     "aws.pipes.enrichment-arn": self.pipe.get("Enrichment") or "",
                     "aws.pipes.event-ingestion-time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        try:
            text = render(template, item, variables)
        except TemplateError as error:
            raise BatchFailed(str(error)) from error
        try:
            return json.loads(text)
        except ValueError:
            return text

    async def _call(self, arn: str, batch: list[Any], *, synchronous: bool) -> Any:
        """Invoke a Lambda function or a state machine with the batch; its JSON answer when synchronous."""
        payload = json.dumps(batch)
        try:
            if service_of(arn) == "lambda":
                result = await self.platform.functions.invoke_function(
                    arn, payload.encode(), account=self.account, region=self.region,
                    invocation_type="RequestResponse" if synchronous else "Event")
                if result.get("FunctionError"):
                    raise BatchFailed(f"{arn} answered a function error")
                answer = result.get("Payload") or b""
            elif service_of(arn) == "states":
                operation = "StartSyncExecution" if synchronous else "StartExecution"
                output = await call_target_api(self.platform, "stepfunctions", operation,
                                               {"stateMachineArn": arn, "input": payload},
                                               account=self.account, region=self.region)
                if synchronous and output.get("status") != "SUCCEEDED":
                    raise BatchFailed(f"{arn} execution {output.get('status')}")
                answer = (output.get("output") or "").encode()
            else:
                raise BatchFailed(f"{arn} cannot be invoked")
        except AwsError as error:
            raise BatchFailed(error.message) from error
        except TargetError as error:
            raise BatchFailed(error.message) from error
        if not synchronous or not answer:
            return None
        try:
            return json.loads(answer)
        except ValueError:
            return answer.decode(errors="replace")


def record_id(record: dict[str, Any]) -> str:
    """What ``batchItemFailures`` names a record by: an SQS message id, a stream sequence number."""
    return str(record.get("messageId") or sequence_of(record))


def _failures(output: Any, records: list[dict[str, Any]]) -> set[str]:
    """The record ids an answer names in ``batchItemFailures`` (an invalid answer fails them all)."""
    if not isinstance(output, dict) or "batchItemFailures" not in output:
        return set()
    ids = {record_id(r) for r in records}
    failures = output.get("batchItemFailures")
    named = {item.get("itemIdentifier") for item in failures if isinstance(item, dict)} \
        if isinstance(failures, list) else None
    if named is None or not named <= ids:
        raise BatchFailed("invalid batchItemFailures")
    return {str(i) for i in named}
