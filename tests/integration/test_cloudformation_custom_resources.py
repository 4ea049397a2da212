"""Custom resources: a real Python function (cfn-response style, plain urllib) answers CloudFormation's
requests through the presigned ResponseURL, on a server that verifies signatures."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.server import CumuloServer, wait_for

WAIT = {"Delay": 0.2, "MaxAttempts": 300}
PROVIDER_CODE = """
import json, urllib.request

def answer(event, status, reason="", physical_id=None, data=None, no_echo=False):
    body = json.dumps({"Status": status, "Reason": reason, "PhysicalResourceId": physical_id, "NoEcho": no_echo,
                       "StackId": event["StackId"], "RequestId": event["RequestId"],
                       "LogicalResourceId": event["LogicalResourceId"], "Data": data or {}})
    request = urllib.request.Request(event["ResponseURL"], data=body.encode(), method="PUT",
                                     headers={"content-type": ""})
    urllib.request.urlopen(request).read()

def handler(event, context):
    if "Records" in event:  # through SNS
        event = json.loads(event["Records"][0]["Sns"]["Message"])
    print("REQUEST " + json.dumps(event))
    props = event["ResourceProperties"]
    if event["RequestType"] == "Delete":
        return answer(event, "SUCCESS", physical_id=event["PhysicalResourceId"])
    if props.get("Fail") == "true":
        return answer(event, "FAILED", reason="the value " + props["Value"] + " is refused",
                      physical_id="failed-" + props["Value"])
    if props.get("Silent") == "true":
        return None
    if props.get("Secret") == "true":
        return answer(event, "SUCCESS", physical_id="secret", data={"Password": "pw-" + props["Value"]},
                      no_echo=True)
    old = event.get("OldResourceProperties", {})
    answer(event, "SUCCESS", physical_id="thing-" + props["Value"],
           data={"Echo": props["Value"], "Count": props["Count"], "Flag": props["Flag"],
                 "Old": old.get("Value", "none"), "Type": event["ResourceType"]})
"""
TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Value: {Type: String}
  Fail: {Type: String, Default: 'false'}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Provider:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Timeout: 10
      Role: !GetAtt Role.Arn
      Code: {ZipFile: CODE}
  Thing:
    Type: Custom::Thing
    Properties:
      ServiceToken: !GetAtt Provider.Arn
      Value: !Ref Value
      Fail: !Ref Fail
      Count: 3
      Flag: true
Outputs:
  Id: {Value: !Ref Thing}
  Echo: {Value: !GetAtt Thing.Echo}
  Count: {Value: !GetAtt Thing.Count}
  Flag: {Value: !GetAtt Thing.Flag}
  Old: {Value: !GetAtt Thing.Old}
  Type: {Value: !GetAtt Thing.Type}
  FunctionName: {Value: !Ref Provider}
""".replace("CODE", json.dumps(PROVIDER_CODE))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    """Signatures verified: the ResponseURL must be a valid presigned PUT."""
    instance = CumuloServer(tmp_path_factory.mktemp("custom") / "data", extra_args=["--require-auth"]).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def cloudformation(server):
    return server.client("cloudformation")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def stack_outputs(cloudformation, name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def requests_seen(server, function: str) -> list[dict]:
    """The requests the provider function logged (it prints each one)."""
    logs = server.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}", filterPattern="REQUEST")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(e["message"].split("REQUEST ", 1)[1]) for e in events if "REQUEST " in e["message"]]


def parameters(value: str, fail: str = "false") -> list[dict[str, str]]:
    return [{"ParameterKey": "Value", "ParameterValue": value}, {"ParameterKey": "Fail", "ParameterValue": fail}]


def test_create_update_replace_fail_and_delete(server, cloudformation):
    name = unique("custom")
    stack_id = cloudformation.create_stack(StackName=name, TemplateBody=TEMPLATE, Parameters=parameters("a"),
                                           Capabilities=["CAPABILITY_IAM"])["StackId"]
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    out = stack_outputs(cloudformation, name)
    # Data answers Fn::GetAtt; every scalar property arrived as a string, as AWS sends them.
    assert {k: out[k] for k in ("Id", "Echo", "Count", "Flag", "Old", "Type")} == {
        "Id": "thing-a", "Echo": "a", "Count": "3", "Flag": "true", "Old": "none", "Type": "Custom::Thing"}
    function = out["FunctionName"]
    create = wait_for(lambda: requests_seen(server, function), message="the Create request")[0]
    assert create["RequestType"] == "Create" and create["StackId"] == stack_id
    assert create["LogicalResourceId"] == "Thing" and create["ResourceType"] == "Custom::Thing"
    assert create["ResourceProperties"]["ServiceToken"].endswith(f":function:{function}")
    assert "PhysicalResourceId" not in create and "OldResourceProperties" not in create
    assert "X-Amz-Signature=" in create["ResponseURL"]

    # A new PhysicalResourceId on Update: the old one is deleted once the update completes.
    cloudformation.update_stack(StackName=name, TemplateBody=TEMPLATE, Parameters=parameters("b"),
                                Capabilities=["CAPABILITY_IAM"])
    cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    out = stack_outputs(cloudformation, name)
    assert (out["Id"], out["Echo"], out["Old"]) == ("thing-b", "b", "a")
    seen = wait_for(lambda: (r := requests_seen(server, function)) and len(r) >= 3 and r,
                    message="the Update and Delete requests")
    update, delete = seen[1], seen[2]
    assert update["RequestType"] == "Update" and update["PhysicalResourceId"] == "thing-a"
    assert update["OldResourceProperties"]["Value"] == "a" and update["ResourceProperties"]["Value"] == "b"
    assert delete["RequestType"] == "Delete" and delete["PhysicalResourceId"] == "thing-a"
    assert delete["ResourceProperties"]["Value"] == "a"

    # A FAILED response fails the update with the provider's reason; the rollback restores "b".
    cloudformation.update_stack(StackName=name, TemplateBody=TEMPLATE, Parameters=parameters("c", "true"),
                                Capabilities=["CAPABILITY_IAM"])
    stack = wait_for(lambda: (s := cloudformation.describe_stacks(StackName=name)["Stacks"][0])["StackStatus"]
                     .endswith("ROLLBACK_COMPLETE") and s, timeout=30, message="the rollback")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    failed = [e for e in events if e["LogicalResourceId"] == "Thing" and e["ResourceStatus"] == "UPDATE_FAILED"]
    assert "Received response status [FAILED] from custom resource. Message returned: the value c is refused" \
        in failed[0]["ResourceStatusReason"]
    assert stack_outputs(cloudformation, name)["Id"] == "thing-b"

    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    final = [r for r in requests_seen(server, function) if r["RequestType"] == "Delete"]
    assert final[-1]["PhysicalResourceId"] == "thing-b"


def test_a_failed_create_is_deleted_by_the_rollback(server, cloudformation):
    name = unique("custom-failed")
    cloudformation.create_stack(StackName=name, TemplateBody=TEMPLATE, Parameters=parameters("f", "true"),
                                Capabilities=["CAPABILITY_IAM"])
    stack = wait_for(lambda: (s := cloudformation.describe_stacks(StackName=name)["Stacks"][0])["StackStatus"]
                     .endswith("COMPLETE") and s, timeout=30, message="the rollback")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    function = next(e["PhysicalResourceId"] for e in cloudformation.describe_stack_events(StackName=name)[
        "StackEvents"] if e["LogicalResourceId"] == "Provider" and e["ResourceStatus"] == "CREATE_COMPLETE")
    # As on AWS, the rollback sends Delete for the PhysicalResourceId the FAILED response named.
    seen = wait_for(lambda: (r := requests_seen(server, function)) and len(r) >= 2 and r, message="the Delete")
    assert [(r["RequestType"], r.get("PhysicalResourceId")) for r in seen] == [("Create", None),
                                                                                ("Delete", "failed-f")]
    cloudformation.delete_stack(StackName=name)


def test_sns_service_token_and_a_provider_that_never_answers(server, cloudformation):
    template = TEMPLATE.replace("""  Thing:
    Type: Custom::Thing
    Properties:
      ServiceToken: !GetAtt Provider.Arn""", """  Topic:
    Type: AWS::SNS::Topic
    Properties:
      Subscription: [{Protocol: lambda, Endpoint: !GetAtt Provider.Arn}]
  Permission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Provider
      Action: lambda:InvokeFunction
      Principal: sns.amazonaws.com
      SourceArn: !Ref Topic
  Thing:
    Type: AWS::CloudFormation::CustomResource
    DependsOn: Permission
    Properties:
      ServiceToken: !Ref Topic""")
    name = unique("custom-sns")
    cloudformation.create_stack(StackName=name, TemplateBody=template, Parameters=parameters("s"),
                                Capabilities=["CAPABILITY_IAM"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    out = stack_outputs(cloudformation, name)
    assert (out["Id"], out["Echo"], out["Type"]) == ("thing-s", "s", "AWS::CloudFormation::CustomResource")
    cloudformation.delete_stack(StackName=name)

    silent = TEMPLATE.replace("Fail: !Ref Fail", "Fail: !Ref Fail\n      Silent: true\n      ServiceTimeout: 2")
    silent = silent.split("Outputs:")[0]
    name = unique("custom-silent")
    cloudformation.create_stack(StackName=name, TemplateBody=silent, Parameters=parameters("x"),
                                Capabilities=["CAPABILITY_IAM"], OnFailure="DO_NOTHING")
    stack = wait_for(lambda: (s := cloudformation.describe_stacks(StackName=name)["Stacks"][0])["StackStatus"]
                     != "CREATE_IN_PROGRESS" and s, timeout=30, message="the timeout")
    assert stack["StackStatus"] == "CREATE_FAILED"
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    reason = next(e for e in events if e["LogicalResourceId"] == "Thing" and e["ResourceStatus"] == "CREATE_FAILED")
    assert "did not receive a response from your Custom Resource" in reason["ResourceStatusReason"]
    cloudformation.delete_stack(StackName=name)


@pytest.mark.parametrize("token, reason", [
    ("arn:aws:lambda:us-east-1:000000000000:function:no-such-function", "Function not found"),
    ("not-an-arn", "Invalid service token"),
])
def test_a_service_token_that_reaches_nothing_fails_at_once(cloudformation, token, reason):
    template = json.dumps({"Resources": {"Thing": {"Type": "Custom::Thing", "Properties": {"ServiceToken": token}}}})
    name = unique("custom-bad")
    cloudformation.create_stack(StackName=name, TemplateBody=template, OnFailure="DO_NOTHING")
    wait_for(lambda: cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_FAILED",
             message="the failure")
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    failed = [e for e in events if e["LogicalResourceId"] == "Thing" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert reason in failed[0]["ResourceStatusReason"]
    cloudformation.delete_stack(StackName=name)


def resource_status(cloudformation, name: str, logical_id: str) -> set[str]:
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    return {e["ResourceStatus"] for e in events if e["LogicalResourceId"] == logical_id}


def test_a_wait_for_a_response_is_interrupted_by_cancel_update_and_by_delete(server, cloudformation):
    template = TEMPLATE.replace("  Fail: {Type: String, Default: 'false'}",
                                "  Fail: {Type: String, Default: 'false'}\n  Silent: {Type: String, Default: 'false'}")
    template = template.replace("      Fail: !Ref Fail", "      Fail: !Ref Fail\n      Silent: !Ref Silent")
    name = unique("custom-cancel")
    cloudformation.create_stack(StackName=name, TemplateBody=template, Parameters=parameters("a"),
                                Capabilities=["CAPABILITY_IAM"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    with pytest.raises(ClientError, match="CancelUpdateStack cannot be called from current stack status"):
        cloudformation.cancel_update_stack(StackName=name)

    # The provider never answers this update (no ServiceTimeout: the wait would last an hour).
    cloudformation.update_stack(StackName=name, TemplateBody=template, Capabilities=["CAPABILITY_IAM"],
                                Parameters=[*parameters("b"), {"ParameterKey": "Silent", "ParameterValue": "true"}])
    wait_for(lambda: "UPDATE_IN_PROGRESS" in resource_status(cloudformation, name, "Thing"), message="the update")
    cloudformation.cancel_update_stack(StackName=name)
    stack = wait_for(lambda: (s := cloudformation.describe_stacks(StackName=name)["Stacks"][0])["StackStatus"]
                     .endswith("ROLLBACK_COMPLETE") and s, timeout=30, message="the cancelled update's rollback")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    assert any(e["LogicalResourceId"] == "Thing" and e.get("ResourceStatusReason") == "Resource update cancelled"
               for e in events)
    assert stack_outputs(cloudformation, name)["Id"] == "thing-a"
    cloudformation.delete_stack(StackName=name)

    # DeleteStack while a create waits: the create stops, rolls back, and the stack is deleted.
    name = unique("custom-delete")
    stack_id = cloudformation.create_stack(StackName=name, TemplateBody=template, Capabilities=["CAPABILITY_IAM"],
                                           Parameters=[*parameters("c"),
                                                       {"ParameterKey": "Silent", "ParameterValue": "true"}])["StackId"]
    wait_for(lambda: "CREATE_IN_PROGRESS" in resource_status(cloudformation, name, "Thing"), message="the create")
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert "CREATE_FAILED" in resource_status(cloudformation, stack_id, "Thing")


def test_no_echo_data_is_used_but_masked_in_outputs_and_events(server, cloudformation):
    template = TEMPLATE.split("Outputs:")[0].replace("      Flag: true", "      Flag: true\n      Secret: 'true'")
    group = unique("/secret")
    template += f"""  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub '{group}/${{Thing.Password}}'
Outputs:
  Password: {{Value: !GetAtt Thing.Password}}
  Group: {{Value: !Ref Group}}
"""
    name = unique("custom-secret")
    cloudformation.create_stack(StackName=name, TemplateBody=template, Parameters=parameters("n"),
                                Capabilities=["CAPABILITY_IAM"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    out = stack_outputs(cloudformation, name)
    assert out["Password"] == "*****"
    logs = server.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in logs] == [f"{group}/pw-n"]  # the resource got the real value
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    shown = next(e for e in events if e["LogicalResourceId"] == "Group" and e.get("ResourceProperties"))
    assert json.loads(shown["ResourceProperties"])["LogGroupName"] == f"{group}/*****"
    cloudformation.delete_stack(StackName=name)
