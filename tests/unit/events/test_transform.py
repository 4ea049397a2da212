"""What targets receive: Input, InputPath and InputTransformer templates (AWS's quoting rules)."""

from __future__ import annotations

import json

import pytest

from cumulo.protocol.errors import AwsError
from cumulo.services.events.transform import (
    MISSING,
    extract,
    parse_path,
    render_template,
    target_payload,
    validate_input,
)

EVENT = {
    "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "account": "123456789012",
    "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING", "count": 3, "ok": True, "none": None,
               "tags": [{"k": "a"}, {"k": "b"}], "quote": 'say "hi"'},
}
PATHS = {"instance": "$.detail.instance-id", "state": "$.detail.state", "count": "$.detail.count",
         "ok": "$.detail.ok", "none": "$.detail.none", "tags": "$.detail.tags", "first": "$.detail.tags[0].k",
         "keys": "$.detail.tags[*].k", "missing": "$.detail.nothing", "time": "$.time", "quote": "$.detail.quote"}


def shaped(template: str, paths: dict[str, str] | None = None) -> str | None:
    target = {"Id": "t", "Arn": "arn:aws:sqs:us-east-1:123456789012:q",
              "InputTransformer": {"InputPathsMap": paths if paths is not None else PATHS, "InputTemplate": template}}
    validate_input(target)
    return target_payload(target, EVENT, rule_arn="arn:aws:events:us-east-2:123456789012:rule/example",
                          rule_name="example", ingestion_time="2015-11-11T21:29:55Z")


# ------------------------------------------------------------ the examples of AWS's documentation
@pytest.mark.parametrize("template, output", [
    ('"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'),
    ('"instance \\"<instance>\\" is in <state>"', '"instance \\"i-0123456789\\" is in RUNNING"'),
    ('{\n  "instance" : <instance>,\n  "state": <state>\n}', '{"instance":"i-0123456789","state":"RUNNING"}'),
    ('{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \\"<instance>\\" is in <state>"}',
     '{"instance":"i-0123456789","state":"RUNNING","instanceStatus":"instance \\"i-0123456789\\" is in RUNNING"}'),
    ('{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}',
     '{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}'),
    ('"<aws.events.rule-name> triggered"', '"example triggered"'),
    ("<instance> is in state <state>", "i-0123456789 is in state RUNNING"),
])
def test_documented_templates(template, output):
    assert shaped(template) == output


def test_reserved_variables_in_json():
    payload = json.loads(shaped('{"ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>, '
                                '"at": <aws.events.event.ingestion-time>, "original": <aws.events.event>, '
                                '"full": <aws.events.event.json>}', {}))
    assert payload["ruleArn"] == "arn:aws:events:us-east-2:123456789012:rule/example"
    assert payload["ruleName"] == "example"
    assert payload["at"] == "2015-11-11T21:29:55Z"
    assert payload["full"] == EVENT
    assert payload["original"]["detailType"] == EVENT["detail-type"]
    assert "detail" not in payload["original"] and "detail-type" not in payload["original"]


def test_value_types_in_json_and_in_strings():
    payload = json.loads(shaped('{"n": <count>, "b": <ok>, "z": <none>, "o": <tags>, "k": <first>, "all": <keys>,'
                                ' "m": <missing>, "s": "n=<count> b=<ok> k=<first> m=<missing>."}'))
    assert payload == {"n": 3, "b": True, "z": None, "o": [{"k": "a"}, {"k": "b"}], "k": "a", "all": ["a", "b"],
                       "m": "", "s": "n=3 b=true k=a m=."}


def test_string_templates_insert_raw_text():
    assert shaped("count=<count> tags=<tags> missing=[<missing>]") == 'count=3 tags=[{"k":"a"},{"k":"b"}] missing=[]'


def test_values_are_not_escaped_inside_json_strings():
    # AWS does not escape values taken with InputPathsMap: the result is not JSON and is sent as is
    assert shaped('{"said": "<quote>"}') == '{"said": "say "hi""}'
    assert json.loads(shaped('{"said": <quote>}')) == {"said": 'say "hi"'}


def test_placeholders_in_escaped_quotes_and_brackets():
    assert shaped('"<time>: <<state>>"') == '"2015-11-11T21:29:54Z: <RUNNING>"'


def test_input_and_input_path():
    assert target_payload({"Input": '{"fixed": 1}'}, EVENT, rule_arn="", rule_name="", ingestion_time="") == \
        '{"fixed": 1}'
    assert target_payload({"InputPath": "$.detail.state"}, EVENT, rule_arn="", rule_name="", ingestion_time="") == \
        '"RUNNING"'
    assert target_payload({"InputPath": "$"}, EVENT, rule_arn="", rule_name="", ingestion_time="") == json.dumps(
        EVENT, separators=(",", ":"))
    assert target_payload({"InputPath": "$.nope"}, EVENT, rule_arn="", rule_name="", ingestion_time="") is None
    assert json.loads(target_payload({}, EVENT, rule_arn="", rule_name="", ingestion_time="")) == EVENT


@pytest.mark.parametrize("path, value", [
    ("$", EVENT), ("$.detail.state", "RUNNING"), ("$.detail-type", EVENT["detail-type"]),
    ("$.resources[0]", EVENT["resources"][0]), ("$.detail.tags[1].k", "b"), ("$.detail.tags[*].k", ["a", "b"]),
    ("$['detail']['state']", "RUNNING"), ("$.detail.tags.*.k", ["a", "b"]), ("$.detail.nothing", MISSING),
    ("$.resources[5]", MISSING), ("$.detail.state.deeper", MISSING),
])
def test_json_paths(path, value):
    assert extract(parse_path(path), EVENT) == value


@pytest.mark.parametrize("path", ["detail", "$..x", "$.a[", "$.[0]", "$.a[b]", "$ .a"])
def test_bad_json_paths(path):
    with pytest.raises(ValueError):
        parse_path(path)


# ------------------------------------------------------------ PutTargets validation
@pytest.mark.parametrize("target, message", [
    ({"Input": "{}", "InputPath": "$"},
     "Only one of Input, InputPath, or InputTransformer must be provided for target t."),
    ({"InputPath": "$", "InputTransformer": {"InputTemplate": "x"}},
     "Only one of Input, InputPath, or InputTransformer must be provided for target t."),
    ({"Input": "not json"}, "Input for target t is not a valid JSON text."),
    ({"InputPath": "detail"}, "InputPath for target t is not a valid JSON path."),
    ({"InputTransformer": {"InputPathsMap": {"a": "$.a"}, "InputTemplate": '"<a> <notdefinedkey>"'}},
     "InputTemplate for target t contains invalid placeholder notdefinedkey."),
    ({"InputTransformer": {"InputPathsMap": {"a": "nope"}, "InputTemplate": '"<a>"'}},
     "InputPathsMap for target t contains invalid JSON path nope."),
    ({"InputTransformer": {"InputTemplate": '{"a": <aws.events.rule-name>'}},
     "InputTemplate for target t is not a valid JSON template."),
])
def test_validation(target, message):
    with pytest.raises(AwsError) as raised:
        validate_input({"Id": "t", **target})
    assert raised.value.code == "ValidationException"
    assert raised.value.message == message


def test_render_leaves_unknown_angle_brackets_alone():
    assert render_template("a <b> c", {}) == "a <b> c"
