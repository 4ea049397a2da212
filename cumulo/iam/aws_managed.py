"""The AWS managed policies IAM knows the documents of (those SAM templates commonly attach).

``arn:aws:iam::aws:policy/...`` policies can be attached without being created; only the ones
below grant anything when IAM is enforced. Their documents are condensed to the permissions that
matter for the services Cumulo serves (AWS's versions also list services Cumulo does not have).
"""

from __future__ import annotations

from typing import Any

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"

_LOGS_WRITE = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]


def _allow(actions: list[str] | str, resource: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}


_DOCUMENTS: dict[str, dict[str, Any]] = {
    "AWSLambdaBasicExecutionRole": _allow(_LOGS_WRITE),
    "service-role/AWSLambdaBasicExecutionRole": _allow(_LOGS_WRITE),
    "AWSLambdaExecute": _allow(["logs:*", "s3:GetObject", "s3:PutObject"]),
    "service-role/AWSLambdaRole": _allow(["lambda:InvokeFunction"]),
    "service-role/AWSLambdaSQSQueueExecutionRole": _allow(
        ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS_WRITE]),
    "service-role/AWSLambdaDynamoDBExecutionRole": _allow(
        ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
         *_LOGS_WRITE]),
    "service-role/AWSLambdaKinesisExecutionRole": _allow(
        ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator",
         "kinesis:ListShards", "kinesis:ListStreams", "kinesis:SubscribeToShard", *_LOGS_WRITE]),
    "AWSLambda_FullAccess": _allow(["lambda:*", "logs:*", "states:*", "events:*", "sqs:*", "sns:*", "s3:*",
                                    "dynamodb:*", "cloudformation:*", "iam:GetRole", "iam:ListRoles",
                                    "iam:PassRole"]),
    "AWSLambda_ReadOnlyAccess": _allow(["lambda:Get*", "lambda:List*", "logs:Describe*", "logs:Get*"]),
    "AmazonSQSFullAccess": _allow("sqs:*"),
    "AmazonSQSReadOnlyAccess": _allow(["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListDeadLetterSourceQueues",
                                       "sqs:ListQueues", "sqs:ListMessageMoveTasks", "sqs:ListQueueTags"]),
    "AmazonSNSFullAccess": _allow("sns:*"),
    "AmazonSNSReadOnlyAccess": _allow(["sns:GetTopicAttributes", "sns:List*", "sns:CheckIfPhoneNumberIsOptedOut",
                                       "sns:GetEndpointAttributes", "sns:GetPlatformApplicationAttributes",
                                       "sns:GetSMSAttributes", "sns:GetSubscriptionAttributes"]),
    "AmazonS3FullAccess": _allow(["s3:*", "s3-object-lambda:*"]),
    "AmazonS3ReadOnlyAccess": _allow(["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*",
                                      "s3-object-lambda:List*"]),
    "AmazonDynamoDBFullAccess": _allow("dynamodb:*"),
    "AmazonDynamoDBReadOnlyAccess": _allow(["dynamodb:BatchGetItem", "dynamodb:Describe*", "dynamodb:List*",
                                            "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan",
                                            "dynamodb:PartiQLSelect"]),
    "AWSStepFunctionsFullAccess": _allow("states:*"),
    "AWSStepFunctionsReadOnlyAccess": _allow(["states:ListStateMachines", "states:ListActivities",
                                              "states:Describe*", "states:GetExecutionHistory",
                                              "states:ListExecutions", "states:ListMapRuns",
                                              "states:ListStateMachineVersions", "states:ListStateMachineAliases",
                                              "states:ListTagsForResource"]),
    "AmazonEventBridgeFullAccess": _allow(["events:*", "schemas:*", "scheduler:*", "pipes:*"]),
    "AmazonEventBridgeReadOnlyAccess": _allow(["events:Describe*", "events:List*", "events:TestEventPattern"]),
    "AmazonEventBridgeSchedulerFullAccess": _allow("scheduler:*"),
    "CloudWatchLogsFullAccess": _allow("logs:*"),
    "CloudWatchLogsReadOnlyAccess": _allow(["logs:Describe*", "logs:Get*", "logs:List*", "logs:StartQuery",
                                            "logs:StopQuery", "logs:TestMetricFilter", "logs:FilterLogEvents"]),
    "CloudWatchFullAccess": _allow(["cloudwatch:*", "logs:*", "events:*", "application-autoscaling:*"]),
    "AdministratorAccess": _allow("*"),
    "PowerUserAccess": _allow("*"),
    "ReadOnlyAccess": _allow(["*:Get*", "*:List*", "*:Describe*"]),
}


def aws_managed_document(policy_arn: str) -> dict[str, Any] | None:
    """The document of a known AWS managed policy, or None (unknown policies grant nothing)."""
    if not policy_arn.startswith(AWS_POLICY_PREFIX):
        return None
    return _DOCUMENTS.get(policy_arn[len(AWS_POLICY_PREFIX):])
