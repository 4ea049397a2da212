"""SQS message bodies and attributes: AWS's MD5 digests, validation and selection."""

from __future__ import annotations

import pytest

from cumulo.protocol.errors import AwsError
from cumulo.services.sqs import messages as msgs


def test_md5_of_message_attributes_matches_published_vectors():
    # Vectors published with an independent implementation (npm aws-md5-of-message-attributes).
    simple = {"attribName1": {"DataType": "String", "StringValue": "attribValue 1"}}
    custom = {"customNumberTypeAttrib": {"DataType": "Number.float",
                                         "StringValue": "4563442423554324324264524243.32543234"}}
    binary = {"binaryAttribute": {"DataType": "Binary", "BinaryValue": b"Hello binary world!"}}
    assert msgs.attributes_md5(simple) == "19e27d4e946b072f3f58da80d94fd778"
    assert msgs.attributes_md5(custom) == "9fe1b90bbd9965bdf77bac517c7d2495"
    assert msgs.attributes_md5(binary) == "31a92b15d92f8db860eda32aceb656c3"
    assert msgs.attributes_md5({**simple, **custom, **binary}) == "c932db14a896c663f83c260297d594ff"


def test_md5_is_independent_of_attribute_order_and_absent_without_attributes():
    a = {"b": {"DataType": "String", "StringValue": "1"}, "a": {"DataType": "Number", "StringValue": "2"}}
    assert msgs.attributes_md5(a) == msgs.attributes_md5(dict(reversed(list(a.items()))))
    assert msgs.attributes_md5({}) is None
    assert msgs.attributes_md5(None) is None


def test_md5_of_body_is_over_utf8():
    assert msgs.md5_hex("hello") == "5d41402abc4b2a76b9719d911017c592"
    assert msgs.md5_hex("é") == msgs.md5_hex("é".encode())


def _code(call) -> tuple[str, str]:
    with pytest.raises(AwsError) as caught:
        call()
    return caught.value.code, caught.value.message


def test_body_must_be_non_empty_and_made_of_allowed_characters():
    assert msgs.check_body("ok \t\n\r é 😀") == "ok \t\n\r é 😀".encode()
    assert _code(lambda: msgs.check_body(""))[0] == "MissingParameter"
    code, message = _code(lambda: msgs.check_body("bad \x00 char"))
    assert code == "InvalidMessageContents"
    assert message.startswith("Invalid characters found.")
    assert _code(lambda: msgs.check_body("\ufffe"))[0] == "InvalidMessageContents"


@pytest.mark.parametrize("name", ["AWS.x", "amazon.y", ".lead", "trail.", "a..b", "sp ace", "x" * 257, ""])
def test_invalid_attribute_names_are_refused(name):
    code, _ = _code(lambda: msgs.check_message_attributes({name: {"DataType": "String", "StringValue": "v"}}))
    assert code == "InvalidParameterValue"


def test_attribute_values_are_checked_by_type():
    ok = msgs.check_message_attributes({
        "s": {"DataType": "String.custom", "StringValue": "v"},
        "n": {"DataType": "Number", "StringValue": "-1.5e3"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    })
    assert ok["b"] == {"DataType": "Binary", "BinaryValue": "AAE="}
    assert msgs.wire_attributes(ok)["b"]["BinaryValue"] == b"\x00\x01"
    cases = {
        "type missing": {"DataType": "", "StringValue": "v"},
        "unknown type": {"DataType": "Text", "StringValue": "v"},
        "empty string": {"DataType": "String", "StringValue": ""},
        "not a number": {"DataType": "Number", "StringValue": "twelve"},
        "binary in string field": {"DataType": "Binary", "StringValue": "v"},
    }
    for label, attribute in cases.items():
        code, _ = _code(lambda a=attribute: msgs.check_message_attributes({"x": a}))
        assert code == "InvalidParameterValue", label
    assert "must use field 'Binary'" in _code(lambda: msgs.check_message_attributes(
        {"x": cases["binary in string field"]}))[1]


def test_more_than_ten_attributes_are_refused():
    many = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}
    _, message = _code(lambda: msgs.check_message_attributes(many))
    assert message == "Number of message attributes [11] exceeds the allowed maximum [10]."


def test_attribute_size_counts_names_types_and_values():
    assert msgs.attributes_size({"ab": {"DataType": "String", "StringValue": "xyz"}}) == 2 + 6 + 3
    assert msgs.attributes_size({"b": {"DataType": "Binary", "BinaryValue": b"\x00" * 10}}) == 1 + 6 + 10


def test_select_attributes_supports_all_names_and_prefixes():
    stored = {"foo.a": 1, "foo.b": 2, "bar": 3}
    assert msgs.select_attributes(stored, ["All"]) == stored
    assert msgs.select_attributes(stored, [".*"]) == stored
    assert msgs.select_attributes(stored, ["foo.*"]) == {"foo.a": 1, "foo.b": 2}
    assert msgs.select_attributes(stored, ["bar", "nope"]) == {"bar": 3}
    assert msgs.select_attributes(stored, None) == {}


def test_fifo_ids_and_content_based_deduplication():
    msgs.check_fifo_id("group-1!#$%", "MessageGroupId")
    _, message = _code(lambda: msgs.check_fifo_id("has space", "MessageGroupId"))
    assert "MessageGroupId can only include alphanumeric and punctuation characters" in message
    assert _code(lambda: msgs.check_fifo_id("x" * 129, "MessageDeduplicationId"))[0] == "InvalidParameterValue"
    assert msgs.content_dedup_id(b"x") == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"


def test_system_attributes_accept_only_a_string_trace_header():
    ok = msgs.check_system_attributes({"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-a-b"}})
    assert ok["AWSTraceHeader"]["StringValue"] == "Root=1-a-b"
    assert _code(lambda: msgs.check_system_attributes({"Other": {"DataType": "String", "StringValue": "x"}}))
