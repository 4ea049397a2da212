"""AWS::SQS::*, AWS::SNS::*, AWS::StepFunctions::StateMachine and Lambda's event wiring resources."""

from __future__ import annotations

import json
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.cloudformation.resources.base import (
    Deployed,
    ResourceContext,
    ResourceFailure,
    ResourceHandler,
    as_bool,
    as_int,
    tags_map,
)
from cumulo.services.tagging import tag_list
from cumulo.template_loader import TemplateError, load_template

QUEUE_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                    "VisibilityTimeout", "RedrivePolicy", "RedriveAllowPolicy", "ContentBasedDeduplication",
                    "DeduplicationScope", "FifoThroughputLimit", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
                    "SqsManagedSseEnabled")
SUBSCRIPTION_ATTRIBUTES = ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy",
                           "DeliveryPolicy")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


class QueueHandler(ResourceHandler):
    type = "AWS::SQS::Queue"
    replace_on = frozenset({"QueueName", "FifoQueue"})
    properties = frozenset({"QueueName", "FifoQueue", "Tags", *QUEUE_ATTRIBUTES})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        fifo = as_bool(props.get("FifoQueue")) or False
        name = props.get("QueueName") or (ctx.physical_name(75) + (".fifo" if fifo else ""))
        attributes = {k: _text(props[k]) for k in QUEUE_ATTRIBUTES if props.get(k) is not None}
        if fifo:
            attributes["FifoQueue"] = "true"
        url = (await ctx.call("sqs", "CreateQueue", {"QueueName": name, "Attributes": attributes,
                                                     "tags": tags_map(props.get("Tags")) or None}))["QueueUrl"]
        return Deployed(url, self._attributes(ctx, url, name))

    @staticmethod
    def _attributes(ctx: ResourceContext, url: str, name: str) -> dict[str, Any]:
        return {"Arn": f"arn:aws:sqs:{ctx.region}:{ctx.account}:{name}", "QueueName": name, "QueueUrl": url}

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        attributes = {k: _text(new[k]) for k in QUEUE_ATTRIBUTES if new.get(k) is not None}
        if attributes:
            await ctx.call("sqs", "SetQueueAttributes", {"QueueUrl": physical_id, "Attributes": attributes})
        return Deployed(physical_id, self._attributes(ctx, physical_id, physical_id.rstrip("/").split("/")[-1]))

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("sqs", "DeleteQueue", {"QueueUrl": physical_id})


class QueuePolicyHandler(ResourceHandler):
    type = "AWS::SQS::QueuePolicy"
    properties = frozenset({"Queues", "PolicyDocument"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        for url in props.get("Queues") or []:
            await ctx.call("sqs", "SetQueueAttributes", {"QueueUrl": url, "Attributes": {
                "Policy": _text(props["PolicyDocument"])}})
        return Deployed(ctx.physical_name())

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await self.create(ctx, new)
        return Deployed(physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        for url in props.get("Queues") or []:
            await ctx.call("sqs", "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": ""}})


class TopicHandler(ResourceHandler):
    type = "AWS::SNS::Topic"
    replace_on = frozenset({"TopicName", "FifoTopic"})
    properties = frozenset({"TopicName", "FifoTopic", "DisplayName", "ContentBasedDeduplication", "KmsMasterKeyId",
                            "TracingConfig", "Tags", "Subscription"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        fifo = as_bool(props.get("FifoTopic")) or False
        name = props.get("TopicName") or (ctx.physical_name(251) + (".fifo" if fifo else ""))
        attributes = {"FifoTopic": "true"} if fifo else {}
        for member in ("DisplayName", "ContentBasedDeduplication", "KmsMasterKeyId", "TracingConfig"):
            if props.get(member) is not None:
                attributes[member] = _text(props[member])
        arn = (await ctx.call("sns", "CreateTopic", {
            "Name": name, "Attributes": attributes,
            "Tags": tag_list(tags_map(props.get("Tags"))) or None}))["TopicArn"]
        for subscription in props.get("Subscription") or []:
            await ctx.call("sns", "Subscribe", {"TopicArn": arn, "Protocol": subscription["Protocol"],
                                                "Endpoint": subscription["Endpoint"]})
        return Deployed(arn, {"TopicArn": arn, "TopicName": name})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        for member in ("DisplayName", "ContentBasedDeduplication"):
            if new.get(member) != old.get(member) and new.get(member) is not None:
                await ctx.call("sns", "SetTopicAttributes", {"TopicArn": physical_id, "AttributeName": member,
                                                             "AttributeValue": _text(new[member])})
        return Deployed(physical_id, {"TopicArn": physical_id, "TopicName": physical_id.rsplit(":", 1)[1]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("sns", "DeleteTopic", {"TopicArn": physical_id})


class SubscriptionHandler(ResourceHandler):
    type = "AWS::SNS::Subscription"
    replace_on = frozenset({"TopicArn", "Protocol", "Endpoint", "Region"})
    properties = frozenset({"TopicArn", "Protocol", "Endpoint", *SUBSCRIPTION_ATTRIBUTES})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        attributes = {k: _text(props[k]) for k in SUBSCRIPTION_ATTRIBUTES if props.get(k) is not None}
        arn = (await ctx.call("sns", "Subscribe", {
            "TopicArn": props["TopicArn"], "Protocol": props["Protocol"], "Endpoint": props.get("Endpoint"),
            "Attributes": attributes or None, "ReturnSubscriptionArn": True}))["SubscriptionArn"]
        return Deployed(arn)

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        for name in SUBSCRIPTION_ATTRIBUTES:
            if new.get(name) != old.get(name):
                await ctx.call("sns", "SetSubscriptionAttributes", {
                    "SubscriptionArn": physical_id, "AttributeName": name,
                    "AttributeValue": _text(new[name]) if new.get(name) is not None else ""})
        return Deployed(physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("sns", "Unsubscribe", {"SubscriptionArn": physical_id})


class TopicPolicyHandler(ResourceHandler):
    type = "AWS::SNS::TopicPolicy"
    properties = frozenset({"Topics", "PolicyDocument"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        for topic in props.get("Topics") or []:
            await ctx.call("sns", "SetTopicAttributes", {"TopicArn": topic, "AttributeName": "Policy",
                                                         "AttributeValue": _text(props["PolicyDocument"])})
        return Deployed(ctx.physical_name())

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await self.create(ctx, new)
        return Deployed(physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        return None  # the topic keeps AWS's default policy


def _definition(ctx: ResourceContext, props: dict[str, Any]) -> str:
    """The definition's JSON text: ``DefinitionString``, ``Definition`` or the S3 object (JSON or YAML) that
    ``DefinitionS3Location`` names, with ``DefinitionSubstitutions`` applied."""
    text = props.get("DefinitionString")
    location = props.get("DefinitionS3Location")
    if text is None and location:
        try:
            text = ctx.platform.objects.read_object(location["Bucket"], location["Key"]).decode()
        except AwsError as error:
            raise ResourceFailure(f"Failed to read the state machine definition at s3://{location['Bucket']}/"
                                  f"{location['Key']}: {error.message}") from error
        if not text.lstrip().startswith("{"):
            try:
                text = json.dumps(load_template(text))
            except TemplateError as error:
                raise ResourceFailure(f"The state machine definition at s3://{location['Bucket']}/"
                                      f"{location['Key']} is not valid JSON or YAML: {error}") from error
    if text is None:
        text = json.dumps(props.get("Definition") or {})
    for key, value in (props.get("DefinitionSubstitutions") or {}).items():
        text = text.replace("${" + key + "}", _text(value) if not isinstance(value, str) else value)
    return text


class StateMachineHandler(ResourceHandler):
    type = "AWS::StepFunctions::StateMachine"
    replace_on = frozenset({"StateMachineName", "StateMachineType"})
    properties = frozenset({"StateMachineName", "StateMachineType", "Definition", "DefinitionString",
                            "DefinitionS3Location", "DefinitionSubstitutions", "RoleArn", "LoggingConfiguration",
                            "TracingConfiguration", "Tags"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("StateMachineName") or ctx.physical_name(80)
        created = await ctx.call("stepfunctions", "CreateStateMachine", {
            "name": name, "definition": _definition(ctx, props), "roleArn": props["RoleArn"],
            "type": props.get("StateMachineType") or "STANDARD", "loggingConfiguration": _lower_keys(
                props.get("LoggingConfiguration")), "tracingConfiguration": _lower_keys(
                props.get("TracingConfiguration")),
            "tags": tag_list(tags_map(props.get("Tags")), "key", "value") or None})
        arn = created["stateMachineArn"]
        return Deployed(arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": created.get("stateMachineVersionArn")
                              or "INITIAL"})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        updated = await ctx.call("stepfunctions", "UpdateStateMachine", {
            "stateMachineArn": physical_id, "definition": _definition(ctx, new), "roleArn": new["RoleArn"],
            "loggingConfiguration": _lower_keys(new.get("LoggingConfiguration")),
            "tracingConfiguration": _lower_keys(new.get("TracingConfiguration"))})
        return Deployed(physical_id, {"Arn": physical_id, "Name": physical_id.rsplit(":", 1)[1],
                                      "StateMachineRevisionId": updated.get("revisionId") or "INITIAL"})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("stepfunctions", "DeleteStateMachine", {"stateMachineArn": physical_id})


def _lower_keys(value: Any) -> Any:
    """CloudFormation's PascalCase properties as the Step Functions API's camelCase members."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


class EventSourceMappingHandler(ResourceHandler):
    type = "AWS::Lambda::EventSourceMapping"
    replace_on = frozenset({"EventSourceArn", "StartingPosition", "StartingPositionTimestamp"})
    MEMBERS = ("BatchSize", "MaximumBatchingWindowInSeconds", "FilterCriteria", "FunctionResponseTypes",
               "ScalingConfig", "ParallelizationFactor", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
               "MaximumRecordAgeInSeconds", "DestinationConfig", "TumblingWindowInSeconds")
    INTEGERS = ("BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor", "MaximumRetryAttempts",
                "MaximumRecordAgeInSeconds", "TumblingWindowInSeconds")
    properties = frozenset({"EventSourceArn", "FunctionName", "Enabled", "StartingPosition",
                            "StartingPositionTimestamp", *MEMBERS})

    def _params(self, props: dict[str, Any]) -> dict[str, Any]:
        params = {m: props.get(m) for m in self.MEMBERS}
        for member in self.INTEGERS:
            params[member] = as_int(params[member])
        params["BisectBatchOnFunctionError"] = as_bool(params["BisectBatchOnFunctionError"])
        if params["ScalingConfig"]:
            params["ScalingConfig"] = {"MaximumConcurrency": as_int(params["ScalingConfig"]["MaximumConcurrency"])}
        params["Enabled"] = as_bool(props.get("Enabled"))
        return params

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        created = await ctx.call("lambda", "CreateEventSourceMapping", {
            "EventSourceArn": props["EventSourceArn"], "FunctionName": props["FunctionName"],
            "StartingPosition": props.get("StartingPosition"),
            "StartingPositionTimestamp": props.get("StartingPositionTimestamp"), **self._params(props)})
        return Deployed(created["UUID"], {"Id": created["UUID"], "EventSourceMappingArn": created.get(
            "EventSourceMappingArn", "")})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        updated = await ctx.call("lambda", "UpdateEventSourceMapping", {
            "UUID": physical_id, "FunctionName": new["FunctionName"], **self._params(new)})
        return Deployed(physical_id, {"Id": physical_id, "EventSourceMappingArn": updated.get(
            "EventSourceMappingArn", "")})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("lambda", "DeleteEventSourceMapping", {"UUID": physical_id})


class EventInvokeConfigHandler(ResourceHandler):
    type = "AWS::Lambda::EventInvokeConfig"
    replace_on = frozenset({"FunctionName", "Qualifier"})
    properties = frozenset({"FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds",
                            "DestinationConfig"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        await ctx.call("lambda", "PutFunctionEventInvokeConfig", {
            "FunctionName": props["FunctionName"], "Qualifier": props.get("Qualifier"),
            "MaximumRetryAttempts": as_int(props.get("MaximumRetryAttempts")),
            "MaximumEventAgeInSeconds": as_int(props.get("MaximumEventAgeInSeconds")),
            "DestinationConfig": props.get("DestinationConfig")})
        return Deployed(f"{props['FunctionName']}:{props.get('Qualifier') or '$LATEST'}")

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await self.create(ctx, new)
        return Deployed(physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("lambda", "DeleteFunctionEventInvokeConfig", {"FunctionName": props["FunctionName"],
                                                                     "Qualifier": props.get("Qualifier")})


HANDLERS = [QueueHandler(), QueuePolicyHandler(), TopicHandler(), SubscriptionHandler(), TopicPolicyHandler(),
            StateMachineHandler(), EventSourceMappingHandler(), EventInvokeConfigHandler()]
