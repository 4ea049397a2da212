"""CloudWatch metric alarms and dashboards, stored: PutMetricAlarm, DescribeAlarms, DeleteAlarms,
PutDashboard, GetDashboard, ListDashboards, DeleteDashboards.

Alarms are kept as configured so templates and tools that create them work, but they are not
evaluated: every alarm stays in INSUFFICIENT_DATA and no action runs. Dashboards are stored
bodies (checked to be a JSON object, as CloudWatch does).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.pagination import decode_token, take_page

if TYPE_CHECKING:
    from cumulo.platform import Platform
    from cumulo.store.base import Store

ALARMS, DASHBOARDS = "cloudwatch.alarms", "cloudwatch.dashboards"
ALARM_MEMBERS = ("AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
                 "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
                 "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
                 "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId")


class AlarmsAndDashboards:
    """The alarm and dashboard operations of the CloudWatch provider (which supplies ``platform``)."""

    platform: Platform

    @property
    def _store(self) -> Store:
        return self.platform.store

    @staticmethod
    def _scope(context: RequestContext) -> str:
        return f"{context.account_id}:{context.region}:"

    def put_metric_alarm(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["AlarmName"]
        if params.get("MetricName") is None and not params.get("Metrics"):
            raise AwsError("ValidationError", "Exactly one element of the metrics list should return data.")
        key = self._scope(context) + name
        now = time.time()
        existing = self._store.get(ALARMS, key) or {}
        alarm = {"AlarmName": name, "AlarmArn": context.arn("cloudwatch", f"alarm:{name}"),
                 **{m: params[m] for m in ALARM_MEMBERS if params.get(m) is not None},
                 "ActionsEnabled": params.get("ActionsEnabled", True),
                 "AlarmConfigurationUpdatedTimestamp": now,
                 "StateValue": existing.get("StateValue", "INSUFFICIENT_DATA"),
                 "StateReason": existing.get("StateReason", "Unchecked: Cumulo stores alarms without evaluating "
                                                            "them"),
                 "StateUpdatedTimestamp": existing.get("StateUpdatedTimestamp", now),
                 "StateTransitionedTimestamp": existing.get("StateTransitionedTimestamp", now),
                 "_tags": params.get("Tags") or existing.get("_tags") or []}
        self._store.put(ALARMS, key, alarm)
        return {}

    def describe_alarms(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        names = set(params.get("AlarmNames") or [])
        prefix = params.get("AlarmNamePrefix") or ""
        if names and prefix:
            raise AwsError("InvalidParameterCombination", "AlarmNamePrefix and AlarmNames cannot both be specified.")
        types = params.get("AlarmTypes") or ["MetricAlarm"]
        after = decode_token(params.get("NextToken"), "cloudwatch-alarms", "InvalidNextToken", "Invalid NextToken")
        alarms = ((key, {k: v for k, v in alarm.items() if not k.startswith("_")})
                  for key, alarm in self._store.scan(ALARMS, self._scope(context) + prefix)
                  if (after is None or key > after) and (not names or alarm["AlarmName"] in names)
                  and (not params.get("StateValue") or alarm["StateValue"] == params["StateValue"])
                  and "MetricAlarm" in types)
        page, token = take_page(alarms, params.get("MaxRecords") or 50, "cloudwatch-alarms")
        result: dict[str, Any] = {"MetricAlarms": page, "CompositeAlarms": []}
        if token:
            result["NextToken"] = token
        return result

    def delete_alarms(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope(context)
        missing = [name for name in params["AlarmNames"] if self._store.get(ALARMS, scope + name) is None]
        if missing:
            raise AwsError("ResourceNotFound", f"{missing[0]} does not exist", status=404)
        with self._store.transaction():
            for name in params["AlarmNames"]:
                self._store.delete(ALARMS, scope + name)
        return {}

    def put_dashboard(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, body = params["DashboardName"], params["DashboardBody"]
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise AwsError("InvalidParameterInput", "The field DashboardBody must be a valid JSON object",
                           fields={"dashboardValidationMessages": [{"DataPath": "", "Message":
                                                                    "Should be an object"}]})
        self._store.put(DASHBOARDS, self._scope(context) + name, {
            "DashboardName": name, "DashboardArn": self._dashboard_arn(context, name), "DashboardBody": body,
            "LastModified": time.time(), "Size": len(body.encode())})
        return {"DashboardValidationMessages": []}

    @staticmethod
    def _dashboard_arn(context: RequestContext, name: str) -> str:
        return f"arn:aws:cloudwatch::{context.account_id}:dashboard/{name}"

    def get_dashboard(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        dashboard = self._store.get(DASHBOARDS, self._scope(context) + params["DashboardName"])
        if dashboard is None:
            raise AwsError("ResourceNotFound", "Dashboard does not exist", status=404)
        return {k: dashboard[k] for k in ("DashboardArn", "DashboardBody", "DashboardName")}

    def list_dashboards(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        after = decode_token(params.get("NextToken"), "cloudwatch-dashboards", "InvalidNextToken",
                             "Invalid NextToken")
        prefix = self._scope(context) + (params.get("DashboardNamePrefix") or "")
        entries = ((key, {k: v for k, v in d.items() if k != "DashboardBody"})
                   for key, d in self._store.scan(DASHBOARDS, prefix) if after is None or key > after)
        page, token = take_page(entries, 1000, "cloudwatch-dashboards")
        return {"DashboardEntries": page, **({"NextToken": token} if token else {})}

    def delete_dashboards(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope(context)
        missing = [name for name in params["DashboardNames"] if self._store.get(DASHBOARDS, scope + name) is None]
        if missing:
            raise AwsError("ResourceNotFound", f"Dashboard {missing[0]} does not exist", status=404)
        with self._store.transaction():
            for name in params["DashboardNames"]:
                self._store.delete(DASHBOARDS, scope + name)
        return {}
