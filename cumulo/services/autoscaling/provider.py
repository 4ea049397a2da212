"""Application Auto Scaling for Lambda provisioned concurrency.

Scalable targets (``ServiceNamespace`` ``lambda``, ``ScalableDimension``
``lambda:function:ProvisionedConcurrency``, ``ResourceId`` ``function:NAME:QUALIFIER``),
scheduled actions (``at(...)``, ``rate(...)``, ``cron(...)`` with a time zone) and
target-tracking policies on the predefined metric ``LambdaProvisionedConcurrencyUtilization``.
The "capacity" of a target is the qualifier's requested provisioned concurrency; changes go
through the Lambda provider, and every change is a scaling activity.

Target tracking evaluates once per (scaled) minute: the highest utilization seen in that
minute (busy / allocated provisioned environments) above the target value scales out to
``ceil(capacity * utilization / target)``; 15 evaluations in a row below 90 % of the target
scale in (unless ``DisableScaleIn``), as AWS's AlarmHigh (3 of 3 minutes, simplified to 1)
and AlarmLow (15 of 15 minutes) do.  Cooldowns are honoured.

Timing: ``at()`` and ``cron()`` run at their wall-clock time; the setting
``autoscaling_time_scale`` (default 1.0) multiplies ``rate()`` periods, target-tracking
evaluation periods and cooldowns so that tests can see scaling in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.protocol.values import as_datetime
from cumulo.services.autoscaling.schedule import Schedule, ScheduleError
from cumulo.services.base import Provider, RequestContext

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.autoscaling")
TARGETS, ACTIONS, POLICIES, ACTIVITIES = ("autoscaling.targets", "autoscaling.actions", "autoscaling.policies",
                                          "autoscaling.activities")
LAMBDA_DIMENSION = "lambda:function:ProvisionedConcurrency"
UTILIZATION = "LambdaProvisionedConcurrencyUtilization"
EVALUATION_S = 60.0
SCALE_IN_EVALUATIONS = 15
MAX_ACTIVITIES = 1000  # per target


def _validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def _not_found(message: str) -> AwsError:
    return AwsError("ObjectNotFoundException", message)


def _describe(namespace: str, resource: str, dimension: str) -> str:
    return f"service namespace: {namespace}, resource ID: {resource}, scalable dimension: {dimension}"


class ApplicationAutoScalingProvider(Provider):
    service = "application-autoscaling"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._low_streaks: dict[str, int] = {}
        self._last_evaluation: dict[str, float] = {}
        self._peaks: dict[str, float] = {}

    @property
    def time_scale(self) -> float:
        return float(getattr(self.platform.settings, "autoscaling_time_scale", 1.0) or 1.0)

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # ------------------------------------------------------------ helpers
    def _scope(self, context: RequestContext) -> str:
        return f"{context.account_id}:{context.region}:"

    @staticmethod
    def _target_key(scope: str, namespace: str, resource: str, dimension: str) -> str:
        return f"{scope}{namespace}|{resource}|{dimension}"

    def _check(self, params: dict[str, Any]) -> tuple[str, str, str]:
        namespace, resource, dimension = params["ServiceNamespace"], params["ResourceId"], params["ScalableDimension"]
        if namespace != "lambda" or dimension != LAMBDA_DIMENSION:
            raise _validation(f"Unsupported service namespace and scalable dimension: {namespace}, {dimension}. "
                              f"Cumulo scales lambda / {LAMBDA_DIMENSION}.")
        parts = resource.split(":")
        if len(parts) != 3 or parts[0] != "function" or not parts[1] or not parts[2]:
            raise _validation(f"Unsupported resource ID format: {resource}. Expected function:NAME:QUALIFIER")
        return namespace, resource, dimension

    def _capacity(self, account: str, region: str, resource: str) -> int:
        _, name, qualifier = resource.split(":")
        view = self.platform.capacity.provisioned_concurrency(account, region, name, qualifier)
        return view["RequestedProvisionedConcurrentExecutions"] if view else 0

    async def _set_capacity(self, scope: str, target: dict[str, Any], desired: int, description: str,
                            cause: str) -> None:
        account, region = scope.split(":")[:2]
        resource = target["ResourceId"]
        _, name, qualifier = resource.split(":")
        started = time.time()
        status, message = "Successful", "Successfully set provisioned concurrency."
        try:
            await self.platform.capacity.set_provisioned_concurrency(account, region, name, qualifier, desired)
        except Exception as exc:  # recorded on the activity, as AWS reports failed scaling
            status, message = "Failed", f"Failed to set provisioned concurrency: {exc}"
        target["_lastScaled"] = time.time()
        self.platform.store.put(TARGETS, self._target_key(scope, target["ServiceNamespace"], resource,
                                                          target["ScalableDimension"]), target)
        activity = {"ActivityId": str(uuid.uuid4()), "ServiceNamespace": target["ServiceNamespace"],
                    "ResourceId": resource, "ScalableDimension": target["ScalableDimension"],
                    "Description": description, "Cause": cause, "StartTime": started, "EndTime": time.time(),
                    "StatusCode": status, "StatusMessage": message}
        key = self._target_key(scope, target["ServiceNamespace"], resource, target["ScalableDimension"])
        self.platform.store.put(ACTIVITIES, f"{key}|{int(started * 1e6):020d}", activity)
        log.info("%s %s: %s (%s)", resource, status, description, cause)

    async def _clamp(self, scope: str, target: dict[str, Any], cause: str) -> None:
        account, region = scope.split(":")[:2]
        current = self._capacity(account, region, target["ResourceId"])
        desired = min(max(current, target["MinCapacity"]), target["MaxCapacity"])
        if desired != current:
            await self._set_capacity(scope, target, desired, f"Setting desired concurrency to {desired}.", cause)

    # ------------------------------------------------------------ scalable targets
    async def register_scalable_target(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        namespace, resource, dimension = self._check(params)
        scope = self._scope(context)
        key = self._target_key(scope, namespace, resource, dimension)
        _, name, qualifier = resource.split(":")
        if not self.platform.capacity.qualifier_exists(context.account_id, context.region, name, qualifier):
            raise _validation(f"Lambda function {name}:{qualifier} does not exist")
        if qualifier == "$LATEST":
            raise _validation("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        existing = self.platform.store.get(TARGETS, key)
        if existing is None and (params.get("MinCapacity") is None or params.get("MaxCapacity") is None):
            raise _validation("MinCapacity and MaxCapacity are required for registering a new scalable target")
        target = existing or {"ServiceNamespace": namespace, "ResourceId": resource, "ScalableDimension": dimension,
                              "CreationTime": time.time(),
                              "ScalableTargetARN": f"arn:aws:application-autoscaling:{context.region}:"
                                                   f"{context.account_id}:scalable-target/"
                                                   f"{uuid.uuid4().hex}{uuid.uuid4().hex[:4]}",
                              "SuspendedState": {"DynamicScalingInSuspended": False,
                                                 "DynamicScalingOutSuspended": False,
                                                 "ScheduledScalingSuspended": False}}
        for member in ("MinCapacity", "MaxCapacity"):
            if params.get(member) is not None:
                if params[member] < 0:
                    raise _validation(f"{member} must be greater than or equal to 0")
                target[member] = params[member]
        if target["MinCapacity"] > target["MaxCapacity"]:
            raise _validation("Minimum capacity cannot be greater than maximum capacity")
        target["RoleARN"] = params.get("RoleARN") or target.get("RoleARN") or (
            f"arn:aws:iam::{context.account_id}:role/aws-service-role/lambda.application-autoscaling.amazonaws.com/"
            "AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency")
        if params.get("SuspendedState"):
            target["SuspendedState"].update(params["SuspendedState"])
        self.platform.store.put(TARGETS, key, target)
        await self._clamp(scope, target, "scalable target registered with a new capacity range")
        return {"ScalableTargetARN": target["ScalableTargetARN"]}

    def deregister_scalable_target(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        namespace, resource, dimension = self._check(params)
        key = self._target_key(self._scope(context), namespace, resource, dimension)
        if not self.platform.store.delete(TARGETS, key):
            raise _not_found(f"No scalable target registered for {_describe(namespace, resource, dimension)}")
        for table in (ACTIONS, POLICIES):
            for item_key, _ in self.platform.store.scan(table, key + "|"):
                self.platform.store.delete(table, item_key)
        return {}

    def describe_scalable_targets(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        items = self._items(TARGETS, context, params)
        ids = params.get("ResourceIds")
        items = [t for t in items if not ids or t["ResourceId"] in ids]
        return self._page(items, params, "ScalableTargets")

    # ------------------------------------------------------------ scheduled actions
    def put_scheduled_action(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        namespace, resource, dimension = self._check(params)
        scope = self._scope(context)
        target_key = self._target_key(scope, namespace, resource, dimension)
        if self.platform.store.get(TARGETS, target_key) is None:
            raise _not_found(f"No scalable target registered for {_describe(namespace, resource, dimension)}")
        name = params["ScheduledActionName"]
        key = f"{target_key}|{name}"
        action = self.platform.store.get(ACTIONS, key) or {
            "ScheduledActionName": name, "ServiceNamespace": namespace, "ResourceId": resource,
            "ScalableDimension": dimension, "CreationTime": time.time(),
            "ScheduledActionARN": f"arn:aws:autoscaling:{context.region}:{context.account_id}:scheduledAction:"
                                  f"{uuid.uuid4()}:resource/{namespace}/{resource}:scheduledActionName/{name}"}
        for member in ("Schedule", "Timezone", "ScalableTargetAction"):
            if params.get(member) is not None:
                action[member] = params[member]
        for member in ("StartTime", "EndTime"):
            if params.get(member) is not None:
                action[member] = as_datetime(params[member]).timestamp()
        if "Schedule" not in action:
            raise _validation("Schedule is required for a new scheduled action")
        tz = action.get("Timezone") or "UTC"
        try:
            schedule = Schedule(action["Schedule"], tz, self.time_scale)
        except ScheduleError as exc:
            raise _validation(f"Invalid schedule expression: {action['Schedule']} ({exc})") from exc
        scaling = action.get("ScalableTargetAction") or {}
        if scaling.get("MinCapacity") is not None and scaling.get("MaxCapacity") is not None \
                and scaling["MinCapacity"] > scaling["MaxCapacity"]:
            raise _validation("Minimum capacity cannot be greater than maximum capacity")
        action["Timezone"] = tz
        now = dt.datetime.now(dt.UTC)
        origin = dt.datetime.fromtimestamp(action.get("StartTime") or time.time(), dt.UTC)
        after = max(now, origin) if schedule.at is None else now - dt.timedelta(seconds=1)
        upcoming = schedule.next_after(after, origin=origin)
        action["_next"] = upcoming.timestamp() if upcoming else None
        self.platform.store.put(ACTIONS, key, action)
        self._wake.set()
        return {}

    def describe_scheduled_actions(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        items = self._items(ACTIONS, context, params)
        names = params.get("ScheduledActionNames")
        items = [a for a in items if not names or a["ScheduledActionName"] in names]
        return self._page(items, params, "ScheduledActions")

    def delete_scheduled_action(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        namespace, resource, dimension = self._check(params)
        target_key = self._target_key(self._scope(context), namespace, resource, dimension)
        key = f"{target_key}|{params['ScheduledActionName']}"
        if not self.platform.store.delete(ACTIONS, key):
            raise _not_found(f"No scheduled action found for {_describe(namespace, resource, dimension)}, "
                             f"scheduled action name: {params['ScheduledActionName']}")
        return {}

    # ------------------------------------------------------------ scaling policies
    def put_scaling_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        namespace, resource, dimension = self._check(params)
        scope = self._scope(context)
        target_key = self._target_key(scope, namespace, resource, dimension)
        if self.platform.store.get(TARGETS, target_key) is None:
            raise _not_found(f"No scalable target registered for {_describe(namespace, resource, dimension)}")
        name = params["PolicyName"]
        policy_type = params.get("PolicyType") or "StepScaling"
        key = f"{target_key}|{name}"
        existing = self.platform.store.get(POLICIES, key)
        arn = existing["PolicyARN"] if existing else (
            f"arn:aws:autoscaling:{context.region}:{context.account_id}:scalingPolicy:{uuid.uuid4()}:"
            f"resource/{namespace}/{resource}:policyName/{name}")
        policy: dict[str, Any] = {"PolicyARN": arn, "PolicyName": name, "ServiceNamespace": namespace,
                                  "ResourceId": resource, "ScalableDimension": dimension, "PolicyType": policy_type,
                                  "CreationTime": existing["CreationTime"] if existing else time.time(), "Alarms": []}
        if policy_type == "TargetTrackingScaling":
            config = params.get("TargetTrackingScalingPolicyConfiguration")
            if not config:
                raise _validation("TargetTrackingScalingPolicyConfiguration is required for a target tracking "
                                  "scaling policy")
            predefined = (config.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
            if predefined != UTILIZATION and not config.get("CustomizedMetricSpecification"):
                raise _validation(f"Unsupported predefined metric type {predefined} for {dimension}; use "
                                  f"{UTILIZATION}")
            if not 8.515920e-109 < config["TargetValue"] < 6.734220e+108:
                raise _validation("TargetValue is out of range")
            policy["TargetTrackingScalingPolicyConfiguration"] = config
            alarms = [f"TargetTracking-{resource}-{kind}-{uuid.uuid4()}" for kind in ("AlarmHigh", "AlarmLow")]
            policy["Alarms"] = [{"AlarmName": alarm,
                                 "AlarmARN": f"arn:aws:cloudwatch:{context.region}:{context.account_id}:alarm:{alarm}"}
                                for alarm in alarms]
        elif policy_type == "StepScaling":
            if not params.get("StepScalingPolicyConfiguration"):
                raise _validation("StepScalingPolicyConfiguration is required for a step scaling policy")
            policy["StepScalingPolicyConfiguration"] = params["StepScalingPolicyConfiguration"]
        else:
            raise _validation(f"Unsupported policy type {policy_type} for {dimension}")
        self.platform.store.put(POLICIES, key, policy)
        self._wake.set()
        return {"PolicyARN": arn, "Alarms": policy["Alarms"]}

    def describe_scaling_policies(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        items = self._items(POLICIES, context, params)
        names = params.get("PolicyNames")
        items = [p for p in items if not names or p["PolicyName"] in names]
        return self._page(items, params, "ScalingPolicies")

    def delete_scaling_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        namespace, resource, dimension = self._check(params)
        key = f"{self._target_key(self._scope(context), namespace, resource, dimension)}|{params['PolicyName']}"
        if not self.platform.store.delete(POLICIES, key):
            raise _not_found(f"No scaling policy found for {_describe(namespace, resource, dimension)}, "
                             f"policy name: {params['PolicyName']}")
        return {}

    def describe_scaling_activities(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        items = self._items(ACTIVITIES, context, params)
        items.sort(key=lambda a: a["StartTime"], reverse=True)
        return self._page(items, params, "ScalingActivities")

    # ------------------------------------------------------------ listing
    def _items(self, table: str, context: RequestContext, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The table's records of the namespace, narrowed to the ScalableDimension and ResourceId
        the request names (the Describe operations that take a single ResourceId)."""
        namespace = params["ServiceNamespace"]
        prefix = f"{self._scope(context)}{namespace}|"
        dimension = params.get("ScalableDimension")
        resource = params.get("ResourceId")
        items = [{k: v for k, v in value.items() if not k.startswith("_")}
                 for _, value in self.platform.store.scan(table, prefix)]
        return [i for i in items if (not dimension or i["ScalableDimension"] == dimension)
                and (not resource or i["ResourceId"] == resource)]

    @staticmethod
    def _page(items: list[dict[str, Any]], params: dict[str, Any], member: str) -> dict[str, Any]:
        limit = params.get("MaxResults") or 50
        start = 0
        token = params.get("NextToken")
        if token:
            if not token.isdigit():
                raise AwsError("InvalidNextTokenException", "Invalid token")
            start = int(token)
        page = items[start:start + limit]
        result: dict[str, Any] = {member: page}
        if start + limit < len(items):
            result["NextToken"] = str(start + limit)
        return result

    # ------------------------------------------------------------ the scaler
    async def _loop(self) -> None:
        while True:
            try:
                delay = await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("application auto scaling tick failed")
                delay = 1.0
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _tick(self) -> float:
        """Run what is due; returns seconds until something may be due again."""
        now = time.time()
        wait = 1.0
        for key, action in list(self.platform.store.scan(ACTIONS, "")):
            due = action.get("_next")
            if due is None:
                continue
            if due > now:
                wait = min(wait, due - now)
                continue
            await self._run_action(key, action)
        evaluation = EVALUATION_S * self.time_scale
        wait = min(wait, max(0.05, evaluation / 4))
        for key, policy in list(self.platform.store.scan(POLICIES, "")):
            if policy["PolicyType"] != "TargetTrackingScaling":
                continue
            self._sample(key, policy)
            last = self._last_evaluation.setdefault(key, now)
            if now - last >= evaluation:
                self._last_evaluation[key] = now
                await self._evaluate(key, policy)
        return max(0.01, wait)

    async def _run_action(self, key: str, action: dict[str, Any]) -> None:
        scope = ":".join(key.split(":")[:2]) + ":"
        target_key = key.rsplit("|", 1)[0]
        now = dt.datetime.now(dt.UTC)
        schedule = Schedule(action["Schedule"], action.get("Timezone"), self.time_scale)
        origin = dt.datetime.fromtimestamp(action.get("StartTime") or action["CreationTime"], dt.UTC)
        upcoming = schedule.next_after(now, origin=origin)
        end = action.get("EndTime")
        action["_next"] = upcoming.timestamp() if upcoming and (not end or upcoming.timestamp() <= end) else None
        self.platform.store.put(ACTIONS, key, action)
        target = self.platform.store.get(TARGETS, target_key)
        if target is None or (target.get("SuspendedState") or {}).get("ScheduledScalingSuspended"):
            return
        scaling = action.get("ScalableTargetAction") or {}
        for member in ("MinCapacity", "MaxCapacity"):
            if scaling.get(member) is not None:
                target[member] = scaling[member]
        target["MaxCapacity"] = max(target["MaxCapacity"], target["MinCapacity"])
        self.platform.store.put(TARGETS, target_key, target)
        cause = f"scheduled action name {action['ScheduledActionName']} was triggered"
        account, region = scope.split(":")[:2]
        current = self._capacity(account, region, target["ResourceId"])
        desired = min(max(current, target["MinCapacity"]), target["MaxCapacity"])
        if desired != current:
            await self._set_capacity(scope, target, desired, f"Setting desired concurrency to {desired}.", cause)

    def _sample(self, key: str, policy: dict[str, Any]) -> None:
        account, region = key.split(":")[:2]
        _, name, qualifier = policy["ResourceId"].split(":")
        capacity = self.platform.capacity
        seen = [v for v in (capacity.provisioned_utilization(account, region, name, qualifier),
                            capacity.take_peak_utilization(account, region, name, qualifier),
                            self._peaks.get(key)) if v is not None]
        if seen:
            self._peaks[key] = max(seen)

    async def _evaluate(self, key: str, policy: dict[str, Any]) -> None:
        peak = self._peaks.pop(key, None)
        if peak is None:
            return
        scope = ":".join(key.split(":")[:2]) + ":"
        target_key = key.rsplit("|", 1)[0]
        target = self.platform.store.get(TARGETS, target_key)
        if target is None:
            return
        config = policy["TargetTrackingScalingPolicyConfiguration"]
        goal = float(config["TargetValue"])
        account, region = scope.split(":")[:2]
        current = self._capacity(account, region, target["ResourceId"])
        suspended = target.get("SuspendedState") or {}
        now = time.time()
        since = now - target.get("_lastScaled", 0)
        scale = self.time_scale
        if peak > goal:
            self._low_streaks[key] = 0
            if suspended.get("DynamicScalingOutSuspended"):
                return
            desired = min(target["MaxCapacity"], max(current + 1, math.ceil(max(current, 1) * peak / goal)))
            if desired > current and since >= config.get("ScaleOutCooldown", 0) * scale:
                await self._set_capacity(scope, target, desired, f"Setting desired concurrency to {desired}.",
                                         f"monitor alarm {policy['Alarms'][0]['AlarmName']} in state ALARM "
                                         f"triggered policy {policy['PolicyName']}")
            return
        if peak < goal * 0.9 and not config.get("DisableScaleIn") and not suspended.get("DynamicScalingInSuspended"):
            streak = self._low_streaks[key] = self._low_streaks.get(key, 0) + 1
            if streak < SCALE_IN_EVALUATIONS:
                return
            desired = max(target["MinCapacity"], math.ceil(current * peak / goal))
            if desired < current and since >= config.get("ScaleInCooldown", 0) * scale:
                self._low_streaks[key] = 0
                await self._set_capacity(scope, target, desired, f"Setting desired concurrency to {desired}.",
                                         f"monitor alarm {policy['Alarms'][1]['AlarmName']} in state ALARM "
                                         f"triggered policy {policy['PolicyName']}")
        else:
            self._low_streaks[key] = 0
