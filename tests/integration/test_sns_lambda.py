"""SNS -> Lambda end to end: a real function subscribed to a topic receives AWS's SNS event and
forwards it to a queue through the SDK inside its environment."""

from __future__ import annotations

import json
import textwrap
import uuid

from tests.conftest import make_zip
from tests.server import wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
FORWARDER = """
import json
import os

import boto3


def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(event))
"""


def test_topic_invokes_a_subscribed_function(server):
    lam, sns, sqs = server.client("lambda"), server.client("sns"), server.client("sqs")
    out = sqs.create_queue(QueueName=f"sns-lambda-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    name = f"sns-sub-{uuid.uuid4().hex[:8]}"
    function = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                   Code={"ZipFile": make_zip({"app.py": textwrap.dedent(FORWARDER)})},
                                   Environment={"Variables": {"OUT": out}}, Timeout=30)["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    topic = sns.create_topic(Name=f"to-lambda-{uuid.uuid4().hex[:8]}")["TopicArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)["SubscriptionArn"]
    published = sns.publish(TopicArn=topic, Message="to the function", Subject="Hello", MessageAttributes={
        "k": {"DataType": "String", "StringValue": "v"}})
    received = wait_for(lambda: sqs.receive_message(QueueUrl=out, WaitTimeSeconds=1).get("Messages"), timeout=60,
                        message="the function's forwarded event")
    event = json.loads(received[0]["Body"])
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"] == subscription
    sns_part = record["Sns"]
    assert sns_part["MessageId"] == published["MessageId"]
    assert sns_part["TopicArn"] == topic
    assert sns_part["Message"] == "to the function"
    assert sns_part["Subject"] == "Hello"
    assert sns_part["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
