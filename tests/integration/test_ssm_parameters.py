"""Parameter Store through boto3: types, versions and labels, selectors, hierarchies, filters, history, tags;
and the templates of both stores: AWS::SSM::Parameter, AWS::SecretsManager::*, dynamic references and
AWS::SSM::Parameter::Value<...> stack parameters."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.server import CumuloServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("ssm") / "data").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def ssm(server):
    return server.client("ssm")


def root() -> str:
    return f"/app-{uuid.uuid4().hex[:8]}"


def error(raised: pytest.ExceptionInfo) -> str:
    return raised.value.response["Error"]["Code"]


def test_versions_labels_and_selectors(ssm):
    name = root() + "/db/url"
    created = ssm.put_parameter(Name=name, Value="one", Type="String")
    assert (created["Version"], created["Tier"]) == (1, "Standard")
    with pytest.raises(ClientError) as raised:
        ssm.put_parameter(Name=name, Value="two", Type="String")
    assert error(raised) == "ParameterAlreadyExists"
    assert ssm.put_parameter(Name=name, Value="two", Overwrite=True)["Version"] == 2
    assert ssm.put_parameter(Name=name, Value="three", Overwrite=True)["Version"] == 3
    parameter = ssm.get_parameter(Name=name)["Parameter"]
    assert (parameter["Value"], parameter["Version"], parameter["Type"]) == ("three", 3, "String")
    assert parameter["ARN"] == f"arn:aws:ssm:us-east-1:000000000000:parameter{name}"
    assert ssm.get_parameter(Name=f"{name}:1")["Parameter"]["Value"] == "one"
    labelled = ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["stable", "aws-bad", "1x"])
    assert labelled["InvalidLabels"] == ["aws-bad", "1x"] and labelled["ParameterVersion"] == 2
    by_label = ssm.get_parameter(Name=f"{name}:stable")["Parameter"]
    assert (by_label["Value"], by_label["Selector"]) == ("two", ":stable")
    ssm.label_parameter_version(Name=name, Labels=["stable"])  # moves to the latest version
    assert ssm.get_parameter(Name=f"{name}:stable")["Parameter"]["Value"] == "three"
    with pytest.raises(ClientError) as raised:
        ssm.get_parameter(Name=f"{name}:9")
    assert error(raised) == "ParameterVersionNotFound"
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [(h["Version"], h["Value"], h["Labels"]) for h in history] == [
        (1, "one", []), (2, "two", []), (3, "three", ["stable"])]
    got = ssm.get_parameters(Names=[name, f"{name}:1", "/missing/x"])
    assert [p["Value"] for p in got["Parameters"]] == ["three", "one"]
    assert got["InvalidParameters"] == ["/missing/x"]


def test_secure_string_and_checks(ssm):
    name = root() + "/password"
    ssm.put_parameter(Name=name, Value="s3cret", Type="SecureString")
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] != "s3cret"
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "s3cret"
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    assert described[0]["KeyId"] == "alias/aws/ssm" and described[0]["Type"] == "SecureString"
    ssm.put_parameter(Name=name + "-list", Value="a,b,c", Type="StringList")
    assert ssm.get_parameter(Name=name + "-list")["Parameter"]["Type"] == "StringList"
    with pytest.raises(ClientError) as raised:
        ssm.put_parameter(Name=root() + "/big", Value="x" * 4097, Type="String")
    assert error(raised) == "ValidationException"
    big = root() + "/big"
    assert ssm.put_parameter(Name=big, Value="x" * 5000, Type="String", Tier="Advanced")["Tier"] == "Advanced"
    with pytest.raises(ClientError) as raised:
        ssm.put_parameter(Name=root() + "/port", Value="abc", Type="String", AllowedPattern=r"^\d+$")
    assert error(raised) == "ParameterPatternMismatchException"
    with pytest.raises(ClientError) as raised:
        ssm.put_parameter(Name="/aws/reserved", Value="x", Type="String")
    assert error(raised) == "ValidationException"
    with pytest.raises(ClientError) as raised:
        ssm.get_parameter(Name=root() + "/port")
    assert error(raised) == "ParameterNotFound"
    policies = json.dumps([{"Type": "Expiration", "Version": "1.0",
                            "Attributes": {"Timestamp": "2030-01-01T00:00:00.000Z"}}])
    ssm.put_parameter(Name=big, Value="y", Overwrite=True, Policies=policies)
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [big]}])["Parameters"][0]
    assert described["Policies"][0]["PolicyType"] == "Expiration"
    assert described["Tier"] == "Advanced"


def test_hierarchies_pagination_and_filters(ssm):
    base = root()
    names = [f"{base}/a", f"{base}/b", f"{base}/sub/c", f"{base}/sub/deeper/d", f"{base}x/outside"]
    for i, name in enumerate(names):
        ssm.put_parameter(Name=name, Value=str(i), Type="SecureString" if i == 1 else "String")
    one_level = ssm.get_parameters_by_path(Path=base)["Parameters"]
    assert [p["Name"] for p in one_level] == [f"{base}/a", f"{base}/b"]
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=base, Recursive=True,
                                                                 PaginationConfig={"PageSize": 3})
    counts = [len(page["Parameters"]) for page in pages]
    assert counts == [3, 1]
    typed = ssm.get_parameters_by_path(Path=base, Recursive=True, WithDecryption=True,
                                       ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}])
    assert [(p["Name"], p["Value"]) for p in typed["Parameters"]] == [(f"{base}/b", "1")]
    recursive = ssm.describe_parameters(ParameterFilters=[
        {"Key": "Path", "Option": "Recursive", "Values": [f"{base}/sub"]}])["Parameters"]
    assert [p["Name"] for p in recursive] == [f"{base}/sub/c", f"{base}/sub/deeper/d"]
    begins = ssm.describe_parameters(Filters=[{"Key": "Name", "Values": [base]}])["Parameters"]
    assert len(begins) == 5
    deleted = ssm.delete_parameters(Names=[f"{base}/a", f"{base}/nope"])
    assert deleted == {"DeletedParameters": [f"{base}/a"], "InvalidParameters": [f"{base}/nope"],
                       "ResponseMetadata": deleted["ResponseMetadata"]}
    ssm.delete_parameter(Name=f"{base}/b")
    with pytest.raises(ClientError) as raised:
        ssm.delete_parameter(Name=f"{base}/b")
    assert error(raised) == "ParameterNotFound"


def test_tags(ssm):
    name = root() + "/tagged"
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "team", "Value": "a"}])
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "env", "Value": "prod"}])
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["team"])
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"] == [
        {"Key": "env", "Value": "prod"}]
    tagged = ssm.describe_parameters(ParameterFilters=[{"Key": "tag:env", "Values": ["prod"]}])["Parameters"]
    assert name in [p["Name"] for p in tagged]
    with pytest.raises(ClientError) as raised:
        ssm.put_parameter(Name=name, Value="w", Overwrite=True, Tags=[{"Key": "k", "Value": "v"}])
    assert error(raised) == "ValidationException"
    with pytest.raises(ClientError) as raised:
        ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name + "-x", Tags=[{"Key": "k", "Value": "v"}])
    assert error(raised) == "InvalidResourceId"


TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Greeting:
    Type: AWS::SSM::Parameter::Value<String>
    Default: GREETING_NAME
Resources:
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: SECRET_NAME
      Description: db credentials
      GenerateSecretString:
        SecretStringTemplate: '{"username": "admin"}'
        GenerateStringKey: password
        PasswordLength: 24
        ExcludePunctuation: true
      Tags: [{Key: team, Value: data}]
  Attachment:
    Type: AWS::SecretsManager::SecretTargetAttachment
    Properties:
      SecretId: !Ref Secret
      TargetId: orders-db
      TargetType: AWS::RDS::DBInstance
  Policy:
    Type: AWS::SecretsManager::ResourcePolicy
    Properties:
      SecretId: !Ref Secret
      ResourcePolicy:
        Version: '2012-10-17'
        Statement: [{Effect: Deny, Principal: '*', Action: 'secretsmanager:DeleteSecret', Resource: '*'}]
  Schedule:
    Type: AWS::SecretsManager::RotationSchedule
    Properties:
      SecretId: !Ref Secret
      RotationLambdaARN: arn:aws:lambda:us-east-1:000000000000:function:rotator
      RotateImmediatelyOnUpdate: false
      RotationRules: {ScheduleExpression: rate(10 days)}
  Copy:
    Type: AWS::SSM::Parameter
    Properties:
      Name: PARAM_NAME
      Type: String
      Value: !Sub '{{resolve:secretsmanager:${Secret}:SecretString:username}}/{{resolve:ssm:GREETING_NAME:1}}'
      Tags: {env: test}
  Secure:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: '{{resolve:ssm-secure:SECURE_NAME}}'
Outputs:
  Greeting: {Value: !Ref Greeting}
  SecretArn: {Value: !Ref Secret}
  Copied: {Value: !GetAtt Copy.Value}
"""


def test_templates_and_dynamic_references(server, ssm):
    cfn, sm = server.client("cloudformation"), server.client("secretsmanager")
    base = root()
    greeting, secure, param = f"{base}/greeting", f"{base}/secure", f"{base}/copy"
    ssm.put_parameter(Name=greeting, Value="hello", Type="String")
    ssm.put_parameter(Name=greeting, Value="hello again", Type="String", Overwrite=True)
    ssm.put_parameter(Name=secure, Value="classified", Type="SecureString")
    secret_name = f"stack{base}/db"
    body = (TEMPLATE.replace("GREETING_NAME", greeting).replace("SECRET_NAME", secret_name)
            .replace("PARAM_NAME", param).replace("SECURE_NAME", secure))
    stack = f"secrets-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=stack, TemplateBody=body)
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
    assert outputs["Greeting"] == "hello again"
    value = json.loads(sm.get_secret_value(SecretId=secret_name)["SecretString"])
    assert value["username"] == "admin" and len(value["password"]) == 24 and value["password"].isalnum()
    assert value["dbInstanceIdentifier"] == "orders-db"
    assert outputs["SecretArn"] == sm.describe_secret(SecretId=secret_name)["ARN"]
    described = sm.describe_secret(SecretId=secret_name)
    assert described["RotationEnabled"] is True and described["RotationRules"]["ScheduleExpression"] == "rate(10 days)"
    assert described["Tags"] == [{"Key": "team", "Value": "data"}]
    assert "secretsmanager:DeleteSecret" in sm.get_resource_policy(SecretId=secret_name)["ResourcePolicy"]
    assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == "admin/hello"
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=param)["TagList"] == [
        {"Key": "env", "Value": "test"}]
    secure_copy = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Secure")
    physical = secure_copy["StackResourceDetail"]["PhysicalResourceId"]
    assert ssm.get_parameter(Name=physical)["Parameter"]["Value"] == "classified"
    events = json.dumps(cfn.describe_stack_events(StackName=stack)["StackEvents"], default=str)
    assert "classified" not in events and value["password"] not in events
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    with pytest.raises(ClientError) as raised:
        sm.describe_secret(SecretId=secret_name)
    assert error(raised) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        ssm.get_parameter(Name=param)
    assert error(raised) == "ParameterNotFound"


def test_a_missing_reference_fails_the_stack(server, ssm):
    cfn = server.client("cloudformation")
    stack = f"missing-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps({"Resources": {"P": {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Type": "String", "Value": "{{resolve:secretsmanager:no-such-secret:SecretString:key}}"}}}}))
    with pytest.raises(WaiterError):
        cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    reasons = [e.get("ResourceStatusReason", "") for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]]
    assert any("ResourceNotFoundException" in reason for reason in reasons)


def test_a_secret_through_parameter_store(server, ssm):
    sm = server.client("secretsmanager")
    name = root().lstrip("/") + "/db"
    sm.create_secret(Name=name, SecretString='{"password": "p"}')
    parameter = ssm.get_parameter(Name=f"/aws/reference/secretsmanager/{name}", WithDecryption=True)["Parameter"]
    assert (parameter["Value"], parameter["Type"]) == ('{"password": "p"}', "SecureString")
    assert json.loads(parameter["SourceResult"])["Name"] == name
    with pytest.raises(ClientError) as raised:
        ssm.get_parameter(Name=f"/aws/reference/secretsmanager/{name}")
    assert error(raised) == "ValidationException"
    with pytest.raises(ClientError) as raised:
        ssm.get_parameter(Name="/aws/reference/secretsmanager/no-such-secret", WithDecryption=True)
    assert error(raised) == "ParameterNotFound"
