"""SNS message formats, signatures and retry policies, checked without a server."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from cumulo.protocol.errors import AwsError
from cumulo.services.sns import messages as fmt
from cumulo.services.sns import policies
from cumulo.services.sns.signing import Signer, string_to_sign
from cumulo.store.sqlite import SqliteStore

BASE = "http://127.0.0.1:4566"
SUB = "arn:aws:sns:us-east-1:000000000000:t:7f1c2d8e-0000-4000-8000-000000000001"
MESSAGE = {"id": "95df01b4-ee98-5cb9-9903-4c221d41eb5e", "topic": "arn:aws:sns:us-east-1:000000000000:t",
           "body": "Hello from SNS!", "subject": "TestInvoke", "ts": 1546433107.0,
           "attributes": {"Test": {"DataType": "String", "StringValue": "TestString"},
                          "TestBinary": {"DataType": "Binary", "BinaryValue": "VGVzdEJpbmFyeQ=="}}}


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    store = SqliteStore(tmp_path_factory.mktemp("sns") / "state.db")
    yield Signer.load_or_create(store)
    store.close()


def verify(document: dict, pem: bytes) -> None:
    """AWS's documented verification: the string to sign, the certificate's key, SHA1/SHA256."""
    certificate = x509.load_pem_x509_certificate(pem)
    algorithm = hashes.SHA256() if document["SignatureVersion"] == "2" else hashes.SHA1()
    certificate.public_key().verify(base64.b64decode(document["Signature"]),
                                    string_to_sign(document).encode(), padding.PKCS1v15(), algorithm)


def test_lambda_event_has_the_documented_shape(signer):
    event = fmt.lambda_event(MESSAGE, SUB, BASE, signer)
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == SUB
    sns = record["Sns"]
    assert set(sns) == {"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                        "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes"}
    assert sns["Type"] == "Notification"
    assert sns["Timestamp"] == "2019-01-02T12:45:07.000Z"
    assert sns["SignatureVersion"] == "1"
    assert sns["SigningCertUrl"] == BASE + signer.cert_path()
    assert sns["UnsubscribeUrl"] == f"{BASE}/?Action=Unsubscribe&SubscriptionArn={SUB}"
    assert sns["MessageAttributes"] == {"Test": {"Type": "String", "Value": "TestString"},
                                        "TestBinary": {"Type": "Binary", "Value": "VGVzdEJpbmFyeQ=="}}
    verify(sns, signer.certificate_pem)
    assert json.loads(json.dumps(event)) == event
    without_subject = fmt.lambda_event({**MESSAGE, "subject": None}, SUB, BASE, signer)
    assert without_subject["Records"][0]["Sns"]["Subject"] is None


def test_notification_envelope_and_signature_versions(signer):
    one = fmt.notification(MESSAGE, SUB, BASE, signer, "1")
    assert list(one)[:6] == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp"]
    assert one["SigningCertURL"].endswith(".pem")
    verify(one, signer.certificate_pem)
    two = fmt.notification({**MESSAGE, "subject": None}, SUB, BASE, signer, "2")
    assert "Subject" not in two
    verify(two, signer.certificate_pem)
    tampered = {**two, "Message": "changed"}
    with pytest.raises(Exception):  # noqa: B017 - cryptography raises InvalidSignature
        verify(tampered, signer.certificate_pem)
    fifo = fmt.notification({**MESSAGE, "seq": "10000000000000001000"}, SUB, BASE, signer)
    assert fifo["SequenceNumber"] == "10000000000000001000"
    assert "Signature" not in fifo and "SigningCertURL" not in fifo
    text = fmt.dumps(one)
    assert text.startswith('{\n  "Type" : "Notification",\n')


def test_string_to_sign_orders_fields_per_message_type():
    notification = {"Type": "Notification", "MessageId": "m", "TopicArn": "t", "Message": "hi",
                    "Timestamp": "ts", "Subject": "s", "UnsubscribeURL": "u"}
    assert string_to_sign(notification) == "Message\nhi\nMessageId\nm\nSubject\ns\nTimestamp\nts\nTopicArn\nt\n" \
                                           "Type\nNotification\n"
    confirmation = {"Type": "SubscriptionConfirmation", "MessageId": "m", "TopicArn": "t", "Message": "hi",
                    "Timestamp": "ts", "Token": "tok", "SubscribeURL": "url"}
    assert string_to_sign(confirmation) == ("Message\nhi\nMessageId\nm\nSubscribeURL\nurl\nTimestamp\nts\n"
                                            "Token\ntok\nTopicArn\nt\nType\nSubscriptionConfirmation\n")


def test_confirmation_message(signer):
    document = fmt.confirmation("SubscriptionConfirmation", "id", MESSAGE["topic"], SUB, "abc", 0.0, BASE, signer)
    assert document["SubscribeURL"] == (f"{BASE}/?Action=ConfirmSubscription&TopicArn={MESSAGE['topic']}"
                                        "&Token=abc")
    assert document["Message"].startswith("You have chosen to subscribe to the topic")
    verify(document, signer.certificate_pem)


def test_signer_key_is_kept_in_the_store(tmp_path):
    store = SqliteStore(tmp_path / "state.db")
    try:
        first = Signer.load_or_create(store)
        again = Signer.load_or_create(store)
        assert first.certificate_pem == again.certificate_pem
        assert first.cert_path() == again.cert_path()
    finally:
        store.close()


def test_aws_managed_retry_schedule():
    delays = [policies.retry_delay(policies.AWS_MANAGED, n) for n in range(1, 17)]
    assert delays[:3] == [0.0, 0.0, 0.0]
    assert delays[3:5] == [1.0, 1.0]
    backoff = delays[5:15]
    assert backoff == sorted(backoff) and backoff[0] > 1.0 and backoff[-1] == 20.0
    assert delays[15] == 20.0
    assert policies.retry_delay(policies.AWS_MANAGED, 100_015) == 20.0
    assert policies.retry_delay(policies.AWS_MANAGED, 100_016) is None


def test_http_default_and_custom_policies():
    assert [policies.retry_delay(policies.HTTP_DEFAULT, n) for n in range(1, 5)] == [20.0, 20.0, 20.0, None]
    custom = {"minDelayTarget": 1, "maxDelayTarget": 10, "numRetries": 6, "numNoDelayRetries": 1,
              "numMinDelayRetries": 1, "numMaxDelayRetries": 1, "backoffFunction": "linear"}
    assert [policies.retry_delay(custom, n) for n in range(1, 8)] == [0.0, 1.0, 4.0, 7.0, 10.0, 10.0, None]
    for function in policies.BACKOFF_FUNCTIONS:
        schedule = [policies.retry_delay({**custom, "backoffFunction": function}, n) for n in range(3, 6)]
        assert schedule == sorted(schedule) and schedule[-1] == 10.0


def test_delivery_policy_validation_and_precedence():
    topic = json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 2,
                                                               "maxDelayTarget": 2},
                                 "defaultRequestPolicy": {"headerContentType": "application/json"}}})
    assert policies.check_topic_policy(topic)
    retry, content_type = policies.http_policy(topic, None)
    assert retry["numRetries"] == 5 and content_type == "application/json"
    subscription = json.dumps({"healthyRetryPolicy": {"numRetries": 1, "minDelayTarget": 1, "maxDelayTarget": 1}})
    assert policies.http_policy(topic, subscription)[0]["numRetries"] == 1
    locked = json.dumps({"http": {"disableSubscriptionOverrides": True}})
    assert policies.http_policy(locked, subscription)[0]["numRetries"] == 3
    for bad in ['{"healthyRetryPolicy": {"numRetries": 101}}', '{"healthyRetryPolicy": {"minDelayTarget": 0}}',
                '{"healthyRetryPolicy": {"minDelayTarget": 30, "maxDelayTarget": 20}}',
                '{"healthyRetryPolicy": {"numRetries": 100, "minDelayTarget": 60, "maxDelayTarget": 60}}',
                '{"healthyRetryPolicy": {"backoffFunction": "random"}}', "not json"]:
        with pytest.raises(AwsError) as caught:
            policies.check_subscription_policy(bad)
        assert caught.value.code == "InvalidParameter"


def test_publish_validation():
    with pytest.raises(AwsError, match="Empty message"):
        fmt.check_message("", None)
    with pytest.raises(AwsError, match="No default entry"):
        fmt.check_message('{"sqs": "x"}', "json")
    with pytest.raises(AwsError, match="failed to parse"):
        fmt.check_message("{nope", "json")
    assert fmt.check_message('{"default": "d", "sqs": "s", "n": 1}', "json") == {"default": "d", "sqs": "s"}
    for subject in ["", "x" * 101, "line\nbreak"]:
        with pytest.raises(AwsError, match="Subject"):
            fmt.check_subject(subject)
    stored = fmt.check_attributes({"n": {"DataType": "Number", "StringValue": "1.5"},
                                   "b": {"DataType": "Binary", "BinaryValue": b"\x01"},
                                   "arr": {"DataType": "String.Array", "StringValue": '["a", 1]'}})
    assert stored["b"]["BinaryValue"] == "AQ=="
    assert fmt.sqs_attributes(stored)["arr"]["DataType"] == "String.Array"
    for bad in [{"n": {"DataType": "Number", "StringValue": "one"}},
                {"x": {"DataType": "Text", "StringValue": "v"}},
                {"x": {"DataType": "String", "StringValue": ""}},
                {".x": {"DataType": "String", "StringValue": "v"}},
                {"x": {"DataType": "String.Array", "StringValue": "not an array"}}]:
        with pytest.raises(AwsError) as caught:
            fmt.check_attributes(bad)
        assert caught.value.code == "ParameterValueInvalid"
