"""SAM applications with HttpApi events, deployed through CloudFormation and called over HTTP."""

from __future__ import annotations

import textwrap
import uuid

import pytest

from tests.integration.test_apigw_support import call

WAIT = {"Delay": 0.2, "MaxAttempts": 300}

TEMPLATE = textwrap.dedent("""
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function:
        Runtime: python3.11
        Handler: index.handler
        Timeout: 10
    Resources:
      Hello:
        Type: AWS::Serverless::Function
        Properties:
          InlineCode: |
            import json
            def handler(event, context):
                return {"route": event["routeKey"], "params": event.get("pathParameters"),
                        "stage": event["requestContext"]["stage"], "vars": event.get("stageVariables"),
                        "claims": event["requestContext"].get("authorizer")}
          Events:
            Implicit:
              Type: HttpApi
              Properties: {Path: '/hello/{name}', Method: get}
            Explicit:
              Type: HttpApi
              Properties:
                ApiId: !Ref Api
                Path: '/items/{id}'
                Method: ANY
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          StageName: prod
          StageVariables: {color: {{COLOR}}}
          CorsConfiguration:
            AllowOrigins: [https://app.example]
            AllowMethods: [GET]
      Manual:
        Type: AWS::ApiGatewayV2::Api
        Properties:
          Name: manual
          ProtocolType: HTTP
      ManualIntegration:
        Type: AWS::ApiGatewayV2::Integration
        Properties:
          ApiId: !Ref Manual
          IntegrationType: AWS_PROXY
          IntegrationUri: !GetAtt Hello.Arn
          PayloadFormatVersion: '2.0'
          TimeoutInMillis: '5000'
      ManualRoute:
        Type: AWS::ApiGatewayV2::Route
        Properties:
          ApiId: !Ref Manual
          RouteKey: POST /manual
          Target: !Sub integrations/${ManualIntegration}
      ManualStage:
        Type: AWS::ApiGatewayV2::Stage
        Properties:
          ApiId: !Ref Manual
          StageName: $default
          AutoDeploy: true
          DefaultRouteSettings: {ThrottlingBurstLimit: '100', ThrottlingRateLimit: '50'}
    Outputs:
      ImplicitUrl: {Value: !GetAtt ServerlessHttpApi.ApiEndpoint}
      ExplicitUrl: {Value: !GetAtt Api.ApiEndpoint}
      ExplicitId: {Value: !Ref Api}
      ManualUrl: {Value: !GetAtt Manual.ApiEndpoint}
""")


@pytest.fixture(scope="module")
def cloudformation(server):
    if "cloudformation" not in server.health()["services"]:
        pytest.skip("CloudFormation is not part of this build")
    return server.client("cloudformation")


def outputs(cloudformation, name):
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_sam_http_api_events_deploy_update_and_delete(server, cloudformation):
    name = f"httpapi-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=name, TemplateBody=TEMPLATE.replace("{{COLOR}}", "blue"),
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    urls = outputs(cloudformation, name)
    implicit = call(urls["ImplicitUrl"] + "/hello/ada")
    assert implicit.status == 200, implicit.body
    assert implicit.json()["route"] == "GET /hello/{name}" and implicit.json()["params"] == {"name": "ada"}
    explicit = call(urls["ExplicitUrl"] + "/prod/items/7", method="DELETE", headers={"Origin": "https://app.example"})
    assert explicit.status == 200, explicit.body
    assert explicit.json()["stage"] == "prod" and explicit.json()["vars"] == {"color": "blue"}
    assert explicit.header("access-control-allow-origin") == "https://app.example"
    manual = call(urls["ManualUrl"] + "/manual", method="POST")
    assert manual.status == 200 and manual.json()["route"] == "POST /manual"
    gw = server.client("apigatewayv2")
    assert gw.get_api(ApiId=urls["ExplicitId"])["Name"] == name  # SAM titles the definition with the stack name

    cloudformation.update_stack(StackName=name, TemplateBody=TEMPLATE.replace("{{COLOR}}", "green"),
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert call(urls["ExplicitUrl"] + "/prod/items/8").json()["vars"] == {"color": "green"}

    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert call(urls["ImplicitUrl"] + "/hello/ada").status == 404
    assert urls["ExplicitId"] not in {api["ApiId"] for api in gw.get_apis(MaxResults="500")["Items"]}


def test_api_body_from_s3(server, cloudformation):
    import json

    s3 = server.client("s3")
    bucket = f"defs-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    definition = {"openapi": "3.0.1", "info": {"title": "from-s3", "version": "1"},
                  "paths": {"/ping": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    s3.put_object(Bucket=bucket, Key="openapi.json", Body=json.dumps(definition).encode())
    name = f"httpapi-s3-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"Api": {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {"BodyS3Location": {"Bucket": bucket, "Key": "openapi.json"}}}},
        "Outputs": {"Id": {"Value": {"Ref": "Api"}}}}))
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    api_id = outputs(cloudformation, name)["Id"]
    gw = server.client("apigatewayv2")
    assert gw.get_api(ApiId=api_id)["Name"] == "from-s3"
    assert [r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]] == ["GET /ping"]
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
