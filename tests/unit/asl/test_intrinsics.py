import hashlib
import json

import pytest

from cumulo.asl import intrinsics
from cumulo.asl.errors import INTRINSIC_FAILURE, StatesError
from cumulo.asl.paths import resolve


class FixedEntropy:
    def uuid(self) -> str:
        return "11111111-2222-4333-8444-555555555555"

    def random_int(self, start: int, end: int) -> int:
        return start


def call(text, data=None):
    return intrinsics.evaluate(intrinsics.parse(text), lambda p: resolve(p, data or {}), FixedEntropy())


def test_format_with_literals_paths_and_escapes():
    assert (
        call("States.Format('Hello, my name is {}.', $.name)", {"name": "Arnav"})
        == "Hello, my name is Arnav."
    )
    assert (
        call("States.Format($.template, $.name)", {"template": "Hello, my name is {}.", "name": "Arnav"})
        == "Hello, my name is Arnav."
    )
    assert call("States.Format('{} {} {} {}', 1, 2.5, true, null)") == "1 2.5 true null"
    assert call(r"States.Format('it\'s \{literal\} {} \\ done', 'x')") == "it's {literal} x \\ done"


def test_format_argument_count_must_match_placeholders():
    with pytest.raises(StatesError) as info:
        call("States.Format('{} {}', 'only one')")
    assert info.value.error == INTRINSIC_FAILURE
    with pytest.raises(StatesError):
        call("States.Format('{}', $.obj)", {"obj": {"a": 1}})


def test_json_conversions():
    assert call("States.StringToJson($.s)", {"s": '{"foo": "bar"}'}) == {"foo": "bar"}
    assert call("States.JsonToString($.o)", {"o": {"foo": "bar"}}) == '{"foo":"bar"}'
    with pytest.raises(StatesError):
        call("States.StringToJson('not json')")


def test_arrays():
    assert call("States.Array($.Id)", {"Id": 123456}) == [123456]
    assert call("States.Array()") == []
    assert call("States.ArrayPartition($.a, 4)", {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]}) == [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
        [9],
    ]
    assert call("States.ArrayContains($.a, 5)", {"a": [1, 5]}) is True
    assert call("States.ArrayContains($.a, true)", {"a": [1]}) is False
    assert call("States.ArrayRange(1, 9, 2)") == [1, 3, 5, 7, 9]
    assert call("States.ArrayRange(5, 1, -2)") == [5, 3, 1]
    assert call("States.ArrayGetItem($.a, 2)", {"a": [1, 2, 3]}) == 3
    assert call("States.ArrayLength($.a)", {"a": [1, 2, 3]}) == 3
    assert call("States.ArrayUnique($.a)", {"a": [1, 2, 3, 3, 3, 3, 3, 3, 4]}) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "text",
    [
        "States.ArrayPartition($.a, 0)",
        "States.ArrayRange(1, 2000, 1)",
        "States.ArrayRange(1, 5, 0)",
        "States.ArrayGetItem($.a, 9)",
        "States.ArrayLength($.s)",
    ],
)
def test_array_argument_errors(text):
    with pytest.raises(StatesError) as info:
        call(text, {"a": [1, 2], "s": "str"})
    assert info.value.error == INTRINSIC_FAILURE


def test_encoding_and_hashing():
    assert call("States.Base64Encode($.i)", {"i": "Data to encode"}) == "RGF0YSB0byBlbmNvZGU="
    assert call("States.Base64Decode($.i)", {"i": "RGF0YSB0byBlbmNvZGU="}) == "Data to encode"
    assert call("States.Hash($.d, 'SHA-1')", {"d": "input data"}) == hashlib.sha1(b"input data").hexdigest()
    assert call("States.Hash('x', 'MD5')") == hashlib.md5(b"x").hexdigest()
    with pytest.raises(StatesError):
        call("States.Hash('x', 'SHA-3')")
    with pytest.raises(StatesError):
        call("States.Base64Encode($.big)", {"big": "x" * 10_001})


def test_json_merge_is_shallow_only():
    merged = call(
        "States.JsonMerge($.a, $.b, false)",
        {"a": {"a": 1, "nested": {"x": 1}}, "b": {"b": 2, "nested": {"y": 2}}},
    )
    assert merged == {"a": 1, "b": 2, "nested": {"y": 2}}
    with pytest.raises(StatesError):
        call("States.JsonMerge($.a, $.a, true)", {"a": {}})


def test_math():
    assert call("States.MathAdd($.v, -1)", {"v": 111}) == 110
    assert call("States.MathRandom(5, 10)") == 5  # from the engine's (recorded) entropy
    seeded = call("States.MathRandom(1, 1000, 42)")
    assert seeded == call("States.MathRandom(1, 1000, 42)") and 1 <= seeded < 1000
    with pytest.raises(StatesError):
        call("States.MathAdd(1.5, 1)")


def test_string_split_and_uuid():
    assert call("States.StringSplit($.s, ',')", {"s": "1,2,3,4,5"}) == ["1", "2", "3", "4", "5"]
    assert call("States.StringSplit($.s, '.+,=')", {"s": "This.is+a,test=string"}) == [
        "This",
        "is",
        "a",
        "test",
        "string",
    ]
    assert call("States.UUID()") == FixedEntropy().uuid()


def test_nesting():
    arn = "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/recipe-name/1.0.1"
    text = (
        "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
        "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit("
        "States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))"
    )
    assert call(text, {"ImageRecipe": {"Arn": arn}}) == "1.0"


@pytest.mark.parametrize(
    "text",
    [
        "States.Nope(1)",
        "States.Format('unterminated",
        "States.Format('x') trailing",
        "States.UUID(1)",
        "States.ArrayGetItem($.a)",
        r"States.Format('open \escape')",
        "States.Array(" * 12 + ")" * 12,
    ],
)
def test_syntax_errors(text):
    with pytest.raises(ValueError):
        intrinsics.parse(text)


def test_path_argument_with_brackets_and_commas():
    parsed = intrinsics.parse("States.Array($['a,b'], $.c[0])")
    assert call("States.Array($['a,b'], $.c[0])", {"a,b": 1, "c": [2]}) == [1, 2]
    assert len(parsed.args) == 2
    assert json.dumps(call("States.JsonToString($)", {"k": [1]})) == json.dumps('{"k":[1]}')
