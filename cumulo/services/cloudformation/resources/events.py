"""AWS::Events::* and AWS::Scheduler::* resources."""

from __future__ import annotations

import json
import uuid
from typing import Any

from cumulo.protocol.values import as_datetime
from cumulo.services.cloudformation.resources.base import (
    Deployed,
    ResourceContext,
    ResourceFailure,
    ResourceHandler,
    as_int,
    tags_map,
)
from cumulo.services.tagging import tag_list

TARGET_MEMBERS = ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "RetryPolicy",
                  "DeadLetterConfig", "SqsParameters", "KinesisParameters", "HttpParameters")


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _target(target: dict[str, Any]) -> dict[str, Any]:
    shaped = {k: target[k] for k in TARGET_MEMBERS if target.get(k) is not None}
    policy = shaped.get("RetryPolicy")
    if policy:
        shaped["RetryPolicy"] = {k: as_int(v) for k, v in policy.items()}
    return shaped


class EventBusHandler(ResourceHandler):
    type = "AWS::Events::EventBus"
    replace_on = frozenset({"Name", "EventSourceName"})
    properties = frozenset({"Name", "Description", "Tags", "Policy"})
    ignored = frozenset({"KmsKeyIdentifier"})  # encryption at rest: events stay on the local disk

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props["Name"]
        created = await ctx.call("events", "CreateEventBus", {
            "Name": name, "Description": props.get("Description"),
            "Tags": tag_list(tags_map(props.get("Tags"))) or None})
        if props.get("Policy"):
            await ctx.call("events", "PutPermission", {"EventBusName": name, "Policy": _json_text(props["Policy"])})
        return Deployed(name, {"Arn": created["EventBusArn"], "Name": name, "Policy": _json_text(props.get("Policy"))})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        if new.get("Policy") != old.get("Policy") and new.get("Policy"):
            await ctx.call("events", "PutPermission", {"EventBusName": physical_id,
                                                       "Policy": _json_text(new["Policy"])})
        described = await ctx.call("events", "DescribeEventBus", {"Name": physical_id})
        return Deployed(physical_id, {"Arn": described["Arn"], "Name": physical_id,
                                      "Policy": _json_text(new.get("Policy"))})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("events", "DeleteEventBus", {"Name": physical_id})


class EventBusPolicyHandler(ResourceHandler):
    type = "AWS::Events::EventBusPolicy"
    properties = frozenset({"EventBusName", "StatementId", "Statement", "Action", "Principal", "Condition"})
    replace_on = frozenset({"EventBusName", "StatementId"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        statement_id = props.get("StatementId") or f"{ctx.logical_id}-{uuid.uuid4().hex[:8]}"
        params: dict[str, Any] = {"EventBusName": props.get("EventBusName"), "StatementId": statement_id}
        if props.get("Statement"):
            policy = {"Version": "2012-10-17", "Statement": [{**props["Statement"], "Sid": statement_id}]}
            params = {"EventBusName": props.get("EventBusName"), "Policy": json.dumps(policy)}
        else:
            params.update({"Action": props.get("Action"), "Principal": props.get("Principal"),
                           "Condition": props.get("Condition")})
        await ctx.call("events", "PutPermission", params)
        return Deployed(statement_id)

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await self.delete(ctx, physical_id, old)
        await self.create(ctx, {**new, "StatementId": physical_id})
        return Deployed(physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("events", "RemovePermission", {"EventBusName": props.get("EventBusName"),
                                                      "StatementId": physical_id})


class RuleHandler(ResourceHandler):
    type = "AWS::Events::Rule"
    replace_on = frozenset({"Name", "EventBusName"})
    properties = frozenset({"Name", "EventBusName", "EventPattern", "ScheduleExpression", "State", "Description",
                            "RoleArn", "Targets"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("Name") or ctx.physical_name(64)
        return await self._apply(ctx, name, {}, props)

    async def _apply(self, ctx: ResourceContext, name: str, old: dict[str, Any], new: dict[str, Any]) -> Deployed:
        bus = new.get("EventBusName")
        rule = await ctx.call("events", "PutRule", {
            "Name": name, "EventBusName": bus, "EventPattern": _json_text(new.get("EventPattern")),
            "ScheduleExpression": new.get("ScheduleExpression"), "State": new.get("State") or "ENABLED",
            "Description": new.get("Description"), "RoleArn": new.get("RoleArn")})
        old_ids = {t["Id"] for t in old.get("Targets") or []}
        new_targets = [_target(t) for t in new.get("Targets") or []]
        removed = sorted(old_ids - {t["Id"] for t in new_targets})
        if removed:
            await ctx.call("events", "RemoveTargets", {"Rule": name, "EventBusName": bus, "Ids": removed})
        if new_targets:
            result = await ctx.call("events", "PutTargets", {"Rule": name, "EventBusName": bus,
                                                             "Targets": new_targets})
            if result.get("FailedEntryCount"):
                raise ResourceFailure(result["FailedEntries"][0].get("ErrorMessage", "PutTargets failed"))
        bus_name = (bus or "default").rsplit("/", 1)[-1]
        physical = name if bus_name == "default" else f"{bus_name}|{name}"
        return Deployed(physical, {"Arn": rule["RuleArn"]})

    @staticmethod
    def _split(physical_id: str) -> tuple[str | None, str]:
        bus, _, name = physical_id.rpartition("|")
        return bus or None, name

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        return await self._apply(ctx, self._split(physical_id)[1], old, new)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        bus, name = self._split(physical_id)
        ids = [t["Id"] for t in props.get("Targets") or []]
        if ids:
            await ctx.call("events", "RemoveTargets", {"Rule": name, "EventBusName": bus, "Ids": ids})
        await ctx.call("events", "DeleteRule", {"Name": name, "EventBusName": bus})


class ScheduleGroupHandler(ResourceHandler):
    type = "AWS::Scheduler::ScheduleGroup"
    replace_on = frozenset({"Name"})
    properties = frozenset({"Name", "Tags"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("Name") or ctx.physical_name(64)
        created = await ctx.call("scheduler", "CreateScheduleGroup", {
            "Name": name, "Tags": tag_list(tags_map(props.get("Tags"))) or None})
        return Deployed(name, {"Arn": created["ScheduleGroupArn"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        group = await ctx.call("scheduler", "GetScheduleGroup", {"Name": physical_id})
        return Deployed(physical_id, {"Arn": group["Arn"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("scheduler", "DeleteScheduleGroup", {"Name": physical_id})


class ScheduleHandler(ResourceHandler):
    type = "AWS::Scheduler::Schedule"
    replace_on = frozenset({"Name", "GroupName"})
    properties = frozenset({"Name", "GroupName", "ScheduleExpression", "ScheduleExpressionTimezone",
                            "FlexibleTimeWindow", "Target", "State", "Description", "KmsKeyArn", "StartDate",
                            "EndDate"})

    def _params(self, name: str, props: dict[str, Any]) -> dict[str, Any]:
        window = dict(props.get("FlexibleTimeWindow") or {"Mode": "OFF"})
        if "MaximumWindowInMinutes" in window:
            window["MaximumWindowInMinutes"] = as_int(window["MaximumWindowInMinutes"])
        target = dict(props["Target"])
        if target.get("RetryPolicy"):
            target["RetryPolicy"] = {k: as_int(v) for k, v in target["RetryPolicy"].items()}
        return {"Name": name, "GroupName": props.get("GroupName"), "ScheduleExpression": props["ScheduleExpression"],
                "ScheduleExpressionTimezone": props.get("ScheduleExpressionTimezone"),
                "FlexibleTimeWindow": window, "Target": target, "State": props.get("State"),
                "Description": props.get("Description"), "KmsKeyArn": props.get("KmsKeyArn"),
                "StartDate": as_datetime(props["StartDate"]) if props.get("StartDate") else None,
                "EndDate": as_datetime(props["EndDate"]) if props.get("EndDate") else None}

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("Name") or ctx.physical_name(64)
        created = await ctx.call("scheduler", "CreateSchedule", self._params(name, props))
        return Deployed(name, {"Arn": created["ScheduleArn"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        updated = await ctx.call("scheduler", "UpdateSchedule", self._params(physical_id, new))
        return Deployed(physical_id, {"Arn": updated["ScheduleArn"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("scheduler", "DeleteSchedule", {"Name": physical_id, "GroupName": props.get("GroupName")})


class ArchiveHandler(ResourceHandler):
    type = "AWS::Events::Archive"
    replace_on = frozenset({"ArchiveName", "SourceArn"})
    properties = frozenset({"ArchiveName", "SourceArn", "Description", "EventPattern", "RetentionDays"})
    ignored = frozenset({"KmsKeyIdentifier"})

    @staticmethod
    def _members(props: dict[str, Any]) -> dict[str, Any]:
        return {"Description": props.get("Description"), "EventPattern": _json_text(props.get("EventPattern")),
                "RetentionDays": as_int(props["RetentionDays"]) if props.get("RetentionDays") is not None else None}

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("ArchiveName") or ctx.physical_name(48)
        created = await ctx.call("events", "CreateArchive", {"ArchiveName": name, "EventSourceArn": props["SourceArn"],
                                                             **self._members(props)})
        return Deployed(name, {"Arn": created["ArchiveArn"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        updated = await ctx.call("events", "UpdateArchive", {"ArchiveName": physical_id, **self._members(new)})
        return Deployed(physical_id, {"Arn": updated["ArchiveArn"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("events", "DeleteArchive", {"ArchiveName": physical_id})


class ConnectionHandler(ResourceHandler):
    type = "AWS::Events::Connection"
    replace_on = frozenset({"Name"})
    properties = frozenset({"Name", "Description", "AuthorizationType", "AuthParameters"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("Name") or ctx.physical_name(64)
        await ctx.call("events", "CreateConnection", {
            "Name": name, "Description": props.get("Description"), "AuthorizationType": props["AuthorizationType"],
            "AuthParameters": props["AuthParameters"]})
        return await self._deployed(ctx, name)

    @staticmethod
    async def _deployed(ctx: ResourceContext, name: str) -> Deployed:
        described = await ctx.call("events", "DescribeConnection", {"Name": name})
        return Deployed(name, {"Arn": described["ConnectionArn"], "SecretArn": described["SecretArn"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await ctx.call("events", "UpdateConnection", {
            "Name": physical_id, "Description": new.get("Description"),
            "AuthorizationType": new.get("AuthorizationType"), "AuthParameters": new.get("AuthParameters")})
        return await self._deployed(ctx, physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("events", "DeleteConnection", {"Name": physical_id})


class ApiDestinationHandler(ResourceHandler):
    type = "AWS::Events::ApiDestination"
    replace_on = frozenset({"Name"})
    properties = frozenset({"Name", "Description", "ConnectionArn", "InvocationEndpoint", "HttpMethod",
                            "InvocationRateLimitPerSecond"})

    @staticmethod
    def _params(name: str, props: dict[str, Any]) -> dict[str, Any]:
        rate = props.get("InvocationRateLimitPerSecond")
        return {"Name": name, "Description": props.get("Description"), "ConnectionArn": props["ConnectionArn"],
                "InvocationEndpoint": props["InvocationEndpoint"], "HttpMethod": props["HttpMethod"],
                "InvocationRateLimitPerSecond": as_int(rate) if rate is not None else None}

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("Name") or ctx.physical_name(64)
        created = await ctx.call("events", "CreateApiDestination", self._params(name, props))
        return Deployed(name, {"Arn": created["ApiDestinationArn"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        updated = await ctx.call("events", "UpdateApiDestination", self._params(physical_id, new))
        return Deployed(physical_id, {"Arn": updated["ApiDestinationArn"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("events", "DeleteApiDestination", {"Name": physical_id})


HANDLERS = [EventBusHandler(), EventBusPolicyHandler(), RuleHandler(), ScheduleGroupHandler(), ScheduleHandler(),
            ArchiveHandler(), ConnectionHandler(), ApiDestinationHandler()]
