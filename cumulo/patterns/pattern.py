"""Compiled patterns: validation, normal form, and single-pattern matching.

``compile_pattern`` validates a pattern and returns a ``CompiledPattern``: its sub-rules
(the ``$or`` alternatives), each a tuple of ``Field``s sorted most selective first.
``CompiledPattern.matches`` evaluates one pattern directly (a small backtracking search that
honours array consistency); it is the reference the multi-rule ``RuleSet`` is tested
against, and the right tool for one-off checks such as TestEventPattern.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import NamedTuple

from .dialects import Dialect, get_dialect
from .flatten import Flat, Membership, WantedPaths, flatten, merge
from .matchers import Matcher, is_absence
from .parser import parse
from .wildcard import MAX_COMPLEXITY, TOO_COMPLEX, complexity


class Field(NamedTuple):
    """One conjunct of a sub-rule: the field's path and its alternatives."""

    path: str
    matchers: tuple[Matcher, ...]

    @property
    def key(self) -> tuple:
        """Identity of the value list (order-insensitive), for sharing automaton edges."""
        return tuple(sorted((m.key for m in self.matchers), key=repr))

    @property
    def order(self) -> int:
        return max(m.order for m in self.matchers)

    @property
    def allows_absence(self) -> bool:
        return any(is_absence(m) for m in self.matchers)


SubRule = tuple[Field, ...]


@dataclass(frozen=True, eq=False)
class CompiledPattern:
    """A validated pattern. ``source`` is its JSON text; ``subrules`` its normal form."""

    source: str
    dialect: Dialect
    subrules: tuple[SubRule, ...]

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(f.path for rule in self.subrules for f in rule)

    @functools.cached_property
    def _wanted(self) -> WantedPaths:
        return WantedPaths(self.paths)

    def matches(self, event: dict | str) -> bool:
        """Does the event (a JSON object, parsed or as text) match this pattern?"""
        event = as_event(event)
        if event is None:
            return False
        flat = flatten(event, self.dialect.numbers, self._wanted)
        return any(_search(rule, 0, flat, ()) for rule in self.subrules)


def _search(rule: SubRule, position: int, flat: Flat, membership: Membership) -> bool:
    if position == len(rule):
        return True
    path, matchers = rule[position]
    leaves = flat.values.get(path)
    if leaves is None:
        return any(is_absence(m) for m in matchers) and _search(rule, position + 1, flat, membership)
    chains = flat.members.get(path) if flat.members is not None else None
    for i, leaf in enumerate(leaves):
        if any(m.test(leaf) for m in matchers):
            extended = merge(membership, chains[i]) if chains is not None else membership
            if extended is not None and _search(rule, position + 1, flat, extended):
                return True
    return False


def as_event(event: dict | str | bytes) -> dict | None:
    """The event as a dict, parsing JSON text; None when it is not a JSON object (such an
    event matches no pattern)."""
    if isinstance(event, (str, bytes)):
        event = json.loads(event)
    return event if isinstance(event, dict) else None


def compile_pattern(pattern: str | dict, *, dialect: str | Dialect = "eventbridge") -> CompiledPattern:
    """Validate and compile a pattern; raises ``InvalidEventPattern`` when it is not valid."""
    spec = get_dialect(dialect)
    if isinstance(pattern, str):
        return _compile_text(pattern, spec)
    return _compile(pattern, spec)


@functools.lru_cache(maxsize=4096)
def _compile_text(text: str, dialect: Dialect) -> CompiledPattern:
    return _compile(text, dialect)


def _compile(pattern: str | dict, dialect: Dialect) -> CompiledPattern:
    rules = parse(pattern, dialect)
    subrules = tuple(
        tuple(sorted((Field(path, matchers) for path, matchers in rule.items()), key=_field_order))
        for rule in rules
    )
    _check_wildcards(subrules, dialect)
    if dialect.max_keys is not None:
        _check_policy_size(subrules, dialect)
    source = pattern if isinstance(pattern, str) else json.dumps(pattern)
    return CompiledPattern(source=source, dialect=dialect, subrules=subrules)


def _field_order(f: Field) -> tuple[int, str]:
    return (f.order, f.path)


def _check_wildcards(subrules: tuple[SubRule, ...], dialect: Dialect) -> None:
    by_path: dict[str, set[str]] = {}
    for rule in subrules:
        for f in rule:
            for m in f.matchers:
                if m.kind == "wildcard":
                    by_path.setdefault(f.path, set()).add(m.arg)
                elif m.kind == "ab_wildcard":
                    by_path.setdefault(f.path, set()).update(m.arg)
    for values in by_path.values():
        if complexity(values) > MAX_COMPLEXITY:
            raise dialect.error(TOO_COMPLEX)


def _check_policy_size(subrules: tuple[SubRule, ...], dialect: Dialect) -> None:
    """SNS: at most ``max_keys`` keys (leaf attributes; top-level keys of a nested body
    policy) and at most ``max_combinations`` value combinations, summed over ``$or``
    alternatives."""
    keys = {f.path if not dialect.nesting else f.path.split(".", 1)[0] for rule in subrules for f in rule}
    if len(keys) > dialect.max_keys:
        raise dialect.error(f"Filter policy can not have more than {dialect.max_keys} keys")
    combinations = 0
    for rule in subrules:
        product = 1
        for f in rule:
            product *= len(f.matchers)
        combinations += product
    if combinations > dialect.max_combinations:
        raise dialect.error("Filter policy is too complex")


def matches(
    pattern: str | dict | CompiledPattern, event: dict | str, *, dialect: str = "eventbridge"
) -> bool:
    """Convenience: compile (cached for JSON text) and match one event."""
    compiled = pattern if isinstance(pattern, CompiledPattern) else compile_pattern(pattern, dialect=dialect)
    return compiled.matches(event)
