"""Lambda event source mapping filters, with the examples of the Lambda developer guide."""

from __future__ import annotations

import base64
import json

import pytest

from cumulo.patterns import InvalidEventPattern, compile_pattern
from cumulo.patterns.esm import FilterCriteria, decode_payload, record_for_filtering


def sqs(body: str) -> dict:
    return {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:my-queue",
        "awsRegion": "us-west-2",
    }


def kinesis(data: str) -> dict:
    encoded = base64.b64encode(data.encode()).decode()
    return {"kinesis": {"partitionKey": "1", "data": encoded}, "eventSource": "aws:kinesis"}


class TestSqs:
    def test_filters_on_fields_of_a_json_body(self):
        criteria = FilterCriteria(['{"body": {"RequestCode": ["BBBB"]}}'])
        assert criteria.matches(sqs('{"RecordNumber": 1234, "RequestCode": "BBBB"}'))
        assert not criteria.matches(sqs('{"RecordNumber": 1234, "RequestCode": "AAAA"}'))

    def test_plain_string_body(self):
        criteria = FilterCriteria([{"body": ["plain text"]}])
        assert criteria.matches(sqs("plain text"))
        assert not FilterCriteria([{"body": {"k": ["v"]}}]).matches(sqs("plain text"))

    def test_json_scalar_body_stays_a_string(self):
        assert FilterCriteria([{"body": ["123"]}]).matches(sqs("123"))

    def test_metadata_fields(self):
        criteria = FilterCriteria([{"attributes": {"ApproximateReceiveCount": ["1"]}}])
        assert criteria.matches(sqs("x"))

    def test_any_filter_lets_a_record_through(self):
        criteria = FilterCriteria([{"body": {"a": [1]}}, {"body": {"b": [2]}}])
        assert criteria.matches(sqs('{"b": 2}'))
        assert not criteria.matches(sqs('{"c": 3}'))

    def test_no_filters_lets_everything_through(self):
        assert FilterCriteria([]).matches(sqs("x"))

    def test_record_is_not_modified(self):
        record = sqs('{"a": 1}')
        assert record_for_filtering(record)["body"] == {"a": 1}
        assert record["body"] == '{"a": 1}'


class TestStreams:
    def test_kinesis_data_is_decoded(self):
        criteria = FilterCriteria([{"data": {"temperature": [{"numeric": [">", 30]}]}}])
        assert not criteria.matches(kinesis('{"temperature": 20}'))
        criteria = FilterCriteria([{"kinesis": {"data": {"temperature": [{"numeric": [">", 30]}]}}}])
        assert criteria.matches(kinesis('{"temperature": 31}'))
        assert not criteria.matches(kinesis('{"temperature": 30}'))

    def test_dynamodb_records_are_matched_as_they_are(self):
        record = {
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": {"CustomerName": {"S": "AnyCompany Industries"}}},
        }
        criteria = FilterCriteria(
            [{"dynamodb": {"Keys": {"CustomerName": {"S": ["AnyCompany Industries"]}}}}]
        )
        assert criteria.matches(record)
        assert FilterCriteria([{"eventName": ["INSERT"]}]).matches(record)

    def test_undecodable_base64_stays_as_is(self):
        assert decode_payload("%%%", base64_encoded=True) == "%%%"


class TestDialect:
    @pytest.mark.parametrize(
        "operand",
        [
            {"wildcard": "a*"},
            {"anything-but": {"prefix": "a"}},
            {"anything-but": {"equals-ignore-case": "a"}},
        ],
    )
    def test_operators_lambda_lacks(self, operand):
        with pytest.raises(InvalidEventPattern) as raised:
            compile_pattern({"body": {"a": [operand]}}, dialect="esm")
        assert raised.value.code == "InvalidParameterValueException"

    def test_operators_lambda_has(self):
        for operand in (
            {"prefix": "a"},
            {"suffix": "a"},
            {"equals-ignore-case": "a"},
            {"anything-but": ["a", "b"]},
            {"numeric": [">", 1]},
            {"exists": False},
        ):
            compile_pattern({"body": {"a": [operand]}}, dialect="esm")

    def test_pattern_length_limit(self):
        with pytest.raises(InvalidEventPattern):
            compile_pattern(json.dumps({"body": ["x" * 4100]}), dialect="esm")
