"""Amazon EventBridge: buses, rules, targets, PutEvents, TestEventPattern, scheduled rules.

PutEvents validates each entry as AWS does, builds the event AWS delivers (``version``,
``id``, ``detail-type``, ``source``, ``account``, ``time``, ``region``, ``resources``,
``detail``), matches it against the enabled rules of its bus (one ``RuleSet`` automaton per
bus, kept in memory beside the durable rule records) and commits one delivery job per matched
target, shaped by the target's Input/InputPath/InputTransformer, before answering. Delivery,
retries and dead-letter queues are ``targets.delivery_queue.DeliveryQueue``'s; target calls are
``targets.send``'s. Scheduled rules fire through ``cumulo.schedules``.

Out of scope (answered with NotImplementedException): archives and replays, API destinations
and connections, global endpoints, partner event sources.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cumulo.patterns import InvalidEventPattern, RuleSet, compile_pattern
from cumulo.protocol.errors import AwsError
from cumulo.schedules import Rate, ScheduleClock, ScheduleError, iso, next_fire, parse_expression
from cumulo.schedules.runner import ScheduleRunner
from cumulo.services.base import Provider, RequestContext
from cumulo.services.events import transform
from cumulo.services.events.metrics import EVENTS_NAMESPACE, MetricCounters, record_metric
from cumulo.services.events.names import DEFAULT_BUS, bus_ref, parse_rule_arn
from cumulo.services.events.repository import (
    RULES,
    EventsRepository,
    bus_not_found,
    split_rule_key,
)
from cumulo.services.pagination import decode_token, encode_token
from cumulo.targets.arns import parse_arn, service_of
from cumulo.targets.dead_letters import delivery_failure_attributes
from cumulo.targets.delivery_queue import DeliveryQueue, Job, target_delivery
from cumulo.targets.errors import TargetError
from cumulo.targets.send import Delivery, send, send_now

log = logging.getLogger("cumulo.events")
QUEUE = "events.delivery"
MAX_ENTRIES_BYTES = 256 * 1024
MAX_TARGETS_PER_RULE = 5
MAX_RULES_PER_BUS = 300
MAX_BUSES = 100
MAX_TAGS = 50
DEFAULT_LIMIT = 100
TEST_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")
RULE_MEMBERS = ("Name", "Arn", "EventPattern", "ScheduleExpression", "State", "Description", "RoleArn",
                "ManagedBy", "EventBusName")
TARGET_MEMBERS = ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "KinesisParameters",
                  "RunCommandParameters", "EcsParameters", "BatchParameters", "SqsParameters", "HttpParameters",
                  "RedshiftDataParameters", "SageMakerPipelineParameters", "DeadLetterConfig", "RetryPolicy",
                  "AppSyncParameters")
LIMIT_EXCEEDED = "The requested resource exceeds the maximum number allowed."


def _validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def _entry_error(code: str, message: str) -> dict[str, str]:
    return {"ErrorCode": code, "ErrorMessage": message}


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp() if value.tzinfo else value.replace(tzinfo=UTC).timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _tags_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    tags = tags or []
    keys = [tag["Key"] for tag in tags]
    if len(set(keys)) != len(keys):
        raise _validation("Invalid parameter: Duplicated keys are not allowed.")
    return {tag["Key"]: tag["Value"] for tag in tags}


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


@dataclass
class BusRules:
    """The rules of one bus as PutEvents needs them: an automaton and the records by name."""

    ruleset: RuleSet = field(default_factory=RuleSet)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)


def _active(record: dict[str, Any]) -> bool:
    return record.get("State", "ENABLED") != "DISABLED"


class EventsProvider(Provider):
    service = "events"

    def __init__(self, platform: Any) -> None:
        super().__init__(platform)
        self.metrics = MetricCounters()
        self.delivery = DeliveryQueue(platform, QUEUE, self._send, self._dead_letter, self._observe,
                                      send_sync=self._send_sync)
        self.clock = ScheduleClock(float(getattr(platform.settings, "schedule_clock_speed", 1.0)))
        self.schedules = ScheduleRunner(self._fire_rule, name="events-schedules")
        self._bus_rules: dict[str, BusRules] = {}
        self._metric_batch: Counter[tuple] | None = None

    def repo(self, context: RequestContext) -> EventsRepository:
        return EventsRepository(self.platform.store, context.account_id, context.region)

    async def start(self) -> None:
        for key, record in self.platform.store.scan(RULES):
            schedule = record.get("_schedule")
            if schedule and record.get("ScheduleExpression") and _active(record) and math.isfinite(
                    schedule["next"]):
                self.schedules.plan(key, self.clock.real(schedule["origin"], schedule["next"]))
        await self.schedules.start()
        await self.delivery.start()

    async def stop(self) -> None:
        await self.schedules.stop()
        await self.delivery.stop()

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
        if record.get("EventPattern") and _active(record):
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

    # ------------------------------------------------------------ buses
    def create_event_bus(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name = params["Name"]
        if params.get("EventSourceName"):
            raise AwsError("ResourceNotFoundException", f"Event source {params['EventSourceName']} does not exist.")
        if "/" in name:
            raise _validation("Event bus name must not contain '/'.")
        if name == DEFAULT_BUS or repo.find_bus(name) is not None:
            raise AwsError("ResourceAlreadyExistsException", f"Event bus {name} already exists.")
        tags = _tags_dict(params.get("Tags"))
        if len(repo.buses()) > MAX_BUSES:
            raise AwsError("LimitExceededException", LIMIT_EXCEEDED)
        record = repo.new_bus(name, Description=params.get("Description"),
                              KmsKeyIdentifier=params.get("KmsKeyIdentifier"),
                              DeadLetterConfig=params.get("DeadLetterConfig"), LogConfig=params.get("LogConfig"))
        record["Tags"] = tags
        if not repo.create_bus(record):
            raise AwsError("ResourceAlreadyExistsException", f"Event bus {name} already exists.")
        result = {"EventBusArn": record["Arn"]}
        for member in ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"):
            if record.get(member) is not None:
                result[member] = record[member]
        return result

    def delete_event_bus(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name = params["Name"]
        if name == DEFAULT_BUS:
            raise _validation("Cannot delete event bus default.")
        for record in repo.rules(name):
            self.schedules.plan(repo.rule_key(name, record["Name"]), None)
        repo.delete_bus(name)
        self._bus_rules.pop(repo.scope + name, None)
        return {}

    def describe_event_bus(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = bus_ref(params.get("Name")).name
        return self._public_bus(self.repo(context).bus(name))

    def update_event_bus(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name = params.get("Name") or DEFAULT_BUS
        with self.platform.store.transaction():
            record = repo.bus(name)
            for member in ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"):
                if member in params:
                    record[member] = params[member]
            record["LastModifiedTime"] = time.time()
            repo.save_bus(record)
        result = {"Arn": record["Arn"], "Name": record["Name"]}
        for member in ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"):
            if record.get(member) is not None:
                result[member] = record[member]
        return result

    def list_event_buses(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        limit = params.get("Limit") or DEFAULT_LIMIT
        after = self._token(params, "events-buses")
        rows = repo.buses(params.get("NamePrefix") or "", start_after=after, limit=limit + 1)
        result: dict[str, Any] = {"EventBuses": [self._public_bus(r, listing=True) for r in rows[:limit]]}
        if len(rows) > limit:
            result["NextToken"] = encode_token("events-buses", rows[limit - 1]["Name"])
        return result

    @staticmethod
    def _token(params: dict[str, Any], kind: str) -> Any:
        return decode_token(params.get("NextToken"), kind, "ValidationException", "The NextToken provided is invalid.")

    # ------------------------------------------------------------ permissions
    def put_permission(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name = params.get("EventBusName") or DEFAULT_BUS
        with self.platform.store.transaction():
            record = repo.bus(name)
            if params.get("Policy") is not None:
                if any(params.get(p) is not None for p in ("Action", "Principal", "StatementId", "Condition")):
                    raise _validation("Either Policy or (Action, Principal, StatementId) can be specified, not both.")
                try:
                    policy = json.loads(params["Policy"])
                except ValueError as exc:
                    raise _validation("Policy is not a valid JSON document.") from exc
                if not isinstance(policy, dict):
                    raise _validation("Policy is not a valid JSON document.")
                record["Policy"] = policy
            else:
                missing = [p for p in ("Action", "Principal", "StatementId") if not params.get(p)]
                if missing:
                    raise _validation(f"Parameter(s) {', '.join(missing)} must be specified.")
                if params["Action"] != "events:PutEvents":
                    raise _validation("Provided value in parameter 'action' is not supported.")
                principal = params["Principal"]
                statement: dict[str, Any] = {
                    "Sid": params["StatementId"], "Effect": "Allow",
                    "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
                    "Action": "events:PutEvents", "Resource": record["Arn"]}
                condition = params.get("Condition")
                if condition:
                    statement["Condition"] = {condition["Type"]: {condition["Key"]: condition["Value"]}}
                policy = record.get("Policy") or {"Version": "2012-10-17", "Statement": []}
                statements = policy.setdefault("Statement", [])
                if isinstance(statements, dict):
                    statements = policy["Statement"] = [statements]
                if any(s.get("Sid") == statement["Sid"] for s in statements):
                    raise AwsError("ResourceAlreadyExistsException", "Statement with the provided id already exists.")
                statements.append(statement)
                record["Policy"] = policy
            if len(json.dumps(record["Policy"], separators=(",", ":"))) > 10_240:
                raise AwsError("PolicyLengthExceededException",
                               "Event bus policy is larger than the maximum allowed size.")
            record["LastModifiedTime"] = time.time()
            repo.save_bus(record)
        return {}

    def remove_permission(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name = params.get("EventBusName") or DEFAULT_BUS
        with self.platform.store.transaction():
            record = repo.bus(name)
            if params.get("RemoveAllPermissions"):
                record.pop("Policy", None)
            else:
                sid = params.get("StatementId")
                if not sid:
                    raise _validation("Parameter StatementId is required.")
                statements = (record.get("Policy") or {}).get("Statement") or []
                if isinstance(statements, dict):
                    statements = [statements]
                kept = [s for s in statements if s.get("Sid") != sid]
                if len(kept) == len(statements):
                    raise AwsError("ResourceNotFoundException", "Statement with the provided id does not exist.")
                if kept:
                    record["Policy"]["Statement"] = kept
                else:
                    record.pop("Policy", None)
            record["LastModifiedTime"] = time.time()
            repo.save_bus(record)
        return {}

    # ------------------------------------------------------------ rules
    def _managed(self, record: dict[str, Any], force: bool = False) -> None:
        if record.get("ManagedBy") and not force:
            raise AwsError("ManagedRuleException",
                           f"Rule {record['Name']} is managed by an AWS service and can only be modified with "
                           "Force set to true.")

    def put_rule(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        bus = bus_ref(params.get("EventBusName")).name
        name = params["Name"]
        pattern, schedule = params.get("EventPattern"), params.get("ScheduleExpression")
        repo.bus(bus)
        if not pattern and not schedule:
            raise _validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        expression = None
        if schedule:
            if bus != DEFAULT_BUS:
                raise _validation("ScheduleExpression is supported only on the default event bus.")
            try:
                expression = parse_expression(schedule)
            except ScheduleError as exc:
                raise _validation("Parameter ScheduleExpression is not valid.") from exc
        if pattern:
            try:
                compile_pattern(pattern)
            except InvalidEventPattern as exc:
                raise AwsError(exc.code, exc.message) from exc
        tags = _tags_dict(params.get("Tags"))
        with self.platform.store.transaction():
            existing = repo.find_rule(bus, name)
            if existing is None:
                if repo.count_rules(bus) >= MAX_RULES_PER_BUS:
                    raise AwsError("LimitExceededException", LIMIT_EXCEEDED)
                record: dict[str, Any] = {"Targets": [], "Tags": {}, "CreatedBy": context.account_id}
            else:
                self._managed(existing)
                record = {k: v for k, v in existing.items() if k in ("Targets", "Tags", "CreatedBy", "_schedule")}
            record.update({"Name": name, "Arn": repo.rule_arn(bus, name), "EventBusName": bus,
                           "State": params.get("State") or "ENABLED"})
            for member in ("EventPattern", "ScheduleExpression", "Description", "RoleArn"):
                if params.get(member) is not None:
                    record[member] = params[member]
            record["Tags"].update(tags)
            if len(record["Tags"]) > MAX_TAGS:
                raise AwsError("LimitExceededException", LIMIT_EXCEEDED)
            unchanged = (existing is not None and existing.get("ScheduleExpression") == schedule
                         and _active(existing) and "_schedule" in record)
            if expression is None:
                record.pop("_schedule", None)
            elif not (unchanged and _active(record)):  # a new, changed or re-enabled schedule starts now
                record["_schedule"] = self._first_schedule(expression)
            repo.save_rule(record)
        self._cache_rule(repo, record)
        self._plan_rule(repo, record)
        return {"RuleArn": record["Arn"]}

    @staticmethod
    def _first_schedule(expression: Any) -> dict[str, float]:
        """A schedule starting now: a rate first fires one period from now, a cron at its next time."""
        now = time.time()  # the origin of the schedule's clock, where schedule time is real time
        anchor = now + expression.seconds if isinstance(expression, Rate) else now
        following = next_fire(expression, now, anchor=anchor if isinstance(expression, Rate) else None)
        return {"origin": now, "anchor": anchor, "next": following if following is not None else math.inf}

    def _plan_rule(self, repo: EventsRepository, record: dict[str, Any]) -> None:
        key = repo.rule_key(record["EventBusName"], record["Name"])
        schedule = record.get("_schedule")
        if schedule and _active(record) and math.isfinite(schedule["next"]):
            self.schedules.plan(key, self.clock.real(schedule["origin"], schedule["next"]))
        else:
            self.schedules.plan(key, None)

    def delete_rule(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        bus = bus_ref(params.get("EventBusName")).name
        name = params["Name"]
        repo.bus(bus)
        with self.platform.store.transaction():
            record = repo.find_rule(bus, name)
            if record is None:
                return {}
            self._managed(record, bool(params.get("Force")))
            if record.get("Targets"):
                raise _validation("Rule can't be deleted since it has targets.")
            repo.delete_rule(bus, name)
        self._uncache_rule(repo, bus, name)
        self.schedules.plan(repo.rule_key(bus, name), None)
        return {}

    def describe_rule(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        bus = bus_ref(params.get("EventBusName")).name
        repo.bus(bus)
        return self._public_rule(repo.rule(bus, params["Name"]), describe=True)

    def _set_state(self, context: RequestContext, params: dict[str, Any], state: str) -> dict[str, Any]:
        repo = self.repo(context)
        bus = bus_ref(params.get("EventBusName")).name
        repo.bus(bus)
        with self.platform.store.transaction():
            record = repo.rule(bus, params["Name"])
            self._managed(record)
            was_active = _active(record)
            record["State"] = state
            if record.get("_schedule") and not was_active and _active(record):
                # re-enabled: the schedule starts again from now (a rate's period restarts)
                record["_schedule"] = self._first_schedule(parse_expression(record["ScheduleExpression"]))
            repo.save_rule(record)
        self._cache_rule(repo, record)
        self._plan_rule(repo, record)
        return {}

    def enable_rule(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._set_state(context, params, "ENABLED")

    def disable_rule(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._set_state(context, params, "DISABLED")

    def list_rules(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        bus = bus_ref(params.get("EventBusName")).name
        repo.bus(bus)
        limit = params.get("Limit") or DEFAULT_LIMIT
        after = self._token(params, "events-rules")
        rows = repo.rules(bus, params.get("NamePrefix") or "", start_after=after, limit=limit + 1)
        result: dict[str, Any] = {"Rules": [self._public_rule(r) for r in rows[:limit]]}
        if len(rows) > limit:
            result["NextToken"] = encode_token("events-rules", rows[limit - 1]["Name"])
        return result

    def list_rule_names_by_target(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        bus = bus_ref(params.get("EventBusName")).name
        repo.bus(bus)
        arn = params["TargetArn"]
        limit = params.get("Limit") or DEFAULT_LIMIT
        after = self._token(params, "events-rule-names") or ""
        names = [r["Name"] for r in repo.rules(bus) if r["Name"] > after
                 and any(t["Arn"] == arn for t in r.get("Targets", []))]
        result: dict[str, Any] = {"RuleNames": names[:limit]}
        if len(names) > limit:
            result["NextToken"] = encode_token("events-rule-names", names[limit - 1])
        return result

    # ------------------------------------------------------------ targets
    def _check_target(self, context: RequestContext, target: dict[str, Any]) -> None:
        target_id, arn = target["Id"], target["Arn"]
        parsed = parse_arn(arn)
        if parsed is None:
            raise _validation(f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format.")
        transform.validate_input(target)
        dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dead_letter is not None:
            dlq = parse_arn(dead_letter)
            if dlq is None or dlq.service != "sqs":
                raise _validation(f"Parameter DeadLetterConfig.Arn is not valid for target {target_id}: it must be "
                                  "the ARN of an Amazon SQS queue.")
        if parsed.service == "sqs" and parsed.resource.endswith(".fifo") and not (
                target.get("SqsParameters") or {}).get("MessageGroupId"):
            raise _validation(f"Parameter(s) SqsParameters must be specified for target: {target_id}.")
        if parsed.service == "kinesis" and not self.platform.has_service("kinesis"):
            raise _validation(f"Target {target_id}: Amazon Kinesis stream targets are not supported by this Cumulo "
                              "build (it has no Kinesis service).")
        if parsed.service == "events" and not parsed.resource.startswith("event-bus/"):
            raise _validation(f"Target {target_id}: only event buses can be EventBridge targets in Cumulo "
                              "(API destinations are not implemented).")

    def put_targets(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        bus = bus_ref(params.get("EventBusName")).name
        repo.bus(bus)
        targets = params["Targets"]
        for target in targets:
            self._check_target(context, target)
        with self.platform.store.transaction():
            record = repo.rule(bus, params["Rule"])
            self._managed(record)
            current = {t["Id"]: t for t in record.get("Targets", [])}
            for target in targets:
                current[target["Id"]] = self._public_target(target)
            if len(current) > MAX_TARGETS_PER_RULE:
                raise AwsError("LimitExceededException", LIMIT_EXCEEDED)
            record["Targets"] = list(current.values())
            repo.save_rule(record)
        self._cache_rule(repo, record)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def remove_targets(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        bus = bus_ref(params.get("EventBusName")).name
        repo.bus(bus)
        failed = []
        with self.platform.store.transaction():
            record = repo.rule(bus, params["Rule"])
            self._managed(record, bool(params.get("Force")))
            targets = record.get("Targets", [])
            present = {t["Id"] for t in targets}
            for target_id in params["Ids"]:
                if target_id not in present:
                    failed.append({"TargetId": target_id, "ErrorCode": "ResourceNotFoundException",
                                   "ErrorMessage": f"Rule '{record['Name']}' does not have a target with the Id "
                                                   f"'{target_id}'."})
            record["Targets"] = [t for t in targets if t["Id"] not in set(params["Ids"])]
            repo.save_rule(record)
        self._cache_rule(repo, record)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def list_targets_by_rule(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        bus = bus_ref(params.get("EventBusName")).name
        repo.bus(bus)
        record = repo.rule(bus, params["Rule"])
        limit = params.get("Limit") or DEFAULT_LIMIT
        offset = self._token(params, "events-targets") or 0
        targets = record.get("Targets", [])
        result: dict[str, Any] = {"Targets": [self._public_target(t) for t in targets[offset:offset + limit]]}
        if offset + limit < len(targets):
            result["NextToken"] = encode_token("events-targets", offset + limit)
        return result

    # ------------------------------------------------------------ tags
    def _tagged(self, context: RequestContext, arn: str) -> tuple[EventsRepository, dict[str, Any], str]:
        """(repository, record, kind) of a bus or rule ARN."""
        repo = self.repo(context)
        parsed = parse_arn(arn)
        if parsed is None or parsed.service != "events":
            raise _validation(f"Parameter ResourceARN is not valid. Reason: {arn} is not a valid ARN.")
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
        tags = _tags_dict(params["Tags"])
        with self.platform.store.transaction():
            repo, record, kind = self._tagged(context, params["ResourceARN"])
            if kind == "rule":
                self._managed(record)
            merged = {**record.get("Tags", {}), **tags}
            if len(merged) > MAX_TAGS:
                raise AwsError("LimitExceededException", LIMIT_EXCEEDED)
            record["Tags"] = merged
            self._save_tagged(repo, record, kind)
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            repo, record, kind = self._tagged(context, params["ResourceARN"])
            if kind == "rule":
                self._managed(record)
            record["Tags"] = {k: v for k, v in record.get("Tags", {}).items() if k not in set(params["TagKeys"])}
            self._save_tagged(repo, record, kind)
        return {}

    def list_tags_for_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, record, _ = self._tagged(context, params["ResourceARN"])
        return {"Tags": _tag_list(record.get("Tags", {}))}

    # ------------------------------------------------------------ TestEventPattern
    def test_event_pattern(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            compiled = compile_pattern(params["EventPattern"])
        except InvalidEventPattern as exc:
            raise AwsError(exc.code, exc.message) from exc
        try:
            event = json.loads(params["Event"])
        except ValueError as exc:
            raise _validation("Parameter Event is not valid.") from exc
        if not isinstance(event, dict) or any(f not in event for f in TEST_EVENT_FIELDS):
            raise _validation("Parameter Event is not valid.")
        return {"Result": compiled.matches(event)}

    # ------------------------------------------------------------ PutEvents
    def put_events(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("EndpointId"):
            raise AwsError("ValidationException", "EndpointId is not supported: Cumulo does not implement global "
                                                  "endpoints; send the events to the event bus directly.")
        entries = params["Entries"]
        size = sum(self._entry_size(entry) for entry in entries)
        if size > MAX_ENTRIES_BYTES:
            raise _validation("Total size of the entries in the request is over the limit.")
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
                return _entry_error("InvalidArgument",
                                    f"Parameter {member} is not valid. Reason: {member} is a required argument.")
        try:
            detail = json.loads(entry["Detail"])
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            return _entry_error("MalformedDetail", "Detail is malformed.")
        if entry["Source"].startswith("aws."):
            return _entry_error("NotAuthorizedForSourceException", "Not authorized for the source.")
        moment = entry.get("Time")
        if moment is not None:
            seconds = _epoch(moment)
            if seconds is None or not math.isfinite(seconds) or not -62135596800 <= seconds < 253402300800:
                return _entry_error("InvalidArgument", "Parameter Time is not valid. Reason: Time must be a date "
                                                       "between 0001-01-01 and 9999-12-31.")
        resources = entry.get("Resources")
        if resources is not None and any(not isinstance(r, str) for r in resources):
            return _entry_error("InvalidArgument", "Parameter Resources is not valid. Reason: a resource must not "
                                                   "be null.")
        trace = entry.get("TraceHeader")
        if trace is not None and any(ord(c) < 32 for c in trace):
            return _entry_error("InvalidArgument", "Parameter TraceHeader is not valid. Reason: it contains control "
                                                   "characters.")
        return {"detail": detail}

    @staticmethod
    def _build_event(context: RequestContext, entry: dict[str, Any], detail: dict[str, Any],
                     ingestion: float) -> dict[str, Any]:
        moment = _epoch(entry.get("Time")) if entry.get("Time") is not None else ingestion
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": entry["DetailType"],
                "source": entry["Source"], "account": context.account_id, "time": iso(moment or ingestion),
                "region": context.region, "resources": list(entry.get("Resources") or []),
                "detail": detail}

    # ------------------------------------------------------------ routing (internal API)
    def ingest(self, account: str, region: str, bus: str, event: dict[str, Any], *, ingestion: float | None = None,
               trace_header: str | None = None, hops: int = 0) -> int:
        """Match ``event`` on a bus and queue a delivery per matched target; returns how many.

        Joins the caller's open transaction; the caller wakes the delivery workers. An event for
        a bus that does not exist is dropped, as AWS does.
        """
        repo = EventsRepository(self.platform.store, account, region)
        rules = self._bus_rules.get(repo.scope + bus)  # cached: the bus exists (deleting it drops the entry)
        if rules is None:
            if repo.find_bus(bus) is None:
                return 0
            rules = self._rules_of(repo, bus)
        matched = rules.ruleset.match(event) if len(rules.ruleset) else set()
        if not matched:
            return 0
        ingestion = time.time() if ingestion is None else ingestion
        self._metric(account, region, "MatchedEvents")
        self._metric(account, region, "MatchedEvents", {"EventBusName": bus})
        jobs = 0
        for name in sorted(matched):
            record = rules.records.get(name)
            if record is None or not _active(record):
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
        if service_of(job.target["Arn"]) == "events":
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

    # ------------------------------------------------------------ scheduled rules
    def _fire_rule(self, key: Any) -> float | None:
        account, region, bus, name = split_rule_key(key)
        repo = EventsRepository(self.platform.store, account, region)
        store = self.platform.store
        jobs = 0
        with store.transaction():
            record = repo.find_rule(bus, name)
            schedule = record.get("_schedule") if record else None
            if record is None or not schedule or not record.get("ScheduleExpression") or not _active(record):
                return None
            expression = parse_expression(record["ScheduleExpression"])
            scheduled, origin = schedule["next"], schedule["origin"]
            now = self.clock.now(origin)
            if scheduled > now + 1e-3:
                return self.clock.real(origin, scheduled)  # moved since this timer was set
            event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                     "source": "aws.events", "account": account, "time": iso(scheduled), "region": region,
                     "resources": [record["Arn"]], "detail": {}}
            self._triggered(account, region, bus, name)
            jobs = self._queue_targets(account, region, record, event, time.time(), None, 0)
            following = next_fire(expression, max(scheduled, now),
                                  anchor=schedule.get("anchor") if isinstance(expression, Rate) else None)
            schedule["next"] = following if following is not None else math.inf
            repo.save_rule(record)
        self._cache_rule(repo, record)
        if jobs:
            self.delivery.wake()
        return self.clock.real(origin, following) if following is not None else None
