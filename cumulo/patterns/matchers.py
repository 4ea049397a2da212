"""Value matchers: the compiled form of one entry of a field's value list.

A matcher is an immutable description (``kind`` plus parameters) with a ``test(leaf)``
predicate. The predicate is the reference semantics used by ``CompiledPattern.matches``; the
multi-rule index (``index.ValueIndex``) implements the same semantics with hash tables and
sorted structures, and the property tests check that the two agree.

Leaves are the scalar values of a flattened event: ``str``, ``Num`` (a number and its
comparable key), ``True``/``False`` and ``None`` (JSON null).

Which leaves each kind can match (event-ruler's rules):

- string operators (exact string, prefix, suffix, equals-ignore-case, wildcard, cidr) match
  strings only; ``cidr`` and exact strings that are IP addresses match strings that parse as
  the same/an enclosed IP address;
- numeric operators (exact number, numeric ranges, numeric anything-but) match numbers only,
  and ranges only numbers inside the comparable range;
- ``true``/``false``/``null`` match the same JSON literal;
- string anything-but (values, prefix, suffix, equals-ignore-case, wildcard) matches every
  leaf that is not an excluded string: numbers, booleans and null included;
- ``exists: true`` matches any leaf; ``exists: false`` matches no leaf (it is satisfied by
  the absence of the field, see ``machine``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .ip import parse_ip
from .numbers import Num
from .wildcard import to_regex

# Ordering classes: a rule's fields are walked most selective first (see machine.py).
SELECTIVE, RANGE, BROAD = 0, 1, 2


@dataclass(frozen=True)
class Matcher:
    """One value alternative of a field. ``key`` identifies it for sharing and dedup.

    Kinds and their ``arg``: ``exact_s`` str; ``exact_n`` (comparable key, or None and the
    raw value when out of range); ``exact_l`` True/False/None; ``prefix``/``suffix`` str;
    ``prefix_ic``/``suffix_ic``/``eq_ic`` lower-cased str; ``wildcard`` the wildcard text
    (``regex`` compiled); ``numeric`` (low, low_open, high, high_open) in comparable keys,
    None for unbounded; ``cidr`` (family, low, high); ``exists`` bool; ``ab_s`` frozenset of
    str; ``ab_n`` frozenset of keys; ``ab_prefix``/``ab_suffix`` tuple of str; ``ab_ic``
    frozenset of lower-cased str; ``ab_wildcard`` tuple of wildcard texts (``regex`` is
    their alternation).
    """

    kind: str
    arg: Any = None
    regex: re.Pattern[str] | None = field(default=None, compare=False, hash=False)

    @property
    def key(self) -> tuple:
        return (self.kind, self.arg)

    @property
    def order(self) -> int:
        return _ORDER[self.kind]

    def test(self, leaf: object) -> bool:
        kind, arg = self.kind, self.arg
        t = type(leaf)
        if kind == "exact_s":
            return t is str and leaf == arg
        if kind == "exact_n":
            return t is Num and _num_equal(leaf, arg)
        if kind == "exact_l":
            return t is not str and t is not Num and leaf is arg
        if kind == "prefix":
            return t is str and leaf.startswith(arg)
        if kind == "prefix_ic":
            return t is str and leaf.lower().startswith(arg)
        if kind == "suffix":
            return t is str and leaf.endswith(arg)
        if kind == "suffix_ic":
            return t is str and leaf.lower().endswith(arg)
        if kind == "eq_ic":
            return t is str and leaf.lower() == arg
        if kind == "wildcard":
            return t is str and self.regex.fullmatch(leaf) is not None
        if kind == "numeric":
            return t is Num and leaf.key is not None and in_range(leaf.key, arg)
        if kind == "cidr":
            if t is not str:
                return False
            ip = parse_ip(leaf)
            return ip is not None and ip[0] == arg[0] and arg[1] <= ip[1] <= arg[2]
        if kind == "exists":
            return arg
        if kind == "ab_n":
            return t is Num and leaf.key is not None and leaf.key not in arg
        # string anything-but: everything but an excluded string
        if t is not str:
            return True
        if kind == "ab_s":
            return leaf not in arg
        if kind == "ab_prefix":
            return not any(leaf.startswith(p) for p in arg)
        if kind == "ab_suffix":
            return not any(leaf.endswith(s) for s in arg)
        if kind == "ab_ic":
            return leaf.lower() not in arg
        if kind == "ab_wildcard":
            return self.regex.fullmatch(leaf) is None
        raise AssertionError(kind)


def _num_equal(leaf: Num, arg: tuple) -> bool:
    key, raw = arg
    if key is not None:
        return leaf.key == key
    return leaf.value == raw


def in_range(key: int, bounds: tuple) -> bool:
    low, low_open, high, high_open = bounds
    if low is not None and (key < low or (low_open and key == low)):
        return False
    return not (high is not None and (key > high or (high_open and key == high)))


_ORDER = {
    "exact_s": SELECTIVE,
    "exact_n": SELECTIVE,
    "exact_l": SELECTIVE,
    "eq_ic": SELECTIVE,
    "prefix": SELECTIVE,
    "prefix_ic": SELECTIVE,
    "suffix": RANGE,
    "suffix_ic": RANGE,
    "wildcard": RANGE,
    "numeric": RANGE,
    "cidr": RANGE,
    "exists": BROAD,
    "ab_s": BROAD,
    "ab_n": BROAD,
    "ab_prefix": BROAD,
    "ab_suffix": BROAD,
    "ab_ic": BROAD,
    "ab_wildcard": BROAD,
}


# Constructors used by the parser.


def exact_string(value: str) -> Matcher:
    ip = parse_ip(value)
    if ip is not None:  # an IP literal matches any spelling of the same address
        return Matcher("cidr", (ip[0], ip[1], ip[1]))
    return Matcher("exact_s", value)


def exact_number(key: int | None, raw: int | float) -> Matcher:
    return Matcher("exact_n", (key, None if key is not None else raw))


def wildcard(value: str) -> Matcher:
    return Matcher("wildcard", value, regex=to_regex(value))


def anything_but_wildcard(values: tuple[str, ...]) -> Matcher:
    """Matches every leaf but strings matching one of ``values`` (one alternation regex)."""
    combined = "|".join(f"(?:{to_regex(v).pattern})" for v in values) or "(?!)"
    return Matcher("ab_wildcard", values, regex=re.compile(combined, re.DOTALL))


def is_absence(matcher: Matcher) -> bool:
    return matcher.kind == "exists" and matcher.arg is False
