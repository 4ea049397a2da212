"""Invalid patterns: AWS's reasons (event-ruler's wording), and what is accepted."""

from __future__ import annotations

import pytest

from cumulo.patterns import InvalidEventPattern, compile_pattern


def reason(pattern: object) -> str:
    with pytest.raises(InvalidEventPattern) as raised:
        compile_pattern(pattern)
    assert raised.value.message == f"Event pattern is not valid. Reason: {raised.value.reason}"
    return raised.value.reason


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("{bad", "Invalid JSON"),
        ('{"n": [NaN]}', "Invalid JSON"),
        ("[]", "Filter is not an object"),
        ("{}", "Empty objects are not allowed"),
        ({"a": {}}, "Empty objects are not allowed"),
        ({"source": "aws.ec2"}, '"source" must be an object or an array'),
        ({"a": []}, "Empty arrays are not allowed"),
        ({"a": [["x"]]}, "Match value must be String, number, true, false, or null"),
        ({"a": [{}]}, "Match expression name not found"),
        ({"a": [{"regex": "x"}]}, "Unrecognized match type regex"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "Only one key allowed in match expression"),
        ({"a": [{"prefix": 1}]}, "prefix match pattern must be a string"),
        ({"a": [{"prefix": {"x": "y"}}]}, "Unsupported prefix pattern: x"),
        ({"a": [{"prefix": {}}]}, "Prefix expression name not found"),
        ({"a": [{"suffix": {"equals-ignore-case": 1}}]}, "equals-ignore-case match pattern must be a string"),
        ({"a": [{"equals-ignore-case": ["x"]}]}, "equals-ignore-case match pattern must be a string"),
        ({"a": [{"exists": "true"}]}, "exists match pattern must be either true or false."),
        ({"a": [{"exactly": 1}]}, "exact match pattern must be a string"),
        ({"a": [{"cidr": 10}]}, "prefix match pattern must be a string"),
        ({"a": [{"cidr": "10.0.0.0"}]}, "Malformed CIDR, one '/' required"),
        ({"a": [{"cidr": "10.0.0.0/x"}]}, "Malformed CIDR, mask bits must be an integer"),
        ({"a": [{"cidr": "10.0.0.0/-1"}]}, "Malformed CIDR, mask bits must not be negative"),
        ({"a": [{"cidr": "10.0.0.0/32"}]}, "IPv4 mask bits must be < 32"),
        ({"a": [{"cidr": "::/128"}]}, "IPv6 mask bits must be < 128"),
        ({"a": [{"cidr": "999.0.0.0/8"}]}, "Invalid IP address: 999.0.0.0"),
        ({"a": [{"cidr": "host.example/8"}]}, "Nonstandard IP address: host.example"),
        ({"a": [{"wildcard": "a**b"}]}, "Consecutive wildcard characters at pos 2"),
        ({"a": [{"wildcard": "é**"}]}, "Consecutive wildcard characters at pos 3"),
        ({"a": [{"wildcard": "a\\b"}]}, "Invalid escape character at pos 2"),
        ({"a": [{"wildcard": "a\\"}]}, "Invalid escape character at pos 2"),
        ({"a": [{"anything-but": {"wildcard": "x**"}}]}, "Consecutive wildcard characters at pos 2"),
    ],
)
def test_reasons(pattern, expected):
    assert reason(pattern) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (10, "Value of numeric must be an array."),
        ([], "Invalid member in numeric match: ]"),
        ([5], "Invalid member in numeric match: 5"),
        (["!=", 5], "Unrecognized numeric range operator: !="),
        (["=", "5"], "Value of equals must be numeric"),
        (["=", 5, "<", 6], "Too many elements in numeric expression"),
        ([">"], "Value of > must be numeric"),
        ([">", 0, "<"], "Value of < must be numeric"),
        ([">", 0, 5], "Bad value in numeric range: 5"),
        ([">", 0, ">", 5], "Bad numeric range operator: >"),
        ([">", 0, "<", 5, 6], "Too many terms in numeric range expression"),
        (["<", 5, ">", 0], "Too many elements in numeric expression"),
        ([">", 5, "<", 5], "Bottom must be less than top"),
        ([">", 5.0000001, "<", 5.0000009], "Bottom must be less than top"),
        ([">", 5e9 + 1], "Value must be between -5.0E9 and 5.0E9, inclusive"),
        (["<", -5.1e9], "Value must be between -5.0E9 and 5.0E9, inclusive"),
    ],
)
def test_numeric_reasons(condition, expected):
    assert reason({"n": [{"numeric": condition}]}) == expected


def test_numeric_range_limits_are_inclusive():
    compile_pattern({"n": [{"numeric": [">=", -5e9, "<=", 5e9]}]})


@pytest.mark.parametrize(
    ("operand", "expected"),
    [
        (None, "Value of anything-but must be an array or single string/number value."),
        (True, "Value of anything-but must be an array or single string/number value."),
        ({}, "Anything-But expression name not found"),
        ({"numeric": [">", 1]}, "Unsupported anything-but pattern: numeric"),
        (
            ["a", 1],
            "Inside anything but list, either all values are number or string, mixed type is not supported",
        ),
        ([], "Inside anything but list, either all values are number or string, mixed type is not supported"),
        (["a", None], "Inside anything but list, start|null|boolean is not supported."),
        ([1e10], "Value must be between -5.0E9 and 5.0E9, inclusive"),
        ({"prefix": ""}, "Null prefix/suffix not allowed"),
        ({"suffix": ["x", ""]}, "Null prefix/suffix not allowed"),
        ({"prefix": 1}, "prefix/suffix match pattern must be a string"),
        ({"prefix": None}, "Value of anything-but must be an array or single string/number value."),
        (
            {"equals-ignore-case": 1},
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
        ),
        ({"wildcard": [1]}, "wildcard match pattern must be a string"),
        ({"prefix": "a", "suffix": "b"}, "Too many elements in numeric expression"),
    ],
)
def test_anything_but_reasons(operand, expected):
    assert reason({"a": [{"anything-but": operand}]}) == expected


def test_anything_but_with_an_extra_key():
    assert reason({"a": [{"anything-but": "x", "prefix": "y"}]}) == "Too many elements in numeric expression"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"$or": {"a": ["1"]}}, "It must be an Array followed with $or."),
        ({"$or": [{"a": ["1"]}]}, "There must have at least 2 Objects in $or relationship."),
        ({"$or": [{"a": ["1"]}, "b"]}, "Only JSON object is allowed in array of $or relationship."),
        (
            {"$or": [{"a": ["1"]}, {"numeric": [1]}]},
            "numeric is Ruler reserved fieldName which cannot be used inside $or.",
        ),
        ({"$or": [{"a": ["1"]}, {}]}, "Empty objects are not allowed"),
    ],
)
def test_or_reasons(pattern, expected):
    assert reason(pattern) == expected


def test_first_problem_in_document_order_is_reported():
    assert reason({"a": [{"prefix": 1}], "b": "x"}) == "prefix match pattern must be a string"
    assert reason({"b": "x", "a": [{"prefix": 1}]}) == '"b" must be an object or an array'


def test_or_explosion_is_bounded():
    branches = [{"a": ["1"]}, {"b": ["2"]}]
    pattern = {f"k{i}": {"$or": branches} for i in range(11)}  # 2**11 alternatives
    assert reason(pattern).startswith("Rule is too complex")


def test_pattern_length_limit():
    pattern = {"a": ["x" * 5000]}
    assert reason(pattern) == "Pattern is longer than 4096 characters"


class TestWildcardComplexity:
    TOO_COMPLEX = (
        "Rule is too complex - try using fewer wildcard characters or fewer repeating character "
        "sequences after a wildcard character"
    )

    @pytest.mark.parametrize(
        "values",
        [
            ["/Users/*/dir/dir/dir/dir/dir/doc.txt"],
            ["arn:aws:s3:::bucket/*/*.jpg"],
            ["*/datasync/*.bif", "*/datasync/*.tif"],
            ["*"],
        ],
    )
    def test_accepted(self, values):
        compile_pattern({"k": [{"wildcard": v} for v in values]})

    @pytest.mark.parametrize(
        "values",
        [
            ["*:*:*:*:*:event-bus/*"],
            ["*.bif", "*.tiff", "*.tif", "*.svs"],
            ["*/datasync/*.bif", "*/datasync/*.tif", "*/datasync/*.tiff", "*/datasync/*.svs"],
        ],
    )
    def test_refused(self, values):
        assert reason({"k": [{"wildcard": v} for v in values]}) == self.TOO_COMPLEX

    def test_anything_but_wildcards_count_too(self):
        pattern = {"k": [{"anything-but": {"wildcard": ["*.bif", "*.tiff", "*.tif", "*.svs"]}}]}
        assert reason(pattern) == self.TOO_COMPLEX

    def test_values_of_different_fields_do_not_add_up(self):
        compile_pattern({"a": [{"wildcard": "*:*:*"}], "b": [{"wildcard": "*:*:*"}]})
