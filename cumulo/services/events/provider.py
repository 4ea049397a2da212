"""Amazon EventBridge: buses, rules, targets, PutEvents, TestEventPattern, scheduled rules.

PutEvents validates each entry as AWS does, builds the event AWS delivers (``version``,
``id``, ``detail-type``, ``source``, ``account``, ``time``, ``region``, ``resources``,
``detail``), matches it against the enabled rules of its bus (one ``RuleSet`` automaton per
bus, kept in memory beside the durable rule records) and commits one delivery job per matched
target, shaped by the target's Input/InputPath/InputTransformer, before answering. Delivery,
retries and dead-letter queues are ``targets.delivery_queue.DeliveryQueue``'s; target calls are
``targets.send``'s. Scheduled rules fire through ``cumulo.schedules``.

Archives and replays are ``archives.ArchiveOperations`` and ``replays.ReplayOperations``;
connections and API destinations ``connections.ConnectionOperations`` (API) and
``api_invoke.ApiDestinationInvoker`` (calls). Out of scope (answered with
NotImplementedException): global endpoints, partner event sources.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn
from cumulo.protocol.errors import AwsError
from cumulo.schedules import ScheduleClock
from cumulo.schedules.runner import ScheduleRunner
from cumulo.services.base import Provider, RequestContext
from cumulo.services.events.api_invoke import ApiDestinationInvoker, Pacer
from cumulo.services.events.archives import ArchiveOperations
from cumulo.services.events.buses import BusOperations
from cumulo.services.events.common import (
    RULE_MEMBERS,
    TAG_RULES,
    TARGET_MEMBERS,
    BusRules,
    is_active,
    tags_dict,
    validation_error,
)
from cumulo.services.events.connections import ConnectionOperations
from cumulo.services.events.ingest import IngestOperations
from cumulo.services.events.names import parse_rule_arn
from cumulo.services.events.replays import ReplayOperations
from cumulo.services.events.repository import (
    RULES,
    EventsRepository,
    bus_not_found,
)
from cumulo.services.events.rules import RuleOperations
from cumulo.services.tagging import add_tags, remove_tags, tag_list, tags_of
from cumulo.targets.delivery_queue import DeliveryQueue, Job
from cumulo.targets.metrics import EVENTS_NAMESPACE, MetricCounters, record_metric

if TYPE_CHECKING:
    from cumulo.platform import Platform

QUEUE = "events.delivery"


class EventsProvider(BusOperations, RuleOperations, IngestOperations, ArchiveOperations, ReplayOperations,
                     ConnectionOperations, ApiDestinationInvoker, Provider):
    service = "events"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.metrics = MetricCounters()
        self.delivery = DeliveryQueue(platform, QUEUE, self._send, self._dead_letter, self._observe,
                                      send_sync=self._send_sync)
        self.clock = ScheduleClock(float(getattr(platform.settings, "schedule_clock_speed", 1.0)))
        self.schedules = ScheduleRunner(self._fire_rule, name="events-schedules", store=platform.store)
        self._bus_rules: dict[str, BusRules] = {}
        self._metric_batch: Counter[tuple] | None = None
        self._bus_archives: dict[str, list] = {}
        self._replay_tasks: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._pacers: dict[str, Pacer] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self._token_locks: dict[str, asyncio.Lock] = {}
        self._observers: list[Callable[[str, str, str, dict[str, Any]], None]] = []

    def repo(self, context: RequestContext) -> EventsRepository:
        return EventsRepository(self.platform.store, context.account_id, context.region)

    async def start(self) -> None:
        for key, record in self.platform.store.scan(RULES):
            schedule = record.get("_schedule")
            if schedule and record.get("ScheduleExpression") and is_active(record) and math.isfinite(
                    schedule["next"]):
                self.schedules.plan(key, self.clock.real(schedule["origin"], schedule["next"]))
        await self.schedules.start()
        await self.delivery.start()
        self.resume_replays()
        self._sweeper = asyncio.get_running_loop().create_task(self.sweep_archives_forever(),
                                                               name="events-archive-retention")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self.stop_replays()
        await self.schedules.stop()
        await self.delivery.stop()

    def add_event_observer(self, observer: Callable[[str, str, str, dict[str, Any]], None]) -> None:
        self._observers.append(observer)

    # ------------------------------------------------------------ metrics
    def _metric(self, account: str, region: str, name: str, dimensions: dict[str, str] | None = None,
                value: float = 1.0) -> None:
        if self._metric_batch is not None:  # a PutEvents call in progress: one data point per metric
            self._metric_batch[(account, region, name, tuple(sorted((dimensions or {}).items())))] += value
            return
        record_metric(self.platform, account, region, EVENTS_NAMESPACE, name, dimensions, value, self.metrics)

    def _flush_metrics(self) -> None:
        batch, self._metric_batch = self._metric_batch, None
        for (account, region, name, dimensions), value in (batch or {}).items():
            self._metric(account, region, name, dict(dimensions), value)

    def _observe(self, job: Job, outcome: str) -> None:
        rule = job.extra.get("rule", "")
        if outcome == "failed" and job.extra.get("refused"):
            names: tuple[str, ...] = ("DeadLetterInvocations",)  # not counted as an invocation, as AWS counts
        else:
            names = {"delivered": ("Invocations",), "failed": ("Invocations", "FailedInvocations"),
                     "dead-lettered": ("InvocationsSentToDlq",),
                     "dead-letter-failed": ("InvocationsFailedToBeSentToDlq",)}.get(outcome, ())
        for name in names:
            self._metric(job.account, job.region, name)
            self._metric(job.account, job.region, name, {"RuleName": rule})

    def _triggered(self, account: str, region: str, bus: str, rule: str) -> None:
        self._metric(account, region, "TriggeredRules")
        self._metric(account, region, "TriggeredRules", {"RuleName": rule})
        self._metric(account, region, "TriggeredRules", {"EventBusName": bus, "RuleName": rule})

    # ------------------------------------------------------------ rule cache
    def _rules_of(self, repo: EventsRepository, bus: str) -> BusRules:
        key = repo.scope + bus
        cached = self._bus_rules.get(key)
        if cached is None:
            cached = BusRules()
            for record in repo.rules(bus):
                self._index_rule(cached, record)
            self._bus_rules[key] = cached
        return cached

    @staticmethod
    def _index_rule(rules: BusRules, record: dict[str, Any]) -> None:
        rules.records[record["Name"]] = record
        if record.get("EventPattern") and is_active(record):
            rules.ruleset.add(record["Name"], record["EventPattern"])
        else:
            rules.ruleset.remove(record["Name"])

    def _cache_rule(self, repo: EventsRepository, record: dict[str, Any]) -> None:
        cached = self._bus_rules.get(repo.scope + record["EventBusName"])
        if cached is not None:
            self._index_rule(cached, record)

    def _uncache_rule(self, repo: EventsRepository, bus: str, name: str) -> None:
        cached = self._bus_rules.get(repo.scope + bus)
        if cached is not None:
            cached.records.pop(name, None)
            cached.ruleset.remove(name)

    # ------------------------------------------------------------ views
    @staticmethod
    def _public_bus(record: dict[str, Any], listing: bool = False) -> dict[str, Any]:
        view: dict[str, Any] = {"Name": record["Name"], "Arn": record["Arn"]}
        for member in ("Description",) if listing else ("Description", "KmsKeyIdentifier", "DeadLetterConfig",
                                                          "LogConfig"):
            if record.get(member) is not None:
                view[member] = record[member]
        if record.get("Policy"):
            view["Policy"] = json.dumps(record["Policy"], separators=(",", ":"))
        view["CreationTime"] = record["CreationTime"]
        view["LastModifiedTime"] = record["LastModifiedTime"]
        return view

    @staticmethod
    def _public_rule(record: dict[str, Any], describe: bool = False) -> dict[str, Any]:
        view = {member: record[member] for member in RULE_MEMBERS if record.get(member) is not None}
        if describe and record.get("CreatedBy"):
            view["CreatedBy"] = record["CreatedBy"]
        return view

    @staticmethod
    def _public_target(target: dict[str, Any]) -> dict[str, Any]:
        return {member: target[member] for member in TARGET_MEMBERS if target.get(member) is not None}

    # ------------------------------------------------------------ tags
    def _tagged(self, context: RequestContext, arn: str) -> tuple[EventsRepository, dict[str, Any], str]:
        """(repository, record, kind) of a bus or rule ARN."""
        repo = self.repo(context)
        parsed = parse_arn(arn)
        if parsed is None or parsed.service != "events":
            raise validation_error(f"Parameter ResourceARN is not valid. Reason: {arn} is not a valid ARN.")
        if parsed.resource.startswith("event-bus/"):
            return repo, repo.bus(parsed.resource[len("event-bus/"):]), "bus"
        rule = parse_rule_arn(arn)
        if rule is not None:
            _, _, bus, name = rule
            if repo.find_bus(bus) is None:
                raise bus_not_found(bus)
            return repo, repo.rule(bus, name), "rule"
        raise AwsError("ResourceNotFoundException", f"Resource {arn} does not exist.")

    def _save_tagged(self, repo: EventsRepository, record: dict[str, Any], kind: str) -> None:
        if kind == "bus":
            repo.save_bus(record)
        else:
            repo.save_rule(record)
            self._cache_rule(repo, record)

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags = tags_dict(params["Tags"])
        with self.platform.store.transaction():
            repo, record, kind = self._tagged(context, params["ResourceARN"])
            if kind == "rule":
                self._managed(record)
            add_tags(record, tags, TAG_RULES, field="Tags")
            self._save_tagged(repo, record, kind)
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            repo, record, kind = self._tagged(context, params["ResourceARN"])
            if kind == "rule":
                self._managed(record)
            remove_tags(record, params["TagKeys"], field="Tags")
            self._save_tagged(repo, record, kind)
        return {}

    def list_tags_for_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, record, _ = self._tagged(context, params["ResourceARN"])
        return {"Tags": tag_list(tags_of(record, "Tags"))}
