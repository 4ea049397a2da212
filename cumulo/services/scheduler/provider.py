"""Amazon EventBridge Scheduler: schedules, schedule groups, and invoking their targets on time.

A schedule is ``at(...)`` (once), ``rate(...)`` or ``cron(...)``, evaluated in
``ScheduleExpressionTimezone`` (IANA, UTC by default), bounded by ``StartDate``/``EndDate``,
fired within its ``FlexibleTimeWindow``, and delivered durably with its target's
``RetryPolicy`` and ``DeadLetterConfig`` (shared with EventBridge: ``targets.delivery_queue``).

Targets:

* templated: Lambda (``Invoke``, asynchronous), SQS (``SendMessage``, ``SqsParameters``
  for FIFO queues), SNS (``Publish``), Step Functions (``StartExecution``), EventBridge
  (``PutEvents`` on a bus with ``EventBridgeParameters``; ``Input`` is the detail), Kinesis
  (when the build has it). ``Input`` is sent as is, with the context attributes
  ``<aws.scheduler.schedule-arn>``, ``<aws.scheduler.scheduled-time>``,
  ``<aws.scheduler.execution-id>`` and ``<aws.scheduler.attempt-number>`` filled in;
* universal: ``arn:aws:scheduler:::aws-sdk:<service>:<apiAction>`` calls that operation of a
  service of this build with ``Input`` as its request (``sqs:sendMessage``,
  ``sns:publish``, ``sfn:startExecution``, ``lambda:invoke``, ``eventbridge:putEvents``...).

Fire times are kept with each schedule in the store and planned on a timer heap at start-up.
A fire time that passed while the server was down fires once when it starts again (the
missed occurrences are not replayed one by one), then the schedule continues from the current
time. A one-time schedule in the past fires once as soon as it is created. Completed schedules
with ``ActionAfterCompletion`` ``DELETE`` are deleted after their last invocation.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn, service_of
from cumulo.protocol.errors import AwsError
from cumulo.schedules import At, Rate, ScheduleClock, ScheduleError, iso, next_fire, parse_expression, time_zone
from cumulo.schedules.runner import ScheduleRunner
from cumulo.services.base import Provider, RequestContext
from cumulo.services.pagination import decode_token, encode_token
from cumulo.services.tagging import add_tags, remove_tags, tag_list, tag_map, tags_of
from cumulo.targets.dead_letters import delivery_failure_attributes
from cumulo.targets.delivery_queue import DeliveryQueue, Job, target_delivery
from cumulo.targets.errors import TargetError
from cumulo.targets.metrics import SCHEDULER_NAMESPACE, MetricCounters, record_metric
from cumulo.targets.send import BusEvent, call_target_api, send

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.scheduler")
GROUPS, SCHEDULES = "scheduler.groups", "scheduler.schedules"
QUEUE = "scheduler.delivery"
DEFAULT_GROUP = "default"
MAX_GROUPS = 500
MAX_START_LAG_S = 300
DEFAULT_RETRY = {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
UNIVERSAL_PREFIX = "arn:aws:scheduler:::aws-sdk:"
SDK_SERVICES = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs", "states": "stepfunctions"}
SCHEDULE_MEMBERS = ("ActionAfterCompletion", "Arn", "CreationDate", "Description", "EndDate", "FlexibleTimeWindow",
                    "GroupName", "KmsKeyArn", "LastModificationDate", "Name", "ScheduleExpression",
                    "ScheduleExpressionTimezone", "StartDate", "State", "Target")


def _validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


class SchedulerProvider(Provider):
    service = "scheduler"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.metrics = MetricCounters()
        self.delivery = DeliveryQueue(platform, QUEUE, self._send, self._dead_letter, self._observe)
        self.clock = ScheduleClock(float(getattr(platform.settings, "schedule_clock_speed", 1.0)))
        self.runner = ScheduleRunner(self._fire, name="scheduler", store=platform.store)

    async def start(self) -> None:
        for key, record in self.platform.store.scan(SCHEDULES):
            state = record.get("_state") or {}
            if record.get("State") == "ENABLED" and math.isfinite(state.get("fire_at", math.inf)):
                self.runner.plan(key, self.clock.real(state["origin"], state["fire_at"]))
        await self.runner.start()
        await self.delivery.start()

    async def stop(self) -> None:
        await self.runner.stop()
        await self.delivery.stop()

    # ------------------------------------------------------------ keys and records
    @staticmethod
    def _scope(context: RequestContext) -> str:
        return f"{context.account_id}:{context.region}:"

    def _group_arn(self, context: RequestContext, name: str) -> str:
        return f"arn:aws:scheduler:{context.region}:{context.account_id}:schedule-group/{name}"

    def _schedule_arn(self, context: RequestContext, group: str, name: str) -> str:
        return f"arn:aws:scheduler:{context.region}:{context.account_id}:schedule/{group}/{name}"

    def _ensure_default(self, context: RequestContext) -> None:
        key = self._scope(context) + DEFAULT_GROUP
        if self.platform.store.get(GROUPS, key) is None:
            now = time.time()
            record = {"Name": DEFAULT_GROUP, "Arn": self._group_arn(context, DEFAULT_GROUP), "State": "ACTIVE",
                      "CreationDate": now, "LastModificationDate": now, "Tags": {}}
            self.platform.store.insert(GROUPS, key, record)

    def _group(self, context: RequestContext, name: str | None) -> dict[str, Any]:
        name = name or DEFAULT_GROUP
        if name == DEFAULT_GROUP:
            self._ensure_default(context)
        record = self.platform.store.get(GROUPS, self._scope(context) + name)
        if record is None:
            raise AwsError("ResourceNotFoundException", f"Schedule group {name} does not exist.")
        return record

    def _schedule_key(self, context: RequestContext, group: str, name: str) -> str:
        return f"{self._scope(context)}{group}|{name}"

    def _schedule(self, context: RequestContext, group: str, name: str) -> dict[str, Any]:
        record = self.platform.store.get(SCHEDULES, self._schedule_key(context, group, name))
        if record is None:
            raise AwsError("ResourceNotFoundException", f"Schedule {name} does not exist.")
        return record

    # ------------------------------------------------------------ groups
    def create_schedule_group(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        self._ensure_default(context)
        if len(self.platform.store.scan(GROUPS, self._scope(context))) >= MAX_GROUPS:
            raise AwsError("ServiceQuotaExceededException", "The schedule group quota has been reached.")
        now = time.time()
        record = {"Name": name, "Arn": self._group_arn(context, name), "State": "ACTIVE", "CreationDate": now,
                  "LastModificationDate": now, "Tags": tag_map(params.get("Tags"))}
        if not self.platform.store.insert(GROUPS, self._scope(context) + name, record):
            raise AwsError("ConflictException", f"Schedule group {name} already exists.")
        return {"ScheduleGroupArn": record["Arn"]}

    @staticmethod
    def _public_group(record: dict[str, Any]) -> dict[str, Any]:
        return {k: record[k] for k in ("Arn", "CreationDate", "LastModificationDate", "Name", "State")}

    def get_schedule_group(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._public_group(self._group(context, params["Name"]))

    def delete_schedule_group(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        if name == DEFAULT_GROUP:
            raise _validation("The default schedule group cannot be deleted.")
        store = self.platform.store
        with store.transaction():
            self._group(context, name)
            prefix = f"{self._scope(context)}{name}|"
            for key, _ in store.scan(SCHEDULES, prefix):
                self.runner.plan(key, None)
            store.delete_prefix(SCHEDULES, prefix)
            store.delete(GROUPS, self._scope(context) + name)
        return {}

    def list_schedule_groups(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._ensure_default(context)
        limit = params.get("MaxResults") or 100
        after = decode_token(params.get("NextToken"), "scheduler-groups", "ValidationException",
                             "The NextToken provided is invalid.")
        scope = self._scope(context)
        rows = self.platform.store.scan(GROUPS, scope + (params.get("NamePrefix") or ""),
                                        start_after=scope + after if after else None, limit=limit + 1)
        result: dict[str, Any] = {"ScheduleGroups": [self._public_group(r) for _, r in rows[:limit]]}
        if len(rows) > limit:
            result["NextToken"] = encode_token("scheduler-groups", rows[limit - 1][1]["Name"])
        return result

    # ------------------------------------------------------------ tags (schedule groups)
    def _tagged_group(self, context: RequestContext, arn: str) -> dict[str, Any]:
        name = arn.rsplit("/", 1)[-1]
        return self._group(context, name)

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            record = self._tagged_group(context, params["ResourceArn"])
            add_tags(record, tag_map(params["Tags"]), field="Tags")
            self.platform.store.put(GROUPS, self._scope(context) + record["Name"], record)
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            record = self._tagged_group(context, params["ResourceArn"])
            remove_tags(record, params["TagKeys"], field="Tags")
            self.platform.store.put(GROUPS, self._scope(context) + record["Name"], record)
        return {}

    def list_tags_for_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._tagged_group(context, params["ResourceArn"])
        return {"Tags": tag_list(tags_of(record, "Tags"))}

    # ------------------------------------------------------------ schedules
    def _check(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Validate a Create/UpdateSchedule request; returns the parsed schedule facts."""
        text = params["ScheduleExpression"]
        try:
            expression = parse_expression(text, allow_at=True, unit_must_agree=False)
        except ScheduleError as exc:
            raise _validation(f"Invalid Schedule Expression {text}.") from exc
        zone_name = params.get("ScheduleExpressionTimezone")
        try:
            zone = time_zone(zone_name)
        except ScheduleError as exc:
            raise _validation(f"Invalid Schedule Expression Timezone {zone_name}.") from exc
        window = params["FlexibleTimeWindow"]
        if window["Mode"] == "FLEXIBLE" and window.get("MaximumWindowInMinutes") is None:
            raise _validation("MaximumWindowInMinutes must be provided when the FlexibleTimeWindow Mode is "
                              "FLEXIBLE.")
        if window["Mode"] == "OFF" and window.get("MaximumWindowInMinutes") is not None:
            raise _validation("MaximumWindowInMinutes must not be provided when the FlexibleTimeWindow Mode is OFF.")
        start, end = _epoch(params.get("StartDate")), _epoch(params.get("EndDate"))
        now = time.time()
        if not isinstance(expression, At):
            if start is not None and start < now - MAX_START_LAG_S:
                raise _validation("The StartDate you specify cannot be earlier than 5 minutes prior to the current "
                                  "time.")
            if end is not None and end <= now:
                raise _validation("The EndDate you specify cannot be earlier than the current time.")
            if start is not None and end is not None and end <= start:
                raise _validation("The EndDate you specify must be after the StartDate.")
        self._check_target(params["Target"])
        return {"expression": expression, "zone": zone, "start": start, "end": end}

    def _check_target(self, target: dict[str, Any]) -> None:
        arn = target["Arn"]
        if arn.startswith(UNIVERSAL_PREFIX):
            parts = arn[len(UNIVERSAL_PREFIX):].split(":")
            if len(parts) != 2 or not all(parts):
                raise _validation(f"Invalid target ARN {arn}.")
            if target.get("Input") is not None:
                try:
                    document = json.loads(target["Input"])
                except ValueError as exc:
                    raise _validation("Input for a universal target must be a valid JSON object.") from exc
                if not isinstance(document, dict):
                    raise _validation("Input for a universal target must be a valid JSON object.")
            return
        parsed = parse_arn(arn)
        if parsed is None:
            raise _validation(f"Invalid target ARN {arn}.")
        if parsed.service == "events":
            if not parsed.resource.startswith("event-bus/"):
                raise _validation(f"Invalid target ARN {arn}.")
            if not target.get("EventBridgeParameters"):
                raise _validation("EventBridgeParameters must be provided for an Amazon EventBridge PutEvents "
                                  "target.")
            if target.get("Input") is not None:
                try:
                    detail = json.loads(target["Input"])
                except ValueError:
                    detail = None
                if not isinstance(detail, dict):
                    raise _validation("Input for an Amazon EventBridge PutEvents target must be a JSON object "
                                      "(the event detail).")
        if parsed.service == "sqs" and parsed.resource.endswith(".fifo") and not (
                target.get("SqsParameters") or {}).get("MessageGroupId"):
            raise _validation("SqsParameters.MessageGroupId must be provided for an Amazon SQS FIFO queue target.")
        if parsed.service == "kinesis" and not self.platform.has_service("kinesis"):
            raise _validation("Amazon Kinesis targets are not supported by this Cumulo build (it has no Kinesis "
                              "service).")

    def _record(self, context: RequestContext, params: dict[str, Any], group: str, name: str,
                previous: dict[str, Any] | None) -> dict[str, Any]:
        now = time.time()
        target = dict(params["Target"])
        target.setdefault("RetryPolicy", dict(DEFAULT_RETRY))
        record: dict[str, Any] = {
            "Arn": self._schedule_arn(context, group, name), "Name": name, "GroupName": group,
            "ScheduleExpression": params["ScheduleExpression"],
            "ScheduleExpressionTimezone": params.get("ScheduleExpressionTimezone") or "UTC",
            "FlexibleTimeWindow": params["FlexibleTimeWindow"], "Target": target,
            "State": params.get("State") or "ENABLED",
            "ActionAfterCompletion": params.get("ActionAfterCompletion") or "NONE",
            "CreationDate": previous["CreationDate"] if previous else now, "LastModificationDate": now}
        for member in ("Description", "KmsKeyArn"):
            if params.get(member) is not None:
                record[member] = params[member]
        for member in ("StartDate", "EndDate"):
            if params.get(member) is not None:
                record[member] = _epoch(params[member])
        return record

    def create_schedule(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("GroupName") or DEFAULT_GROUP
        name = params["Name"]
        self._group(context, group)
        facts = self._check(context, params)
        key = self._schedule_key(context, group, name)
        record = self._record(context, params, group, name, None)
        record["_state"] = self._initial_state(record, facts)
        if not self.platform.store.insert(SCHEDULES, key, record):
            raise AwsError("ConflictException", f"Schedule {name} already exists.")
        self._plan(key, record)
        return {"ScheduleArn": record["Arn"]}

    def update_schedule(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("GroupName") or DEFAULT_GROUP
        name = params["Name"]
        self._group(context, group)
        key = self._schedule_key(context, group, name)
        with self.platform.store.transaction():
            previous = self._schedule(context, group, name)
            facts = self._check(context, params)
            record = self._record(context, params, group, name, previous)
            record["_state"] = self._initial_state(record, facts)
            self.platform.store.put(SCHEDULES, key, record)
        self._plan(key, record)
        return {"ScheduleArn": record["Arn"]}

    def get_schedule(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("GroupName") or DEFAULT_GROUP
        self._group(context, group)
        record = self._schedule(context, group, params["Name"])
        return {k: record[k] for k in SCHEDULE_MEMBERS if record.get(k) is not None}

    def delete_schedule(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("GroupName") or DEFAULT_GROUP
        self._group(context, group)
        key = self._schedule_key(context, group, params["Name"])
        if not self.platform.store.delete(SCHEDULES, key):
            raise AwsError("ResourceNotFoundException", f"Schedule {params['Name']} does not exist.")
        self.runner.plan(key, None)
        return {}

    def list_schedules(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope(context)
        group = params.get("GroupName")
        if group:
            self._group(context, group)
        limit = params.get("MaxResults") or 100
        after = decode_token(params.get("NextToken"), "scheduler-schedules", "ValidationException",
                             "The NextToken provided is invalid.")
        prefix = f"{scope}{group}|" if group else scope
        name_prefix = params.get("NamePrefix") or ""
        state = params.get("State")
        found: list[tuple[str, dict[str, Any]]] = []
        for key, record in self.platform.store.scan(SCHEDULES, prefix, start_after=after):
            if not record["Name"].startswith(name_prefix) or (state and record["State"] != state):
                continue
            found.append((key, record))
            if len(found) > limit:
                break
        result: dict[str, Any] = {"Schedules": [
            {"Arn": r["Arn"], "CreationDate": r["CreationDate"], "GroupName": r["GroupName"],
             "LastModificationDate": r["LastModificationDate"], "Name": r["Name"], "State": r["State"],
             "Target": {"Arn": r["Target"]["Arn"]}} for _, r in found[:limit]]}
        if len(found) > limit:
            result["NextToken"] = encode_token("scheduler-schedules", found[limit - 1][0])
        return result

    # ------------------------------------------------------------ fire times
    def _window(self, record: dict[str, Any]) -> float:
        window = record.get("FlexibleTimeWindow") or {}
        if window.get("Mode") == "FLEXIBLE" and window.get("MaximumWindowInMinutes"):
            return random.uniform(0, window["MaximumWindowInMinutes"] * 60)
        return 0.0

    def _initial_state(self, record: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
        expression, zone = facts["expression"], facts["zone"]
        start, end = facts["start"], facts["end"]
        now = time.time()  # the origin of the schedule's clock, where schedule time is real time
        anchor = None
        if isinstance(expression, At):
            nominal = next_fire(expression, -math.inf, zone=zone)
            state = {"origin": now, "anchor": None, "next": nominal}
            state["fire_at"] = max(nominal + self._window(record), now) if nominal is not None else math.inf
            return state
        if isinstance(expression, Rate):
            anchor = start if start is not None else now
            nominal = next_fire(expression, now - 1e-6, anchor=anchor)
        else:
            nominal = next_fire(expression, max(now, (start or now) - 1e-6), zone=zone)
        if nominal is not None and end is not None and nominal > end:
            nominal = None
        state: dict[str, Any] = {"origin": now, "anchor": anchor, "next": nominal if nominal is not None else math.inf}
        state["fire_at"] = state["next"] + self._window(record) if nominal is not None else math.inf
        return state

    def _following(self, record: dict[str, Any], after: float) -> float | None:
        expression = parse_expression(record["ScheduleExpression"], allow_at=True, unit_must_agree=False)
        if isinstance(expression, At):
            return None
        zone = time_zone(record.get("ScheduleExpressionTimezone"))
        anchor = (record.get("_state") or {}).get("anchor")
        moment = next_fire(expression, after, zone=zone, anchor=anchor if isinstance(expression, Rate) else None)
        end = record.get("EndDate")
        if moment is not None and end is not None and moment > end:
            return None
        return moment

    def _plan(self, key: str, record: dict[str, Any]) -> None:
        state = record.get("_state") or {}
        fire_at = state.get("fire_at", math.inf)
        if record.get("State") == "ENABLED" and math.isfinite(fire_at):
            self.runner.plan(key, self.clock.real(state["origin"], fire_at))
        else:
            self.runner.plan(key, None)

    def _fire(self, key: Any) -> float | None:
        store = self.platform.store
        account, region, _ = key.split(":", 2)
        with store.transaction():
            record = store.get(SCHEDULES, key)
            if record is None or record.get("State") != "ENABLED":
                return None
            state = record["_state"]
            origin = state["origin"]
            now = self.clock.now(origin)
            if state["fire_at"] > now + 1e-3:
                return self.clock.real(origin, state["fire_at"])
            nominal = state["next"]
            execution_id = str(uuid.uuid4())
            payload = self._context_input(record, nominal, execution_id)
            job = Job(account=account, region=region, origin=record["Arn"], target=record["Target"],
                      payload=payload, extra={"execution_id": execution_id, "scheduled_time": nominal})
            self.delivery.submit(job)
            following = self._following(record, max(nominal, now))
            if following is None:
                if record.get("ActionAfterCompletion") == "DELETE":
                    store.delete(SCHEDULES, key)
                else:
                    state["next"] = state["fire_at"] = math.inf
                    store.put(SCHEDULES, key, record)
            else:
                state["next"] = following
                state["fire_at"] = following + self._window(record)
                store.put(SCHEDULES, key, record)
        self.delivery.wake()
        return self.clock.real(origin, state["fire_at"]) if following is not None else None

    @staticmethod
    def _context_input(record: dict[str, Any], nominal: float, execution_id: str) -> str:
        text = record["Target"].get("Input")
        if text is None:
            return "{}"
        return (text.replace("<aws.scheduler.schedule-arn>", record["Arn"])
                .replace("<aws.scheduler.scheduled-time>", iso(nominal))
                .replace("<aws.scheduler.execution-id>", execution_id))

    # ------------------------------------------------------------ delivery
    async def _send(self, job: Job) -> None:
        target = job.target
        arn = target["Arn"]
        payload = job.payload.replace("<aws.scheduler.attempt-number>", str(job.attempts))
        if arn.startswith(UNIVERSAL_PREFIX):
            await self._universal(job, arn, payload)
            return
        bus_event = None
        if service_of(arn) == "events":
            parameters = target.get("EventBridgeParameters") or {}
            bus_event = BusEvent(source=parameters.get("Source", ""), detail_type=parameters.get("DetailType", ""),
                                 resources=[job.origin])
        await send(self.platform, arn, payload,
                   target_delivery(job, job.extra.get("execution_id", job.id), bus_event=bus_event))

    async def _universal(self, job: Job, arn: str, payload: str) -> None:
        """``arn:aws:scheduler:::aws-sdk:<service>:<apiAction>``: that operation, in-process, with Input."""
        sdk_service, action = arn[len(UNIVERSAL_PREFIX):].split(":", 1)
        service = SDK_SERVICES.get(sdk_service, sdk_service)
        if not self.platform.has_service(service):
            raise TargetError("SDK_CLIENT_ERROR", f"The {sdk_service} service is not available in this build.")
        operation = action[:1].upper() + action[1:]
        if operation not in self.platform.catalog.model(service).operation_names:
            raise TargetError("INVALID_PARAMETER", f"{sdk_service} has no API action {action}.", retryable=False)
        try:
            parameters = json.loads(payload)
        except ValueError as exc:
            raise TargetError("INVALID_PARAMETER", "Input is not valid JSON.", retryable=False) from exc
        shape = self.platform.catalog.model(service).operation_model(operation).input_shape
        await call_target_api(self.platform, service, operation, _member_names(shape, parameters), account=job.account,
                       region=job.region)

    @staticmethod
    def _dead_letter(job: Job, error: TargetError, exhausted: str | None) -> tuple[str, dict[str, str]]:
        attributes = delivery_failure_attributes("SCHEDULE_ARN", job.origin, job.target["Arn"], error,
                                                 job.attempts - 1, exhausted,
                                                 {"INVOCATION_ID": job.extra.get("execution_id", job.id)})
        return job.payload.replace("<aws.scheduler.attempt-number>", str(job.attempts)), attributes

    def _observe(self, job: Job, outcome: str) -> None:
        names = {"delivered": ("InvocationAttemptCount",), "retry": ("InvocationAttemptCount", "TargetErrorCount"),
                 "failed": ("InvocationAttemptCount", "TargetErrorCount"),
                 "dead-lettered": ("InvocationsSentToDeadLetterCount",),
                 "dead-letter-failed": ("InvocationsFailedToBeSentToDeadLetterCount",)}.get(outcome, ())
        for name in names:
            record_metric(self.platform, job.account, job.region, SCHEDULER_NAMESPACE, name, None, 1.0, self.metrics)
        if outcome == "failed" and not job.dead_letter_arn:
            record_metric(self.platform, job.account, job.region, SCHEDULER_NAMESPACE, "InvocationDroppedCount",
                          None, 1.0, self.metrics)


def _member_names(shape: Any, value: Any) -> Any:
    """Request parameters with the model's member names, whatever their case (``StateMachineArn``
    and ``stateMachineArn`` both name Step Functions' ``stateMachineArn``)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        names = {name.lower(): name for name in shape.members}
        aligned = {}
        for key, item in value.items():
            name = key if key in shape.members else names.get(key.lower(), key)
            aligned[name] = _member_names(shape.members.get(name), item)
        return aligned
    if shape.type_name == "list" and isinstance(value, list):
        return [_member_names(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _member_names(shape.value, item) for key, item in value.items()}
    return value
