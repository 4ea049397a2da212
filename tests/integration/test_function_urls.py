"""Function URLs: the control plane through boto3, and real HTTP requests to real functions
(auth types NONE and AWS_IAM, the payload 2.0 event, response rules, errors, CORS, aliases)."""

from __future__ import annotations

import base64
import json

import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.integration.test_apigw_support import call, deploy

ANSWERS = """
import base64, json

def handler(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode", "echo")
    if mode == "echo":
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
    if mode == "plain":
        return {"answer": 42}
    if mode == "binary":
        return {"statusCode": 201, "headers": {"content-type": "application/octet-stream", "x-made-by": "fn"},
                "cookies": ["a=1; Path=/", "b=2"], "body": base64.b64encode(bytes(range(256))).decode(),
                "isBase64Encoded": True}
    if mode == "cors":
        return {"statusCode": 200, "headers": {"access-control-allow-origin": "https://evil.example"}, "body": "ok"}
    if mode == "malformed":
        return {"statusCode": "teapot"}
    raise RuntimeError("boom")
"""


@pytest.fixture(scope="module")
def lam(server):
    return server.client("lambda", read_timeout=70)


@pytest.fixture(scope="module")
def function(lam):
    return deploy(lam, ANSWERS).rpartition(":")[2]


def make_public(lam, name: str, url_only: bool = False) -> None:
    """The two statements AWS's documentation gives for a public (AuthType NONE) URL."""
    lam.add_permission(FunctionName=name, StatementId="public-url", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    if not url_only:
        lam.add_permission(FunctionName=name, StatementId="public-invoke", Action="lambda:InvokeFunction",
                           Principal="*", InvokedViaFunctionUrl=True)


@pytest.fixture(scope="module")
def public_url(lam, function):
    cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["content-type"], "ExposeHeaders": ["x-made-by"], "MaxAge": 300}
    config = lam.create_function_url_config(FunctionName=function, AuthType="NONE", Cors=cors)
    make_public(lam, function)
    return config["FunctionUrl"]


def test_control_plane_round_trip(lam, function, public_url):
    config = lam.get_function_url_config(FunctionName=function)
    assert config["FunctionUrl"] == public_url
    assert config["AuthType"] == "NONE" and config["InvokeMode"] == "BUFFERED"
    assert config["FunctionArn"].endswith(f":function:{function}")
    assert config["Cors"]["AllowOrigins"] == ["https://app.example"]
    url_id = public_url.rstrip("/").rpartition("/")[2]
    assert len(url_id) == 32 and url_id.isalnum() and url_id.islower()
    with pytest.raises(lam.exceptions.ResourceConflictException, match="FunctionUrlConfig exists"):
        lam.create_function_url_config(FunctionName=function, AuthType="NONE")
    listed = lam.list_function_url_configs(FunctionName=function)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [public_url]


def test_urls_on_aliases_versions_and_missing_functions(lam, function, public_url):  # (+ the $LATEST URL)
    version = lam.publish_version(FunctionName=function)["Version"]
    lam.create_alias(FunctionName=function, Name="live", FunctionVersion=version)
    alias_url = lam.create_function_url_config(FunctionName=function, Qualifier="live", AuthType="AWS_IAM")
    assert alias_url["FunctionArn"].endswith(f":function:{function}:live")
    assert len(lam.list_function_url_configs(FunctionName=function)["FunctionUrlConfigs"]) == 2
    with pytest.raises(botocore.exceptions.ClientError, match=r"ValidationException.*qualifier"):
        lam.create_function_url_config(FunctionName=function, Qualifier=version, AuthType="NONE")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_function_url_config(FunctionName=function, Qualifier="nope", AuthType="NONE")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName="no-such-function")
    lam.delete_alias(FunctionName=function, Name="live")  # takes its URL along
    assert call(alias_url["FunctionUrl"]).status == 404
    assert len(lam.list_function_url_configs(FunctionName=function)["FunctionUrlConfigs"]) == 1


def test_the_event_is_payload_format_2(public_url):
    reply = call(public_url + "some/path?mode=echo&x=1&x=2", method="POST", body='{"hello": "world"}',
                 headers={"content-type": "application/json", "cookie": "c1=v1; c2=v2", "user-agent": "tests"})
    assert reply.status == 200
    event = reply.json()
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/path"
    assert event["rawQueryString"] == "mode=echo&x=1&x=2"
    assert event["queryStringParameters"] == {"mode": "echo", "x": "1,2"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    assert event["body"] == '{"hello": "world"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["accountId"] == "anonymous"
    assert context["http"] == {"method": "POST", "path": "/some/path", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "tests"}
    assert context["stage"] == "$default" and context["domainPrefix"] == public_url.rstrip("/").rpartition("/")[2]
    assert reply.header("x-amzn-requestid")


def test_binary_bodies_and_structured_answers(public_url):
    reply = call(public_url + "?mode=echo", method="PUT", body=bytes(range(256)),
                 headers={"content-type": "application/octet-stream"})
    event = reply.json()
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == bytes(range(256))
    reply = call(public_url + "?mode=binary")
    assert reply.status == 201 and reply.body == bytes(range(256))
    assert reply.header("x-made-by") == "fn"
    assert [v for k, v in reply.headers if k.lower() == "set-cookie"] == ["a=1; Path=/", "b=2"]
    reply = call(public_url + "?mode=plain")  # any JSON: a 200 application/json
    assert (reply.status, reply.json(), reply.header("content-type")) == (200, {"answer": 42}, "application/json")


def test_function_errors_and_malformed_answers_are_502(public_url):
    for mode in ("raise", "malformed"):
        reply = call(public_url + f"?mode={mode}")
        assert (reply.status, reply.json()) == (502, {"Message": "Internal Server Error"})


def test_cors_preflight_and_response_headers(public_url):
    reply = call(public_url, method="OPTIONS", headers={"origin": "https://app.example",
                                                        "access-control-request-method": "POST"})
    assert reply.status == 200
    assert reply.header("access-control-allow-origin") == "https://app.example"
    assert reply.header("access-control-max-age") == "300"
    reply = call(public_url + "?mode=cors", headers={"origin": "https://app.example"})
    assert reply.header("access-control-allow-origin") == "https://app.example"  # the function's is replaced
    assert reply.header("access-control-expose-headers") == "x-made-by"
    reply = call(public_url + "?mode=cors", headers={"origin": "https://other.example"})
    assert reply.header("access-control-allow-origin") is None


def test_auth_type_none_needs_the_public_permission(lam):
    name = deploy(lam, ANSWERS).rpartition(":")[2]
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    reply = call(url + "?mode=plain")
    assert (reply.status, reply.json()) == (403, {"Message": "Forbidden"})
    make_public(lam, name, url_only=True)  # since October 2025 lambda:InvokeFunction is needed too
    assert call(url + "?mode=plain").status == 403
    lam.add_permission(FunctionName=name, StatementId="public-invoke", Action="lambda:InvokeFunction",
                       Principal="*", InvokedViaFunctionUrl=True)
    assert call(url + "?mode=plain").json() == {"answer": 42}
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert policy["Statement"][1]["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}


def signed_headers(url: str, secret: str) -> dict[str, str]:
    request = AWSRequest(method="GET", url=url, headers={"host": url.split("/")[2]})
    SigV4Auth(Credentials("test", secret), "lambda", "us-east-1").add_auth(request)
    return {name: value for name, value in request.headers.items() if name.lower() != "host"}


def test_auth_type_aws_iam_needs_a_signature(server, lam):
    name = deploy(lam, ANSWERS).rpartition(":")[2]
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"] + "?mode=echo"
    assert call(url).status == 403
    assert call(url, headers=signed_headers(url, "wrong-secret")).status == 403
    reply = call(url, headers=signed_headers(url, "test"))
    assert reply.status == 200
    context = reply.json()["requestContext"]
    assert context["accountId"] == "000000000000"
    assert context["authorizer"]["iam"]["accessKey"] == "test"


def test_host_style_address_and_deleted_urls(server, lam):
    name = deploy(lam, ANSWERS).rpartition(":")[2]
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    make_public(lam, name)
    url_id = url.rstrip("/").rpartition("/")[2]
    reply = call(f"{server.url}/host/style?mode=echo", host=f"{url_id}.lambda-url.us-east-1.localhost:{server.port}")
    assert reply.json()["rawPath"] == "/host/style"
    assert reply.json()["requestContext"]["domainName"] == f"{url_id}.lambda-url.us-east-1.localhost"
    lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert call(url + "?mode=plain").status == 403
    lam.delete_function(FunctionName=name)
    assert call(url + "?mode=plain").status == 404
    assert json.loads(call(f"{server.url}/_lambda-url/{'x' * 32}/").body) == {"Message": "Not Found"}


SAM_TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      AutoPublishAlias: live
      InlineCode: |
        def handler(event, context):
            return {"path": event["rawPath"], "arn": context.invoked_function_arn}
      FunctionUrlConfig:
        AuthType: NONE
        Cors: {AllowOrigins: ['*']}
Outputs:
  Url:
    Value: !GetAtt HelloUrl.FunctionUrl
"""


def test_sam_function_url_config_deploys_and_answers(server):
    cfn = server.client("cloudformation")
    cfn.create_stack(StackName="urls", TemplateBody=SAM_TEMPLATE,
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    cfn.get_waiter("stack_create_complete").wait(StackName="urls", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    url = cfn.describe_stacks(StackName="urls")["Stacks"][0]["Outputs"][0]["OutputValue"]
    reply = call(url + "from/sam", headers={"origin": "https://anywhere.example"})
    assert reply.status == 200
    assert reply.json()["path"] == "/from/sam"
    assert reply.json()["arn"].endswith(":live")  # SAM puts the URL on the alias
    assert reply.header("access-control-allow-origin") == "*"
    cfn.delete_stack(StackName="urls")
    cfn.get_waiter("stack_delete_complete").wait(StackName="urls", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    assert call(url).status == 404
