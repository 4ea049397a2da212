"""SNS filter policies, with the examples of the SNS developer guide."""

from __future__ import annotations

import pytest

from cumulo.patterns import InvalidEventPattern
from cumulo.patterns.sns import attributes_event, compile_filter_policy, filter_rule_set, policy_matches


def string(value: str) -> dict:
    return {"Type": "String", "Value": value}


def number(value: str) -> dict:
    return {"Type": "Number", "Value": value}


def array(value: str, kind: str = "String.Array") -> dict:
    return {"Type": kind, "Value": value}


def attrs_match(policy: dict, **attributes: dict) -> bool:
    compiled = compile_filter_policy(policy)
    single = policy_matches(compiled, message_attributes=attributes)
    rules = filter_rule_set()
    rules.add("sub", policy)
    assert single is (rules.match(attributes_event(attributes)) == {"sub"})
    return single


def body_match(policy: dict, message: str) -> bool:
    return policy_matches(compile_filter_policy(policy, scope="MessageBody"), message=message)


class TestAttributeScope:
    def test_exact_strings_and_string_arrays(self):
        policy = {"customer_interests": ["rugby", "tennis"]}
        assert attrs_match(policy, customer_interests=string("rugby"))
        assert attrs_match(policy, customer_interests=array('["rugby", "tennis"]'))
        assert not attrs_match(policy, customer_interests=string("baseball"))
        assert not attrs_match(policy, customer_interests=array('["baseball"]'))

    def test_numbers_compare_numerically(self):
        policy = {"price_usd": [{"numeric": ["=", 301.5]}]}
        assert attrs_match(policy, price_usd=number("301.5"))
        assert attrs_match(policy, price_usd=number("3.015e2"))
        assert not attrs_match(policy, price_usd=string("301.5")), "a String attribute is not a number"

    def test_numeric_anything_but_and_number_arrays(self):
        policy = {"price": [{"anything-but": [100, 500]}]}
        assert attrs_match(policy, price=number("101"))
        assert attrs_match(policy, price=number("100.1"))
        assert attrs_match(policy, price=array("[100, 50]", "Number.Array"))
        assert not attrs_match(policy, price=number("100"))

    def test_ranges(self):
        policy = {"price_usd": [{"numeric": [">", 0, "<=", 150]}]}
        assert attrs_match(policy, price_usd=number("150"))
        assert not attrs_match(policy, price_usd=number("0"))

    def test_five_decimal_precision(self):
        assert attrs_match({"p": [{"numeric": ["=", 1.00001]}]}, p=number("1.000019"))
        assert not attrs_match({"p": [{"numeric": ["=", 1.00001]}]}, p=number("1.00002"))

    def test_string_operators(self):
        assert attrs_match({"ci": [{"prefix": "bas"}]}, ci=string("basketball"))
        assert attrs_match({"ci": [{"suffix": "ball"}]}, ci=string("baseball"))
        assert attrs_match({"ci": [{"equals-ignore-case": "RUGBY"}]}, ci=string("rugby"))
        assert attrs_match({"event": [{"anything-but": {"prefix": "order-"}}]}, event=string("invoice-1"))
        assert not attrs_match({"event": [{"anything-but": {"prefix": "order-"}}]}, event=string("order-1"))

    def test_ip_addresses(self):
        assert attrs_match({"source_ip": [{"cidr": "10.0.0.0/24"}]}, source_ip=string("10.0.0.255"))
        assert not attrs_match({"source_ip": [{"cidr": "10.0.0.0/24"}]}, source_ip=string("10.1.0.0"))

    def test_key_matching(self):
        assert attrs_match({"store": [{"exists": True}]}, store=string("x"))
        assert attrs_match({"store": [{"exists": False}]}, other=string("x"))

    def test_binary_attributes_are_ignored(self):
        blob = {"Type": "Binary", "Value": "AAEC"}
        assert not attrs_match({"blob": [{"exists": True}]}, blob=blob)
        assert attrs_match({"blob": [{"exists": False}]}, blob=blob)

    def test_publish_api_spelling(self):
        attributes = {
            "color": {"DataType": "String", "StringValue": "red"},
            "n": {"DataType": "Number.int", "StringValue": "5"},
        }
        assert attributes_event(attributes) == {"color": "red", "n": 5}

    def test_unparsable_values_are_ignored(self):
        assert attributes_event({"a": array("not json"), "n": number("five")}) == {}

    def test_or(self):
        policy = {
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
        }
        assert attrs_match(policy, source=string("aws.cloudwatch"), namespace=string("AWS/EC2"))
        assert not attrs_match(policy, source=string("aws.cloudwatch"))


class TestBodyScope:
    def test_nested_properties(self):
        policy = {"store": ["example_corp"], "order": {"price_usd": [{"numeric": [">=", 100]}]}}
        assert body_match(policy, '{"store": "example_corp", "order": {"price_usd": 120}}')
        assert not body_match(policy, '{"store": "example_corp", "order": {"price_usd": 99}}')

    def test_body_that_is_not_a_json_object_matches_nothing(self):
        assert not body_match({"a": [{"exists": False}]}, "plain text")
        assert not body_match({"a": [{"exists": False}]}, "[1]")


def invalid(policy: object, scope: str = "MessageAttributes") -> InvalidEventPattern:
    with pytest.raises(InvalidEventPattern) as raised:
        compile_filter_policy(policy, scope=scope)
    assert raised.value.code == "InvalidParameter"
    assert raised.value.message == f"Invalid parameter: FilterPolicy: {raised.value.reason}"
    return raised.value


class TestPolicyValidation:
    def test_at_most_five_keys(self):
        compile_filter_policy({f"k{i}": ["v"] for i in range(5)})
        assert (
            invalid({f"k{i}": ["v"] for i in range(6)}).reason
            == "Filter policy can not have more than 5 keys"
        )

    def test_body_scope_counts_top_level_keys(self):
        policy = {"a": {f"k{i}": ["v"] for i in range(6)}}
        compile_filter_policy(policy, scope="MessageBody")

    def test_at_most_150_combinations(self):
        compile_filter_policy({"a": list(range(10)), "b": list(range(15))})  # 150
        assert invalid({"a": list(range(10)), "b": list(range(16))}).reason == "Filter policy is too complex"

    def test_or_alternatives_add_up(self):
        branch = {"a": list(range(10)), "b": list(range(8))}  # 80 each
        assert invalid({"$or": [branch, {**branch, "c": ["x"]}]}).reason == "Filter policy is too complex"

    def test_attribute_scope_is_flat(self):
        reason = invalid({"a": {"b": ["c"]}}).reason
        assert reason == "Filter policy scope MessageAttributes does not support nested filter policy"

    @pytest.mark.parametrize("operator", ["wildcard", "exactly"])
    def test_operators_sns_lacks(self, operator):
        assert invalid({"a": [{operator: "x"}]}).reason == f"Unrecognized match type {operator}"

    def test_nested_forms_sns_lacks(self):
        assert invalid({"a": [{"prefix": {"equals-ignore-case": "x"}}]}).reason == (
            "Unsupported prefix pattern: equals-ignore-case"
        )
        assert invalid({"a": [{"anything-but": {"wildcard": "x*"}}]}).reason == (
            "Unsupported anything-but pattern: wildcard"
        )

    def test_numeric_range_is_one_billion(self):
        compile_filter_policy({"p": [{"numeric": ["<=", 1e9]}]})
        assert invalid({"p": [{"numeric": [">", 1e9 + 1]}]}).reason == (
            "Value must be between -1.0E9 and 1.0E9, inclusive"
        )

    def test_bad_json(self):
        assert invalid("{").reason == "failed to parse JSON."
