"""AWS::ApplicationAutoScaling::* resources: scalable targets (with their scheduled actions) and policies.

On Cumulo these drive Lambda provisioned concurrency, the one scalable dimension the
Application Auto Scaling service implements.
"""

from __future__ import annotations

from typing import Any

from cumulo.services.cloudformation.resources.base import (
    Deployed,
    ResourceContext,
    ResourceFailure,
    ResourceHandler,
    as_int,
)

SERVICE = "application-autoscaling"
TARGET_FIELDS = ("ServiceNamespace", "ResourceId", "ScalableDimension")


def _target_id(props: dict[str, Any]) -> str:
    """What Ref of a scalable target gives: ``ResourceId|ScalableDimension|ServiceNamespace``."""
    return f"{props['ResourceId']}|{props['ScalableDimension']}|{props['ServiceNamespace']}"


def _target_fields(props: dict[str, Any]) -> dict[str, str]:
    """A policy names its target either by ScalingTargetId or by the three target fields."""
    if props.get("ScalingTargetId"):
        resource, dimension, namespace = str(props["ScalingTargetId"]).split("|")
        return {"ServiceNamespace": namespace, "ResourceId": resource, "ScalableDimension": dimension}
    missing = [name for name in TARGET_FIELDS if not props.get(name)]
    if missing:
        raise ResourceFailure(f"Properties validation failed: either ScalingTargetId or {', '.join(missing)} "
                              "must be specified")
    return {name: props[name] for name in TARGET_FIELDS}


def _scheduled_action(action: dict[str, Any]) -> dict[str, Any]:
    target_action = action.get("ScalableTargetAction") or {}
    return {"ScheduledActionName": action["ScheduledActionName"], "Schedule": action["Schedule"],
            "Timezone": action.get("Timezone"), "StartTime": action.get("StartTime"),
            "EndTime": action.get("EndTime"),
            "ScalableTargetAction": {key: as_int(target_action[key]) for key in ("MinCapacity", "MaxCapacity")
                                     if target_action.get(key) is not None}}


class ScalableTargetHandler(ResourceHandler):
    type = "AWS::ApplicationAutoScaling::ScalableTarget"
    replace_on = frozenset(TARGET_FIELDS)
    properties = frozenset({*TARGET_FIELDS, "MinCapacity", "MaxCapacity", "RoleARN", "SuspendedState",
                            "ScheduledActions"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        target = {name: props[name] for name in TARGET_FIELDS}
        await ctx.call(SERVICE, "RegisterScalableTarget", {
            **target, "MinCapacity": as_int(props["MinCapacity"]), "MaxCapacity": as_int(props["MaxCapacity"]),
            "RoleARN": props.get("RoleARN"), "SuspendedState": props.get("SuspendedState")})
        await self._sync_actions(ctx, target, [], props.get("ScheduledActions") or [])
        return Deployed(_target_id(props), {"Id": _target_id(props)})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        target = {name: new[name] for name in TARGET_FIELDS}
        await ctx.call(SERVICE, "RegisterScalableTarget", {
            **target, "MinCapacity": as_int(new["MinCapacity"]), "MaxCapacity": as_int(new["MaxCapacity"]),
            "RoleARN": new.get("RoleARN"),
            "SuspendedState": new.get("SuspendedState") or {"DynamicScalingInSuspended": False,
                                                            "DynamicScalingOutSuspended": False,
                                                            "ScheduledScalingSuspended": False}})
        await self._sync_actions(ctx, target, old.get("ScheduledActions") or [], new.get("ScheduledActions") or [])
        return Deployed(physical_id, {"Id": physical_id})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call(SERVICE, "DeregisterScalableTarget", {name: props[name] for name in TARGET_FIELDS})

    @staticmethod
    async def _sync_actions(ctx: ResourceContext, target: dict[str, str], old: list[dict[str, Any]],
                            new: list[dict[str, Any]]) -> None:
        """Scheduled actions are part of the target's properties: put the new ones, delete the dropped ones."""
        kept = {action["ScheduledActionName"] for action in new}
        for action in old:
            if action["ScheduledActionName"] not in kept:
                await ctx.call(SERVICE, "DeleteScheduledAction", {
                    **target, "ScheduledActionName": action["ScheduledActionName"]})
        previous = {action["ScheduledActionName"]: action for action in old}
        for action in new:
            if previous.get(action["ScheduledActionName"]) != action:
                await ctx.call(SERVICE, "PutScheduledAction", {**target, **_scheduled_action(action)})


class ScalingPolicyHandler(ResourceHandler):
    type = "AWS::ApplicationAutoScaling::ScalingPolicy"
    replace_on = frozenset({"PolicyName", "ScalingTargetId", *TARGET_FIELDS})
    properties = frozenset({"PolicyName", "PolicyType", "ScalingTargetId", *TARGET_FIELDS,
                            "TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        target = _target_fields(props)
        tracking = props.get("TargetTrackingScalingPolicyConfiguration")
        if tracking:
            tracking = {**tracking, "TargetValue": float(tracking["TargetValue"]),
                        **{key: as_int(tracking[key]) for key in ("ScaleInCooldown", "ScaleOutCooldown")
                           if tracking.get(key) is not None}}
        policy = await ctx.call(SERVICE, "PutScalingPolicy", {
            **target, "PolicyName": props["PolicyName"], "PolicyType": props["PolicyType"],
            "TargetTrackingScalingPolicyConfiguration": tracking,
            "StepScalingPolicyConfiguration": props.get("StepScalingPolicyConfiguration")})
        return Deployed(policy["PolicyARN"], {"Arn": policy["PolicyARN"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        return await self.create(ctx, new)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call(SERVICE, "DeleteScalingPolicy", {**_target_fields(props), "PolicyName": props["PolicyName"]})


HANDLERS = [ScalableTargetHandler(), ScalingPolicyHandler()]
