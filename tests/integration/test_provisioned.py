"""Provisioned concurrency through the Lambda API: configuration, status, no cold starts, metrics."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip, published_function_with_alias
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
HANDLER = """
import os
def handler(event, context):
    return {"init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "version": context.function_version}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = CumuloServer(tmp_path_factory.mktemp("provisioned") / "data").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def client(server):
    return server.client("lambda")


def _function(client, source: str = HANDLER) -> tuple[str, str]:
    return published_function_with_alias(client, source, "pc", ROLE)


def _ready(client, name: str, qualifier: str, count: int):
    def check():
        config = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        assert config["Status"] != "FAILED", config
        return config if config["Status"] == "READY" else None
    config = wait_for(check, timeout=20, message="provisioned concurrency READY")
    assert config["AllocatedProvisionedConcurrentExecutions"] == count
    assert config["AvailableProvisionedConcurrentExecutions"] == count
    assert config["RequestedProvisionedConcurrentExecutions"] == count
    return config


def test_errors(client):
    name, _ = _function(client)
    with pytest.raises(ClientError) as error:
        client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST",
                                                  ProvisionedConcurrentExecutions=1)
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert error.value.response["Error"]["Message"] == \
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    with pytest.raises(ClientError) as error:
        client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert error.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
    with pytest.raises(ClientError) as error:
        client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="nope",
                                                  ProvisionedConcurrentExecutions=1)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    with pytest.raises(ClientError) as error:
        client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live",
                                                  ProvisionedConcurrentExecutions=2)
    assert error.value.response["Error"]["Message"] == ("Requested Provisioned Concurrency should not be greater "
                                                        "than the reservedConcurrentExecution for function")


def test_ready_and_no_cold_start(server, client):
    name, version = _function(client)
    put = client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live",
                                                    ProvisionedConcurrentExecutions=2)
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY") and put["LastModified"]
    _ready(client, name, "live", 2)
    for _ in range(3):
        response = client.invoke(FunctionName=name, Qualifier="live", LogType="Tail")
        body = json.loads(response["Payload"].read())
        assert body == {"init": "provisioned-concurrency", "version": version}
        report = base64.b64decode(response["LogResult"]).decode().strip().splitlines()[-1]
        assert report.startswith("REPORT ") and "Init Duration" not in report
    on_demand = json.loads(client.invoke(FunctionName=name)["Payload"].read())
    assert on_demand["init"] == "on-demand"
    listed = client.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"arn:aws:lambda:us-east-1:000000000000:function:{name}:live"]
    cloudwatch = server.client("cloudwatch")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)

    def total(metric: str, resource: bool = True) -> float:
        dimensions = [{"Name": "FunctionName", "Value": name}]
        if resource:
            dimensions.append({"Name": "Resource", "Value": f"{name}:live"})
        points = cloudwatch.get_metric_statistics(Namespace="AWS/Lambda", MetricName=metric, Dimensions=dimensions,
                                                  StartTime=start, EndTime=end, Period=3600,
                                                  Statistics=["Sum", "Maximum"])["Datapoints"]
        return sum(p["Sum"] for p in points)
    wait_for(lambda: total("ProvisionedConcurrencyInvocations") == 3, message="ProvisionedConcurrencyInvocations")
    assert total("ProvisionedConcurrencyUtilization") > 0
    assert total("ProvisionedConcurrentExecutions", resource=False) >= 3
    client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    with pytest.raises(ClientError):
        client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert json.loads(client.invoke(FunctionName=name, Qualifier="live")["Payload"].read())["init"] == "on-demand"


def test_spillover_when_all_provisioned_are_busy(server, client):
    name, version = _function(client, "import time\ndef handler(e, c):\n    time.sleep(e.get('s', 0))\n"
                                      "    return 1\n")
    client.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                              ProvisionedConcurrentExecutions=1)
    _ready(client, name, version, 1)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(client.invoke, FunctionName=name, Qualifier=version, Payload=b'{"s": 0.5}',
                             LogType="Tail") for _ in range(2)]
        tails = [base64.b64decode(c.result()["LogResult"]).decode() for c in calls]
    assert sum("Init Duration" in t for t in tails) == 1  # one on the provisioned environment, one spilled over
    cloudwatch = server.client("cloudwatch")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)

    def spill() -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="ProvisionedConcurrencySpilloverInvocations",
            Dimensions=[{"Name": "FunctionName", "Value": name}], StartTime=start, EndTime=end, Period=3600,
            Statistics=["Sum"])["Datapoints"]
        return sum(p["Sum"] for p in points)
    wait_for(lambda: spill() == 1, message="spillover metric")
    data = cloudwatch.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[
        {"Id": "concurrent", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "ConcurrentExecutions",
                                                       "Dimensions": [{"Name": "FunctionName", "Value": name}]},
                                            "Period": 3600, "Stat": "Maximum"}},
        {"Id": "utilization", "MetricStat": {"Metric": {
            "Namespace": "AWS/Lambda", "MetricName": "ProvisionedConcurrencyUtilization",
            "Dimensions": [{"Name": "FunctionName", "Value": name},
                           {"Name": "Resource", "Value": f"{name}:{version}"}]},
            "Period": 3600, "Stat": "Maximum"}}])["MetricDataResults"]
    values = {r["Id"]: r["Values"] for r in data}
    assert max(values["concurrent"]) == 2 and max(values["utilization"]) == 1.0


def test_failed_initialization(client):
    name, _ = _function(client, "raise RuntimeError('no')\n")
    client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)

    def failed():
        config = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
        return config if config["Status"] == "FAILED" else None
    config = wait_for(failed, timeout=20, message="FAILED status")
    assert config["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"
    assert config["AllocatedProvisionedConcurrentExecutions"] == 0


def test_provisioned_concurrency_follows_the_alias(client):
    name, _ = _function(client)
    client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    _ready(client, name, "live", 1)
    client.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": HANDLER + "# v2\n"}))
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    second = client.publish_version(FunctionName=name)["Version"]
    client.update_alias(FunctionName=name, Name="live", FunctionVersion=second)
    body = json.loads(client.invoke(FunctionName=name, Qualifier="live")["Payload"].read())
    assert body["version"] == second  # the first invoke after the move may spill over

    def provisioned_again():
        response = client.invoke(FunctionName=name, Qualifier="live")
        return json.loads(response["Payload"].read())["init"] == "provisioned-concurrency"
    wait_for(provisioned_again, timeout=20, message="provisioned environments of the new version")


def test_configurations_of_deleted_functions_are_forgotten(client):
    name, _ = _function(client)
    client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    client.delete_function(FunctionName=name)
    other, _ = _function(client)
    client.put_provisioned_concurrency_config(FunctionName=other, Qualifier="live", ProvisionedConcurrentExecutions=1)
    client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": HANDLER})})
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    assert client.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
