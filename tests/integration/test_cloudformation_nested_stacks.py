"""Nested stacks: AWS::CloudFormation::Stack and SAM's AWS::Serverless::Application, from S3 or packaged
from local paths by `cumulo deploy`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.server import subprocess_env, wait_for

WAIT = {"Delay": 0.2, "MaxAttempts": 300}
CHILD = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Prefix: {Type: String}
  Retention: {Type: Number, Default: 60}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub '${Prefix}-queue'
      MessageRetentionPeriod: !Ref Retention
Outputs:
  QueueArn: {Value: !GetAtt Queue.Arn}
  QueueName: {Value: !GetAtt Queue.QueueName}
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def cloudformation(server):
    return server.client("cloudformation")


@pytest.fixture(scope="module")
def child_bucket(server) -> str:
    s3 = server.client("s3")
    bucket = unique("nested-templates")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="child.yaml", Body=CHILD.encode())
    broken = CHILD.replace("Outputs:", "  Bad:\n    Type: Custom::Bad\n    Properties: {ServiceToken: not-an-arn}\n"
                                        "Outputs:")
    s3.put_object(Bucket=bucket, Key="broken.yaml", Body=broken.encode())
    return bucket


def stack_outputs(cloudformation, name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def parent(url: str, retention: int = 90) -> str:
    return json.dumps({
        "Parameters": {"Prefix": {"Type": "String"}},
        "Resources": {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {
            "TemplateURL": url, "Parameters": {"Prefix": {"Ref": "Prefix"}, "Retention": retention}}}},
        "Outputs": {"QueueArn": {"Value": {"Fn::GetAtt": ["Child", "Outputs.QueueArn"]}},
                    "ChildId": {"Value": {"Ref": "Child"}}}})


def test_nested_stack_create_update_outputs_and_cascading_delete(server, cloudformation, child_bucket):
    name, prefix = unique("parent"), unique("q")
    cloudformation.create_stack(StackName=name, TemplateBody=parent(f"s3://{child_bucket}/child.yaml"),
                                Parameters=[{"ParameterKey": "Prefix", "ParameterValue": prefix}])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    out = stack_outputs(cloudformation, name)
    assert out["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{prefix}-queue"
    child = cloudformation.describe_stacks(StackName=out["ChildId"])["Stacks"][0]
    assert child["StackName"].startswith(f"{name}-Child-") and child["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in child["Parameters"]} == {"Prefix": prefix,
                                                                                       "Retention": "90"}
    resource = cloudformation.describe_stack_resource(StackName=name, LogicalResourceId="Child")
    assert resource["StackResourceDetail"]["PhysicalResourceId"] == out["ChildId"]
    sqs = server.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{prefix}-queue")["QueueUrl"]

    # An update of the parent's parameters updates the nested stack in place (an HTTP URL this time).
    cloudformation.update_stack(StackName=name, TemplateBody=parent(f"{server.url}/{child_bucket}/child.yaml", 120),
                                Parameters=[{"ParameterKey": "Prefix", "UsePreviousValue": True}])
    cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])[
        "Attributes"]["MessageRetentionPeriod"] == "120"
    assert stack_outputs(cloudformation, name)["ChildId"] == out["ChildId"]

    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert cloudformation.describe_stacks(StackName=out["ChildId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError, match=r"NonExistentQueue|does not exist"):
        sqs.get_queue_url(QueueName=f"{prefix}-queue")


def test_a_failing_nested_stack_fails_and_rolls_back_the_parent(cloudformation, child_bucket):
    name = unique("parent")
    cloudformation.create_stack(StackName=name, TemplateBody=parent(f"s3://{child_bucket}/broken.yaml"),
                                Parameters=[{"ParameterKey": "Prefix", "ParameterValue": unique("q")}])
    stack = wait_for(lambda: (s := cloudformation.describe_stacks(StackName=name)["Stacks"][0])["StackStatus"]
                     .endswith("COMPLETE") and s, timeout=30, message="the rollback")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    failed = next(e for e in events if e["LogicalResourceId"] == "Child" and e["ResourceStatus"] == "CREATE_FAILED")
    assert "Embedded stack" in failed["ResourceStatusReason"]
    assert "was not successfully created: The following resource(s) failed to create: [Bad]." in \
        failed["ResourceStatusReason"]
    nested = [s for s in cloudformation.describe_stacks()["Stacks"] if s["StackName"].startswith(f"{name}-Child-")]
    assert nested == []  # the failed nested stack was deleted by the parent's rollback
    cloudformation.delete_stack(StackName=name)


def test_sam_application_from_s3_and_repository_applications_refused(cloudformation, child_bucket):
    template = textwrap.dedent(f"""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          App:
            Type: AWS::Serverless::Application
            Properties:
              Location: s3://{child_bucket}/child.yaml
              Parameters: {{Prefix: {unique("sar")}}}
        Outputs:
          Arn: {{Value: !GetAtt App.Outputs.QueueArn}}
    """)
    name = unique("sam-app")
    cloudformation.create_stack(StackName=name, TemplateBody=template, Capabilities=["CAPABILITY_AUTO_EXPAND"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert stack_outputs(cloudformation, name)["Arn"].startswith("arn:aws:sqs:us-east-1:000000000000:sar-")
    cloudformation.delete_stack(StackName=name)

    repository = template.replace(f"Location: s3://{child_bucket}/child.yaml", "Location: {ApplicationId: "
                                  "'arn:aws:serverlessrepo:us-east-1:012345678901:applications/x', "
                                  "SemanticVersion: 1.0.0}")
    with pytest.raises(ClientError, match="Serverless Application Repository application"):
        cloudformation.create_stack(StackName=unique("sar"), TemplateBody=repository,
                                    Capabilities=["CAPABILITY_AUTO_EXPAND"])


def test_cumulo_deploy_packages_local_nested_templates(server, tmp_path: Path):
    (tmp_path / "child" / "src").mkdir(parents=True)
    (tmp_path / "child" / "src" / "app.py").write_text("def handler(e, c):\n    return 'from the child'\n")
    (tmp_path / "child" / "template.yaml").write_text(textwrap.dedent("""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.11}
        Outputs:
          Name: {Value: !Ref Fn}
    """))
    (tmp_path / "queue.yaml").write_text(CHILD)
    (tmp_path / "template.yaml").write_text(textwrap.dedent(f"""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          App:
            Type: AWS::Serverless::Application
            Properties: {{Location: child/template.yaml}}
          Queues:
            Type: AWS::CloudFormation::Stack
            Properties:
              TemplateURL: ./queue.yaml
              Parameters: {{Prefix: {unique("pkg")}}}
        Outputs:
          Function: {{Value: !GetAtt App.Outputs.Name}}
          Queue: {{Value: !GetAtt Queues.Outputs.QueueName}}
    """))
    stack = unique("nested-cli")
    result = subprocess.run([sys.executable, "-m", "cumulo.cli.main", "deploy", "--template",
                             str(tmp_path / "template.yaml"), "--stack-name", stack, "--endpoint-url", server.url],
                            capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert result.returncode == 0, result.stderr + result.stdout
    out = stack_outputs(server.client("cloudformation"), stack)
    payload = server.client("lambda").invoke(FunctionName=out["Function"])["Payload"].read()
    assert json.loads(payload) == "from the child"
    assert out["Queue"].startswith("pkg-")
    server.client("cloudformation").delete_stack(StackName=stack)
