"""`cumulo deploy` packages local definitions as `sam package` does: an AWS::Include'd OpenAPI file and a
state machine's DefinitionUri, deployed to a real server and used."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_apigw_support import call
from tests.server import subprocess_env

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Timeout: 10
      Events:
        Hello:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /hello, Method: GET}
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefinitionBody:
        Fn::Transform:
          Name: AWS::Include
          Parameters: {Location: ./api.yaml}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/flow.asl.json
      DefinitionSubstitutions: {GreeterArn: !GetAtt Greeter.Arn}
      Policies: [{LambdaInvokePolicy: {FunctionName: !Ref Greeter}}]
Outputs:
  Url: {Value: !GetAtt Api.ApiEndpoint}
  ApiId: {Value: !Ref Api}
  FlowArn: {Value: !Ref Flow}
"""
OPENAPI = """
openapi: '3.0.1'
info:
  title: {'Fn::Sub': '${AWS::StackName}-included'}
  version: '1'
paths:
  /hello:
    get:
      responses: {}
"""
FLOW = {"StartAt": "Greet", "States": {"Greet": {"Type": "Task", "Resource": "${GreeterArn}", "End": True}}}
APP = ("import json\n\ndef handler(event, context):\n"
       "    return {'statusCode': 200, 'body': json.dumps({'greeting': 'hi'})}\n")


def cumulo(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cumulo.cli.main", *args, "--endpoint-url", server.url],
                          capture_output=True, text=True, timeout=180, env=subprocess_env())


def write_project(root: Path) -> Path:
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(APP)
    (root / "statemachine").mkdir()
    (root / "statemachine" / "flow.asl.json").write_text(json.dumps(FLOW))
    (root / "api.yaml").write_text(OPENAPI)
    (root / "template.yaml").write_text(TEMPLATE)
    return root / "template.yaml"


def finished_execution(sfn, arn: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.1)
    raise AssertionError(f"execution {arn} still running after 60 s")


def test_an_included_openapi_definition_and_a_local_state_machine_definition_deploy_and_work(server, tmp_path):
    template = write_project(tmp_path)
    stack = f"packaged-{uuid.uuid4().hex[:8]}"
    deployed = cumulo(server, "deploy", "--template", str(template), "--stack-name", stack)
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    cloudformation = server.client("cloudformation")
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}

    assert server.client("apigatewayv2").get_api(ApiId=outputs["ApiId"])["Name"] == f"{stack}-included"
    response = call(outputs["Url"] + "/hello")
    assert response.status == 200, response.body
    assert response.json() == {"greeting": "hi"}

    sfn = server.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=outputs["FlowArn"], input="{}")["executionArn"]
    execution = finished_execution(sfn, arn)
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"])["statusCode"] == 200

    deleted = cumulo(server, "delete", "--stack-name", stack)
    assert deleted.returncode == 0, deleted.stderr


def test_a_missing_included_object_or_bucket_fails_with_cloudformations_error(server):
    bucket = f"snippets-{uuid.uuid4().hex[:8]}"
    server.client("s3").create_bucket(Bucket=bucket)
    cloudformation = server.client("cloudformation")
    for location, reason in ((f"s3://{bucket}/missing.yaml", f"S3 object [s3://{bucket}/missing.yaml] does not exist."),
                             (f"s3://{bucket}-none/a.yaml", f"S3 bucket [{bucket}-none] does not exist.")):
        template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": location}}}}}}
        with pytest.raises(ClientError) as refused:
            cloudformation.create_stack(StackName=f"include-{uuid.uuid4().hex[:8]}", TemplateBody=json.dumps(template))
        error = refused.value.response["Error"]
        assert error["Code"] == "ValidationError"
        assert error["Message"] == f"Transform AWS::Include failed with: {reason}"


def test_a_missing_local_include_is_reported_before_anything_is_deployed(server, tmp_path):
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              Fn::Transform: {Name: AWS::Include, Parameters: {Location: queue.yaml}}
    """))
    result = cumulo(server, "deploy", "--template", str(tmp_path / "template.yaml"), "--stack-name",
                    f"include-{uuid.uuid4().hex[:8]}")
    assert result.returncode == 1
    assert "Location 'queue.yaml' does not exist" in result.stderr
