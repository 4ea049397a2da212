import pytest

from cumulo.asl.errors import RESULT_PATH_MATCH_FAILURE, StatesError
from cumulo.asl.paths import PathNotFound, apply_result_path, parse_path, parse_reference_path, resolve

DATA = {"a": {"b": [10, 20, {"c": "deep"}]}, "weird key": 1, "list": [{"x": 1}, {"x": 2}, {"y": 3}]}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DATA),
        ("$.a.b[1]", 20),
        ("$.a.b[2].c", "deep"),
        ("$['weird key']", 1),
        ("$[\"a\"]['b'][0]", 10),
        ("$.a.b[-1]", {"c": "deep"}),
    ],
)
def test_definite_paths_select_one_value(path, expected):
    assert resolve(parse_path(path), DATA) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.list[*].x", [1, 2]),
        ("$..x", [1, 2]),
        ("$.list[0:2]", [{"x": 1}, {"x": 2}]),
        ("$.list[?(@.x > 1)]", [{"x": 2}]),
        ("$.missing[*]", []),
    ],
)
def test_indefinite_paths_return_lists(path, expected):
    assert resolve(parse_path(path), DATA) == expected


def test_missing_key_is_not_found_but_out_of_range_index_is_null():
    with pytest.raises(PathNotFound):
        resolve(parse_path("$.a.nope"), DATA)
    with pytest.raises(PathNotFound):
        resolve(parse_path("$.a.b.c"), DATA)  # stepping by name into an array
    assert resolve(parse_path("$.a.b[7]"), DATA) is None


def test_context_and_variable_roots():
    assert parse_path("$$.Execution.Id").root == "$$"
    var = parse_path("$myVar.field[0]")
    assert (var.root, var.variable, var.segments) == ("var", "myVar", ("field", 0))


@pytest.mark.parametrize("path", ["$.a[*]", "$..a", "$.a[0:1]", "$.a[?(@.b)]", "$.a[-1]"])
def test_reference_paths_reject_anything_but_single_nodes(path):
    with pytest.raises(ValueError):
        parse_reference_path(path)


@pytest.mark.parametrize("path", ["a.b", "", "$a b", "$.", "$[", "$.a[?(@.b"])
def test_invalid_paths(path):
    with pytest.raises(ValueError):
        parse_path(path)


def test_result_path_replaces_or_merges_without_mutating_input():
    raw = {"a": {"keep": 1}, "list": [1, 2]}
    assert apply_result_path(raw, parse_path("$"), {"r": 1}) == {"r": 1}
    merged = apply_result_path(raw, parse_path("$.a.new.deeper"), 5)
    assert merged == {"a": {"keep": 1, "new": {"deeper": 5}}, "list": [1, 2]}
    assert raw == {"a": {"keep": 1}, "list": [1, 2]}
    assert apply_result_path(raw, parse_path("$.list[1]"), "x") == {"a": {"keep": 1}, "list": [1, "x"]}
    assert apply_result_path(raw, None, 7) == raw  # ResultPath: null keeps the input


def test_result_path_into_a_non_object_is_a_match_failure():
    with pytest.raises(StatesError) as info:
        apply_result_path("just a string", parse_path("$.x"), 1)
    assert info.value.error == RESULT_PATH_MATCH_FAILURE
    with pytest.raises(StatesError):
        apply_result_path({"a": 3}, parse_path("$.a.b"), 1)
