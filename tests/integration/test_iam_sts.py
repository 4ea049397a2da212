"""IAM roles and policies (recorded) and STS identity through boto3."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def test_roles_with_inline_and_managed_policies(server):
    iam = server.client("iam")
    name = f"role-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Path="/service/")["Role"]
    assert role["Arn"] == f"arn:aws:iam::000000000000:role/service/{name}"
    assert role["RoleId"].startswith("AROA")
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == json.loads(TRUST)
    with pytest.raises(ClientError) as exists:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    assert exists.value.response["Error"]["Code"] == "EntityAlreadyExists"
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=TRUST)
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["inline"]
    policy = iam.create_policy(PolicyName=f"p-{name}", PolicyDocument=TRUST)["Policy"]
    iam.attach_role_policy(RoleName=name, PolicyArn=policy["Arn"])
    iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AWSLambdaExecute")
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
    assert attached == [policy["Arn"], "arn:aws:iam::aws:policy/AWSLambdaExecute"]
    with pytest.raises(ClientError) as conflict:
        iam.delete_role(RoleName=name)
    assert conflict.value.response["Error"]["Code"] == "DeleteConflict"
    for arn in attached:
        iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as missing:
        iam.get_role(RoleName=name)
    assert missing.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(ClientError) as malformed:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument="{not json")
    assert malformed.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_sts_caller_identity_and_assume_role(server):
    sts = server.client("sts")
    identity = sts.get_caller_identity()
    assert identity["Account"] == "000000000000"
    assumed = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/deployer", RoleSessionName="ci")
    assert assumed["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert assumed["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/deployer/ci"
