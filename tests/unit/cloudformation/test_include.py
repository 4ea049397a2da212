"""AWS::Include: snippets read from S3 replace their Fn::Transform before the SAM transform runs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cumulo.protocol.errors import AwsError
from cumulo.services.cloudformation.errors import ValidationFailure
from cumulo.services.cloudformation.include import resolve_includes, s3_location
from cumulo.services.cloudformation.template import prepare

OPENAPI_YAML = b"""
openapi: '3.0.1'
info: {title: {'Fn::Sub': '${AWS::StackName}-api'}, version: '1', updated: 2024-01-01}
paths:
  /hello:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {'Fn::GetAtt': [Fn, Arn]}
        payloadFormatVersion: '2.0'
"""


def reader(objects: dict[str, bytes]):
    def read_object(bucket: str, key: str) -> bytes:
        if f"{bucket}/{key}" not in objects:
            raise AwsError("NoSuchKey", "The specified key does not exist.", 404)
        return objects[f"{bucket}/{key}"]
    return read_object


def include(location: str) -> dict[str, Any]:
    return {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": location}}}


def test_a_yaml_snippet_replaces_a_property_value():
    body = {"Resources": {"Api": {"Type": "AWS::Serverless::HttpApi",
                                  "Properties": {"DefinitionBody": include("s3://defs/api.yaml")}}}}
    resolved = resolve_includes(body, reader({"defs/api.yaml": OPENAPI_YAML}))
    definition = resolved["Resources"]["Api"]["Properties"]["DefinitionBody"]
    assert definition["info"]["title"] == {"Fn::Sub": "${AWS::StackName}-api"}
    assert definition["info"]["updated"] == "2024-01-01"  # dates stay text, as in templates
    assert definition["paths"]["/hello"]["get"]["x-amazon-apigateway-integration"]["uri"] == {
        "Fn::GetAtt": ["Fn", "Arn"]}


def test_a_json_snippet_is_merged_into_a_top_level_section_next_to_other_keys():
    snippet = json.dumps({"Extra": {"Type": "Test::Thing"}}).encode()
    body = {"Resources": {"Mine": {"Type": "Test::Thing"}, **include("https://defs.s3.us-east-1.amazonaws.com/r.json")}}
    resolved = resolve_includes(body, reader({"defs/r.json": snippet}))
    assert resolved == {"Resources": {"Mine": {"Type": "Test::Thing"}, "Extra": {"Type": "Test::Thing"}}}


@pytest.mark.parametrize("location, expected", [
    ("s3://bucket/dir/file.yaml", ("bucket", "dir/file.yaml")),
    ("https://bucket.s3.amazonaws.com/file.yaml", ("bucket", "file.yaml")),
    ("https://bucket.s3.eu-west-1.amazonaws.com/a/b.json", ("bucket", "a/b.json")),
    ("https://s3.eu-west-1.amazonaws.com/bucket/a.json", ("bucket", "a.json")),
])
def test_locations_in_every_s3_form(location: str, expected: tuple[str, str]):
    assert s3_location(location) == expected


def test_a_missing_object_or_bucket_fails_with_the_transform_error():
    body = {"Resources": {"A": {"Type": "Test::Thing", "Properties": {"Body": include("s3://defs/none.yaml")}}}}
    message = "Transform AWS::Include failed with: S3 object [s3://defs/none.yaml] does not exist."
    with pytest.raises(ValidationFailure, match=re.escape(message)):
        resolve_includes(body, reader({}))

    def no_bucket(bucket: str, key: str) -> bytes:
        raise AwsError("NoSuchBucket", "The specified bucket does not exist", 404)

    message = "Transform AWS::Include failed with: S3 bucket [defs] does not exist."
    with pytest.raises(ValidationFailure, match=re.escape(message)):
        resolve_includes(body, no_bucket)


@pytest.mark.parametrize("location", ["./api.yaml", "s3://bucket-only", "ftp://x/y"])
def test_a_location_that_is_not_an_s3_uri_fails(location: str):
    body = {"Resources": {"A": {"Type": "Test::Thing", "Properties": {"Body": include(location)}}}}
    message = "Transform AWS::Include failed with: The location parameter is not a valid S3 uri."
    with pytest.raises(ValidationFailure, match=re.escape(message)):
        resolve_includes(body, reader({}))


@pytest.mark.parametrize("content", [b"a: [unclosed", b"uri: !GetAtt Fn.Arn"])
def test_content_that_is_not_plain_yaml_or_json_fails(content: bytes):
    body = {"Resources": {"A": {"Type": "Test::Thing", "Properties": {"Body": include("s3://defs/bad")}}}}
    with pytest.raises(ValidationFailure, match="content should be valid Yaml/JSON"):
        resolve_includes(body, reader({"defs/bad": content}))


def test_other_macros_are_refused():
    body = {"Resources": {"A": {"Type": "Test::Thing", "Properties": {
        "Body": {"Fn::Transform": {"Name": "MyMacro", "Parameters": {}}}}}}}
    with pytest.raises(ValidationFailure, match="Transform MyMacro is not supported"):
        resolve_includes(body, reader({}))


def test_includes_are_resolved_before_the_sam_transform():
    snippet = b"Type: AWS::Serverless::Function\nProperties: {Runtime: python3.12, Handler: a.h, InlineCode: x}\n"
    body = {"Transform": "AWS::Serverless-2016-10-31",
            "Resources": {"Fn": include("s3://defs/fn.yaml")}}
    prepared = prepare(body, {}, "123456789012", "eu-west-1", "shop", "arn:stack", {"AWS::Lambda::Function",
                                                                                   "AWS::IAM::Role"},
                       reader({"defs/fn.yaml": snippet}))
    assert prepared.resources["Fn"]["Type"] == "AWS::Lambda::Function"


def test_a_top_level_include_adds_its_sections_and_other_transforms_stay():
    snippet = b"Resources:\n  Extra: {Type: Test::Thing}\nOutputs:\n  Out: {Value: x}\n"
    body = {"Transform": [{"Name": "AWS::Include", "Parameters": {"Location": "s3://defs/more.yaml"}},
                          "AWS::Serverless-2016-10-31"],
            "Resources": {"Mine": {"Type": "Test::Thing"}}}
    resolved = resolve_includes(body, reader({"defs/more.yaml": snippet}))
    assert resolved == {"Transform": ["AWS::Serverless-2016-10-31"],
                        "Resources": {"Mine": {"Type": "Test::Thing"}, "Extra": {"Type": "Test::Thing"}},
                        "Outputs": {"Out": {"Value": "x"}}}
