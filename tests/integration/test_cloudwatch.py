"""CloudWatch metrics through boto3 (Smithy RPC v2 CBOR) and the AWS CLI, plus Lambda's own metrics."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import wait_for

NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


@pytest.fixture
def cloudwatch(server):
    return server.client("cloudwatch")


def namespace() -> str:
    return f"Test/{uuid.uuid4().hex[:8]}"


def test_put_and_get_statistics_per_period(cloudwatch):
    ns = namespace()
    dims = [{"Name": "Service", "Value": "orders"}]
    minute = NOW - dt.timedelta(minutes=10)
    cloudwatch.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": minute, "Value": v, "Unit": "Milliseconds"}
        for v in (10, 20, 30, 40)
    ] + [{"MetricName": "Latency", "Dimensions": dims, "Timestamp": minute + dt.timedelta(minutes=1),
          "Values": [5, 7], "Counts": [1, 3], "Unit": "Milliseconds"}])
    result = cloudwatch.get_metric_statistics(
        Namespace=ns, MetricName="Latency", Dimensions=dims, StartTime=minute - dt.timedelta(minutes=1),
        EndTime=minute + dt.timedelta(minutes=5), Period=60,
        Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"])
    points = sorted(result["Datapoints"], key=lambda p: p["Timestamp"])
    assert result["Label"] == "Latency"
    assert [(p["SampleCount"], p["Sum"], p["Average"], p["Minimum"], p["Maximum"]) for p in points] == [
        (4.0, 100.0, 25.0, 10.0, 40.0), (4.0, 26.0, 6.5, 5.0, 7.0)]
    assert points[0]["Timestamp"] == minute
    assert points[0]["Unit"] == "Milliseconds"
    percentiles = cloudwatch.get_metric_statistics(
        Namespace=ns, MetricName="Latency", Dimensions=dims, StartTime=minute, EndTime=minute + dt.timedelta(minutes=1),
        Period=60, ExtendedStatistics=["p50", "p99"])
    assert percentiles["Datapoints"][0]["ExtendedStatistics"] == {"p50": 20.0, "p99": 40.0}


def test_statistic_sets_and_other_dimensions_stay_apart(cloudwatch):
    ns = namespace()
    cloudwatch.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Jobs", "Dimensions": [{"Name": "Queue", "Value": "a"}], "Timestamp": NOW,
         "StatisticValues": {"SampleCount": 3, "Sum": 9, "Minimum": 1, "Maximum": 5}},
        {"MetricName": "Jobs", "Dimensions": [{"Name": "Queue", "Value": "b"}], "Timestamp": NOW, "Value": 100},
    ])
    result = cloudwatch.get_metric_statistics(
        Namespace=ns, MetricName="Jobs", Dimensions=[{"Name": "Queue", "Value": "a"}],
        StartTime=NOW - dt.timedelta(minutes=1), EndTime=NOW + dt.timedelta(minutes=1), Period=60,
        Statistics=["Sum", "Maximum", "SampleCount"])
    assert [(p["Sum"], p["Maximum"], p["SampleCount"]) for p in result["Datapoints"]] == [(9.0, 5.0, 3.0)]


def test_get_metric_data_orders_timestamps_and_labels(cloudwatch):
    ns = namespace()
    cloudwatch.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Hits", "Timestamp": NOW - dt.timedelta(minutes=m), "Value": m} for m in (1, 2, 3)])
    query = {"Id": "hits", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Hits"}, "Period": 60,
                                          "Stat": "Sum"}}
    result = cloudwatch.get_metric_data(MetricDataQueries=[query], StartTime=NOW - dt.timedelta(minutes=10),
                                        EndTime=NOW)["MetricDataResults"][0]
    assert result["Id"] == "hits" and result["Label"] == "Hits" and result["StatusCode"] == "Complete"
    assert result["Values"] == [1.0, 2.0, 3.0]
    assert result["Timestamps"] == sorted(result["Timestamps"], reverse=True)
    ascending = cloudwatch.get_metric_data(MetricDataQueries=[{**query, "Label": "mine"}],
                                           StartTime=NOW - dt.timedelta(minutes=10), EndTime=NOW,
                                           ScanBy="TimestampAscending")["MetricDataResults"][0]
    assert ascending["Values"] == [3.0, 2.0, 1.0] and ascending["Label"] == "mine"


def test_list_metrics_with_filters(cloudwatch):
    ns = namespace()
    cloudwatch.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "A", "Dimensions": [{"Name": "Env", "Value": "prod"}], "Value": 1},
        {"MetricName": "A", "Dimensions": [{"Name": "Env", "Value": "dev"}], "Value": 1},
        {"MetricName": "B", "Value": 1},
    ])
    everything = cloudwatch.list_metrics(Namespace=ns)["Metrics"]
    assert sorted((m["MetricName"], json.dumps(m["Dimensions"])) for m in everything) == [
        ("A", '[{"Name": "Env", "Value": "dev"}]'), ("A", '[{"Name": "Env", "Value": "prod"}]'), ("B", "[]")]
    prod = cloudwatch.list_metrics(Namespace=ns, Dimensions=[{"Name": "Env", "Value": "prod"}])["Metrics"]
    assert [m["MetricName"] for m in prod] == ["A"]
    assert len(cloudwatch.list_metrics(Namespace=ns, MetricName="A", RecentlyActive="PT3H")["Metrics"]) == 2


def test_invalid_input_is_rejected_with_aws_errors(cloudwatch):
    with pytest.raises(ClientError) as reserved:
        cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "X", "Value": 1}])
    assert reserved.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as both:
        cloudwatch.put_metric_data(Namespace=namespace(), MetricData=[
            {"MetricName": "X", "Value": 1,
             "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}])
    assert both.value.response["Error"]["Code"] == "InvalidParameterCombination"
    with pytest.raises(ClientError) as period:
        cloudwatch.get_metric_statistics(Namespace="N", MetricName="M", StartTime=NOW - dt.timedelta(hours=1),
                                         EndTime=NOW, Period=61, Statistics=["Sum"])
    assert period.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as too_many:
        cloudwatch.get_metric_statistics(Namespace="N", MetricName="M", StartTime=NOW - dt.timedelta(days=3),
                                         EndTime=NOW, Period=60, Statistics=["Sum"])
    assert too_many.value.response["Error"]["Code"] == "InvalidParameterCombination"
    with pytest.raises(ClientError) as missing:
        cloudwatch.get_metric_statistics(Namespace="N", MetricName="M", StartTime=NOW - dt.timedelta(hours=1),
                                         EndTime=NOW, Period=60)
    assert missing.value.response["Error"]["Code"] == "MissingParameter"


def test_aws_cli_puts_and_reads_metrics(server, tmp_path):
    ns = namespace()
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    base = ["aws", "--endpoint-url", server.url, "cloudwatch"]
    subprocess.run([*base, "put-metric-data", "--namespace", ns, "--metric-name", "Cli", "--value", "4"],
                   check=True, env=environment, capture_output=True, timeout=60)
    listed = subprocess.run([*base, "list-metrics", "--namespace", ns], check=True, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert json.loads(listed.stdout)["Metrics"][0]["MetricName"] == "Cli"


FAILS_WHEN_ASKED = "def handler(event, context):\n    if event:\n        raise ValueError()\n"


def test_lambda_publishes_invocation_metrics(server, cloudwatch):
    lambda_client = server.client("lambda")
    name = f"metrics-{uuid.uuid4().hex[:8]}"
    lambda_client.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler",
                                  Role="arn:aws:iam::000000000000:role/r",
                                  Code={"ZipFile": make_zip({"app.py": FAILS_WHEN_ASKED})})
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    for payload in (b"{}", b"{}", b'{"fail": 1}'):
        lambda_client.invoke(FunctionName=name, Payload=payload)
    start, end = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5), dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)

    def total(metric: str) -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": "FunctionName", "Value": name}],
            StartTime=start, EndTime=end, Period=3600, Statistics=["Sum"])["Datapoints"]
        return sum(p["Sum"] for p in points)

    assert wait_for(lambda: total("Invocations") == 3, message="Invocations metric")
    assert total("Errors") == 1
    durations = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Duration", Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=start, EndTime=end, Period=3600, Statistics=["SampleCount", "Maximum"])["Datapoints"]
    assert durations[0]["SampleCount"] == 3 and durations[0]["Maximum"] > 0
