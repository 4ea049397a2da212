"""Property tests: no pattern crashes the engine, and RuleSet agrees with single patterns."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo.patterns import InvalidEventPattern, RuleSet, compile_pattern

KEYS = st.sampled_from(["a", "b", "c", "a.b", "$or"])
STRINGS = st.sampled_from(["", "x", "xy", "yx", "X", "10.0.0.1", "10.1.2.3", "::1", "a*b", "é"])
NUMBERS = st.sampled_from([0, 1, -1, 1.5, 300, 3e2, 0.1, 5e9, 5e9 + 1, -7.25, 123456789012])
SCALARS = st.one_of(STRINGS, NUMBERS, st.booleans(), st.none())
WILDCARDS = st.sampled_from(["x*", "*y", "*", "x\\*", "a\\\\*", "x**", "a\\b", "*x*y*"])
CIDRS = st.sampled_from(["10.0.0.0/8", "10.0.0.1/31", "::/0", "2001:db8::/32", "bad", "1.2.3.4/33"])
NUMERIC = st.one_of(
    st.lists(st.one_of(st.sampled_from(["<", "<=", "=", ">", ">=", "!"]), NUMBERS), max_size=5),
    st.tuples(st.sampled_from([">", ">="]), NUMBERS, st.sampled_from(["<", "<="]), NUMBERS).map(list),
    NUMBERS,
)


def _operator() -> st.SearchStrategy:
    text_or_list = st.one_of(STRINGS, st.lists(STRINGS, max_size=3), NUMBERS)
    return st.one_of(
        st.builds(
            lambda v: {"prefix": v},
            st.one_of(STRINGS, st.builds(lambda s: {"equals-ignore-case": s}, STRINGS)),
        ),
        st.builds(
            lambda v: {"suffix": v},
            st.one_of(STRINGS, st.builds(lambda s: {"equals-ignore-case": s}, STRINGS)),
        ),
        st.builds(lambda v: {"equals-ignore-case": v}, STRINGS),
        st.builds(lambda v: {"wildcard": v}, WILDCARDS),
        st.builds(lambda v: {"numeric": v}, NUMERIC),
        st.builds(lambda v: {"cidr": v}, CIDRS),
        st.builds(lambda v: {"exists": v}, st.one_of(st.booleans(), STRINGS)),
        st.builds(
            lambda v: {"anything-but": v}, st.one_of(text_or_list, st.lists(NUMBERS, min_size=1, max_size=3))
        ),
        st.builds(
            lambda k, v: {"anything-but": {k: v}},
            st.sampled_from(["prefix", "suffix", "equals-ignore-case", "wildcard", "numeric"]),
            st.one_of(text_or_list, WILDCARDS),
        ),
        st.dictionaries(st.sampled_from(["prefix", "suffix", "bogus"]), STRINGS, max_size=2),
    )


VALUE_LISTS = st.lists(st.one_of(SCALARS, _operator()), min_size=0, max_size=4)


def _pattern_objects(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.dictionaries(
        KEYS, st.one_of(VALUE_LISTS, inner, st.lists(inner, min_size=1, max_size=3)), max_size=3
    )


PATTERNS = st.recursive(
    st.dictionaries(KEYS, VALUE_LISTS, min_size=1, max_size=3), _pattern_objects, max_leaves=8
)
ANYTHING = st.recursive(
    SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3))
)
EVENT_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c", "a.b"]), inner, max_size=3),
    ),
    max_leaves=10,
)
EVENTS = st.fixed_dictionaries(
    {"b": EVENT_VALUES}, optional={"a": EVENT_VALUES, "c": EVENT_VALUES, "a.b": EVENT_VALUES}
)

# Structurally valid patterns, drawn from the same small value pools as the events, so that
# rules share fields and values and a good share of them match.
IN_RANGE = st.sampled_from([0, 1, -1, 1.5, 300, 3e2, 0.1, -7.25])
VALID_OPERATORS = st.one_of(
    SCALARS,
    st.builds(lambda v: {"prefix": v}, STRINGS),
    st.builds(lambda v: {"suffix": {"equals-ignore-case": v}}, STRINGS),
    st.builds(lambda v: {"equals-ignore-case": v}, STRINGS),
    st.builds(lambda v: {"wildcard": v}, st.sampled_from(["x*", "*y", "*", "x\\*", "*x*y"])),
    st.builds(lambda op, n: {"numeric": [op, n]}, st.sampled_from(["<", "<=", "=", ">", ">="]), IN_RANGE),
    st.builds(
        lambda lo, span: {"numeric": [">", lo, "<=", lo + span]}, IN_RANGE, st.sampled_from([0.5, 2, 400])
    ),
    st.builds(lambda v: {"cidr": v}, st.sampled_from(["10.0.0.0/8", "10.0.0.1/31", "::/0"])),
    st.builds(lambda v: {"exists": v}, st.booleans()),
    st.builds(lambda v: {"anything-but": v}, st.one_of(STRINGS, st.lists(STRINGS, min_size=1, max_size=2))),
    st.builds(lambda v: {"anything-but": v}, st.lists(IN_RANGE, min_size=1, max_size=2)),
    st.builds(lambda v: {"anything-but": {"prefix": v}}, st.sampled_from(["x", "1"])),
    st.builds(lambda v: {"anything-but": {"wildcard": v}}, st.sampled_from(["x*", "*y"])),
)
VALID_LISTS = st.lists(VALID_OPERATORS, min_size=1, max_size=4)
FIELDS = st.sampled_from(["a", "b", "c", "a.b"])
VALID_PATTERNS = st.recursive(
    st.dictionaries(FIELDS, VALID_LISTS, min_size=1, max_size=2),
    lambda inner: st.one_of(
        st.dictionaries(FIELDS, st.one_of(VALID_LISTS, inner), min_size=1, max_size=2),
        st.builds(
            lambda base, branches: {**base, "$or": branches}, inner, st.lists(inner, min_size=2, max_size=2)
        ),
    ),
    max_leaves=5,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _compile(pattern: object):
    try:
        return compile_pattern(json.dumps(pattern))
    except InvalidEventPattern:
        return None


@SETTINGS
@given(st.one_of(PATTERNS, ANYTHING), EVENTS)
def test_never_crashes(pattern, event):
    compiled = _compile(pattern)
    if compiled is not None:
        assert compiled.matches(event) in (True, False)


@SETTINGS
@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text):
    try:
        compile_pattern(text)
    except InvalidEventPattern:
        pass


@SETTINGS
@given(st.lists(VALID_PATTERNS, min_size=1, max_size=6), st.lists(EVENTS, min_size=1, max_size=4))
def test_rule_set_agrees_with_single_patterns(patterns, events):
    compiled = [c for c in map(_compile, patterns) if c is not None]
    rules = RuleSet()
    for position, pattern in enumerate(compiled):
        rules.add(position, pattern)
    for event in events:
        expected = {position for position, pattern in enumerate(compiled) if pattern.matches(event)}
        assert rules.match(event) == expected
    for position in range(0, len(compiled), 2):  # removal leaves the others exact
        rules.remove(position)
    for event in events:
        expected = {p for p, pattern in enumerate(compiled) if p % 2 and pattern.matches(event)}
        assert rules.match(event) == expected
