"""SNS through boto3: topics, subscriptions, publishing to SQS (envelope and raw), filter policies in
both scopes, FIFO topics, batches, Lambda and email subscriptions, dead-letter queues and errors."""

from __future__ import annotations

import base64
import json
import signal
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from cumulo.services.sns.signing import string_to_sign
from tests.server import CumuloServer, wait_for


@pytest.fixture
def sns(server):
    return server.client("sns")


@pytest.fixture
def sqs(server):
    return server.client("sqs")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(call) -> dict:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]


def make_queue(sqs, name: str | None = None, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name or unique("q"), Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive_all(sqs, url: str, expected: int, **kwargs) -> list[dict]:
    found: list[dict] = []

    def more() -> bool:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       **kwargs).get("Messages", [])
        found.extend(messages)
        if messages:
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        return len(found) >= expected

    wait_for(more, timeout=10, message=f"{expected} message(s) in {url}")
    return found


def verify_signature(document: dict) -> None:
    """Verify as AWS documents it: fetch the certificate at SigningCertURL, check the string to sign."""
    with urllib.request.urlopen(document["SigningCertURL"], timeout=5) as response:
        certificate = x509.load_pem_x509_certificate(response.read())
    algorithm = hashes.SHA256() if document["SignatureVersion"] == "2" else hashes.SHA1()
    certificate.public_key().verify(base64.b64decode(document["Signature"]), string_to_sign(document).encode(),
                                    padding.PKCS1v15(), algorithm)


# ------------------------------------------------------------------ topics
def test_topic_lifecycle_attributes_and_tags(sns):
    name = unique("topic")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "Shown"},
                           Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:000000000000:{name}"
    assert sns.create_topic(Name=name)["TopicArn"] == arn  # idempotent
    assert error_of(lambda: sns.create_topic(Name=name, Attributes={"DisplayName": "Other"}))["Code"] == \
        "InvalidParameter"
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["DisplayName"] == "Shown"
    assert attributes["Owner"] == "000000000000"
    assert attributes["SubscriptionsConfirmed"] == "0"
    assert json.loads(attributes["Policy"])["Statement"][0]["Resource"] == arn
    effective = json.loads(attributes["EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    sns.set_topic_attributes(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="2")
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(
        {"http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1, "maxDelayTarget": 5}}}))
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["SignatureVersion"] == "2"
    assert json.loads(attributes["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 5
    assert error_of(lambda: sns.set_topic_attributes(TopicArn=arn, AttributeName="Bogus", AttributeValue="x"))[
        "Message"] == "Invalid parameter: AttributeName"
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert arn in [t["TopicArn"] for t in sns.get_paginator("list_topics").paginate().build_full_result()["Topics"]]
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # deleting twice is fine
    with pytest.raises(sns.exceptions.NotFoundException) as caught:
        sns.get_topic_attributes(TopicArn=arn)
    assert caught.value.response["Error"] == {"Type": "Sender", "Code": "NotFound", "Message": "Topic does not exist"}
    with pytest.raises(sns.exceptions.ResourceNotFoundException):
        sns.list_tags_for_resource(ResourceArn=arn)


def test_list_topics_pages_by_100(sns):
    prefix = unique("many")
    arns = {sns.create_topic(Name=f"{prefix}-{i:03d}")["TopicArn"] for i in range(105)}
    first = sns.list_topics()
    assert len(first["Topics"]) == 100 and "NextToken" in first
    everything = {t["TopicArn"] for t in sns.get_paginator("list_topics").paginate().build_full_result()["Topics"]}
    assert arns <= everything
    for arn in arns:
        sns.delete_topic(TopicArn=arn)


@pytest.mark.parametrize("name,attributes", [
    ("has space", {}), ("x" * 257, {}), ("dot.fifo", {}), ("nofifo", {"FifoTopic": "true"}),
])
def test_topic_name_rules(sns, name, attributes):
    assert error_of(lambda: sns.create_topic(Name=name, Attributes=attributes))["Code"] == "InvalidParameter"


# ------------------------------------------------------------------ SQS subscriptions
def test_publish_to_sqs_in_the_signed_envelope(sns, sqs):
    topic = sns.create_topic(Name=unique("env"))["TopicArn"]
    url, queue = make_queue(sqs)
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)["SubscriptionArn"]
    assert subscription.startswith(topic + ":")
    published = sns.publish(TopicArn=topic, Message="hello", Subject="Greeting", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "greeting"},
        "size": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    (message,) = receive_all(sqs, url, 1, AttributeNames=["SenderId"])
    envelope = json.loads(message["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == published["MessageId"]
    assert envelope["TopicArn"] == topic
    assert envelope["Subject"] == "Greeting"
    assert envelope["Message"] == "hello"
    assert envelope["Timestamp"].endswith("Z")
    assert envelope["UnsubscribeURL"].endswith(f"SubscriptionArn={subscription}")
    assert envelope["MessageAttributes"] == {"kind": {"Type": "String", "Value": "greeting"},
                                             "size": {"Type": "Number", "Value": "3"},
                                             "blob": {"Type": "Binary", "Value": "AAE="}}
    assert envelope["SignatureVersion"] == "1"
    verify_signature(envelope)
    assert "MessageAttributes" not in message  # not raw: attributes travel in the envelope only
    # The UnsubscribeURL works against this server, unsigned, as a link in a browser would.
    with urllib.request.urlopen(envelope["UnsubscribeURL"], timeout=5) as response:
        assert response.status == 200
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.get_subscription_attributes(SubscriptionArn=subscription)


def test_raw_delivery_to_sqs_keeps_attributes(sns, sqs):
    topic = sns.create_topic(Name=unique("raw"))["TopicArn"]
    url, queue = make_queue(sqs)
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue,
                                 Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    assert sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]["RawMessageDelivery"] == "true"
    sns.publish(TopicArn=topic, Message='{"raw": true}', MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "k"}, "list": {"DataType": "String.Array",
                                                                      "StringValue": '["a","b"]'}})
    (message,) = receive_all(sqs, url, 1, MessageAttributeNames=["All"])
    assert message["Body"] == '{"raw": true}'
    assert message["MessageAttributes"]["kind"] == {"StringValue": "k", "DataType": "String"}
    assert message["MessageAttributes"]["list"] == {"StringValue": '["a","b"]', "DataType": "String.Array"}


def test_message_structure_json_picks_the_protocol_message(sns, sqs):
    topic = sns.create_topic(Name=unique("struct"))["TopicArn"]
    url, queue = make_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, MessageStructure="json",
                Message=json.dumps({"default": "for everyone", "sqs": "for queues"}))
    assert receive_all(sqs, url, 1)[0]["Body"] == "for queues"
    assert "No default entry" in error_of(lambda: sns.publish(TopicArn=topic, MessageStructure="json",
                                                              Message='{"sqs": "x"}'))["Message"]


def test_filter_policies_on_attributes_and_body(sns, sqs):
    topic = sns.create_topic(Name=unique("filter"))["TopicArn"]
    attr_url, attr_queue = make_queue(sqs)
    body_url, body_queue = make_queue(sqs)
    all_url, all_queue = make_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=attr_queue, Attributes={
        "RawMessageDelivery": "true",
        "FilterPolicy": json.dumps({"color": ["red", {"prefix": "bl"}], "size": [{"numeric": [">", 10]}]})})
    body_sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=body_queue, Attributes={
        "RawMessageDelivery": "true", "FilterPolicyScope": "MessageBody",
        "FilterPolicy": json.dumps({"order": {"status": ["paid"], "total": [{"numeric": [">=", 100]}]}})})[
        "SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=all_queue, Attributes={"RawMessageDelivery": "true"})

    def send(name: str, attributes: dict | None = None, body: dict | None = None) -> None:
        sns.publish(TopicArn=topic, Message=json.dumps(body or {"name": name}), MessageAttributes={
            k: ({"DataType": "Number", "StringValue": str(v)} if isinstance(v, int)
                else {"DataType": "String", "StringValue": v}) for k, v in (attributes or {}).items()})

    send("red-big", {"color": "red", "size": 20})
    send("blue-big", {"color": "blue", "size": 11})
    send("red-small", {"color": "red", "size": 5})
    send("green-big", {"color": "green", "size": 50})
    send("no-attributes")
    send("paid-order", body={"order": {"status": "paid", "total": 150}, "name": "paid-order"})
    send("cheap-order", body={"order": {"status": "paid", "total": 5}, "name": "cheap-order"})
    names = sorted(json.loads(m["Body"])["name"] for m in receive_all(sqs, attr_url, 2))
    assert names == ["blue-big", "red-big"]
    assert [json.loads(m["Body"])["name"] for m in receive_all(sqs, body_url, 1)] == ["paid-order"]
    assert len(receive_all(sqs, all_url, 7)) == 7
    assert "Messages" not in sqs.receive_message(QueueUrl=attr_url)
    assert "Messages" not in sqs.receive_message(QueueUrl=body_url)
    attributes = sns.get_subscription_attributes(SubscriptionArn=body_sub)["Attributes"]
    assert attributes["FilterPolicyScope"] == "MessageBody"
    # Changing the policy applies to the next publish; a bad policy is refused with SNS's wording.
    sns.set_subscription_attributes(SubscriptionArn=body_sub, AttributeName="FilterPolicy",
                                    AttributeValue=json.dumps({"name": ["later"]}))
    send("later")
    assert [json.loads(m["Body"])["name"] for m in receive_all(sqs, body_url, 1)] == ["later"]
    error = error_of(lambda: sns.set_subscription_attributes(
        SubscriptionArn=body_sub, AttributeName="FilterPolicy", AttributeValue='{"a": [{"prefix": 1}]}'))
    assert error["Code"] == "InvalidParameter"
    assert error["Message"] == "Invalid parameter: FilterPolicy: prefix match pattern must be a string"
    error = error_of(lambda: sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=all_queue + "x", Attributes={
        "FilterPolicy": '{"a": {"nested": ["x"]}}'}))
    assert error["Message"].startswith("Invalid parameter: Attributes Reason: FilterPolicy:")


def test_subscribe_is_idempotent_and_lists(sns, sqs):
    topic = sns.create_topic(Name=unique("subs"))["TopicArn"]
    _, queue = make_queue(sqs)
    first = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)["SubscriptionArn"]
    assert sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)["SubscriptionArn"] == first
    assert "different attributes" in error_of(lambda: sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"}))["Message"]
    email = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="someone@example.com")
    assert email["SubscriptionArn"] == "pending confirmation"
    email_arn = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="someone@example.com",
                              ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert email_arn.startswith(topic + ":")
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted(s["SubscriptionArn"] for s in listed) == sorted([first, "PendingConfirmation"])
    assert {s["Protocol"] for s in listed} == {"sqs", "email"}
    everything = sns.get_paginator("list_subscriptions").paginate().build_full_result()["Subscriptions"]
    assert first in [s["SubscriptionArn"] for s in everything]
    pending = sns.get_subscription_attributes(SubscriptionArn=email_arn)["Attributes"]
    assert pending["PendingConfirmation"] == "true"
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert (attributes["SubscriptionsConfirmed"], attributes["SubscriptionsPending"]) == ("1", "1")
    sns.unsubscribe(SubscriptionArn=first)
    sns.unsubscribe(SubscriptionArn=first)
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsDeleted"] == "1"
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.list_subscriptions_by_topic(TopicArn=topic + "-missing")


@pytest.mark.parametrize("protocol,endpoint,fragment", [
    ("carrier-pigeon", "x", "does not support this protocol string"),
    ("http", "https://example.com", "Endpoint must match the specified protocol"),
    ("sqs", "not-an-arn", "SQS endpoint ARN"),
    ("lambda", "arn:aws:sqs:us-east-1:000000000000:q", "Lambda endpoint ARN"),
    ("email", "no-at-sign", "Email address"),
    ("sqs", "arn:aws:sqs:us-east-1:000000000000:q.fifo", "FIFO SQS Queues can not be subscribed"),
])
def test_subscribe_validation(sns, protocol, endpoint, fragment):
    topic = sns.create_topic(Name="validation-topic")["TopicArn"]
    error = error_of(lambda: sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint))
    assert error["Code"] == "InvalidParameter"
    assert fragment in error["Message"]


def test_subscription_attribute_rules(sns, sqs):
    topic = sns.create_topic(Name=unique("attrs"))["TopicArn"]
    _, queue = make_queue(sqs)
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)["SubscriptionArn"]
    lam = sns.subscribe(TopicArn=topic, Protocol="lambda",
                        Endpoint="arn:aws:lambda:us-east-1:000000000000:function:fn")["SubscriptionArn"]
    assert "does not support raw message delivery" in error_of(lambda: sns.set_subscription_attributes(
        SubscriptionArn=lam, AttributeName="RawMessageDelivery", AttributeValue="true"))["Message"]
    assert error_of(lambda: sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="Nope", AttributeValue="x"))["Message"] == \
        "Invalid parameter: AttributeName"
    assert "Invalid value [Everything]" in error_of(lambda: sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="FilterPolicyScope", AttributeValue="Everything"))["Message"]
    assert "invalid arn" in error_of(lambda: sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="RedrivePolicy",
        AttributeValue='{"deadLetterTargetArn": "nope"}'))["Message"]
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.get_subscription_attributes(SubscriptionArn=topic + ":00000000-0000-0000-0000-000000000000")


def test_undeliverable_sqs_message_goes_to_the_subscription_dlq(sns, sqs):
    topic = sns.create_topic(Name=unique("dlq"))["TopicArn"]
    gone_url, gone = make_queue(sqs)
    dlq_url, dlq = make_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=gone, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq})})
    sqs.delete_queue(QueueUrl=gone_url)
    published = sns.publish(TopicArn=topic, Message="lost")
    (dead,) = receive_all(sqs, dlq_url, 1)
    assert json.loads(dead["Body"])["MessageId"] == published["MessageId"]


def test_publish_validation_errors(sns):
    topic = sns.create_topic(Name=unique("errors"))["TopicArn"]
    assert error_of(lambda: sns.publish(TopicArn=topic, Message=""))["Message"] == "Invalid parameter: Empty message"
    assert error_of(lambda: sns.publish(TopicArn=topic, Message="x" * 262_145))["Message"] == \
        "Invalid parameter: Message too long"
    assert error_of(lambda: sns.publish(TopicArn=topic, Message="x", Subject="a\nb"))["Message"] == \
        "Invalid parameter: Subject"
    error = error_of(lambda: sns.publish(TopicArn=topic, Message="x", MessageAttributes={
        "n": {"DataType": "Number", "StringValue": "abc"}}))
    assert error["Code"] == "ParameterValueInvalid"
    assert error_of(lambda: sns.publish(TopicArn=topic, Message="x", MessageDeduplicationId="d"))["Code"] == \
        "InvalidParameter"
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.publish(TopicArn=topic + "-missing", Message="x")
    assert sns.publish(PhoneNumber="+15555550100", Message="sms is recorded, not sent")["MessageId"]


# ------------------------------------------------------------------ batches and FIFO
def test_publish_batch(sns, sqs):
    topic = sns.create_topic(Name=unique("batch"))["TopicArn"]
    url, queue = make_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"})
    result = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "one"}, {"Id": "b", "Message": ""}, {"Id": "c", "Message": "three"}])
    assert [e["Id"] for e in result["Successful"]] == ["a", "c"]
    assert result["Failed"] == [{"Id": "b", "Code": "InvalidParameter", "Message": "Invalid parameter: Empty message",
                                 "SenderFault": True}]
    assert sorted(m["Body"] for m in receive_all(sqs, url, 2)) == ["one", "three"]
    for entries, exception in [
        ([], "EmptyBatchRequestException"),
        ([{"Id": str(i), "Message": "x"} for i in range(11)], "TooManyEntriesInBatchRequestException"),
        ([{"Id": "a", "Message": "x"}, {"Id": "a", "Message": "y"}], "BatchEntryIdsNotDistinctException"),
        ([{"Id": "bad id", "Message": "x"}], "InvalidBatchEntryIdException"),
        ([{"Id": "a", "Message": "x" * 200_000}, {"Id": "b", "Message": "y" * 200_000}],
         "BatchRequestTooLongException"),
    ]:
        with pytest.raises(getattr(sns.exceptions, exception)):
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)


def test_fifo_topic_to_fifo_queue(sns, sqs):
    topic = sns.create_topic(Name=unique("order") + ".fifo", Attributes={
        "FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["FifoTopic"] == "true" and attributes["ContentBasedDeduplication"] == "true"
    url, queue = make_queue(sqs, unique("orders") + ".fifo", FifoQueue="true")
    raw_url, raw_queue = make_queue(sqs, unique("raw") + ".fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_queue, Attributes={"RawMessageDelivery": "true"})
    sequences = []
    for i in range(5):
        sequences.append(sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId="g")["SequenceNumber"])
    duplicate = sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g")
    assert duplicate["SequenceNumber"] == sequences[0]
    assert [int(s) for s in sequences] == sorted(int(s) for s in sequences)
    batch = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "x", "Message": "m5", "MessageGroupId": "g"}, {"Id": "y", "Message": "m6", "MessageGroupId": "g"}])
    assert all("SequenceNumber" in e for e in batch["Successful"])
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"])[
        "Messages"]
    envelopes = [json.loads(m["Body"]) for m in received]
    assert [e["Message"] for e in envelopes] == [f"m{i}" for i in range(7)]
    assert received[0]["Attributes"]["MessageGroupId"] == "g"
    assert envelopes[0]["SequenceNumber"] == sequences[0]
    assert "Signature" not in envelopes[0]
    raw = sqs.receive_message(QueueUrl=raw_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in raw] == [f"m{i}" for i in range(7)]
    # FIFO rules
    assert "MessageGroupId parameter is required" in error_of(
        lambda: sns.publish(TopicArn=topic, Message="x"))["Message"]
    plain = sns.create_topic(Name=unique("plain") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    assert "ContentBasedDeduplication" in error_of(
        lambda: sns.publish(TopicArn=plain, Message="x", MessageGroupId="g"))["Message"]
    assert error_of(lambda: sns.subscribe(TopicArn=plain, Protocol="lambda",
                                          Endpoint="arn:aws:lambda:us-east-1:000000000000:function:f"))[
        "Code"] == "InvalidParameter"


# ------------------------------------------------------------------ other protocols
def test_lambda_subscription_is_recorded_and_delivery_is_queued(sns, server):
    topic = sns.create_topic(Name=unique("lambda"))["TopicArn"]
    function = "arn:aws:lambda:us-east-1:000000000000:function:handler"
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)["SubscriptionArn"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert attributes["Protocol"] == "lambda" and attributes["Endpoint"] == function
    assert attributes["PendingConfirmation"] == "false"
    assert sns.publish(TopicArn=topic, Message="to a function")["MessageId"]
    assert server.health()["services"]["sns"] == "running"


def test_permissions_and_data_protection(sns):
    topic = sns.create_topic(Name=unique("perm"))["TopicArn"]
    sns.add_permission(TopicArn=topic, Label="pub", AWSAccountId=["111122223333"], ActionName=["Publish"])
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["__default_statement_ID", "pub"]
    assert error_of(lambda: sns.add_permission(TopicArn=topic, Label="pub", AWSAccountId=["1"],
                                               ActionName=["Publish"]))["Code"] == "InvalidParameter"
    sns.remove_permission(TopicArn=topic, Label="pub")
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["__default_statement_ID"]
    document = json.dumps({"Name": "p", "Version": "2021-06-01", "Statement": []})
    sns.put_data_protection_policy(ResourceArn=topic, DataProtectionPolicy=document)
    assert json.loads(sns.get_data_protection_policy(ResourceArn=topic)["DataProtectionPolicy"]) == \
        json.loads(document)


def test_cert_url_serves_only_our_certificate(server):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server.url}/SimpleNotificationService-0000.pem", timeout=5)
    assert caught.value.code == 404


def test_published_messages_survive_sigkill(tmp_path):
    data = tmp_path / "data"
    first = CumuloServer(data).start()
    try:
        sns, sqs = first.client("sns"), first.client("sqs")
        topic = sns.create_topic(Name="durable")["TopicArn"]
        url, queue = make_queue(sqs, "durable-target")
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"})
        published = {sns.publish(TopicArn=topic, Message=f"m{i}")["MessageId"] for i in range(10)}
        batch = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
            {"Id": str(i), "Message": f"b{i}"} for i in range(10)])
        assert len(batch["Successful"]) == 10
    finally:
        first.stop(signal.SIGKILL)
    second = CumuloServer(data, port=first.port).start()
    try:
        bodies = {m["Body"] for m in receive_all(second.client("sqs"), url, 20)}
        assert bodies == {f"m{i}" for i in range(10)} | {f"b{i}" for i in range(10)}
        assert len(published) == 10
    finally:
        second.stop()
