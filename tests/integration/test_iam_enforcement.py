"""Per-function credentials and IAM enforcement against a server started with --enforce-iam."""

from __future__ import annotations

import json
import textwrap
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ACCOUNT = "000000000000"
ASSUME_LAMBDA = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
CALLER = """
import json
import os

import boto3
from botocore.exceptions import ClientError


def handler(event, context):
    try:
        if "queue" in event:
            boto3.client("sqs").send_message(QueueUrl=event["queue"], MessageBody="hello")
        elif "function" in event:
            boto3.client("lambda").get_function(FunctionName=event["function"])
        else:
            return {"key": os.environ["AWS_ACCESS_KEY_ID"], "secret": os.environ["AWS_SECRET_ACCESS_KEY"],
                    "token": os.environ.get("AWS_SESSION_TOKEN", ""),
                    "arn": boto3.client("sts").get_caller_identity()["Arn"]}
    except ClientError as error:
        return {"code": error.response["Error"]["Code"], "message": error.response["Error"]["Message"],
                "status": error.response["ResponseMetadata"]["HTTPStatusCode"]}
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def enforced(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("iam") / "data", extra_args=["--enforce-iam"]).start()
    yield instance
    instance.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def role_with(server: CumuloServer, *statements: dict, managed: tuple[str, ...] = ()) -> str:
    """A new role whose inline policy has ``statements``; returns its ARN."""
    iam = server.client("iam")
    name = unique("role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=ASSUME_LAMBDA)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="app", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": list(statements)}))
    for policy_arn in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn


def calling_function(server: CumuloServer, role_arn: str) -> str:
    lam = server.client("lambda")
    name = unique("caller")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=role_arn, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": textwrap.dedent(CALLER)})}, Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    return name


def invoke(server: CumuloServer, name: str, event: dict) -> Any:
    response = server.client("lambda", read_timeout=60).invoke(FunctionName=name, Payload=json.dumps(event))
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


def queue(server: CumuloServer) -> tuple[str, str]:
    url = server.client("sqs").create_queue(QueueName=unique("q"))["QueueUrl"]
    return url, f"arn:aws:sqs:us-east-1:{ACCOUNT}:{url.rsplit('/', 1)[1]}"


def session_client(server: CumuloServer, service: str, credentials: dict):
    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials.get("SessionToken"),
                        config=Config(retries={"max_attempts": 1}))


def assumed(server: CumuloServer, role_arn: str, session: str = "tester") -> dict:
    return server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]


def test_a_function_has_its_own_role_credentials_not_the_operators(enforced):
    role = role_with(enforced)
    name = calling_function(enforced, role)
    reported = invoke(enforced, name, {})
    assert reported["key"].startswith("ASIA") and reported["key"] != "test"
    assert reported["secret"] != "test" and reported["token"]
    assert reported["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/{name}"
    other = invoke(enforced, calling_function(enforced, role), {})
    assert other["key"] != reported["key"]  # each function has its own session
    # the server accepts the function's credentials (with their token) from anywhere, and knows whose they are
    credentials = {"AccessKeyId": reported["key"], "SecretAccessKey": reported["secret"],
                   "SessionToken": reported["token"]}
    assert session_client(enforced, "sts", credentials).get_caller_identity()["Arn"] == reported["arn"]


def test_a_role_allowed_to_send_to_one_queue_is_denied_other_queues_and_functions(enforced):
    allowed_url, allowed_arn = queue(enforced)
    other_url, other_arn = queue(enforced)
    role = role_with(enforced, {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": allowed_arn})
    name = calling_function(enforced, role)
    bystander = calling_function(enforced, role)
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/{name}"

    assert invoke(enforced, name, {"queue": allowed_url}) == {"ok": True}
    assert enforced.client("sqs").receive_message(QueueUrl=allowed_url)["Messages"][0]["Body"] == "hello"

    denied = invoke(enforced, name, {"queue": other_url})
    assert denied["code"] == "AccessDenied" and denied["status"] == 403
    assert denied["message"] == (f"User: {principal} is not authorized to perform: sqs:SendMessage on resource: "
                                 f"{other_arn} because no identity-based policy allows the sqs:SendMessage action")
    assert "Messages" not in enforced.client("sqs").receive_message(QueueUrl=other_url)

    function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{bystander}"
    denied = invoke(enforced, name, {"function": bystander})
    assert denied["code"] == "AccessDeniedException" and denied["status"] == 403
    assert denied["message"] == (f"User: {principal} is not authorized to perform: lambda:GetFunction on resource: "
                                 f"{function_arn} because no identity-based policy allows the lambda:GetFunction "
                                 "action")


def test_explicit_deny_wins_over_allow(enforced):
    allowed_url, _ = queue(enforced)
    denied_url, denied_arn = queue(enforced)
    role = role_with(enforced, {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
                     {"Effect": "Deny", "Action": "sqs:Send*", "Resource": denied_arn})
    sqs = session_client(enforced, "sqs", assumed(enforced, role))
    sqs.send_message(QueueUrl=allowed_url, MessageBody="fine")
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=denied_url, MessageBody="no")
    assert excinfo.value.response["Error"]["Code"] == "AccessDenied"
    assert excinfo.value.response["Error"]["Message"].endswith(
        f"sqs:SendMessage on resource: {denied_arn} with an explicit deny in an identity-based policy")


def test_attached_managed_policies_count(enforced):
    iam = enforced.client("iam")
    bucket = unique("bucket")
    enforced.client("s3").create_bucket(Bucket=bucket)
    custom = iam.create_policy(PolicyName=unique("read"), PolicyDocument=json.dumps({"Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/public/*"}]}))
    role = role_with(enforced, managed=("arn:aws:iam::aws:policy/AmazonSQSFullAccess", custom["Policy"]["Arn"]))
    credentials = assumed(enforced, role)
    session_client(enforced, "sqs", credentials).list_queues()
    enforced.client("s3").put_object(Bucket=bucket, Key="public/a", Body=b"a")
    enforced.client("s3").put_object(Bucket=bucket, Key="private/b", Body=b"b")
    s3 = session_client(enforced, "s3", credentials)
    assert s3.get_object(Bucket=bucket, Key="public/a")["Body"].read() == b"a"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="private/b")
    assert excinfo.value.response["Error"]["Code"] == "AccessDenied"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as excinfo:
        session_client(enforced, "lambda", credentials).list_functions()
    assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"


def test_operator_keys_are_never_restricted(enforced):
    enforced.client("lambda").list_functions()
    enforced.client("iam").list_roles()


def test_session_credentials_need_their_token(enforced):
    credentials = assumed(enforced, role_with(enforced))
    for token in (None, "not-the-token"):
        with pytest.raises(ClientError) as excinfo:
            session_client(enforced, "sts", {**credentials, "SessionToken": token}).get_caller_identity()
        assert excinfo.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as excinfo:
        session_client(enforced, "sts", {**credentials, "SecretAccessKey": "wrong"}).get_caller_identity()
    assert excinfo.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_session_credentials_outlive_a_server_restart(tmp_path):
    server = CumuloServer(tmp_path / "data", extra_args=["--enforce-iam"]).start()
    try:
        role = role_with(server, {"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"})
        credentials = assumed(server, role, "before-restart")
    finally:
        server.stop()
    server = CumuloServer(tmp_path / "data", port=server.port, extra_args=["--enforce-iam"]).start()
    try:
        identity = session_client(server, "sts", credentials).get_caller_identity()
        assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/before-restart"
        session_client(server, "sqs", credentials).list_queues()
    finally:
        server.stop()


SAM_SENDER = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Allowed:
    Type: AWS::SQS::Queue
  Other:
    Type: AWS::SQS::Queue
  Sender:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Timeout: 30
      Policies:
        - SQSSendMessagePolicy: {QueueName: !GetAtt Allowed.QueueName}
      InlineCode: |
        import boto3
        from botocore.exceptions import ClientError
        def handler(event, context):
            try:
                boto3.client("sqs").send_message(QueueUrl=event["queue"], MessageBody="from sam")
            except ClientError as error:
                return error.response["Error"]["Code"]
            return "sent"
Outputs:
  Sender: {Value: !Ref Sender}
  Allowed: {Value: !Ref Allowed}
  Other: {Value: !Ref Other}
"""


def test_sam_policy_templates_are_enforced(enforced):
    cloudformation = enforced.client("cloudformation")
    stack = unique("sam-iam")
    cloudformation.create_stack(StackName=stack, TemplateBody=SAM_SENDER,
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=stack,
                                                            WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
    assert invoke(enforced, outputs["Sender"], {"queue": outputs["Allowed"]}) == "sent"
    assert invoke(enforced, outputs["Sender"], {"queue": outputs["Other"]}) == "AccessDenied"


HOLDER = """
import os
import time


def handler(event, context):
    time.sleep(event.get("hold", 0))
    return {"AccessKeyId": os.environ["AWS_ACCESS_KEY_ID"], "SecretAccessKey": os.environ["AWS_SECRET_ACCESS_KEY"],
            "SessionToken": os.environ["AWS_SESSION_TOKEN"]}
"""


def expired_or_live(server: CumuloServer, credentials: dict) -> str:
    """"live" while the credentials work, else the error code the server answers."""
    try:
        session_client(server, "sts", credentials).get_caller_identity()
    except ClientError as error:
        assert error.response["Error"]["Message"] == "The security token included in the request is expired"
        return error.response["Error"]["Code"]
    return "live"


def test_each_environment_has_its_own_credentials_which_end_with_it(enforced):
    from concurrent.futures import ThreadPoolExecutor

    lam = enforced.client("lambda", read_timeout=60)
    name = unique("holder")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=role_with(enforced), Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": textwrap.dedent(HOLDER)})}, Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    with ThreadPoolExecutor(2) as threads:  # two invokes at once: two environments
        first, second = threads.map(lambda _: invoke(enforced, name, {"hold": 1}), range(2))
    assert first["AccessKeyId"] != second["AccessKeyId"] and first["SessionToken"] != second["SessionToken"]
    assert invoke(enforced, name, {})["AccessKeyId"] in (first["AccessKeyId"], second["AccessKeyId"])  # warm reuse
    assert expired_or_live(enforced, first) == expired_or_live(enforced, second) == "live"

    # an update retires the environments: their credentials stop working; the new environment gets new ones
    lam.update_function_configuration(FunctionName=name, Description="v2")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    wait_for(lambda: expired_or_live(enforced, first) == expired_or_live(enforced, second) == "ExpiredToken",
             message="the retired environments' credentials to expire")
    third = invoke(enforced, name, {})
    assert third["AccessKeyId"] not in (first["AccessKeyId"], second["AccessKeyId"])
    assert expired_or_live(enforced, third) == "live"
    # other services answer with their protocol's code
    with pytest.raises(ClientError) as refused:
        session_client(enforced, "sqs", first).list_queues()
    assert refused.value.response["Error"]["Code"] in ("ExpiredToken", "ExpiredTokenException")

    lam.delete_function(FunctionName=name)  # so does deleting the function
    wait_for(lambda: expired_or_live(enforced, third) == "ExpiredToken",
             message="the deleted function's credentials to expire")
