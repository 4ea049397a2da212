"""Event source mappings (Create/Get/Update/Delete/ListEventSourceMapping(s)) and their pollers.

Mixed into ``LambdaProvider``. Mappings are records; each enabled one has a running poller
(``cumulo.eventsources``), restarted with the server. SQS queues, Kinesis streams and DynamoDB
streams are supported (streams: ``stream_mappings.py``); MQ and Kafka are rejected with a clear error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.arns import split_arn
from cumulo.eventsources.sqs import SqsPoller
from cumulo.eventsources.streams import CHECKPOINTS, StreamPoller
from cumulo.patterns import InvalidEventPattern, compile_pattern
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.lambda_.errors import invalid
from cumulo.services.lambda_.names import parse_function
from cumulo.services.lambda_.repository import LambdaRepository
from cumulo.services.lambda_.stream_mappings import (
    STREAM_SETTINGS,
    check_stream_exists,
    check_stream_settings,
    is_stream,
    stream_fields,
)
from cumulo.services.pagination import decode_token, take_page

if TYPE_CHECKING:
    from cumulo.platform import Platform

MAPPINGS = "lambda.esm"
SQS_MAX_BATCH, SQS_FIFO_MAX_BATCH = 10_000, 10
MAX_WINDOW_S = 300
MAX_FILTERS = 5
UPDATABLE = ("BatchSize", "MaximumBatchingWindowInSeconds", "FilterCriteria", "FunctionResponseTypes",
             "ScalingConfig", *STREAM_SETTINGS)


class EventSourceOperations:
    platform: Platform

    def _init_event_sources(self) -> None:
        self._pollers: dict[str, SqsPoller | StreamPoller] = {}

    async def _start_event_sources(self) -> None:
        for key, mapping in self.platform.store.scan(MAPPINGS):
            if mapping["State"] in ("Creating", "Enabling", "Enabled", "Updating"):
                mapping["State"] = "Enabled"
                self.platform.store.put(MAPPINGS, key, mapping)
                self._start_poller(mapping)
            elif mapping["State"] == "Deleting":
                self.platform.store.delete(MAPPINGS, key)

    async def _stop_event_sources(self) -> None:
        await asyncio.gather(*(poller.stop() for poller in self._pollers.values()))
        self._pollers.clear()

    def _start_poller(self, mapping: dict[str, Any]) -> None:
        kind = StreamPoller if is_stream(mapping["EventSourceArn"]) else SqsPoller
        poller = kind(self.platform, mapping, self._invoke_batch)
        self._pollers[mapping["UUID"]] = poller
        poller.start()

    async def _stop_poller(self, mapping_id: str) -> None:
        poller = self._pollers.pop(mapping_id, None)
        if poller is not None:
            await poller.stop()

    async def _invoke_batch(self, mapping: dict[str, Any], event: bytes) -> tuple[bool, bytes]:
        arn = mapping["FunctionArn"]
        function = split_arn(arn)
        assert function is not None, arn
        result = await self.invoke_function(arn, event, account=function.account,  # type: ignore[attr-defined]
                                            region=function.region)
        return not result.get("FunctionError"), result.get("Payload") or b""

    # ------------------------------------------------------------ validation
    def _source_is_fifo(self, context: RequestContext, arn: str) -> bool:
        """Whether the mapping's source queue is FIFO (it must be an existing SQS queue)."""
        parsed = split_arn(arn)
        service = parsed.service if parsed else ""
        if is_stream(arn):
            check_stream_exists(self.platform, arn)
            return False
        if service != "sqs":
            raise invalid(f"Event source mappings for {service or arn} sources are not supported by Cumulo yet: "
                           "use an SQS queue, a Kinesis stream or a DynamoDB stream.")
        fifo = self.platform.queues.fifo_queue(arn)
        if fifo is None:
            raise invalid("Error occurred while ReceiveMessage. SQS Error Code: "
                           "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does "
                           "not exist or you do not have access to it.")
        return fifo

    @staticmethod
    def _check_settings(settings: dict[str, Any], fifo: bool, stream: bool = False,
                        creating: bool = False) -> None:
        if stream:
            check_stream_settings(settings, creating)
            EventSourceOperations._check_filters(settings)
            return
        size = settings.get("BatchSize") or 10
        window = settings.get("MaximumBatchingWindowInSeconds") or 0
        limit = SQS_FIFO_MAX_BATCH if fifo else SQS_MAX_BATCH
        if size > limit:
            raise invalid(f"BatchSize must be between 1 and {limit}" + (" for FIFO queues." if fifo else "."))
        if size > 10 and window < 1:
            raise invalid("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater "
                           "than 10")
        if window > MAX_WINDOW_S:
            raise invalid(f"MaximumBatchingWindowInSeconds must be between 0 and {MAX_WINDOW_S}.")
        if fifo and window:
            raise invalid("Batching window is not supported for FIFO queues")
        EventSourceOperations._check_filters(settings)

    @staticmethod
    def _check_filters(settings: dict[str, Any]) -> None:
        filters = (settings.get("FilterCriteria") or {}).get("Filters") or []
        if len(filters) > MAX_FILTERS:
            raise invalid(f"The number of filters exceeds the limit of {MAX_FILTERS}.")
        for item in filters:
            try:
                compile_pattern(item.get("Pattern") or "", dialect="esm")
            except InvalidEventPattern as exc:
                raise invalid(f"Invalid filter pattern definition. {exc}") from exc
        bad = set(settings.get("FunctionResponseTypes") or []) - {"ReportBatchItemFailures"}
        if bad:
            raise invalid(f"Invalid FunctionResponseTypes: {sorted(bad)}")

    def _function_arn(self, context: RequestContext, identifier: str) -> str:
        ref = parse_function(identifier)
        repo = LambdaRepository(self.platform.store, ref.account or context.account_id, ref.region or context.region)
        repo.resolve(ref.name, ref.qualifier)
        return repo.arn(ref.name, ref.qualifier)

    def _mapping(self, context: RequestContext, mapping_id: str) -> dict[str, Any]:
        mapping = self.platform.store.get(MAPPINGS, mapping_id)
        if mapping is None or mapping["_account"] != context.account_id or mapping["State"] == "Deleting":
            raise AwsError("ResourceNotFoundException", "The resource you requested does not exist.",
                           fields={"Type": "User"})
        return mapping

    @staticmethod
    def _public(mapping: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in mapping.items() if not k.startswith("_")}

    # ------------------------------------------------------------ operations
    def create_event_source_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        source = params.get("EventSourceArn")
        if not source:
            raise invalid("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
        fifo = self._source_is_fifo(context, source)
        function_arn = self._function_arn(context, params["FunctionName"])
        stream = is_stream(source)
        self._check_settings(params, fifo, stream, creating=True)
        for _, existing in self.platform.store.scan(MAPPINGS):
            if existing["EventSourceArn"] == source and existing["FunctionArn"] == function_arn \
                    and existing["State"] != "Deleting":
                raise AwsError("ResourceConflictException",
                               f'An event source mapping with SQS arn (" {source} ") and function (" '
                               f'{parse_function(function_arn).name} ") already exists. Please update or delete the '
                               f"existing mapping with UUID {existing['UUID']}", fields={"Type": "User"})
        mapping_id = str(uuid.uuid4())
        enabled = params.get("Enabled", True)
        mapping: dict[str, Any] = {
            "UUID": mapping_id, "BatchSize": params.get("BatchSize") or 10,
            "MaximumBatchingWindowInSeconds": params.get("MaximumBatchingWindowInSeconds") or 0,
            "EventSourceArn": source, "FunctionArn": function_arn,
            "LastModified": dt.datetime.now(dt.UTC).timestamp(), "State": "Creating",
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": params.get("FunctionResponseTypes") or [],
            "EventSourceMappingArn": f"arn:aws:lambda:{context.region}:{context.account_id}:"
                                     f"event-source-mapping:{mapping_id}",
            "_account": context.account_id, "_region": context.region, "_enabled": enabled,
        }
        for member in ("FilterCriteria", "ScalingConfig"):
            if params.get(member):
                mapping[member] = params[member]
        if stream:
            mapping.update(stream_fields(params))
        self.platform.store.put(MAPPINGS, mapping_id, mapping)
        self.platform.spawn(self._settle_mapping(mapping_id))
        return self._public(mapping)

    async def _settle_mapping(self, mapping_id: str) -> None:
        """Creating/Enabling/Updating -> Enabled (poller running); Disabling -> Disabled; Deleting -> gone."""
        mapping = self.platform.store.get(MAPPINGS, mapping_id)
        if mapping is None:
            return
        await self._stop_poller(mapping_id)
        if mapping["State"] == "Deleting":
            with self.platform.store.transaction():
                self.platform.store.delete(MAPPINGS, mapping_id)
                self.platform.store.delete_prefix(CHECKPOINTS, mapping_id + "/")
            return
        mapping["State"] = "Enabled" if mapping["_enabled"] else "Disabled"
        self.platform.store.put(MAPPINGS, mapping_id, mapping)
        if mapping["_enabled"]:
            self._start_poller(mapping)

    def get_event_source_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._public(self._mapping(context, params["UUID"]))

    def update_event_source_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        mapping = self._mapping(context, params["UUID"])
        if mapping["State"] not in ("Enabled", "Disabled"):
            raise AwsError("ResourceInUseException", "Cannot update the event source mapping because it is in use.",
                           fields={"Type": "User"})
        changed = {k: params[k] for k in UPDATABLE if params.get(k) is not None}
        fifo = self._source_is_fifo(context, mapping["EventSourceArn"])
        self._check_settings({**{k: mapping.get(k) for k in UPDATABLE}, **changed}, fifo,
                             is_stream(mapping["EventSourceArn"]))
        mapping.update(changed)
        if params.get("FunctionName"):
            mapping["FunctionArn"] = self._function_arn(context, params["FunctionName"])
        if params.get("Enabled") is not None:
            mapping["_enabled"] = params["Enabled"]
        mapping["State"] = "Updating" if mapping["_enabled"] else "Disabling"
        mapping["LastModified"] = dt.datetime.now(dt.UTC).timestamp()
        self.platform.store.put(MAPPINGS, mapping["UUID"], mapping)
        self.platform.spawn(self._settle_mapping(mapping["UUID"]))
        return self._public(mapping)

    def delete_event_source_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        mapping = self._mapping(context, params["UUID"])
        mapping["State"] = "Deleting"
        self.platform.store.put(MAPPINGS, mapping["UUID"], mapping)
        self.platform.spawn(self._settle_mapping(mapping["UUID"]))
        return self._public(mapping)

    def list_event_source_mappings(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        function = parse_function(self._function_arn(context, params["FunctionName"])).name \
            if params.get("FunctionName") else None
        after = decode_token(params.get("Marker"), "lambda-esm", "InvalidParameterValueException", "Invalid Marker")
        rows = ((key, self._public(m)) for key, m in self.platform.store.scan(MAPPINGS, start_after=after)
                if m["_account"] == context.account_id and m["_region"] == context.region
                and m["State"] != "Deleting"
                and (not params.get("EventSourceArn") or m["EventSourceArn"] == params["EventSourceArn"])
                and (function is None or parse_function(m["FunctionArn"]).name == function))
        page, marker = take_page(rows, params.get("MaxItems") or 100, "lambda-esm")
        return {"EventSourceMappings": page, "NextMarker": marker}
