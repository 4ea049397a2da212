"""EventBridge's event path: TestEventPattern, PutEvents, matching an event on a bus, and
delivering to targets (through ``cumulo.targets``; a bus target re-enters ``ingest``)."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn, service_of
from cumulo.patterns import InvalidEventPattern, compile_pattern
from cumulo.protocol.errors import AwsError
from cumulo.schedules import iso
from cumulo.services.base import RequestContext
from cumulo.services.events import transform
from cumulo.services.events.common import (
    MAX_ENTRIES_BYTES,
    TEST_EVENT_FIELDS,
    entry_error,
    epoch,
    is_active,
    validation_error,
)
from cumulo.services.events.names import bus_ref
from cumulo.services.events.repository import (
    EventsRepository,
    bus_not_found,
)
from cumulo.targets.dead_letters import delivery_failure_attributes
from cumulo.targets.delivery_queue import Job, target_delivery
from cumulo.targets.errors import TargetError
from cumulo.targets.send import Delivery, send, send_now

if TYPE_CHECKING:
    from cumulo.platform import Platform


class IngestOperations:
    """Mixed into ``EventsProvider``."""

    platform: Platform
    archive_event: Callable[[str, str, str, dict[str, Any]], None]
    _observers: list[Callable[[str, str, str, dict[str, Any]], None]]

    # ------------------------------------------------------------ TestEventPattern
    def test_event_pattern(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            compiled = compile_pattern(params["EventPattern"])
        except InvalidEventPattern as exc:
            raise AwsError(exc.code, exc.message) from exc
        try:
            event = json.loads(params["Event"])
        except ValueError as exc:
            raise validation_error("Parameter Event is not valid.") from exc
        if not isinstance(event, dict) or any(f not in event for f in TEST_EVENT_FIELDS):
            raise validation_error("Parameter Event is not valid.")
        return {"Result": compiled.matches(event)}

    # ------------------------------------------------------------ PutEvents
    def put_events(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("EndpointId"):
            raise AwsError("ValidationException", "EndpointId is not supported: Cumulo does not implement global "
                                                  "endpoints; send the events to the event bus directly.")
        entries = params["Entries"]
        size = sum(self._entry_size(entry) for entry in entries)
        if size > MAX_ENTRIES_BYTES:
            raise validation_error("Total size of the entries in the request is over the limit.")
        results: list[dict[str, Any]] = []
        ingestion = time.time()
        self._metric_batch = Counter()
        try:
            jobs = self._put_entries(context, entries, results, ingestion)
        finally:
            self._flush_metrics()
        failed = sum(1 for result in results if "ErrorCode" in result)
        if jobs:
            self.delivery.wake()
        return {"FailedEntryCount": failed, "Entries": results}

    def _put_entries(self, context: RequestContext, entries: list[dict[str, Any]], results: list[dict[str, Any]],
                     ingestion: float) -> int:
        jobs = 0
        with self.platform.store.transaction():
            for entry in entries:
                checked = self._check_entry(entry)
                if "ErrorCode" in checked:
                    results.append(checked)
                    continue
                event = self._build_event(context, entry, checked["detail"], ingestion)
                ref = bus_ref(entry.get("EventBusName"))
                jobs += self.ingest(ref.account or context.account_id, ref.region or context.region, ref.name,
                                    event, ingestion=ingestion, trace_header=entry.get("TraceHeader"))
                results.append({"EventId": event["id"]})
        return jobs

    @staticmethod
    def _entry_size(entry: dict[str, Any]) -> int:
        size = 14 if entry.get("Time") is not None else 0
        for member in ("Source", "DetailType", "Detail"):
            if isinstance(entry.get(member), str):
                size += len(entry[member].encode())
        for resource in entry.get("Resources") or []:
            if isinstance(resource, str):
                size += len(resource.encode())
        return size

    @staticmethod
    def _check_entry(entry: dict[str, Any]) -> dict[str, str] | dict[str, Any]:
        """The entry's error result, or ``{"detail": parsed Detail}`` when it is valid."""
        for member in ("Source", "DetailType", "Detail"):
            if not entry.get(member):
                return entry_error("InvalidArgument",
                                   f"Parameter {member} is not valid. Reason: {member} is a required argument.")
        try:
            detail = json.loads(entry["Detail"])
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            return entry_error("MalformedDetail", "Detail is malformed.")
        if entry["Source"].startswith("aws."):
            return entry_error("NotAuthorizedForSourceException", "Not authorized for the source.")
        moment = entry.get("Time")
        if moment is not None:
            seconds = epoch(moment)
            if seconds is None or not math.isfinite(seconds) or not -62135596800 <= seconds < 253402300800:
                return entry_error("InvalidArgument", "Parameter Time is not valid. Reason: Time must be a date "
                                                       "between 0001-01-01 and 9999-12-31.")
        resources = entry.get("Resources")
        if resources is not None and any(not isinstance(r, str) for r in resources):
            return entry_error("InvalidArgument", "Parameter Resources is not valid. Reason: a resource must not "
                                                   "be null.")
        trace = entry.get("TraceHeader")
        if trace is not None and any(ord(c) < 32 for c in trace):
            return entry_error("InvalidArgument", "Parameter TraceHeader is not valid. Reason: it contains control "
                                                   "characters.")
        return {"detail": detail}

    @staticmethod
    def _build_event(context: RequestContext, entry: dict[str, Any], detail: dict[str, Any],
                     ingestion: float) -> dict[str, Any]:
        moment = epoch(entry.get("Time")) if entry.get("Time") is not None else ingestion
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": entry["DetailType"],
                "source": entry["Source"], "account": context.account_id, "time": iso(moment or ingestion),
                "region": context.region, "resources": list(entry.get("Resources") or []),
                "detail": detail}

    # ------------------------------------------------------------ routing (internal API)
    def ingest(self, account: str, region: str, bus: str, event: dict[str, Any], *, ingestion: float | None = None,
               trace_header: str | None = None, hops: int = 0, only_rules: frozenset[str] | None = None) -> int:
        """Match ``event`` on a bus and queue a delivery per matched target; returns how many.

        Joins the caller's open transaction; the caller wakes the delivery workers. An event for
        a bus that does not exist is dropped, as AWS does. The bus's archives keep the event
        first. ``only_rules`` limits the rules that may match (a replay's FilterArns).
        """
        repo = EventsRepository(self.platform.store, account, region)
        rules = self._bus_rules.get(repo.scope + bus)  # cached: the bus exists (deleting it drops the entry)
        if rules is None:
            if repo.find_bus(bus) is None:
                return 0
            rules = self._rules_of(repo, bus)
        self.archive_event(account, region, bus, event)
        for observer in self._observers:
            observer(account, region, bus, event)
        matched = rules.ruleset.match(event) if len(rules.ruleset) else set()
        if only_rules is not None:
            matched &= only_rules
        if not matched:
            return 0
        ingestion = time.time() if ingestion is None else ingestion
        self._metric(account, region, "MatchedEvents")
        self._metric(account, region, "MatchedEvents", {"EventBusName": bus})
        jobs = 0
        for name in sorted(matched):
            record = rules.records.get(name)
            if record is None or not is_active(record):
                continue
            self._triggered(account, region, bus, name)
            jobs += self._queue_targets(account, region, record, event, ingestion, trace_header, hops)
        return jobs

    def _queue_targets(self, account: str, region: str, record: dict[str, Any], event: dict[str, Any],
                       ingestion: float, trace_header: str | None, hops: int) -> int:
        jobs = 0
        event_text: str | None = None
        for target in record.get("Targets", []):
            if event_text is None:
                event_text = transform.compact(event)
            shaped = any(target.get(k) is not None for k in ("Input", "InputPath", "InputTransformer"))
            if shaped:
                payload = transform.target_payload(target, event, rule_arn=record["Arn"], rule_name=record["Name"],
                                                   ingestion_time=iso(ingestion))
                if payload is None:
                    continue
            else:
                payload = event_text
            job = Job(account=account, region=region, origin=record["Arn"], target=target, payload=payload,
                      event=event_text if shaped else None, accepted=ingestion,
                      extra={"rule": record["Name"], "bus": record["EventBusName"], "hops": hops,
                             "trace": trace_header, "event_id": event["id"], "event_time": event["time"]})
            self.delivery.submit(job)
            jobs += 1
        return jobs

    def put_event_internal(self, account: str, region: str, bus: str, *, source: str, detail_type: str,
                           detail: dict[str, Any], resources: list[str] | None = None,
                           event_time: float | None = None) -> str:
        """Put one event on a bus for another service (EventBridge Scheduler); returns its id.

        Raises AwsError ResourceNotFoundException when the bus does not exist.
        """
        repo = EventsRepository(self.platform.store, account, region)
        if repo.find_bus(bus) is None:
            raise bus_not_found(bus)
        ingestion = time.time()
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": source,
                 "account": account, "time": iso(event_time or ingestion), "region": region,
                 "resources": list(resources or []), "detail": detail}
        with self.platform.store.transaction():
            jobs = self.ingest(account, region, bus, event, ingestion=ingestion)
        if jobs:
            self.delivery.wake()
        return event["id"]

    # ------------------------------------------------------------ delivery
    async def _send(self, job: Job) -> None:
        if service_of(job.target["Arn"]) == "events" and ":api-destination/" not in job.target["Arn"]:
            await self._forward(job)
            return
        await send(self.platform, job.target["Arn"], job.payload, self._delivery(job))

    def _send_sync(self, job: Job) -> bool:
        """SQS targets are written in the delivery's own transaction (one commit per delivery)."""
        arn = job.target["Arn"]
        if not arn.startswith("arn:aws:sqs:"):
            return False
        send_now(self.platform, arn, job.payload, self._delivery(job))
        return True

    @staticmethod
    def _delivery(job: Job) -> Delivery:
        return target_delivery(job, job.extra.get("event_id", job.id), trace_header=job.extra.get("trace"),
                               event_time=job.extra.get("event_time"))

    async def _forward(self, job: Job) -> None:
        """A bus as the target: the event, unchanged, enters that bus (one hop at most)."""
        arn = parse_arn(job.target["Arn"])
        if arn is None or not arn.resource.startswith("event-bus/"):
            raise TargetError("INVALID_PARAMETER", f"{job.target['Arn']} is not an event bus.", retryable=False)
        bus = arn.resource[len("event-bus/"):]
        if job.extra.get("hops", 0) >= 1:
            job.extra["refused"] = True
            code = ("THIRD_ACCOUNT_HOP_DETECTED" if arn.account != job.account else
                    "THIRD_REGION_HOP_DETECTED" if arn.region != job.region else "INVALID_PARAMETER")
            raise TargetError(code, "EventBridge can't route events received from a sender event bus to a third "
                                    "event bus.", retryable=False)
        repo = EventsRepository(self.platform.store, arn.account, arn.region)
        if repo.find_bus(bus) is None:
            raise TargetError("NO_RESOURCE", f"Event bus {bus} does not exist.", retryable=False)
        with self.platform.store.transaction():
            jobs = self.ingest(arn.account, arn.region, bus, json.loads(job.event if job.event is not None
                                                                        else job.payload),
                               trace_header=job.extra.get("trace"), hops=job.extra.get("hops", 0) + 1)
        if jobs:
            self.delivery.wake()

    @staticmethod
    def _dead_letter(job: Job, error: TargetError, exhausted: str | None) -> tuple[str, dict[str, str]]:
        attributes = delivery_failure_attributes("RULE_ARN", job.origin, job.target["Arn"], error, job.attempts - 1,
                                                 exhausted)
        return (job.event if job.event is not None else job.payload), attributes
