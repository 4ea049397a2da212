"""The IAM action and resource ARN of an API request, as policies name them.

The action is ``<prefix>:<Operation>``: the prefix is the service model's signing name (CloudWatch
signs as ``monitoring`` but its actions are ``cloudwatch:``), the operation name is the model's
except where IAM's action is named differently (``lambda:InvokeFunction`` for ``Invoke``, S3's
``s3:ListBucket`` for ``ListObjectsV2``...).

The resource is derived from the request's parameters for the common operations of each service
(see :func:`resource_arn`); when the target cannot be named (list operations, services not
covered) it is ``*``, which only statements for all resources (``"Resource": "*"``) cover.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

_PREFIX_BY_SIGNING_NAME = {"monitoring": "cloudwatch"}

_ACTION_NAMES = {
    "lambda": {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"},
    "s3": {"ListObjects": "ListBucket", "ListObjectsV2": "ListBucket", "HeadBucket": "ListBucket",
           "HeadObject": "GetObject", "ListBuckets": "ListAllMyBuckets", "DeleteObjects": "DeleteObject",
           "CopyObject": "PutObject", "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
           "UploadPartCopy": "PutObject", "CompleteMultipartUpload": "PutObject",
           "ListObjectVersions": "ListBucketVersions", "ListMultipartUploads": "ListBucketMultipartUploads",
           "ListParts": "ListMultipartUploadParts", "AbortMultipartUpload": "AbortMultipartUpload"},
}


def action_name(signing_name: str, operation: str) -> str:
    prefix = _PREFIX_BY_SIGNING_NAME.get(signing_name, signing_name)
    return f"{prefix}:{_ACTION_NAMES.get(prefix, {}).get(operation, operation)}"


Params = dict[str, Any]
Deriver = Callable[[Params, str, str], str | None]  # (params, region, account) -> ARN or None


def _lambda(params: Params, region: str, account: str) -> str | None:
    name = params.get("FunctionName")
    if not isinstance(name, str):
        return None
    qualifier = params.get("Qualifier")
    parts = name.split(":")
    if name.startswith("arn:"):
        arn = name
    elif len(parts) >= 3 and parts[1] == "function":  # ACCOUNT:function:NAME[:QUALIFIER]
        arn = f"arn:aws:lambda:{region}:{name}"
    else:  # NAME[:QUALIFIER]
        arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    if isinstance(qualifier, str) and qualifier and arn.count(":") == 6:
        arn += f":{qualifier}"
    return arn


def _sqs(params: Params, region: str, account: str) -> str | None:
    url = params.get("QueueUrl")
    if isinstance(url, str):
        path = [p for p in urlsplit(url).path.split("/") if p]
        if len(path) >= 2:
            return f"arn:aws:sqs:{region}:{path[-2]}:{path[-1]}"
        return None
    name = params.get("QueueName")
    owner = params.get("QueueOwnerAWSAccountId") or account
    return f"arn:aws:sqs:{region}:{owner}:{name}" if isinstance(name, str) else None


def _sns(params: Params, region: str, account: str) -> str | None:
    for member in ("TopicArn", "TargetArn", "ResourceArn", "SubscriptionArn"):
        if isinstance(params.get(member), str):
            return params[member]
    if isinstance(params.get("Name"), str):  # CreateTopic
        return f"arn:aws:sns:{region}:{account}:{params['Name']}"
    return None


def _s3(params: Params, region: str, account: str) -> str | None:
    bucket = params.get("Bucket")
    if not isinstance(bucket, str):
        return None
    key = params.get("Key")
    return f"arn:aws:s3:::{bucket}/{key}" if isinstance(key, str) else f"arn:aws:s3:::{bucket}"


def _states(params: Params, region: str, account: str) -> str | None:
    for member in ("executionArn", "stateMachineArn", "mapRunArn", "activityArn", "resourceArn"):
        if isinstance(params.get(member), str):
            return params[member]
    return None


def _events(params: Params, region: str, account: str) -> str | None:
    entries = params.get("Entries")
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):  # PutEvents
        bus = entries[0].get("EventBusName") or "default"
        return bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}"
    bus = params.get("EventBusName") or "default"
    if not isinstance(bus, str):
        return None
    bus = bus.rsplit("/", 1)[-1] if bus.startswith("arn:") else bus
    rule = params.get("Rule") or params.get("Name")
    if isinstance(rule, str):  # rule operations name the rule "Rule" (targets) or "Name"
        return f"arn:aws:events:{region}:{account}:rule/{rule if bus == 'default' else f'{bus}/{rule}'}"
    return f"arn:aws:events:{region}:{account}:event-bus/{bus}" if "EventBusName" in params else None


def _logs(params: Params, region: str, account: str) -> str | None:
    group = params.get("logGroupName")
    if not isinstance(group, str):
        return None
    arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    stream = params.get("logStreamName")
    return f"{arn}:log-stream:{stream}" if isinstance(stream, str) else arn


def _dynamodb(params: Params, region: str, account: str) -> str | None:
    table = params.get("TableName")
    if not isinstance(table, str):
        return None
    return table if table.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{table}"


def _scheduler(params: Params, region: str, account: str) -> str | None:
    name = params.get("Name")
    if not isinstance(name, str):
        return None
    return f"arn:aws:scheduler:{region}:{account}:schedule/{params.get('GroupName') or 'default'}/{name}"


_DERIVERS: dict[str, Deriver] = {
    "lambda": _lambda, "sqs": _sqs, "sns": _sns, "s3": _s3, "states": _states, "events": _events,
    "logs": _logs, "dynamodb": _dynamodb, "scheduler": _scheduler,
}


def resource_arn(action: str, params: Params, region: str, account: str) -> str:
    """The ARN a request acts on, or ``*`` when it cannot be derived.

    Covered: Lambda ``FunctionName`` (+``Qualifier``), SQS ``QueueUrl``/``QueueName``, SNS
    ``TopicArn``/``TargetArn``, S3 ``Bucket``/``Key``, Step Functions state machine, execution and
    activity ARNs, EventBridge buses and rules, Logs groups and streams, DynamoDB ``TableName``,
    Scheduler schedules.
    """
    prefix, operation = action.split(":", 1)
    if prefix == "events" and operation.endswith("EventBus"):  # Create/Describe/DeleteEventBus name a bus
        name = params.get("Name")
        return f"arn:aws:events:{region}:{account}:event-bus/{name}" if isinstance(name, str) else "*"
    derive = _DERIVERS.get(prefix)
    found = derive(params, region, account) if derive is not None else None
    return found or "*"
