"""ValidateTemplate and GetTemplateSummary read a template's AWS::Include snippets; `cumulo deploy` asks for
parameters without defaults in a terminal and lists them otherwise."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.server import subprocess_env

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Description: included parts
Metadata: {Owner: team}
Parameters:
  Stage: {Type: String, AllowedValues: [dev, prod], Default: dev, Description: where}
  Secret: {Type: String, NoEcho: true}
Resources:
  Fn::Transform:
    Name: AWS::Include
    Parameters: {Location: LOCATION}
"""
SNIPPET = """
Queue: {Type: 'AWS::SQS::Queue'}
Role:
  Type: 'AWS::IAM::Role'
  Properties:
    AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
"""


@pytest.fixture(scope="module")
def included(server) -> str:
    s3 = server.client("s3")
    bucket = f"snippets-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="resources.yaml", Body=SNIPPET.encode())
    return TEMPLATE.replace("LOCATION", f"s3://{bucket}/resources.yaml")


def test_validate_template_resolves_includes(server, included):
    validated = server.client("cloudformation").validate_template(TemplateBody=included)
    assert validated["Description"] == "included parts"
    assert validated["DeclaredTransforms"] == ["AWS::Include"]
    assert validated["Capabilities"] == ["CAPABILITY_IAM"]
    assert {p["ParameterKey"]: p.get("DefaultValue") for p in validated["Parameters"]} == {"Stage": "dev",
                                                                                          "Secret": None}


def test_get_template_summary_of_a_body_and_of_a_stack(server, included):
    cloudformation = server.client("cloudformation")
    summary = cloudformation.get_template_summary(TemplateBody=included)
    assert sorted(summary["ResourceTypes"]) == ["AWS::IAM::Role", "AWS::SQS::Queue"]
    assert summary["DeclaredTransforms"] == ["AWS::Include"]
    assert json.loads(summary["Metadata"]) == {"Owner": "team"}
    stage = next(p for p in summary["Parameters"] if p["ParameterKey"] == "Stage")
    assert stage["ParameterType"] == "String" and stage["ParameterConstraints"]["AllowedValues"] == ["dev", "prod"]
    secret = next(p for p in summary["Parameters"] if p["ParameterKey"] == "Secret")
    assert secret["NoEcho"] is True
    broken = included.replace("resources.yaml", "missing.yaml")
    with pytest.raises(ClientError, match="does not exist"):
        cloudformation.get_template_summary(TemplateBody=broken)

    name = f"summary-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {
        "Q": {"Type": "AWS::SQS::Queue"}}}))
    assert cloudformation.get_template_summary(StackName=name)["ResourceTypes"] == ["AWS::SQS::Queue"]
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 0.2})
    cloudformation.delete_stack(StackName=name)


DEPLOYED = """
Parameters:
  Word: {Type: String, Description: the queue's word}
  Size: {Type: Number, Default: 60}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub '${Word}-queue'
      MessageRetentionPeriod: !Ref Size
Outputs:
  Name: {Value: !GetAtt Queue.QueueName}
"""


def cumulo_deploy(server, project: Path, *args: str, answers: str | None = None) -> subprocess.CompletedProcess:
    """`cumulo deploy` in ``project``; with ``answers``, its stdin is a terminal that types them."""
    command = [sys.executable, "-m", "cumulo.cli.main", "deploy", "--endpoint-url", server.url, *args]
    env = {k: v for k, v in subprocess_env().items() if k != "CI"}
    if answers is None:
        return subprocess.run(command, cwd=project, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120, env=env)
    main, terminal = pty.openpty()
    try:
        os.write(main, answers.encode())
        return subprocess.run(command, cwd=project, stdin=terminal, capture_output=True, text=True, timeout=120,
                              env=env, start_new_session=True)
    finally:
        os.close(main)
        os.close(terminal)


def test_deploy_asks_for_missing_parameters_in_a_terminal_and_lists_them_otherwise(server, tmp_path: Path):
    (tmp_path / "template.yaml").write_text(DEPLOYED)
    word = f"w{uuid.uuid4().hex[:8]}"
    refused = cumulo_deploy(server, tmp_path, "--stack-name", f"{word}-a", "--no-prompt")
    assert refused.returncode == 2, refused.stderr
    assert "parameters without a default value were not given: Word." in refused.stderr
    assert "--parameter-overrides Word=VALUE" in refused.stderr

    asked = cumulo_deploy(server, tmp_path, "--stack-name", f"{word}-a", answers=f"{word}\n")
    assert asked.returncode == 0, asked.stderr + asked.stdout
    assert "Parameter Word (the queue's word)" in asked.stdout
    server.client("sqs").get_queue_url(QueueName=f"{word}-queue")
    # An update keeps the previous value of a parameter that has no default.
    kept = cumulo_deploy(server, tmp_path, "--stack-name", f"{word}-a", "--no-prompt")
    assert kept.returncode == 0 and "No changes to deploy" in kept.stdout, kept.stderr

    guided = cumulo_deploy(server, tmp_path, "--guided", answers=f"{word}-b\n{word}b\n90\n")
    assert guided.returncode == 0, guided.stderr + guided.stdout
    saved = (tmp_path / "samconfig.toml").read_text()
    assert f'stack_name = "{word}-b"' in saved and f"Word={word}b Size=90" in saved
    # samconfig.toml gives the stack name and the parameters from now on.
    again = cumulo_deploy(server, tmp_path, "--no-prompt")
    assert again.returncode == 0 and "No changes to deploy" in again.stdout, again.stderr
    url = server.client("sqs").get_queue_url(QueueName=f"{word}b-queue")["QueueUrl"]
    assert server.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])[
        "Attributes"]["MessageRetentionPeriod"] == "90"
    for stack in (f"{word}-a", f"{word}-b"):
        server.client("cloudformation").delete_stack(StackName=stack)
