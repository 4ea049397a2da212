"""cumulo.services.tagging: the part of TagResource/UntagResource/ListTags every service shares."""

from __future__ import annotations

import pytest

from cumulo.services.tagging import (
    TagProblem,
    TagRules,
    add_tags,
    merged_tags,
    remove_tags,
    tag_list,
    tag_map,
    tag_problems,
    tags_of,
    without_tags,
)


class TooMany(Exception):
    pass


class BadTag(Exception):
    pass


RULES = TagRules(TooMany, max_tags=2, invalid_tag=lambda key, problems: BadTag(key, problems))


def test_list_and_map_forms() -> None:
    assert tag_map([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]) == {"a": "1", "b": ""}
    assert tag_map([{"key": "a"}], "key", "value") == {"a": ""}  # a tag without a value has the empty one
    assert tag_map(None) == {}
    assert tag_list({"a": "1"}) == [{"Key": "a", "Value": "1"}]
    assert tag_list({"a": "1"}, "key", "value") == [{"key": "a", "value": "1"}]


def test_merge_replaces_values_and_keeps_order() -> None:
    merged = merged_tags({"a": "1", "b": "2"}, {"b": "3", "c": "4"})
    assert list(merged.items()) == [("a", "1"), ("b", "3"), ("c", "4")]


def test_merge_checks_the_count_after_merging() -> None:
    assert merged_tags({"a": "1"}, {"a": "2", "b": "3"}, RULES) == {"a": "2", "b": "3"}
    with pytest.raises(TooMany):
        merged_tags({"a": "1", "b": "2"}, {"c": "3"}, RULES)


@pytest.mark.parametrize(("key", "value", "problems"), [
    ("ok", "fine", set()),
    ("", "v", {TagProblem.KEY_LENGTH}),
    ("k" * 129, "v", {TagProblem.KEY_LENGTH}),
    ("k" * 128, "v" * 256, set()),
    ("k", "v" * 257, {TagProblem.VALUE_LENGTH}),
    ("AWS:name", "v" * 257, {TagProblem.RESERVED_PREFIX, TagProblem.VALUE_LENGTH}),
])
def test_tag_problems(key: str, value: str, problems: set[TagProblem]) -> None:
    assert tag_problems(key, value) == problems


def test_rules_answer_the_service_error_for_a_bad_tag() -> None:
    with pytest.raises(BadTag) as raised:
        RULES.check({"aws:x": "v"})
    assert raised.value.args == ("aws:x", frozenset({TagProblem.RESERVED_PREFIX}))
    TagRules(TooMany).check({"aws:x": "v"})  # a service that checks no single tag


def test_record_tags_add_and_remove() -> None:
    record: dict = {"name": "r"}
    assert tags_of(record) == {}
    add_tags(record, {"a": "1", "b": "2"})
    remove_tags(record, ["a", "missing"])
    assert record == {"name": "r", "tags": {"b": "2"}}
    add_tags(record, {"c": "3"}, field="Tags")
    assert tags_of(record, "Tags") == {"c": "3"}


def test_a_refused_tagging_leaves_the_record_unchanged() -> None:
    record = {"tags": {"a": "1", "b": "2"}}
    with pytest.raises(TooMany):
        add_tags(record, {"c": "3"}, RULES)
    assert record == {"tags": {"a": "1", "b": "2"}}


def test_without_tags() -> None:
    assert without_tags({"a": "1", "b": "2"}, {"b"}) == {"a": "1"}
