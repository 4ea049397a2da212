"""Queue attributes: names, ranges, policies, normalization; queue names, URLs and receipts."""

from __future__ import annotations

import json

import pytest

from cumulo.protocol.errors import AwsError
from cumulo.services.sqs import attributes as attrs
from cumulo.services.sqs.queues import Queue, check_name, decode_receipt, encode_receipt, parse_queue_arn, parse_url


def _error(call) -> AwsError:
    with pytest.raises(AwsError) as caught:
        call()
    return caught.value


def test_integers_are_range_checked_and_normalized():
    assert attrs.normalize({"VisibilityTimeout": " 040 ", "DelaySeconds": "900"}, False, True) == {
        "VisibilityTimeout": "40", "DelaySeconds": "900"}
    for name, value in [("VisibilityTimeout", "43201"), ("DelaySeconds", "-1"), ("MessageRetentionPeriod", "59"),
                        ("MaximumMessageSize", "1048577"), ("ReceiveMessageWaitTimeSeconds", "21"),
                        ("VisibilityTimeout", "abc")]:
        error = _error(lambda n=name, v=value: attrs.normalize({n: v}, False, True))
        assert error.code == "InvalidAttributeValue"
        assert error.message == f"Invalid value for the parameter {name}."


def test_unknown_read_only_and_fifo_only_names_on_standard_queues():
    assert _error(lambda: attrs.normalize({"Nope": "1"}, False, True)).message == "Unknown Attribute Nope."
    assert _error(lambda: attrs.normalize({"QueueArn": "x"}, False, False)).code == "InvalidAttributeName"
    assert _error(lambda: attrs.normalize({"ContentBasedDeduplication": "true"}, False, True)).message == \
        "Unknown Attribute ContentBasedDeduplication."
    assert _error(lambda: attrs.normalize({"DeduplicationScope": "queue"}, False, True)).message == \
        "You can specify the DeduplicationScope only when FifoQueue is set to true."
    assert attrs.normalize({"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId",
                            "ContentBasedDeduplication": "TRUE"}, True, True) == {
        "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId",
        "ContentBasedDeduplication": "true"}
    error = _error(lambda: attrs.normalize({"FifoQueue": "false"}, True, False))
    assert error.message == "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported."


def test_redrive_policy_validation_and_normal_form():
    value = attrs.normalize({"RedrivePolicy": json.dumps({"maxReceiveCount": "5", "deadLetterTargetArn":
                                                          "arn:aws:sqs:us-east-1:000000000000:dlq"})}, False, True)
    assert value["RedrivePolicy"] == '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq",' \
                                     '"maxReceiveCount":5}'
    bad = json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq", "maxReceiveCount": 0})
    error = _error(lambda: attrs.normalize({"RedrivePolicy": bad}, False, True))
    assert error.code == "InvalidParameterValue"
    assert error.message.endswith("Invalid value for maxReceiveCount: 0, valid values are from 1 to 1000 both "
                                  "inclusive.")
    missing = json.dumps({"maxReceiveCount": 3})
    assert "mandatory attribute: deadLetterTargetArn" in _error(
        lambda: attrs.normalize({"RedrivePolicy": missing}, False, True)).message
    assert attrs.normalize({"RedrivePolicy": ""}, False, False) == {"RedrivePolicy": ""}


def test_redrive_allow_policy():
    by_queue = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": ["arn:aws:sqs:r:1:a"]})
    normal = attrs.normalize({"RedriveAllowPolicy": by_queue}, False, True)["RedriveAllowPolicy"]
    assert attrs.redrive_allows(normal, "arn:aws:sqs:r:1:a")
    assert not attrs.redrive_allows(normal, "arn:aws:sqs:r:1:b")
    assert not attrs.redrive_allows('{"redrivePermission":"denyAll"}', "arn:aws:sqs:r:1:a")
    assert attrs.redrive_allows(None, "anything")
    for bad in ['{"redrivePermission":"byQueue"}', '{"redrivePermission":"sometimes"}', "not json",
                json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [f"a{i}" for i in range(11)]})]:
        assert _error(lambda b=bad: attrs.normalize({"RedriveAllowPolicy": b}, False, True)).code == \
            "InvalidParameterValue"


def test_apply_handles_removal_and_kms_versus_sse():
    current = attrs.defaults(False)
    with_kms = attrs.apply(current, {"KmsMasterKeyId": "alias/aws/sqs"})
    assert with_kms["SqsManagedSseEnabled"] == "false"
    assert with_kms["KmsDataKeyReusePeriodSeconds"] == "300"
    back = attrs.apply(with_kms, {"SqsManagedSseEnabled": "true"})
    assert "KmsMasterKeyId" not in back and back["SqsManagedSseEnabled"] == "true"
    policy = attrs.apply(current, {"Policy": '{"Version":"2012-10-17"}'})
    assert "Policy" not in attrs.apply(policy, {"Policy": ""})


def test_differing_compares_only_requested_attributes_against_effective_values():
    current = attrs.apply(attrs.defaults(False), {"VisibilityTimeout": "40"})
    assert attrs.differing(current, {}, False) is None
    assert attrs.differing(current, {"VisibilityTimeout": "40", "DelaySeconds": "0"}, False) is None
    assert attrs.differing(current, {"VisibilityTimeout": "30"}, False) == "VisibilityTimeout"


def test_queue_names():
    check_name("a-b_C9", False)
    check_name("x" * 80, False)
    check_name("x" * 75 + ".fifo", True)
    for name, fifo in [("x" * 81, False), ("a.b", False), ("has space", False), ("", False), ("nofifo", True),
                       ("x" * 76 + ".fifo", True)]:
        assert _error(lambda n=name, f=fifo: check_name(n, f)).code == "InvalidParameterValue"


def test_queue_urls_and_arns():
    assert parse_url("http://localhost:4566/000000000000/q") == ("000000000000", "q")
    assert parse_url("https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo") == ("123456789012", "q.fifo")
    assert parse_url("/000000000000/q") == ("000000000000", "q")
    assert parse_url("http://localhost:4566/queue/us-east-1/000000000000/q") == ("000000000000", "q")
    for bad in ["q", "http://localhost:4566/", "http://localhost/notanaccount/q"]:
        assert _error(lambda b=bad: parse_url(b)).code == "InvalidAddress"
    assert parse_queue_arn("arn:aws:sqs:us-east-1:000000000000:q") == ("us-east-1", "000000000000", "q")
    assert parse_queue_arn("arn:aws:sns:us-east-1:000000000000:t") is None


def test_receipt_handles_name_their_queue():
    queue = Queue("000000000000", "us-east-1", "q")
    other = Queue("000000000000", "us-east-1", "other")
    receipt = encode_receipt(queue, "mid", "lease")
    assert decode_receipt(queue, receipt) == ("mid", "lease")
    assert _error(lambda: decode_receipt(other, receipt)).code == "ReceiptHandleIsInvalid"
    error = _error(lambda: decode_receipt(queue, "garbage!"))
    assert error.message == 'The input receipt handle "garbage!" is not a valid receipt handle.'
