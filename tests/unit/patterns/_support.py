"""Helpers shared by the pattern tests."""

from __future__ import annotations

from cumulo.patterns import RuleSet, compile_pattern


def match(pattern: dict | str, event: dict, dialect: str = "eventbridge") -> bool:
    """Match through the single-pattern matcher and through a RuleSet; they must agree."""
    single = compile_pattern(pattern, dialect=dialect).matches(event)
    rules = RuleSet(dialect=dialect)
    rules.add("r", pattern)
    together = rules.match(event) == {"r"}
    assert single is together, f"single={single} ruleset={together} for {pattern} / {event}"
    return single
