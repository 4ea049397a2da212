"""EventBridge rules and their targets, and firing scheduled rules."""

from __future__ import annotations

import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn
from cumulo.patterns import InvalidEventPattern, compile_pattern
from cumulo.protocol.errors import AwsError
from cumulo.schedules import Rate, ScheduleError, iso, next_fire, parse_expression
from cumulo.services.base import RequestContext
from cumulo.services.events import transform
from cumulo.services.events.common import (
    DEFAULT_LIMIT,
    LIMIT_EXCEEDED,
    MAX_RULES_PER_BUS,
    MAX_TARGETS_PER_RULE,
    TAG_RULES,
    is_active,
    tags_dict,
    validation_error,
)
from cumulo.services.events.names import DEFAULT_BUS, bus_ref
from cumulo.services.events.repository import (
    EventsRepository,
    split_rule_key,
)
from cumulo.services.pagination import encode_token
from cumulo.services.tagging import add_tags

if TYPE_CHECKING:
    from cumulo.platform import Platform


class RuleOperations:
    """Mixed into ``EventsProvider``."""

    platform: Platform

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
            raise validation_error("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        expression = None
        if schedule:
            if bus != DEFAULT_BUS:
                raise validation_error("ScheduleExpression is supported only on the default event bus.")
            try:
                expression = parse_expression(schedule)
            except ScheduleError as exc:
                raise validation_error("Parameter ScheduleExpression is not valid.") from exc
        if pattern:
            try:
                compile_pattern(pattern)
            except InvalidEventPattern as exc:
                raise AwsError(exc.code, exc.message) from exc
        tags = tags_dict(params.get("Tags"))
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
            add_tags(record, tags, TAG_RULES, field="Tags")
            unchanged = (existing is not None and existing.get("ScheduleExpression") == schedule
                         and is_active(existing) and "_schedule" in record)
            if expression is None:
                record.pop("_schedule", None)
            elif not (unchanged and is_active(record)):  # a new, changed or re-enabled schedule starts now
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
        if schedule and is_active(record) and math.isfinite(schedule["next"]):
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
                raise validation_error("Rule can't be deleted since it has targets.")
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
            was_active = is_active(record)
            record["State"] = state
            if record.get("_schedule") and not was_active and is_active(record):
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
            raise validation_error(f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format.")
        transform.validate_input(target)
        dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dead_letter is not None:
            dlq = parse_arn(dead_letter)
            if dlq is None or dlq.service != "sqs":
                raise validation_error(f"Parameter DeadLetterConfig.Arn is not valid for target {target_id}: it must "
                                       "be the ARN of an Amazon SQS queue.")
        if parsed.service == "sqs" and parsed.resource.endswith(".fifo") and not (
                target.get("SqsParameters") or {}).get("MessageGroupId"):
            raise validation_error(f"Parameter(s) SqsParameters must be specified for target: {target_id}.")
        if parsed.service == "kinesis" and not self.platform.has_service("kinesis"):
            raise validation_error(f"Target {target_id}: Amazon Kinesis stream targets are not supported by this "
                                   "Cumulo build (it has no Kinesis service).")
        if parsed.service == "events" and not parsed.resource.startswith(("event-bus/", "api-destination/")):
            raise validation_error(f"Target {target_id}: only event buses and API destinations can be EventBridge "
                                   "targets.")

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

    # ------------------------------------------------------------ scheduled rules
    def _fire_rule(self, key: Any) -> float | None:
        account, region, bus, name = split_rule_key(key)
        repo = EventsRepository(self.platform.store, account, region)
        store = self.platform.store
        jobs = 0
        with store.transaction():
            record = repo.find_rule(bus, name)
            schedule = record.get("_schedule") if record else None
            if record is None or not schedule or not record.get("ScheduleExpression") or not is_active(record):
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
