"""Application Auto Scaling of provisioned concurrency: targets, scheduled actions, target tracking."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from botocore.exceptions import ClientError

from tests.conftest import published_function_with_alias
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
DIMENSION = "lambda:function:ProvisionedConcurrency"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = CumuloServer(tmp_path_factory.mktemp("autoscaling") / "data",
                            env={"CUMULO_AUTOSCALING_TIME_SCALE": "0.02"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def lam(server):
    return server.client("lambda")


@pytest.fixture(scope="module")
def scaling(server):
    return server.client("application-autoscaling")


def _function(lam, source: str = "def handler(e, c):\n    return 1\n") -> str:
    return published_function_with_alias(lam, source, "as", ROLE)[0]


def _allocated(lam, name: str) -> int:
    try:
        config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    except ClientError:
        return 0
    return config["AllocatedProvisionedConcurrentExecutions"] if config["Status"] == "READY" else -1


def test_targets_and_errors(lam, scaling):
    name = _function(lam)
    resource = f"function:{name}:live"
    with pytest.raises(ClientError) as error:
        scaling.register_scalable_target(ServiceNamespace="lambda", ResourceId=resource, ScalableDimension=DIMENSION)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    arn = scaling.register_scalable_target(ServiceNamespace="lambda", ResourceId=resource,
                                           ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=3)
    assert arn["ScalableTargetARN"].startswith("arn:aws:application-autoscaling:us-east-1:000000000000:"
                                               "scalable-target/")
    targets = scaling.describe_scalable_targets(ServiceNamespace="lambda", ResourceIds=[resource])["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(1, 3)]
    assert isinstance(targets[0]["CreationTime"], dt.datetime)
    wait_for(lambda: _allocated(lam, name) == 1, timeout=20, message="scaled to the minimum")
    activities = scaling.describe_scaling_activities(ServiceNamespace="lambda", ResourceId=resource)
    assert activities["ScalingActivities"][0]["StatusCode"] == "Successful"
    with pytest.raises(ClientError) as error:
        scaling.put_scheduled_action(ServiceNamespace="lambda", ResourceId=resource, ScalableDimension=DIMENSION,
                                     ScheduledActionName="bad", Schedule="cron(nope)")
    assert error.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as error:
        scaling.delete_scaling_policy(ServiceNamespace="lambda", ResourceId=resource, ScalableDimension=DIMENSION,
                                      PolicyName="none")
    assert error.value.response["Error"]["Code"] == "ObjectNotFoundException"
    scaling.deregister_scalable_target(ServiceNamespace="lambda", ResourceId=resource, ScalableDimension=DIMENSION)
    assert scaling.describe_scalable_targets(ServiceNamespace="lambda",
                                             ResourceIds=[resource])["ScalableTargets"] == []


def test_scheduled_scaling_changes_the_allocation_at_the_scheduled_time(lam, scaling):
    name = _function(lam)
    resource = f"function:{name}:live"
    scaling.register_scalable_target(ServiceNamespace="lambda", ResourceId=resource, ScalableDimension=DIMENSION,
                                     MinCapacity=0, MaxCapacity=5)
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=3)
    scaling.put_scheduled_action(ServiceNamespace="lambda", ResourceId=resource, ScalableDimension=DIMENSION,
                                 ScheduledActionName="morning", Schedule=f"at({when:%Y-%m-%dT%H:%M:%S})",
                                 ScalableTargetAction={"MinCapacity": 2, "MaxCapacity": 5})
    in_paris = when.astimezone(dt.timezone(dt.timedelta(hours=1)))  # Europe/Paris in winter
    scaling.put_scheduled_action(ServiceNamespace="lambda", ResourceId=resource, ScalableDimension=DIMENSION,
                                 ScheduledActionName="evening", Timezone="Europe/Paris",
                                 Schedule=f"at({in_paris + dt.timedelta(seconds=3):%Y-%m-%dT%H:%M:%S})",
                                 ScalableTargetAction={"MinCapacity": 0, "MaxCapacity": 1})
    actions = scaling.describe_scheduled_actions(ServiceNamespace="lambda", ResourceId=resource)["ScheduledActions"]
    assert sorted(a["ScheduledActionName"] for a in actions) == ["evening", "morning"]
    assert _allocated(lam, name) == 0
    wait_for(lambda: _allocated(lam, name) == 2, timeout=20, message="scheduled scale-out")
    assert dt.datetime.now(dt.UTC) >= when
    wait_for(lambda: _allocated(lam, name) == 1, timeout=20, message="scheduled scale-in")
    causes = [a["Cause"] for a in scaling.describe_scaling_activities(
        ServiceNamespace="lambda", ResourceId=resource)["ScalingActivities"]]
    assert "scheduled action name evening was triggered" in causes[0]
    scaling.delete_scheduled_action(ServiceNamespace="lambda", ResourceId=resource, ScalableDimension=DIMENSION,
                                    ScheduledActionName="morning")


def test_target_tracking_scales_out_on_utilization(lam, scaling):
    name = _function(lam, "import time\ndef handler(e, c):\n    time.sleep(e.get('s', 0))\n    return 1\n")
    resource = f"function:{name}:live"
    scaling.register_scalable_target(ServiceNamespace="lambda", ResourceId=resource, ScalableDimension=DIMENSION,
                                     MinCapacity=1, MaxCapacity=4)
    policy = scaling.put_scaling_policy(
        PolicyName="utilization", ServiceNamespace="lambda", ResourceId=resource, ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 0.5, "PredefinedMetricSpecification": {"PredefinedMetricType":
                                                                  "LambdaProvisionedConcurrencyUtilization"}})
    names = [alarm["AlarmName"] for alarm in policy["Alarms"]]
    assert [re.sub(r"-[0-9a-f-]{36}$", "", n) for n in names] == [f"TargetTracking-function:{name}:live-AlarmHigh",
                                                                   f"TargetTracking-function:{name}:live-AlarmLow"]
    assert all(alarm["AlarmARN"].endswith(":alarm:" + alarm["AlarmName"]) for alarm in policy["Alarms"])
    wait_for(lambda: _allocated(lam, name) == 1, timeout=20, message="minimum capacity")
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            lam.invoke(FunctionName=name, Qualifier="live", Payload=b'{"s": 0.3}')
    thread = threading.Thread(target=busy)
    thread.start()
    try:
        wait_for(lambda: _allocated(lam, name) >= 2, timeout=30, message="target tracking scale-out")
    finally:
        stop.set()
        thread.join()
    described = scaling.describe_scaling_policies(ServiceNamespace="lambda", ResourceId=resource)
    assert described["ScalingPolicies"][0]["PolicyType"] == "TargetTrackingScaling"
    scaling.delete_scaling_policy(ServiceNamespace="lambda", ResourceId=resource, ScalableDimension=DIMENSION,
                                  PolicyName="utilization")
