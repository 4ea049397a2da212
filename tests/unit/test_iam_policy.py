"""The IAM policy evaluator: statements, wildcards, NotAction/NotResource, conditions, variables."""

from __future__ import annotations

import pytest

from cumulo.iam.policy import AccessRequest, Decision, evaluate

QUEUE = "arn:aws:sqs:us-east-1:000000000000:orders"
OTHER_QUEUE = "arn:aws:sqs:us-east-1:000000000000:payments"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(documents: list[dict], action: str, resource: str = "*", **context) -> Decision:
    return evaluate(documents, AccessRequest(action, resource, {k.lower(): v for k, v in context.items()}))


def test_nothing_allows_by_default():
    assert decide([], "sqs:SendMessage", QUEUE) is Decision.IMPLICIT_DENY
    assert decide([policy(allow("sqs:ReceiveMessage", QUEUE))], "sqs:SendMessage", QUEUE) is Decision.IMPLICIT_DENY


def test_an_allow_for_the_action_and_resource_allows():
    documents = [policy(allow("sqs:SendMessage", QUEUE))]
    assert decide(documents, "sqs:SendMessage", QUEUE) is Decision.ALLOW
    assert decide(documents, "sqs:SendMessage", OTHER_QUEUE) is Decision.IMPLICIT_DENY


def test_explicit_deny_wins_over_allow_in_any_document():
    documents = [policy(allow("sqs:*")), policy(deny("sqs:SendMessage", OTHER_QUEUE))]
    assert decide(documents, "sqs:SendMessage", QUEUE) is Decision.ALLOW
    assert decide(documents, "sqs:SendMessage", OTHER_QUEUE) is Decision.EXPLICIT_DENY


def test_actions_match_case_insensitively_with_wildcards():
    documents = [policy(allow(["SQS:send*", "lambda:Get?unction"]))]
    assert decide(documents, "sqs:SendMessage") is Decision.ALLOW
    assert decide(documents, "sqs:SendMessageBatch") is Decision.ALLOW
    assert decide(documents, "lambda:GetFunction") is Decision.ALLOW
    assert decide(documents, "lambda:GetFunctionConfiguration") is Decision.IMPLICIT_DENY
    assert decide(documents, "sqs:ReceiveMessage") is Decision.IMPLICIT_DENY


def test_resources_match_case_sensitively_with_wildcards():
    documents = [policy(allow("s3:GetObject", "arn:aws:s3:::photos/2024/*"),
                        allow("sqs:SendMessage", "arn:aws:sqs:us-east-1:000000000000:order?"))]
    assert decide(documents, "s3:GetObject", "arn:aws:s3:::photos/2024/a/b.jpg") is Decision.ALLOW
    assert decide(documents, "s3:GetObject", "arn:aws:s3:::Photos/2024/a.jpg") is Decision.IMPLICIT_DENY
    assert decide(documents, "sqs:SendMessage", QUEUE) is Decision.ALLOW
    assert decide(documents, "sqs:SendMessage", QUEUE + "-dlq") is Decision.IMPLICIT_DENY


def test_a_request_whose_resource_is_unknown_needs_a_statement_for_all_resources():
    assert decide([policy(allow("sqs:ListQueues", QUEUE))], "sqs:ListQueues", "*") is Decision.IMPLICIT_DENY
    assert decide([policy(allow("sqs:ListQueues"))], "sqs:ListQueues", "*") is Decision.ALLOW


def test_not_action_applies_to_every_other_action():
    documents = [policy({"Effect": "Allow", "NotAction": ["iam:*", "sts:*"], "Resource": "*"})]
    assert decide(documents, "sqs:SendMessage", QUEUE) is Decision.ALLOW
    assert decide(documents, "iam:CreateRole") is Decision.IMPLICIT_DENY
    deny_all_but = [policy(allow("*"), {"Effect": "Deny", "NotAction": "sqs:*", "Resource": "*"})]
    assert decide(deny_all_but, "sqs:SendMessage", QUEUE) is Decision.ALLOW
    assert decide(deny_all_but, "lambda:GetFunction") is Decision.EXPLICIT_DENY


def test_not_resource_applies_to_every_other_resource():
    documents = [policy(allow("sqs:*"), {"Effect": "Deny", "Action": "sqs:*", "NotResource": QUEUE})]
    assert decide(documents, "sqs:SendMessage", QUEUE) is Decision.ALLOW
    assert decide(documents, "sqs:SendMessage", OTHER_QUEUE) is Decision.EXPLICIT_DENY


def test_a_single_statement_document_and_unknown_effects():
    assert decide([{"Statement": allow("sqs:SendMessage")}], "sqs:SendMessage") is Decision.ALLOW
    assert decide([policy({"Effect": "Maybe", "Action": "*", "Resource": "*"})], "sqs:SendMessage") \
        is Decision.IMPLICIT_DENY
    assert decide([policy({"Effect": "Allow", "Resource": "*"})], "sqs:SendMessage") is Decision.IMPLICIT_DENY


def test_policy_variables_are_replaced_from_the_request_context():
    documents = [policy(allow("s3:GetObject", "arn:aws:s3:::home/${aws:userid}/*"))]
    assert decide(documents, "s3:GetObject", "arn:aws:s3:::home/AROA1:fn/x", **{"aws:userid": "AROA1:fn"}) \
        is Decision.ALLOW
    assert decide(documents, "s3:GetObject", "arn:aws:s3:::home/AROA2:fn/x", **{"aws:userid": "AROA1:fn"}) \
        is Decision.IMPLICIT_DENY
    assert decide(documents, "s3:GetObject", "arn:aws:s3:::home/AROA1:fn/x") is Decision.IMPLICIT_DENY
    with_default = [policy(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username, 'shared'}/*"))]
    assert decide(with_default, "s3:GetObject", "arn:aws:s3:::home/shared/x") is Decision.ALLOW


# ------------------------------------------------------------------ conditions
def conditional(condition: dict) -> list[dict]:
    return [policy(allow("sqs:SendMessage", QUEUE, Condition=condition))]


def decide_with(condition: dict, **context) -> Decision:
    return decide(conditional(condition), "sqs:SendMessage", QUEUE, **context)


@pytest.mark.parametrize(("condition", "context", "expected"), [
    ({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, {"aws:RequestedRegion": "us-east-1"}, True),
    ({"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}, {"aws:RequestedRegion": "us-east-1"},
     True),
    ({"StringEquals": {"aws:RequestedRegion": "US-EAST-1"}}, {"aws:RequestedRegion": "us-east-1"}, False),
    ({"StringEqualsIgnoreCase": {"aws:RequestedRegion": "US-EAST-1"}}, {"aws:RequestedRegion": "us-east-1"}, True),
    ({"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}, {"aws:RequestedRegion": "us-east-1"}, True),
    ({"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}, {"aws:RequestedRegion": "us-east-1"},
     False),
    ({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app-*"}},
     {"aws:PrincipalArn": "arn:aws:iam::000000000000:role/app-orders"}, True),
    ({"StringNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app-*"}},
     {"aws:PrincipalArn": "arn:aws:iam::000000000000:role/app-orders"}, False),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:lambda:*:000000000000:function:orders-*"}},
     {"aws:SourceArn": "arn:aws:lambda:us-east-1:000000000000:function:orders-api"}, True),
    ({"ArnEquals": {"aws:SourceArn": "arn:aws:lambda:us-east-1:000000000000:function:orders"}},
     {"aws:SourceArn": "arn:aws:lambda:us-east-1:000000000000:function:other"}, False),
    ({"ArnNotEquals": {"aws:SourceArn": "arn:aws:lambda:us-east-1:000000000000:function:orders"}},
     {"aws:SourceArn": "arn:aws:lambda:us-east-1:000000000000:function:other"}, True),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "false"}, True),
    ({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "false"}, False),
    ({"NumericLessThan": {"aws:EpochTime": "2000000000"}}, {"aws:EpochTime": "1800000000"}, True),
    ({"NumericGreaterThanEquals": {"aws:EpochTime": 2000000000}}, {"aws:EpochTime": "1800000000"}, False),
    ({"NumericEquals": {"aws:EpochTime": "x"}}, {"aws:EpochTime": "1800000000"}, False),
    ({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, {"aws:CurrentTime": "2026-12-07T00:00:00Z"},
     True),
    ({"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, {"aws:CurrentTime": "2026-12-07T00:00:00Z"},
     False),
    ({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"}, True),
    ({"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:SourceIp": "10.0.0.1"}, True),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"}, False),
    ({"Null": {"aws:SourceArn": "true"}}, {}, True),
    ({"Null": {"aws:SourceArn": "false"}}, {}, False),
    ({"NoSuchOperator": {"aws:RequestedRegion": "us-east-1"}}, {"aws:RequestedRegion": "us-east-1"}, False),
])
def test_condition_operators(condition, context, expected):
    assert (decide_with(condition, **context) is Decision.ALLOW) is expected


def test_condition_keys_are_case_insensitive_and_every_operator_and_key_must_hold():
    condition = {"StringEquals": {"AWS:REQUESTEDREGION": "us-east-1", "aws:PrincipalAccount": "000000000000"},
                 "StringLike": {"aws:PrincipalArn": "*:role/app"}}
    context = {"aws:RequestedRegion": "us-east-1", "aws:PrincipalAccount": "000000000000",
               "aws:PrincipalArn": "arn:aws:iam::000000000000:role/app"}
    assert decide_with(condition, **context) is Decision.ALLOW
    assert decide_with(condition, **{**context, "aws:PrincipalAccount": "111111111111"}) is Decision.IMPLICIT_DENY


def test_a_missing_key_fails_positive_operators_satisfies_negated_ones_and_if_exists():
    assert decide_with({"StringEquals": {"aws:SourceArn": "x"}}) is Decision.IMPLICIT_DENY
    assert decide_with({"StringNotEquals": {"aws:SourceArn": "x"}}) is Decision.ALLOW
    assert decide_with({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sns:*:*:orders"}}) is Decision.ALLOW
    assert decide_with({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sns:*:*:orders"}},
                       **{"aws:SourceArn": "arn:aws:sns:us-east-1:0:payments"}) is Decision.IMPLICIT_DENY


def test_set_operators_on_multivalued_keys():
    any_value = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}}
    all_values = {"ForAllValues:StringLike": {"aws:TagKeys": ["env", "team-*"]}}
    assert decide_with(any_value, **{"aws:TagKeys": ["owner", "team"]}) is Decision.ALLOW
    assert decide_with(any_value, **{"aws:TagKeys": ["owner"]}) is Decision.IMPLICIT_DENY
    assert decide_with(any_value) is Decision.IMPLICIT_DENY
    assert decide_with(all_values, **{"aws:TagKeys": ["env", "team-a"]}) is Decision.ALLOW
    assert decide_with(all_values, **{"aws:TagKeys": ["env", "owner"]}) is Decision.IMPLICIT_DENY
    assert decide_with(all_values) is Decision.ALLOW  # vacuously: no values to check


def test_a_conditional_deny_applies_only_when_its_condition_holds():
    documents = [policy(allow("sqs:*"), deny("sqs:*", Condition={"StringNotEquals": {
        "aws:RequestedRegion": "us-east-1"}}))]
    assert decide(documents, "sqs:SendMessage", QUEUE, **{"aws:RequestedRegion": "us-east-1"}) is Decision.ALLOW
    assert decide(documents, "sqs:SendMessage", QUEUE, **{"aws:RequestedRegion": "eu-west-1"}) \
        is Decision.EXPLICIT_DENY
