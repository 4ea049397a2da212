"""SNS -> Lambda delivery through the Lambda provider's ``invoke_function`` (Event), in process, with
the invoker stubbed: the event reaches it, a missing function goes to the dead-letter queue, and
deliveries are retried while invoking fails."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from cumulo.platform import Platform
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.sns import delivery
from cumulo.settings import Settings

FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:subscriber"


def context(service: str, operation: str) -> RequestContext:
    return RequestContext("req", "us-east-1", "000000000000", service, operation, base_url="http://127.0.0.1:4566")


async def until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
def platform(tmp_path):
    return Platform(Settings(data_dir=tmp_path / "data", sns_retry_delay_scale=0.0))


def setup_topic(platform: Platform, dlq: str | None = None) -> str:
    sns = platform.providers["sns"]
    topic = sns.create_topic(context("sns", "CreateTopic"), {"Name": "t"})["TopicArn"]
    attributes = {"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq})} if dlq else {}
    sns.subscribe(context("sns", "Subscribe"), {"TopicArn": topic, "Protocol": "lambda", "Endpoint": FUNCTION,
                                                "Attributes": attributes})
    return topic


def test_lambda_receives_the_sns_event(platform):
    calls: list[tuple[str, dict[str, Any]]] = []

    async def invoke_function(function_arn: str, payload: bytes, **options: Any) -> dict[str, Any]:
        assert options == {"account": "000000000000", "region": "us-east-1", "invocation_type": "Event"}
        calls.append((function_arn, json.loads(payload)))
        return {"StatusCode": 202}

    async def scenario() -> None:
        platform.providers["lambda"].invoke_function = invoke_function
        await platform.start()
        try:
            topic = setup_topic(platform)
            published = platform.providers["sns"].publish(context("sns", "Publish"), {
                "TopicArn": topic, "Message": "hi", "MessageAttributes": {
                    "k": {"DataType": "String", "StringValue": "v"}}})
            await until(lambda: calls)
            function_arn, event = calls[0]
            assert function_arn == FUNCTION
            record = event["Records"][0]
            assert record["EventSource"] == "aws:sns"
            assert record["Sns"]["MessageId"] == published["MessageId"]
            assert record["Sns"]["Message"] == "hi"
            assert record["Sns"]["Subject"] is None
            assert record["Sns"]["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
            await until(lambda: platform.store.queue_stats(delivery.QUEUE).in_flight == 0)
            assert platform.store.queue_stats(delivery.QUEUE).visible == 0
        finally:
            await platform.stop()

    asyncio.run(scenario())


def test_missing_function_goes_to_the_dead_letter_queue(platform):
    async def invoke_function(function_arn: str, payload: bytes, **options: Any) -> dict[str, Any]:
        raise AwsError("ResourceNotFoundException", f"Function not found: {function_arn}")

    async def scenario() -> None:
        platform.providers["lambda"].invoke_function = invoke_function
        await platform.start()
        try:
            sqs = platform.providers["sqs"]
            sqs.create_queue(context("sqs", "CreateQueue"), {"QueueName": "dlq"})
            topic = setup_topic(platform, dlq="arn:aws:sqs:us-east-1:000000000000:dlq")
            platform.providers["sns"].publish(context("sns", "Publish"), {"TopicArn": topic, "Message": "lost"})
            store_queue = "sqs/000000000000/us-east-1/dlq"
            await until(lambda: platform.store.queue_stats(store_queue).visible == 1)
            (dead,) = platform.store.receive(store_queue, 1, 30.0)
            assert json.loads(dead.body)["Message"] == "lost"
        finally:
            await platform.stop()

    asyncio.run(scenario())


def test_delivery_is_retried_while_invoking_fails(platform):
    failures = {"left": 3}
    calls: list[bytes] = []

    async def invoke_function(function_arn: str, payload: bytes, **options: Any) -> dict[str, Any]:
        if failures["left"]:
            failures["left"] -= 1
            raise AwsError("TooManyRequestsException", "Rate Exceeded.", status=429)
        calls.append(payload)
        return {"StatusCode": 202}

    async def scenario() -> None:
        platform.providers["lambda"].invoke_function = invoke_function
        await platform.start()
        try:
            topic = setup_topic(platform)
            platform.providers["sns"].publish(context("sns", "Publish"), {"TopicArn": topic, "Message": "later"})
            await until(lambda: calls)  # retried without delay: the scale is 0
            assert json.loads(calls[0])["Records"][0]["Sns"]["Message"] == "later"
            assert platform.providers["sns"].deliveries.attempts == 4
        finally:
            await platform.stop()

    asyncio.run(scenario())


def test_other_services_publish_through_publish_message(platform):
    sns, sqs = platform.providers["sns"], platform.providers["sqs"]
    topic = sns.create_topic(context("sns", "CreateTopic"), {"Name": "internal"})["TopicArn"]
    sqs.create_queue(context("sqs", "CreateQueue"), {"QueueName": "internal-target"})
    sns.subscribe(context("sns", "Subscribe"), {"TopicArn": topic, "Protocol": "sqs",
                                                "Endpoint": "arn:aws:sqs:us-east-1:000000000000:internal-target",
                                                "Attributes": {"RawMessageDelivery": "true"}})
    result = sns.publish_message(topic, '{"from": "a destination"}', subject="s")
    assert result["MessageId"]
    (message,) = platform.store.receive("sqs/000000000000/us-east-1/internal-target", 10, 30.0)
    assert message.body == b'{"from": "a destination"}'
    with pytest.raises(AwsError) as caught:
        sns.publish_message(topic + "-missing", "x")
    assert caught.value.code == "NotFound"
    platform.store.close()
