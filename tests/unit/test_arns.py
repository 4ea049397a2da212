"""cumulo.arns: reading and writing ARNs."""

from __future__ import annotations

import pytest

from cumulo.arns import Arn, format_arn, parse_arn, service_of, split_arn


def test_parse_reads_the_six_fields() -> None:
    arn = parse_arn("arn:aws:sqs:us-east-1:123456789012:orders")
    assert arn == Arn("aws", "sqs", "us-east-1", "123456789012", "orders")


def test_parse_keeps_colons_in_the_resource() -> None:
    arn = parse_arn("arn:aws:lambda:eu-west-1:123456789012:function:f:prod")
    assert arn is not None
    assert (arn.resource, arn.resource_type, arn.resource_id) == ("function:f:prod", "function", "f:prod")
    assert arn.resource_path == ("f", "prod")
    assert arn.qualifier == "prod"


def test_slash_resources_have_a_type_and_an_id() -> None:
    arn = parse_arn("arn:aws:events:us-east-1:123456789012:rule/bus/name")
    assert arn is not None
    assert (arn.resource_type, arn.resource_id) == ("rule", "bus/name")
    assert arn.qualifier is None


def test_a_bare_resource_has_no_type() -> None:
    arn = parse_arn("arn:aws:sns:us-east-1:123456789012:topic")
    assert arn is not None
    assert (arn.resource_type, arn.resource_id, arn.resource_path) == ("", "topic", ())


def test_an_unqualified_function_has_no_qualifier() -> None:
    arn = parse_arn("arn:aws:lambda:eu-west-1:123456789012:function:f")
    assert arn is not None and arn.qualifier is None


def test_the_account_may_be_empty() -> None:
    arn = parse_arn("arn:aws:s3:::bucket/key")
    assert arn == Arn("aws", "s3", "", "", "bucket/key")


@pytest.mark.parametrize("text", [
    "", "orders", "arn:aws:sqs:us-east-1:123456789012",  # too few fields
    "arn:aws:sqs:us-east-1:1234:q",  # the account is not 12 digits
    "arn:gcp:sqs:us-east-1:123456789012:q",  # not an aws partition
    "arn:aws:sqs:us-east-1:123456789012:",  # no resource
    "urn:aws:sqs:us-east-1:123456789012:q",
])
def test_parse_refuses_what_is_not_a_well_formed_arn(text: str) -> None:
    assert parse_arn(text) is None


def test_split_only_splits() -> None:
    assert split_arn("arn:x:states:::") == Arn("x", "states", "", "", "")
    assert split_arn("arn:aws:logs:r:1:log-group:g:*") == Arn("aws", "logs", "r", "1", "log-group:g:*")
    assert split_arn("arn:aws:sqs:r:1") is None
    assert split_arn("xrn:aws:sqs:r:1:q") is None


def test_format_and_str_write_what_parse_reads() -> None:
    text = format_arn("states", "us-east-1", "123456789012", "stateMachine:m:7")
    assert text == "arn:aws:states:us-east-1:123456789012:stateMachine:m:7"
    assert str(parse_arn(text)) == text
    assert format_arn("sqs", "cn-north-1", "123456789012", "q", partition="aws-cn") == \
        "arn:aws-cn:sqs:cn-north-1:123456789012:q"


def test_service_of() -> None:
    assert service_of("arn:aws:sns:us-east-1:123456789012:t") == "sns"
    assert service_of("not-an-arn") is None
