"""Naming a request's IAM action and resource ARN."""

from __future__ import annotations

import pytest

from cumulo.iam.request_target import action_name, resource_arn

R, A = "us-east-1", "000000000000"


@pytest.mark.parametrize(("signing_name", "operation", "action"), [
    ("sqs", "SendMessage", "sqs:SendMessage"),
    ("lambda", "Invoke", "lambda:InvokeFunction"),
    ("lambda", "GetFunction", "lambda:GetFunction"),
    ("states", "StartExecution", "states:StartExecution"),
    ("monitoring", "PutMetricData", "cloudwatch:PutMetricData"),
    ("s3", "ListObjectsV2", "s3:ListBucket"),
    ("s3", "HeadObject", "s3:GetObject"),
    ("s3", "PutObject", "s3:PutObject"),
])
def test_action_names(signing_name, operation, action):
    assert action_name(signing_name, operation) == action


@pytest.mark.parametrize(("action", "params", "resource"), [
    ("lambda:GetFunction", {"FunctionName": "orders"}, f"arn:aws:lambda:{R}:{A}:function:orders"),
    ("lambda:InvokeFunction", {"FunctionName": "orders", "Qualifier": "live"},
     f"arn:aws:lambda:{R}:{A}:function:orders:live"),
    ("lambda:InvokeFunction", {"FunctionName": "orders:live"}, f"arn:aws:lambda:{R}:{A}:function:orders:live"),
    ("lambda:InvokeFunction", {"FunctionName": f"arn:aws:lambda:eu-west-1:{A}:function:x"},
     f"arn:aws:lambda:eu-west-1:{A}:function:x"),
    ("lambda:InvokeFunction", {"FunctionName": "111111111111:function:x"},
     f"arn:aws:lambda:{R}:111111111111:function:x"),
    ("lambda:ListFunctions", {}, "*"),
    ("sqs:SendMessage", {"QueueUrl": f"http://127.0.0.1:4566/{A}/orders"}, f"arn:aws:sqs:{R}:{A}:orders"),
    ("sqs:GetQueueUrl", {"QueueName": "orders"}, f"arn:aws:sqs:{R}:{A}:orders"),
    ("sns:Publish", {"TopicArn": f"arn:aws:sns:{R}:{A}:news"}, f"arn:aws:sns:{R}:{A}:news"),
    ("s3:GetObject", {"Bucket": "photos", "Key": "a/b.jpg"}, "arn:aws:s3:::photos/a/b.jpg"),
    ("s3:ListBucket", {"Bucket": "photos"}, "arn:aws:s3:::photos"),
    ("states:StartExecution", {"stateMachineArn": f"arn:aws:states:{R}:{A}:stateMachine:flow"},
     f"arn:aws:states:{R}:{A}:stateMachine:flow"),
    ("events:PutEvents", {"Entries": [{"Source": "app", "DetailType": "x", "Detail": "{}"}]},
     f"arn:aws:events:{R}:{A}:event-bus/default"),
    ("events:PutEvents", {"Entries": [{"EventBusName": "orders"}]}, f"arn:aws:events:{R}:{A}:event-bus/orders"),
    ("events:PutRule", {"Name": "nightly"}, f"arn:aws:events:{R}:{A}:rule/nightly"),
    ("events:PutTargets", {"Rule": "nightly", "EventBusName": "orders"},
     f"arn:aws:events:{R}:{A}:rule/orders/nightly"),
    ("events:DescribeEventBus", {"Name": "orders"}, f"arn:aws:events:{R}:{A}:event-bus/orders"),
    ("logs:PutLogEvents", {"logGroupName": "/app", "logStreamName": "s"},
     f"arn:aws:logs:{R}:{A}:log-group:/app:log-stream:s"),
    ("dynamodb:GetItem", {"TableName": "users"}, f"arn:aws:dynamodb:{R}:{A}:table/users"),
    ("scheduler:GetSchedule", {"Name": "tick"}, f"arn:aws:scheduler:{R}:{A}:schedule/default/tick"),
    ("cloudformation:DescribeStacks", {"StackName": "x"}, "*"),
])
def test_resource_arns(action, params, resource):
    assert resource_arn(action, params, R, A) == resource
