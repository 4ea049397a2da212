"""Reading template text: JSON, or YAML with CloudFormation's short intrinsic tags."""

from __future__ import annotations

import textwrap

import pytest

from cumulo.template_loader import TemplateError, load_template


def test_short_tags_become_their_long_forms():
    text = textwrap.dedent("""
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
          Both: !And [!Condition IsProd, !Not [!Condition IsDev]]
        Resources:
          Fn:
            Type: AWS::Lambda::Function
            Properties:
              Role: !GetAtt Role.Arn
              Other: !GetAtt [Role, Arn]
              Name: !Sub "${AWS::StackName}-fn"
              Pair: !Sub ["${A}", {A: !Ref Stage}]
              Zone: !Select [0, !GetAZs ""]
              Size: !If [IsProd, 1024, !Ref "AWS::NoValue"]
              Map: !FindInMap [Sizes, !Ref Stage, Memory]
              Code: !Base64 hello
              Joined: !Join [",", !Split ["|", "a|b"]]
              Imported: !ImportValue shared-url
    """)
    properties = load_template(text)["Resources"]["Fn"]["Properties"]
    assert properties == {
        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
        "Other": {"Fn::GetAtt": ["Role", "Arn"]},
        "Name": {"Fn::Sub": "${AWS::StackName}-fn"},
        "Pair": {"Fn::Sub": ["${A}", {"A": {"Ref": "Stage"}}]},
        "Zone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        "Size": {"Fn::If": ["IsProd", 1024, {"Ref": "AWS::NoValue"}]},
        "Map": {"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]},
        "Code": {"Fn::Base64": "hello"},
        "Joined": {"Fn::Join": [",", {"Fn::Split": ["|", "a|b"]}]},
        "Imported": {"Fn::ImportValue": "shared-url"},
    }
    conditions = load_template(text)["Conditions"]
    assert conditions["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert conditions["Both"] == {"Fn::And": [{"Condition": "IsProd"}, {"Fn::Not": [{"Condition": "IsDev"}]}]}


def test_dates_stay_text_as_cloudformation_reads_them():
    document = load_template("AWSTemplateFormatVersion: 2010-09-09\nResources: {}\n")
    assert document["AWSTemplateFormatVersion"] == "2010-09-09"


def test_json_templates_are_read_as_json():
    assert load_template('  {"Resources": {"A": {"Type": "X"}}}') == {"Resources": {"A": {"Type": "X"}}}


@pytest.mark.parametrize("text", ["Resources: [unclosed", '{"Resources": ', "- just\n- a list\n", "plain text"])
def test_unreadable_templates_are_template_format_errors(text):
    with pytest.raises(TemplateError, match="Template format error"):
        load_template(text)
