"""Secrets Manager through boto3: versions and staging labels, deletion windows, rotation with a real
rotation function through the four steps (on demand and on schedule), policies, tags.

The server runs with CUMULO_SCHEDULE_CLOCK_SPEED=100000: a secret's day passes in 0.864 real
seconds, so a seven-day recovery window ends about six seconds after DeleteSecret.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

SPEED = 100000
ROLE = "arn:aws:iam::000000000000:role/rotation-role"
ROTATOR = """
import json
import os

import boto3

sm = boto3.client("secretsmanager")


def handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    versions = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    if "AWSPENDING" not in versions.get(token, []) and "AWSCURRENT" not in versions.get(token, []):
        raise ValueError(f"version {token} is not pending")
    sm.tag_resource(SecretId=arn, Tags=[{"Key": "step-" + step, "Value": token}])
    if step == os.environ.get("FAIL_AT"):
        raise RuntimeError(f"{step} failed")
    if step == "createSecret":
        current = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except sm.exceptions.ResourceNotFoundException:
            password = sm.get_random_password(ExcludePunctuation=True)["RandomPassword"]
            sm.put_secret_value(SecretId=arn, ClientRequestToken=token, VersionStages=["AWSPENDING"],
                                SecretString=json.dumps({**current, "password": password}))
    elif step == "finishSecret":
        current = next(v for v, stages in versions.items() if "AWSCURRENT" in stages)
        if current != token:
            sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                           RemoveFromVersionId=current)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("secrets") / "data",
                            env={"CUMULO_SCHEDULE_CLOCK_SPEED": str(SPEED)}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def sm(server):
    return server.client("secretsmanager")


def make_rotator(server, fail_at: str = "") -> str:
    lam = server.client("lambda")
    name = f"rotator-{uuid.uuid4().hex[:8]}"
    arn = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                              Code={"ZipFile": make_zip({"app.py": textwrap.dedent(ROTATOR)})},
                              Environment={"Variables": {"FAIL_AT": fail_at}}, Timeout=30)["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    return arn


@pytest.fixture(scope="module")
def rotator(server) -> str:
    return make_rotator(server)


def unique(prefix: str = "app/db") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error(raised: pytest.ExceptionInfo) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_versions_and_staging_labels(sm):
    name = unique()
    created = sm.create_secret(Name=name, SecretString="one", Description="db", Tags=[{"Key": "team", "Value": "a"}])
    assert created["ARN"].startswith(f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}-")
    assert len(created["ARN"]) == len(f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}-") + 6
    for secret_id in (name, created["ARN"], created["ARN"][:-7]):
        assert sm.get_secret_value(SecretId=secret_id)["SecretString"] == "one"
    second = sm.put_secret_value(SecretId=name, SecretString="two")
    assert second["VersionStages"] == ["AWSCURRENT"]
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {created["VersionId"]: ["AWSPREVIOUS"], second["VersionId"]: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "one"
    assert sm.get_secret_value(SecretId=name, VersionId=created["VersionId"])["SecretString"] == "one"
    pending = sm.put_secret_value(SecretId=name, SecretBinary=b"\x00\x01", VersionStages=["AWSPENDING"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")["SecretBinary"] == b"\x00\x01"
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=pending["VersionId"],
                                   RemoveFromVersionId=second["VersionId"])
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages[pending["VersionId"]] == ["AWSPENDING", "AWSCURRENT"]
    assert stages[second["VersionId"]] == ["AWSPREVIOUS"]
    assert created["VersionId"] not in stages
    ids = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"] for v in ids} == {created["VersionId"], second["VersionId"], pending["VersionId"]}
    with pytest.raises(ClientError) as raised:
        sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=created["VersionId"])
    assert error(raised)[0] == "InvalidParameterException"
    # The same token with the same value is idempotent; with another value it is refused.
    again = sm.put_secret_value(SecretId=name, SecretString="two", ClientRequestToken=second["VersionId"])
    assert again["VersionId"] == second["VersionId"]
    with pytest.raises(ClientError) as raised:
        sm.put_secret_value(SecretId=name, SecretString="other", ClientRequestToken=second["VersionId"])
    assert error(raised) == ("ResourceExistsException",
                             "You can't modify an existing version, you can only create a new version.")


def test_errors_change_nothing(sm):
    name = unique()
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as raised:
        sm.create_secret(Name=name, SecretString="w")
    assert error(raised) == ("ResourceExistsException",
                             f"The operation failed because the secret {name} already exists.")
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=unique("missing"))
    assert error(raised) == ("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")
    assert error(raised) == ("ResourceNotFoundException",
                             "Secrets Manager can't find the specified secret value for staging label: AWSPENDING")
    with pytest.raises(ClientError) as raised:
        sm.put_secret_value(SecretId=name, SecretString="a", SecretBinary=b"b")
    assert error(raised)[0] == "InvalidParameterException"
    for kwargs in ({"RecoveryWindowInDays": 6}, {"RecoveryWindowInDays": 31},
                   {"RecoveryWindowInDays": 7, "ForceDeleteWithoutRecovery": True}):
        with pytest.raises(ClientError) as raised:
            sm.delete_secret(SecretId=name, **kwargs)
        assert error(raised)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as raised:
        sm.rotate_secret(SecretId=name)
    assert error(raised) == ("InvalidRequestException",
                             "No Lambda rotation function ARN is associated with this secret.")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is False


def test_list_batch_tags_and_policies(sm):
    prefix = unique("list")
    arns = [sm.create_secret(Name=f"{prefix}/{i}", SecretString=str(i),
                             Tags=[{"Key": "env", "Value": "prod" if i % 2 else "dev"}])["ARN"] for i in range(5)]
    pages = sm.get_paginator("list_secrets").paginate(Filters=[{"Key": "name", "Values": [prefix]}],
                                                      PaginationConfig={"PageSize": 2})
    names = [s["Name"] for page in pages for s in page["SecretList"]]
    assert names == [f"{prefix}/{i}" for i in range(5)]
    prod = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}, {"Key": "tag-value", "Values": ["prod"]}])
    assert [s["Name"] for s in prod["SecretList"]] == [f"{prefix}/1", f"{prefix}/3"]
    batch = sm.batch_get_secret_value(SecretIdList=[arns[0], f"{prefix}/4", "nope-" + prefix])
    assert [v["SecretString"] for v in batch["SecretValues"]] == ["0", "4"]
    assert batch["Errors"][0]["ErrorCode"] == "ResourceNotFoundException"
    by_filter = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [prefix]}])
    assert sorted(v["SecretString"] for v in by_filter["SecretValues"]) == ["0", "1", "2", "3", "4"]
    sm.tag_resource(SecretId=arns[0], Tags=[{"Key": "owner", "Value": "me"}])
    sm.untag_resource(SecretId=arns[0], TagKeys=["env"])
    assert sm.describe_secret(SecretId=arns[0])["Tags"] == [{"Key": "owner", "Value": "me"}]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    sm.put_resource_policy(SecretId=arns[0], ResourcePolicy=policy)
    assert sm.get_resource_policy(SecretId=arns[0])["ResourcePolicy"] == policy
    sm.delete_resource_policy(SecretId=arns[0])
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=arns[0])


def test_random_password(sm):
    password = sm.get_random_password(PasswordLength=40, ExcludeCharacters="abc", ExcludePunctuation=True)
    value = password["RandomPassword"]
    assert len(value) == 40 and value.isalnum() and not set("abc") & set(value)
    assert any(c.isdigit() for c in value) and any(c.isupper() for c in value)
    with pytest.raises(ClientError) as raised:
        sm.get_random_password(ExcludeLowercase=True, ExcludeUppercase=True, ExcludeNumbers=True,
                               ExcludePunctuation=True)
    assert error(raised)[0] == "InvalidParameterException"


def test_deletion_window_restore_and_purge(sm):
    name = unique()
    sm.create_secret(Name=name, SecretString="keep")
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=name)
    assert error(raised) == ("InvalidRequestException", "You can't perform this operation on the secret because "
                             "it was marked for deletion.")
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    assert name not in [s["Name"] for s in sm.list_secrets()["SecretList"]]
    assert name in [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]]
    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "keep"

    gone = unique()
    sm.create_secret(Name=gone, SecretString="x")
    sm.delete_secret(SecretId=gone, RecoveryWindowInDays=7)
    deleted_at = time.time()

    def purged() -> bool:
        try:
            sm.describe_secret(SecretId=gone)
            return False
        except sm.exceptions.ResourceNotFoundException:
            return True

    wait_for(purged, timeout=20, interval=0.2, message="the secret gone after its window")
    assert time.time() - deleted_at > 5  # seven schedule days are 6 real seconds
    sm.create_secret(Name=gone, SecretString="new")  # the name is free again
    forced = unique()
    sm.create_secret(Name=forced, SecretString="x")
    sm.delete_secret(SecretId=forced, ForceDeleteWithoutRecovery=True)
    assert not any(s["Name"] == forced for s in sm.list_secrets(IncludePlannedDeletion=True)
                                       ["SecretList"])


def test_rotation_on_demand_runs_the_four_steps(sm, rotator):
    name = unique()
    first = sm.create_secret(Name=name, SecretString=json.dumps({"user": "app", "password": "initial"}))
    started = sm.rotate_secret(SecretId=name, RotationLambdaARN=rotator, RotationRules={"AutomaticallyAfterDays": 30})
    token = started["VersionId"]

    def rotated() -> dict:
        described = sm.describe_secret(SecretId=name)
        return described if described["VersionIdsToStages"].get(token) == ["AWSCURRENT"] else {}

    described = wait_for(rotated, timeout=60, interval=0.2, message="the rotation finished")
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert {k: tags[k] for k in tags if k.startswith("step-")} == {
        "step-createSecret": token, "step-setSecret": token, "step-testSecret": token, "step-finishSecret": token}
    assert described["VersionIdsToStages"][first["VersionId"]] == ["AWSPREVIOUS"]
    assert described["RotationEnabled"] is True and "LastRotatedDate" in described
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert value["user"] == "app" and value["password"] != "initial"


def test_scheduled_rotation(sm, rotator):
    name = unique()
    first = sm.create_secret(Name=name, SecretString=json.dumps({"password": "initial"}))["VersionId"]
    sm.rotate_secret(SecretId=name, RotationLambdaARN=rotator, RotateImmediately=False,
                     RotationRules={"ScheduleExpression": "rate(1 day)"})
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == {first: ["AWSCURRENT"]}

    def rotated() -> bool:
        return sm.describe_secret(SecretId=name)["VersionIdsToStages"].get(first) == ["AWSPREVIOUS"]

    wait_for(rotated, timeout=60, interval=0.2, message="a scheduled rotation")
    sm.cancel_rotate_secret(SecretId=name)
    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is False and "NextRotationDate" not in described
    with pytest.raises(ClientError) as raised:
        sm.rotate_secret(SecretId=name, RotationRules={"ScheduleExpression": "rate(1 hour)"})
    assert error(raised)[0] == "InvalidParameterException"



def test_a_failed_step_keeps_the_current_value_and_the_next_rotation_resumes(server, sm, rotator):
    failing = make_rotator(server, fail_at="testSecret")
    name = unique()
    first = sm.create_secret(Name=name, SecretString=json.dumps({"password": "initial"}))["VersionId"]
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=failing,
                             RotationRules={"AutomaticallyAfterDays": 30})["VersionId"]

    def resumed() -> str | None:
        try:  # refused while the failing rotation still runs
            return sm.rotate_secret(SecretId=name, RotationLambdaARN=rotator)["VersionId"]
        except sm.exceptions.InvalidRequestException:
            return None

    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"]) == {"password": "initial"}
    # the same token: the failed rotation left its AWSPENDING version (finishSecret never ran)
    assert wait_for(resumed, timeout=60, interval=0.2, message="the failed rotation to end") == token

    def finished() -> bool:
        return sm.describe_secret(SecretId=name)["VersionIdsToStages"].get(token) == ["AWSCURRENT"]

    wait_for(finished, timeout=60, interval=0.2, message="the resumed rotation")
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"][first] == ["AWSPREVIOUS"]
    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["password"] != "initial"


EXTENSION_CLIENT = """
import json
import os
import urllib.error
import urllib.request


def get(path, token):
    request = urllib.request.Request("http://localhost:2773" + path,
                                     headers={"X-Aws-Parameters-Secrets-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def handler(event, context):
    token = os.environ["AWS_SESSION_TOKEN"]
    return {"secret": get("/secretsmanager/get?secretId=" + event["secret"], token),
            "previous": get("/secretsmanager/get?secretId=" + event["secret"] + "&versionStage=AWSPREVIOUS", token),
            "parameter": get("/systemsmanager/parameters/get?withDecryption=true&name=" + event["parameter"], token),
            "missing": get("/secretsmanager/get?secretId=no-such-secret", token)[0],
            "unauthorized": get("/secretsmanager/get?secretId=" + event["secret"], "wrong")[0]}
"""
EXTENSION_LAYER = "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension:12"


def test_the_parameters_and_secrets_extension_answers_inside_the_function(server, sm):
    lam, ssm = server.client("lambda"), server.client("ssm")
    secret = unique()
    sm.create_secret(Name=secret, SecretString="first")
    sm.put_secret_value(SecretId=secret, SecretString="second")
    parameter = f"/{unique('ext')}/password"
    ssm.put_parameter(Name=parameter, Value="s3cret", Type="SecureString")
    name = f"ext-{uuid.uuid4().hex[:8]}"
    function = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                   Code={"ZipFile": make_zip({"app.py": textwrap.dedent(EXTENSION_CLIENT)})},
                                   Layers=[EXTENSION_LAYER], Timeout=30)
    assert function["Layers"][0]["Arn"] == EXTENSION_LAYER
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"secret": secret, "parameter": parameter}))
    result = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, result
    status, secret_value = result["secret"]
    assert status == 200 and secret_value["SecretString"] == "second" and secret_value["Name"] == secret
    assert secret_value["VersionStages"] == ["AWSCURRENT"]
    assert result["previous"][1]["SecretString"] == "first"
    status, parameter_value = result["parameter"]
    assert status == 200 and parameter_value["Parameter"]["Value"] == "s3cret"
    assert result["missing"] == 400
    assert result["unauthorized"] == 401
