"""The small monitoring resource types real templates carry: log streams, subscription filters, alarms,
dashboards; and CloudWatch's stored alarms and dashboards through boto3."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

WAIT = {"Delay": 0.2, "MaxAttempts": 300}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_log_stream_alarm_dashboard_and_subscription_filter_deploy_and_delete(server):
    cloudformation, logs, cloudwatch = (server.client(s) for s in ("cloudformation", "logs", "cloudwatch"))
    name, group = unique("monitoring"), unique("/app/group")
    body = {"Resources": {
        "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": group}},
        "Stream": {"Type": "AWS::Logs::LogStream", "Properties": {"LogGroupName": {"Ref": "Group"},
                                                                  "LogStreamName": "audit"}},
        "Filter": {"Type": "AWS::Logs::SubscriptionFilter", "Properties": {
            "LogGroupName": {"Ref": "Group"}, "FilterPattern": "ERROR",
            "DestinationArn": "arn:aws:lambda:us-east-1:000000000000:function:sink"}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmDescription": "errors", "Namespace": "AWS/Lambda", "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": "f"}], "Statistic": "Sum", "Period": "60",
            "EvaluationPeriods": 1, "Threshold": "1", "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching"}},
        "Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
            "DashboardBody": json.dumps({"widgets": [{"type": "text", "properties": {"markdown": "hi"}}]})}}},
        "Outputs": {"AlarmArn": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}}, "Alarm": {"Value": {"Ref": "Alarm"}},
                    "Board": {"Value": {"Ref": "Board"}}, "Filter": {"Value": {"Ref": "Filter"}}}}
    # The stream must wait for its group: the Ref orders them.
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(body))
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["audit"]
    alarm = cloudwatch.describe_alarms(AlarmNames=[out["Alarm"]])["MetricAlarms"][0]
    assert out["Alarm"].startswith(f"{name}-Alarm-") and alarm["AlarmArn"] == out["AlarmArn"]
    assert (alarm["Period"], alarm["Threshold"], alarm["StateValue"]) == (60, 1.0, "INSUFFICIENT_DATA")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "f"}]
    dashboard = cloudwatch.get_dashboard(DashboardName=out["Board"])
    assert json.loads(dashboard["DashboardBody"])["widgets"][0]["type"] == "text"
    assert out["Filter"].startswith(f"{name}-Filter-")

    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert cloudwatch.describe_alarms(AlarmNames=[out["Alarm"]])["MetricAlarms"] == []
    with pytest.raises(ClientError, match="ResourceNotFound"):
        cloudwatch.get_dashboard(DashboardName=out["Board"])
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        logs.describe_log_streams(logGroupName=group)


def test_cloudwatch_alarms_and_dashboards_api(server):
    cloudwatch = server.client("cloudwatch")
    prefix = unique("alarm")
    for index in range(3):
        cloudwatch.put_metric_alarm(AlarmName=f"{prefix}-{index}", Namespace="App", MetricName="Latency",
                                    Statistic="Average", Period=60, EvaluationPeriods=2, Threshold=100.0,
                                    ComparisonOperator="GreaterThanThreshold")
    first = cloudwatch.describe_alarms(AlarmNamePrefix=prefix, MaxRecords=2)
    rest = cloudwatch.describe_alarms(AlarmNamePrefix=prefix, NextToken=first["NextToken"])
    assert [a["AlarmName"] for a in first["MetricAlarms"] + rest["MetricAlarms"]] == [
        f"{prefix}-{i}" for i in range(3)]
    cloudwatch.delete_alarms(AlarmNames=[f"{prefix}-{i}" for i in range(3)])
    assert cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"] == []

    board = unique("board")
    with pytest.raises(ClientError, match="InvalidParameterInput"):
        cloudwatch.put_dashboard(DashboardName=board, DashboardBody="[1]")
    cloudwatch.put_dashboard(DashboardName=board, DashboardBody='{"widgets": []}')
    entries = cloudwatch.list_dashboards(DashboardNamePrefix=board)["DashboardEntries"]
    assert [(e["DashboardName"], e["Size"]) for e in entries] == [(board, 15)]
    cloudwatch.delete_dashboards(DashboardNames=[board])
    with pytest.raises(ClientError, match="ResourceNotFound"):
        cloudwatch.delete_dashboards(DashboardNames=[board])
