"""CloudFormation intrinsic functions as a template author sees them, evaluated by the Resolver."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cumulo.services.cloudformation.intrinsics import IntrinsicError, Resolver, references
from cumulo.services.cloudformation.parameters import pseudo_parameters

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/shop/1111"
PHYSICAL = {"Queue": "https://sqs.eu-west-1.amazonaws.com/123456789012/shop-Queue-ABC", "Fn": "shop-Fn-XYZ"}
ATTRIBUTES = {("Queue", "Arn"): "arn:aws:sqs:eu-west-1:123456789012:shop-Queue-ABC",
              ("Queue", "QueueName"): "shop-Queue-ABC",
              ("Db", "Endpoint.Address"): "db.example.internal"}
MAPPINGS = {"RegionMap": {"eu-west-1": {"Size": "small", "Count": 2}, "us-east-1": {"Size": "large"}}}


def resolver(parameters: dict[str, Any] | None = None, conditions: dict[str, bool] | None = None,
             exports: dict[str, Any] | None = None) -> Resolver:
    physical = {**PHYSICAL, "Db": "db-1"}

    def attribute(logical_id: str, name: str) -> Any:
        return ATTRIBUTES[(logical_id, name)]

    def import_value(name: str) -> Any:
        return (exports or {})[name]

    return Resolver({"Stage": "prod", "Names": ["a", "b", "c"], **(parameters or {})},
                    pseudo_parameters("123456789012", "eu-west-1", "shop", STACK_ID), MAPPINGS,
                    conditions or {}, physical, attribute, import_value)


# ------------------------------------------------------------ Ref and pseudo parameters
def test_ref_gives_parameter_values_and_physical_ids():
    r = resolver()
    assert r.resolve({"Ref": "Stage"}) == "prod"
    assert r.resolve({"Ref": "Names"}) == ["a", "b", "c"]
    assert r.resolve({"Ref": "Queue"}) == PHYSICAL["Queue"]


def test_pseudo_parameters():
    r = resolver()
    assert r.resolve({"Ref": "AWS::AccountId"}) == "123456789012"
    assert r.resolve({"Ref": "AWS::Region"}) == "eu-west-1"
    assert r.resolve({"Ref": "AWS::StackName"}) == "shop"
    assert r.resolve({"Ref": "AWS::StackId"}) == STACK_ID
    assert r.resolve({"Ref": "AWS::Partition"}) == "aws"
    assert r.resolve({"Ref": "AWS::URLSuffix"}) == "amazonaws.com"
    assert r.resolve({"Ref": "AWS::NotificationARNs"}) == []


def test_pseudo_parameters_win_over_a_parameter_of_the_same_name():
    assert resolver({"AWS::Region": "elsewhere"}).resolve({"Ref": "AWS::Region"}) == "eu-west-1"


def test_ref_to_no_value_removes_the_property_and_the_list_item():
    r = resolver()
    assert r.resolve({"A": "kept", "B": {"Ref": "AWS::NoValue"}}) == {"A": "kept"}
    assert r.resolve(["x", {"Ref": "AWS::NoValue"}, "y"]) == ["x", "y"]
    assert r.resolve({"Ref": "AWS::NoValue"}) is None


def test_ref_to_an_unknown_name_is_an_unresolved_dependency():
    with pytest.raises(IntrinsicError, match=r"Unresolved resource dependencies \[Missing\]"):
        resolver().resolve({"Ref": "Missing"})
    with pytest.raises(IntrinsicError, match="Ref takes a string"):
        resolver().resolve({"Ref": ["Stage"]})


# ------------------------------------------------------------ Fn::GetAtt
def test_getatt_in_list_and_dotted_string_forms():
    r = resolver()
    assert r.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == ATTRIBUTES[("Queue", "Arn")]
    assert r.resolve({"Fn::GetAtt": "Queue.QueueName"}) == "shop-Queue-ABC"
    assert r.resolve({"Fn::GetAtt": "Db.Endpoint.Address"}) == "db.example.internal"  # nested attribute names


def test_getatt_attribute_name_may_be_a_ref():
    r = resolver({"Which": "Arn"})
    assert r.resolve({"Fn::GetAtt": ["Queue", {"Ref": "Which"}]}) == ATTRIBUTES[("Queue", "Arn")]


def test_getatt_of_an_unknown_resource_is_an_error():
    with pytest.raises(IntrinsicError, match=r"Unresolved resource dependencies \[Nope\]"):
        resolver().resolve({"Fn::GetAtt": ["Nope", "Arn"]})
    with pytest.raises(IntrinsicError, match="Fn::GetAtt takes"):
        resolver().resolve({"Fn::GetAtt": ["Queue"]})


# ------------------------------------------------------------ Fn::Sub
def test_sub_string_form_reads_parameters_pseudo_parameters_resources_and_attributes():
    r = resolver()
    text = "${AWS::StackName}-${Stage} in ${AWS::Region}: ${Fn} reads ${Queue.Arn}"
    assert r.resolve({"Fn::Sub": text}) == (
        f"shop-prod in eu-west-1: shop-Fn-XYZ reads {ATTRIBUTES[('Queue', 'Arn')]}")


def test_sub_list_form_variables_are_resolved_and_shadow_other_names():
    r = resolver()
    value = {"Fn::Sub": ["${Stage}/${Name}/${AWS::AccountId}",
                         {"Name": {"Fn::GetAtt": ["Queue", "QueueName"]}, "Stage": "shadowed"}]}
    assert r.resolve(value) == "shadowed/shop-Queue-ABC/123456789012"


def test_sub_escapes_literal_dollar_braces():
    assert resolver().resolve({"Fn::Sub": "${!Literal} and ${Stage}"}) == "${Literal} and prod"


def test_sub_of_an_unknown_variable_is_an_error():
    with pytest.raises(IntrinsicError, match=r"\[Unknown\]"):
        resolver().resolve({"Fn::Sub": "${Unknown}"})
    with pytest.raises(IntrinsicError, match="Fn::Sub takes"):
        resolver().resolve({"Fn::Sub": ["a", "b", "c"]})


# ------------------------------------------------------------ Fn::Join, Fn::Select, Fn::Split
def test_join_resolves_its_items_and_a_list_parameter():
    r = resolver()
    assert r.resolve({"Fn::Join": ["-", ["x", {"Ref": "Stage"}, 3]]}) == "x-prod-3"
    assert r.resolve({"Fn::Join": [",", {"Ref": "Names"}]}) == "a,b,c"
    assert r.resolve({"Fn::Join": ["", []]}) == ""


def test_join_needs_a_delimiter_and_a_list():
    with pytest.raises(IntrinsicError, match="Fn::Join takes"):
        resolver().resolve({"Fn::Join": ["-"]})
    with pytest.raises(IntrinsicError, match="needs a list"):
        resolver().resolve({"Fn::Join": ["-", {"Ref": "Stage"}]})


def test_select_takes_a_numeric_index_given_as_text_or_number():
    r = resolver()
    assert r.resolve({"Fn::Select": [1, ["a", "b", "c"]]}) == "b"
    assert r.resolve({"Fn::Select": ["2", {"Ref": "Names"}]}) == "c"


def test_select_out_of_range_is_an_error():
    with pytest.raises(IntrinsicError, match="cannot select index 5"):
        resolver().resolve({"Fn::Select": [5, ["a"]]})


def test_split_and_select_together():
    r = resolver({"Csv": "10.0.0.0/24,10.0.1.0/24"})
    assert r.resolve({"Fn::Split": [",", {"Ref": "Csv"}]}) == ["10.0.0.0/24", "10.0.1.0/24"]
    assert r.resolve({"Fn::Select": [1, {"Fn::Split": [",", {"Ref": "Csv"}]}]}) == "10.0.1.0/24"
    assert r.resolve({"Fn::Split": ["|", "single"]}) == ["single"]


# ------------------------------------------------------------ conditions
def test_if_picks_a_branch_by_condition_and_may_remove_a_property():
    r = resolver(conditions={"IsProd": True, "IsDev": False})
    assert r.resolve({"Fn::If": ["IsProd", "big", "small"]}) == "big"
    assert r.resolve({"Fn::If": ["IsDev", "big", {"Ref": "Stage"}]}) == "prod"
    assert r.resolve({"Size": {"Fn::If": ["IsDev", 10, {"Ref": "AWS::NoValue"}]}}) == {}


def test_if_with_an_unknown_condition_is_an_error():
    with pytest.raises(IntrinsicError, match="Unresolved condition dependency Nope"):
        resolver().resolve({"Fn::If": ["Nope", 1, 2]})


def test_equals_compares_values_as_text():
    r = resolver()
    assert r.resolve({"Fn::Equals": [{"Ref": "Stage"}, "prod"]}) is True
    assert r.resolve({"Fn::Equals": [{"Ref": "Stage"}, "dev"]}) is False
    assert r.resolve({"Fn::Equals": [1, "1"]}) is True
    assert r.resolve({"Fn::Equals": [True, "true"]}) is True


def test_and_or_not_combine_conditions_and_condition_functions():
    r = resolver(conditions={"Yes": True, "No": False})
    is_prod = {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert r.resolve({"Fn::And": [{"Condition": "Yes"}, is_prod]}) is True
    assert r.resolve({"Fn::And": [{"Condition": "Yes"}, {"Condition": "No"}]}) is False
    assert r.resolve({"Fn::Or": [{"Condition": "No"}, is_prod]}) is True
    assert r.resolve({"Fn::Or": [{"Condition": "No"}, {"Fn::Not": [is_prod]}]}) is False
    assert r.resolve({"Fn::Not": [{"Condition": "No"}]}) is True


def test_condition_functions_reject_non_boolean_operands():
    with pytest.raises(IntrinsicError, match="condition functions take conditions"):
        resolver().resolve({"Fn::And": ["true", {"Fn::Equals": ["a", "a"]}]})


# ------------------------------------------------------------ Fn::FindInMap
def test_findinmap_looks_up_two_levels_with_resolved_keys():
    r = resolver()
    assert r.resolve({"Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, "Size"]}) == "small"
    assert r.resolve({"Fn::FindInMap": ["RegionMap", "eu-west-1", "Count"]}) == 2


def test_findinmap_default_value_and_missing_keys():
    r = resolver()
    assert r.resolve({"Fn::FindInMap": ["RegionMap", "us-east-1", "Count", {"DefaultValue": 1}]}) == 1
    with pytest.raises(IntrinsicError, match="Unable to get mapping for RegionMap::us-east-1::Count"):
        r.resolve({"Fn::FindInMap": ["RegionMap", "us-east-1", "Count"]})


# ------------------------------------------------------------ the other functions
def test_getazs_lists_zones_of_the_stack_region_or_the_given_one():
    r = resolver()
    assert r.resolve({"Fn::GetAZs": ""}) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert r.resolve({"Fn::GetAZs": {"Ref": "AWS::Region"}}) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert r.resolve({"Fn::GetAZs": "us-east-2"})[0] == "us-east-2a"
    assert r.resolve({"Fn::Select": [0, {"Fn::GetAZs": ""}]}) == "eu-west-1a"


def test_base64_encodes_the_resolved_text():
    encoded = resolver().resolve({"Fn::Base64": {"Fn::Sub": "stage=${Stage}"}})
    assert base64.b64decode(encoded) == b"stage=prod"


def test_importvalue_reads_another_stacks_export_by_resolved_name():
    r = resolver(exports={"prod-QueueUrl": "https://queue"})
    assert r.resolve({"Fn::ImportValue": {"Fn::Sub": "${Stage}-QueueUrl"}}) == "https://queue"


def test_tojsonstring_length_and_cidr():
    r = resolver()
    assert r.resolve({"Fn::ToJsonString": {"a": [1, {"Ref": "Stage"}]}}) == '{"a":[1,"prod"]}'
    assert r.resolve({"Fn::Length": {"Ref": "Names"}}) == 3
    assert r.resolve({"Fn::Cidr": ["10.0.0.0/16", 3, 8]}) == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]


def test_an_unsupported_function_is_an_error():
    with pytest.raises(IntrinsicError, match="unsupported intrinsic function Fn::Transmogrify"):
        resolver().resolve({"Fn::Transmogrify": "x"})


def test_maps_with_several_keys_are_plain_values_resolved_inside():
    assert resolver().resolve({"Ref": "Stage", "Other": 1}) == {"Ref": "Stage", "Other": 1}
    assert resolver().resolve({"Name": {"Ref": "Stage"}, "Count": 2}) == {"Name": "prod", "Count": 2}


# ------------------------------------------------------------ references (what orders the deployment)
def test_references_finds_resources_named_by_ref_getatt_and_sub():
    resources = {"Queue", "Topic", "Table", "Bucket", "Role"}
    value = {"A": {"Ref": "Queue"}, "B": {"Fn::GetAtt": ["Topic", "Arn"]}, "C": {"Fn::GetAtt": "Table.Arn"},
             "D": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/*"}, "E": [{"Ref": "Stage"}]}
    assert references(value, resources) == {"Queue", "Topic", "Table", "Bucket"}


def test_references_skip_sub_variables_escapes_and_parameters():
    resources = {"Queue", "Role"}
    value = {"Fn::Sub": ["${Queue}-${!Role}-${Stage}", {"Queue": "x", "Other": {"Fn::GetAtt": ["Role", "Arn"]}}]}
    assert references(value, resources) == {"Role"}  # from the variable's GetAtt, not ${!Role} nor ${Queue}
    assert references({"Fn::Sub": "${Role.Arn}"}, resources) == {"Role"}
