"""SAM applications with ``Events: Type: Api`` (implicit ``ServerlessRestApi``) and
``AWS::Serverless::Api``, and plain ``AWS::ApiGateway::*`` resources, deployed through
CloudFormation and called over HTTP."""

from __future__ import annotations

import textwrap
import uuid

import pytest

from tests.integration.test_apigw_support import call

WAIT = {"Delay": 0.2, "MaxAttempts": 300}
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]

TEMPLATE = textwrap.dedent("""
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function:
        Runtime: python3.11
        Handler: index.handler
        Timeout: 10
      Api:
        Cors: "'https://app.example'"
    Resources:
      Hello:
        Type: AWS::Serverless::Function
        Properties:
          InlineCode: |
            import json
            def handler(event, context):
                return {"statusCode": 200, "headers": {"content-type": "application/json"},
                        "body": json.dumps({"resource": event["resource"], "params": event["pathParameters"],
                                            "stage": event["requestContext"]["stage"],
                                            "vars": event["stageVariables"], "greeting": "{{GREETING}}"})}
          Events:
            Implicit:
              Type: Api
              Properties: {Path: '/hello/{name}', Method: get}
            Keyed:
              Type: Api
              Properties:
                RestApiId: !Ref Api
                Path: /items
                Method: post
                Auth: {ApiKeyRequired: true}
            Guarded:
              Type: Api
              Properties:
                RestApiId: !Ref Api
                Path: /guarded
                Method: get
                Auth: {Authorizer: TokenAuth}
            Ordered:
              Type: Api
              Properties:
                RestApiId: !Ref Api
                Path: /orders
                Method: post
                RequestModel: {Model: Order, Required: true, ValidateBody: true}
                RequestParameters: [{method.request.querystring.region: {Required: true}}]
      Authz:
        Type: AWS::Serverless::Function
        Properties:
          InlineCode: |
            def handler(event, context):
                effect = "Allow" if event["authorizationToken"] == "letmein" else "Deny"
                return {"principalId": "sam-user", "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
      Api:
        Type: AWS::Serverless::Api
        Properties:
          StageName: v1
          Variables: {color: blue}
          Models:
            Order: {type: object, required: [sku], properties: {sku: {type: string}}}
          GatewayResponses:
            BAD_REQUEST_BODY:
              StatusCode: 422
              ResponseTemplates: {application/json: '{"bad": $context.error.messageString}'}
          Auth:
            UsagePlan: {CreateUsagePlan: PER_API}
            Authorizers:
              TokenAuth: {FunctionArn: !GetAtt Authz.Arn}
    Outputs:
      ImplicitUrl:
        Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod"
      ImplicitId: {Value: !Ref ServerlessRestApi}
      ApiId: {Value: !Ref Api}
      KeyId: {Value: !Ref ApiApiKey}
""")


@pytest.fixture(scope="module")
def cloudformation(server):
    if "cloudformation" not in server.health()["services"]:
        pytest.skip("CloudFormation is not part of this build")
    return server.client("cloudformation")


def outputs(cloudformation, name):
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_sam_implicit_and_explicit_rest_apis(server, cloudformation):
    name = f"restapi-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=name, TemplateBody=TEMPLATE.replace("{{GREETING}}", "hi"),
                                Capabilities=CAPABILITIES)
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    out = outputs(cloudformation, name)
    implicit_id = out["ImplicitId"]
    assert out["ImplicitUrl"] == f"https://{implicit_id}.execute-api.us-east-1.amazonaws.com/Prod"
    # the URL the template builds, reached host-style
    reply = call(f"{server.url}/Prod/hello/ada", host=f"{implicit_id}.execute-api.us-east-1.amazonaws.com")
    assert reply.status == 200, reply.body
    assert reply.json() == {"resource": "/hello/{name}", "params": {"name": "ada"}, "stage": "Prod", "vars": None,
                            "greeting": "hi"}
    assert reply.header("access-control-allow-origin") is None  # the function sets no CORS headers itself
    # SAM's implicit API has the Prod and Stage stages, and CORS preflights answered by MOCK integrations
    assert call(f"{server.url}/_api/{implicit_id}/Stage/hello/bob").json()["stage"] == "Stage"
    preflight = call(f"{server.url}/_api/{implicit_id}/Prod/hello/bob", method="OPTIONS")
    assert preflight.status == 200
    assert preflight.header("access-control-allow-origin") == "https://app.example"
    assert "GET" in preflight.header("access-control-allow-methods")

    apigw = server.client("apigateway")
    keyed = f"{server.url}/_api/{out['ApiId']}/v1/items"
    assert call(keyed, method="POST").status == 403
    key = apigw.get_api_key(apiKey=out["KeyId"], includeValue=True)
    allowed = call(keyed, method="POST", headers={"x-api-key": key["value"]})
    assert allowed.status == 200, allowed.body
    assert allowed.json()["vars"] == {"color": "blue"}
    guarded = f"{server.url}/_api/{out['ApiId']}/v1/guarded"
    assert call(guarded).status == 401
    assert call(guarded, headers={"Authorization": "wrong"}).status == 403
    assert call(guarded, headers={"Authorization": "letmein"}).status == 200
    orders = f"{server.url}/_api/{out['ApiId']}/v1/orders"
    invalid = call(orders, method="POST", body='{"qty": 1}', headers={"content-type": "application/json"})
    assert invalid.status == 422 and "sku" in invalid.json()["bad"]
    assert call(orders, method="POST", body='{"sku": "a"}', headers={"content-type": "application/json"}).status == 200

    cloudformation.update_stack(StackName=name, TemplateBody=TEMPLATE.replace("{{GREETING}}", "hello"),
                                Capabilities=CAPABILITIES)
    cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert call(f"{server.url}/_api/{implicit_id}/Prod/hello/ada").json()["greeting"] == "hello"

    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert implicit_id not in {api["id"] for api in apigw.get_rest_apis(limit=500)["items"]}


PLAIN = """
Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: plain-rest, BinaryMediaTypes: [image/png]}
  Greeting:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: greeting}
  Get:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Greeting
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 200}'}
        IntegrationResponses:
          - StatusCode: 200
            ResponseTemplates: {application/json: '{"text": "{{TEXT}}", "stage": "$context.stage"}'}
      MethodResponses: [{StatusCode: 200}]
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: Get
    Properties: {RestApiId: !Ref Api}
  Live:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: live
      Variables: {color: red}
      MethodSettings: [{ResourcePath: /*, HttpMethod: '*', ThrottlingRateLimit: 100, ThrottlingBurstLimit: 50}]
Outputs:
  ApiId: {Value: !Ref Api}
"""


def test_plain_cloudformation_resources_create_update_delete(server, cloudformation):
    name = f"plainrest-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=name, TemplateBody=PLAIN.replace("{{TEXT}}", "hello"))
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    api_id = outputs(cloudformation, name)["ApiId"]
    target = f"{server.url}/_api/{api_id}/live/greeting"
    assert call(target).json() == {"text": "hello", "stage": "live"}
    apigw = server.client("apigateway")
    stage = apigw.get_stage(restApiId=api_id, stageName="live")
    assert stage["variables"] == {"color": "red"} and stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 50
    assert apigw.get_rest_api(restApiId=api_id)["binaryMediaTypes"] == ["image/png"]
    # the method changes in place; callers see it after a new deployment, as on AWS
    cloudformation.update_stack(StackName=name, TemplateBody=PLAIN.replace("{{TEXT}}", "bye"))
    cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    greeting = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/greeting")
    method = apigw.get_method(restApiId=api_id, resourceId=greeting, httpMethod="GET")
    assert "bye" in method["methodIntegration"]["integrationResponses"]["200"]["responseTemplates"]["application/json"]
    assert call(target).json() == {"text": "hello", "stage": "live"}
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert api_id not in {api["id"] for api in apigw.get_rest_apis(limit=500)["items"]}
