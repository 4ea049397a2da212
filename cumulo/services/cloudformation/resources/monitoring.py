"""AWS::Logs::LogStream, AWS::Logs::SubscriptionFilter, AWS::CloudWatch::Alarm and AWS::CloudWatch::Dashboard.

Alarms and dashboards are stored by CloudWatch (DescribeAlarms, GetDashboard show them); alarms
are not evaluated. Cumulo's CloudWatch Logs has no subscription filters yet: a SubscriptionFilter
is kept as the stack's resource only (nothing is delivered to its destination), which lets
templates that carry one deploy; the README says so.
"""

from __future__ import annotations

import json
from typing import Any

from cumulo.services.cloudformation.resources.base import Deployed, ResourceContext, ResourceHandler, tags_map
from cumulo.services.tagging import tag_list

# The template's properties that are PutMetricAlarm's parameters of the same name.
ALARM_MEMBERS = ("AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
                 "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
                 "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
                 "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId")


class LogStreamHandler(ResourceHandler):
    type = "AWS::Logs::LogStream"
    replace_on = frozenset({"LogGroupName", "LogStreamName"})
    properties = frozenset({"LogGroupName", "LogStreamName"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("LogStreamName") or ctx.physical_name(512)
        await ctx.call("logs", "CreateLogStream", {"logGroupName": props["LogGroupName"], "logStreamName": name})
        return Deployed(name)

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        return Deployed(physical_id)  # every property replaces

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("logs", "DeleteLogStream", {"logGroupName": props["LogGroupName"],
                                                   "logStreamName": physical_id})


class SubscriptionFilterHandler(ResourceHandler):
    """Stored with the stack only: Cumulo's CloudWatch Logs does not deliver subscriptions yet."""

    type = "AWS::Logs::SubscriptionFilter"
    replace_on = frozenset({"LogGroupName", "FilterName"})
    properties = frozenset({"LogGroupName", "FilterName", "FilterPattern", "DestinationArn", "RoleArn",
                            "Distribution", "ApplyOnTransformedLogs"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        return Deployed(props.get("FilterName") or ctx.physical_name(512))

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        return Deployed(physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        return None


class AlarmHandler(ResourceHandler):
    type = "AWS::CloudWatch::Alarm"
    replace_on = frozenset({"AlarmName"})
    properties = frozenset({"AlarmName", "Tags", *ALARM_MEMBERS})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        return await self.update(ctx, props.get("AlarmName") or ctx.physical_name(255), {}, props)

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await ctx.call("cloudwatch", "PutMetricAlarm", {
            "AlarmName": physical_id, **{m: new.get(m) for m in ALARM_MEMBERS},
            "Tags": tag_list(tags_map(new.get("Tags"))) or None})
        return Deployed(physical_id, {"Arn": f"arn:aws:cloudwatch:{ctx.region}:{ctx.account}:alarm:{physical_id}"})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("cloudwatch", "DeleteAlarms", {"AlarmNames": [physical_id]})


class DashboardHandler(ResourceHandler):
    type = "AWS::CloudWatch::Dashboard"
    replace_on = frozenset({"DashboardName"})
    properties = frozenset({"DashboardName", "DashboardBody"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        return await self.update(ctx, props.get("DashboardName") or ctx.physical_name(255), {}, props)

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        body = new["DashboardBody"]
        await ctx.call("cloudwatch", "PutDashboard", {
            "DashboardName": physical_id, "DashboardBody": body if isinstance(body, str) else json.dumps(body)})
        return Deployed(physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("cloudwatch", "DeleteDashboards", {"DashboardNames": [physical_id]})


HANDLERS = [LogStreamHandler(), SubscriptionFilterHandler(), AlarmHandler(), DashboardHandler()]
