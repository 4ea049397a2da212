"""Preparing a template before anything is deployed: parameters, structure, conditions, SAM, outputs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cumulo.services.cloudformation.errors import ValidationFailure
from cumulo.services.cloudformation.parameters import bind_parameters
from cumulo.services.cloudformation.resources import handlers
from cumulo.services.cloudformation.resources.base import Deployed, ResourceFailure, ResourceHandler
from cumulo.services.cloudformation.stack_operation import StackOperation
from cumulo.services.cloudformation.template import check_properties, check_structure, evaluate_conditions, prepare

ACCOUNT, REGION = "123456789012", "eu-west-1"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/shop/1111"
THING = "Test::Thing"


def no_objects(bucket: str, key: str) -> bytes:
    raise AssertionError("these templates include nothing from S3")


def prepared(body: dict[str, Any], given: dict[str, str] | None = None, supported: set[str] | None = None):
    return prepare(body, given or {}, ACCOUNT, REGION, "shop", STACK_ID, supported or {THING}, no_objects)


def thing(**properties: Any) -> dict[str, Any]:
    return {"Type": THING, "Properties": properties}


# ------------------------------------------------------------ parameters
def test_parameters_take_overrides_then_defaults():
    declared = {"Stage": {"Type": "String", "Default": "dev"}, "Size": {"Type": "Number", "Default": 3},
                "Name": {"Type": "String"}}
    values, no_echo = bind_parameters(declared, {"Name": "shop", "Stage": "prod"})
    assert values == {"Stage": "prod", "Size": "3", "Name": "shop"}
    assert no_echo == set()


def test_list_parameters_are_lists():
    declared = {"Zones": {"Type": "CommaDelimitedList", "Default": "a,b"}, "Ports": {"Type": "List<Number>"},
                "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>", "Default": ["subnet-1", "subnet-2"]}}
    values, _ = bind_parameters(declared, {"Ports": "80,443"})
    assert values == {"Zones": ["a", "b"], "Ports": ["80", "443"], "Subnets": ["subnet-1", "subnet-2"]}


def test_no_echo_parameters_are_reported():
    declared = {"Password": {"Type": "String", "NoEcho": True}, "User": {"Type": "String", "NoEcho": "false"}}
    _, no_echo = bind_parameters(declared, {"Password": "secret", "User": "me"})
    assert no_echo == {"Password"}


@pytest.mark.parametrize("spec, value, message", [
    ({"AllowedValues": ["dev", "prod"]}, "test", "Parameter 'P' must be one of AllowedValues"),
    ({"AllowedPattern": "[a-z]+"}, "ABC", "Parameter 'P' must match pattern [a-z]+"),
    ({"AllowedPattern": "[a-z]+", "ConstraintDescription": "lowercase only"}, "ABC", "lowercase only"),
    ({"MinLength": 3}, "ab", "Parameter 'P' must contain at least 3 characters"),
    ({"MaxLength": 2}, "abc", "Parameter 'P' must contain at most 2 characters"),
    ({"Type": "Number"}, "many", "Parameter 'P' must be a number"),
    ({"Type": "Number", "MinValue": 1}, "0", "Parameter 'P' must be a number not less than 1"),
    ({"Type": "Number", "MaxValue": 10}, "11", "Parameter 'P' must be a number not greater than 10"),
    ({"Type": "Strin"}, "x", "Unrecognized parameter type: Strin"),
])
def test_parameter_constraints(spec, value, message):
    with pytest.raises(ValidationFailure) as excinfo:
        bind_parameters({"P": spec}, {"P": value})
    assert message in str(excinfo.value)


def test_parameter_constraints_also_apply_to_defaults():
    with pytest.raises(ValidationFailure, match="must be one of AllowedValues"):
        bind_parameters({"P": {"Default": "test", "AllowedValues": ["dev", "prod"]}}, {})
    values, _ = bind_parameters({"P": {"Default": "dev", "AllowedValues": ["dev", "prod"]}}, {})
    assert values == {"P": "dev"}


def test_missing_and_unknown_parameters_are_named():
    with pytest.raises(ValidationFailure, match=r"Parameters: \[A, B\] must have values"):
        bind_parameters({"A": {"Type": "String"}, "B": {"Type": "String"}}, {})
    with pytest.raises(ValidationFailure, match=r"Parameters: \[Extra\] do not exist in the template"):
        bind_parameters({}, {"Extra": "1"})


# ------------------------------------------------------------ structure
@pytest.mark.parametrize("body, message", [
    ({"Resources": {"A": thing()}, "Bogus": {}}, r"Invalid template property or properties \[Bogus\]"),
    ({"Resources": {"A": thing()}, "Globals": {}}, r"Invalid template property or properties \[Globals\]"),
    ({"Resources": {}}, "At least one Resources member must be defined"),
    ({}, "At least one Resources member must be defined"),
    ({"Resources": {"my-queue": thing()}}, "Resource name my-queue is non alphanumeric"),
    ({"Resources": {"A": {"Properties": {}}}}, r"\[/Resources/A\] Every Resources object must contain a Type"),
])
def test_structure_errors(body, message):
    with pytest.raises(ValidationFailure, match=message):
        check_structure(body)


def test_globals_are_allowed_with_the_sam_transform():
    check_structure({"Transform": "AWS::Serverless-2016-10-31", "Globals": {}, "Resources": {"A": thing()}})


# ------------------------------------------------------------ conditions
def test_conditions_read_parameters_pseudo_parameters_mappings_and_other_conditions():
    declared = {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
                "InEurope": {"Fn::Equals": [{"Fn::FindInMap": ["Geo", {"Ref": "AWS::Region"}, "Area"]}, "eu"]},
                "ProdInEurope": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "InEurope"}]},
                "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]}}
    pseudo = {"AWS::Region": "eu-west-1"}
    results = evaluate_conditions(declared, {"Stage": "prod"}, pseudo, {"Geo": {"eu-west-1": {"Area": "eu"}}})
    assert results == {"IsProd": True, "InEurope": True, "ProdInEurope": True, "NotProd": False}


def test_circular_and_non_boolean_conditions_are_errors():
    with pytest.raises(ValidationFailure, match="Circular dependency between conditions"):
        evaluate_conditions({"A": {"Fn::Not": [{"Condition": "B"}]}, "B": {"Fn::Not": [{"Condition": "A"}]}},
                            {}, {}, {})
    with pytest.raises(ValidationFailure, match="condition C does not evaluate to a boolean"):
        evaluate_conditions({"C": {"Ref": "Stage"}}, {"Stage": "prod"}, {}, {})
    with pytest.raises(ValidationFailure, match="Unresolved condition dependency Nope"):
        evaluate_conditions({"C": {"Fn::Not": [{"Condition": "Nope"}]}}, {}, {}, {})


def test_resources_whose_condition_is_false_are_left_out():
    body = {"Parameters": {"Stage": {"Type": "String", "Default": "dev"}},
            "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
            "Resources": {"Always": thing(), "ProdOnly": {**thing(), "Condition": "IsProd"}}}
    assert set(prepared(body).resources) == {"Always"}
    assert set(prepared(body, {"Stage": "prod"}).resources) == {"Always", "ProdOnly"}
    assert prepared(body).conditions == {"IsProd": False}


def test_a_resource_with_an_undeclared_condition_is_an_error():
    body = {"Resources": {"A": {**thing(), "Condition": "Nope"}}}
    with pytest.raises(ValidationFailure, match="Unresolved condition dependency Nope in Resources/A"):
        prepared(body)


# ------------------------------------------------------------ references and resource types
@pytest.mark.parametrize("value, missing", [
    ({"Ref": "Nope"}, "Nope"),
    ({"Fn::GetAtt": ["Nope", "Arn"]}, "Nope"),
    ({"Fn::GetAtt": "Nope.Arn"}, "Nope"),
    ({"Fn::Sub": "${Nope}"}, "Nope"),
])
def test_references_to_undeclared_names_fail_before_anything_is_created(value, missing):
    with pytest.raises(ValidationFailure, match=rf"Unresolved resource dependencies \[{missing}\]"):
        prepared({"Resources": {"A": thing(Value=value)}})


def test_references_to_parameters_pseudo_parameters_resources_and_sub_variables_are_fine():
    body = {"Parameters": {"Stage": {"Type": "String", "Default": "dev"}},
            "Resources": {"A": thing(), "B": thing(Value={"Fn::Sub": ["${Stage}-${A}-${A.Arn}-${AWS::Region}-${X}",
                                                                      {"X": "x"}]},
                                                   Other={"Ref": "AWS::NoValue"})},
            "Outputs": {"Out": {"Value": {"Ref": "B"}}}}
    assert prepared(body).dependencies == {"A": set(), "B": {"A"}}


def test_unsupported_resource_types_are_listed_and_nothing_is_created():
    body = {"Resources": {"A": thing(), "B": {"Type": "AWS::EC2::Instance"}, "C": {"Type": "AWS::RDS::DBInstance"}}}
    message = "Cumulo cannot deploy yet: AWS::EC2::Instance, AWS::RDS::DBInstance. Nothing was created."
    with pytest.raises(ValidationFailure, match=re.escape(message)):
        prepared(body)


def test_unknown_transforms_are_rejected():
    with pytest.raises(ValidationFailure, match="Transform AWS::Include is not supported"):
        prepared({"Transform": "AWS::Include", "Resources": {"A": thing()}})


# ------------------------------------------------------------ SAM
def test_sam_globals_apply_to_every_function_and_the_function_wins():
    body = {"Transform": "AWS::Serverless-2016-10-31",
            "Globals": {"Function": {"Runtime": "python3.12", "MemorySize": 256, "Timeout": 10,
                                     "Environment": {"Variables": {"STAGE": "dev"}}}},
            "Resources": {
                "Small": {"Type": "AWS::Serverless::Function",
                          "Properties": {"CodeUri": "s3://code/app.zip", "Handler": "app.handler"}},
                "Slow": {"Type": "AWS::Serverless::Function",
                         "Properties": {"CodeUri": "s3://code/app.zip", "Handler": "app.slow", "Timeout": 60,
                                        "Environment": {"Variables": {"EXTRA": "1"}}}}}}
    result = prepared(body, supported={"AWS::Lambda::Function", "AWS::IAM::Role"})
    assert "Transform" not in result.body and "Globals" not in result.body
    small, slow = result.resources["Small"]["Properties"], result.resources["Slow"]["Properties"]
    assert (small["Runtime"], small["MemorySize"], small["Timeout"]) == ("python3.12", 256, 10)
    assert small["Environment"]["Variables"] == {"STAGE": "dev"}
    assert (slow["Runtime"], slow["Timeout"]) == ("python3.12", 60)
    assert slow["Environment"]["Variables"] == {"STAGE": "dev", "EXTRA": "1"}  # maps are merged
    assert result.resources["SmallRole"]["Type"] == "AWS::IAM::Role"
    assert "SmallRole" in result.dependencies["Small"]


def test_a_sam_template_the_translator_rejects_is_a_validation_error():
    body = {"Transform": "AWS::Serverless-2016-10-31",
            "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app.handler"}}}}
    with pytest.raises(ValidationFailure, match="Transform AWS::Serverless-2016-10-31 failed with"):
        prepared(body, supported={"AWS::Lambda::Function", "AWS::IAM::Role"})


# ------------------------------------------------------------ outputs
class Thing(ResourceHandler):
    type = THING


def test_outputs_are_resolved_with_conditions_lists_and_exports():
    body = {"Parameters": {"Stage": {"Type": "String", "Default": "prod"}},
            "Conditions": {"IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]}},
            "Resources": {"Queue": thing()},
            "Outputs": {
                "Url": {"Value": {"Ref": "Queue"}, "Description": "the queue",
                        "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-Url"}}},
                "Arn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
                "Zones": {"Value": {"Fn::GetAZs": ""}},
                "DevOnly": {"Value": "x", "Condition": "IsDev"}}}
    template = prepared(body)
    stack = {"_account": ACCOUNT, "_region": REGION, "StackName": "shop", "StackId": STACK_ID,
             "resources": {"Queue": {"type": THING, "physical_id": "queue-url", "attributes": {"Arn": "arn:q"}}}}
    operation = StackOperation(None, stack, lambda _: None, lambda *_: None, lambda _: None)
    operation.handlers = {THING: Thing()}
    assert operation.outputs(template) == [
        {"OutputKey": "Url", "OutputValue": "queue-url", "Description": "the queue", "ExportName": "shop-Url"},
        {"OutputKey": "Arn", "OutputValue": "arn:q"},
        {"OutputKey": "Zones", "OutputValue": "eu-west-1a,eu-west-1b,eu-west-1c"},
    ]


def test_getatt_reads_the_deployed_attributes_and_rejects_others():
    assert Thing().attribute(Deployed("id", {"Arn": "arn:x"}), "Arn") == "arn:x"
    with pytest.raises(ResourceFailure, match="resource Test::Thing does not support attribute Nope"):
        Thing().attribute(Deployed("id", {"Arn": "arn:x"}), "Nope")


# ------------------------------------------------------------ empty and malformed sections
@pytest.mark.parametrize("section", ["Parameters", "Mappings", "Conditions", "Outputs", "Metadata", "Rules"])
def test_an_empty_section_counts_as_absent(section):
    assert set(prepared({section: None, "Resources": {"A": thing()}}).resources) == {"A"}


@pytest.mark.parametrize(("body", "message"), [
    ({"Parameters": {"Stage": None}}, "Every Parameters object must contain a Type member. (Parameters/Stage)"),
    ({"Outputs": {"Out": None}}, "Every Outputs member must contain a Value object (Outputs/Out)"),
    ({"Mappings": {"Sizes": "big"}}, "Every Mappings member must be a map (Mappings/Sizes)"),
    ({"Outputs": ["x"]}, "Outputs must be an object"),
    ({"Conditions": "yes"}, "Conditions must be an object"),
])
def test_malformed_sections_are_validation_errors(body, message):
    with pytest.raises(ValidationFailure, match=re.escape(message)):
        prepared({**body, "Resources": {"A": thing()}})


# ------------------------------------------------------------ properties the handlers implement
def test_unimplemented_properties_are_listed_before_anything_is_created():
    resources = {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.12", "TenancyConfig": {},
                                                                        "ImageConfig": {}}},
                 "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"Bogus": 1}}}
    accepted = {kind: handler.properties | handler.ignored for kind, handler in handlers().items()}
    with pytest.raises(ValidationFailure) as raised:
        check_properties(resources, accepted)
    assert str(raised.value) == (
        "Resource Fn: property ImageConfig is not supported by Cumulo yet; Resource Fn: property TenancyConfig is "
        "not supported by Cumulo yet; Resource Queue: property Bogus is not supported by Cumulo yet. "
        "Nothing was created.")


def test_known_no_op_properties_are_accepted():
    resources = {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketEncryption": {}, "Tags": []}},
                 "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": "k", "RetentionInDays": 7}},
                 "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {},
                                                                   "PermissionsBoundary": "arn:aws:iam::1:policy/b"}},
                 "Bare": {"Type": "AWS::SQS::Queue"}}
    check_properties(resources, {kind: handler.properties | handler.ignored for kind, handler in handlers().items()})


def test_every_handler_declares_its_properties():
    assert [kind for kind, handler in handlers().items() if not handler.properties and not handler.open_properties] \
        == []
