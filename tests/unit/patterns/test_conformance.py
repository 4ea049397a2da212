"""The recorded AWS cases in tests/data/event-patterns, through both matchers."""

from __future__ import annotations

import json
from pathlib import Path

import json5
import pytest

from cumulo.patterns import InvalidEventPattern, RuleSet, compile_pattern, matches
from tests.data_files import EVENT_PATTERN_CASES

CASES = sorted(EVENT_PATTERN_CASES.glob("*.json5"))


def _expected(path: Path) -> str:
    stem = path.stem
    return "invalid" if stem.endswith("_EXC") else "no-match" if stem.endswith("_NEG") else "match"


def test_all_cases_are_present():
    assert len(CASES) == 78  # the folder holds 78 cases and its README


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path):
    case = json5.loads(path.read_text())
    pattern, event = case["EventPattern"], case["Event"]
    expected = _expected(path)
    if expected == "invalid":
        with pytest.raises(InvalidEventPattern) as raised:
            compile_pattern(pattern)
        assert raised.value.code == "InvalidEventPatternException"
        assert raised.value.message.startswith("Event pattern is not valid. Reason: ")
        return
    want = expected == "match"
    assert compile_pattern(pattern).matches(event) is want
    # the JSON-text form of both arguments behaves the same
    assert matches(json.dumps(pattern), json.dumps(event)) is want
    rules = RuleSet()
    rules.add("rule", pattern)
    assert rules.match(event) == ({"rule"} if want else set())
