"""IAM condition blocks: ``{"StringEquals": {"aws:RequestedRegion": ["us-east-1"]}, ...}``.

Semantics follow IAM's documentation: every operator of a block must hold, every key of an
operator must hold, and a key holds when the request's value matches any of the policy's values
(for negated operators: none of them). A key missing from the request fails positive operators
and satisfies negated ones; ``...IfExists`` makes a missing key satisfy any operator; ``Null``
tests presence. ``ForAnyValue:``/``ForAllValues:`` compare multivalued keys value by value.
Condition keys are case-insensitive; the request context is a mapping of lower-cased keys to
a string or a list of strings.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

ContextValues = Mapping[str, str | list[str]]
Matcher = Callable[[str, str], bool]


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: ``*`` matches any run of characters, ``?`` any one character; nothing else is special."""
    regex = _glob_regex(pattern, ignore_case)
    return regex.fullmatch(value) is not None


_GLOB_CACHE: dict[tuple[str, bool], re.Pattern[str]] = {}


def _glob_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    found = _GLOB_CACHE.get((pattern, ignore_case))
    if found is None:
        body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        found = re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))
        if len(_GLOB_CACHE) > 4096:
            _GLOB_CACHE.clear()
        _GLOB_CACHE[(pattern, ignore_case)] = found
    return found


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(compare: Callable[[float, float], bool]) -> Matcher:
    def match(actual: str, expected: str) -> bool:
        a, b = _number(actual), _number(expected)
        return a is not None and b is not None and compare(a, b)
    return match


def _instant(text: str) -> float | None:
    """A date condition value: ISO 8601 or epoch seconds."""
    if (number := _number(text)) is not None:
        return number
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def _date(compare: Callable[[float, float], bool]) -> Matcher:
    def match(actual: str, expected: str) -> bool:
        a, b = _instant(actual), _instant(expected)
        return a is not None and b is not None and compare(a, b)
    return match


def _ip_in(actual: str, expected: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


def _arn_like(actual: str, expected: str) -> bool:
    """ARNs compare component by component (six colon-separated parts), each with wildcards."""
    actual_parts, expected_parts = actual.split(":", 5), expected.split(":", 5)
    if len(actual_parts) != 6 or len(expected_parts) != 6:
        return False
    return all(glob_match(e, a) for a, e in zip(actual_parts, expected_parts, strict=True))


def _bool(actual: str, expected: str) -> bool:
    return actual.lower() == expected.lower()


# operator -> (matcher, negated)
_OPERATORS: dict[str, tuple[Matcher, bool]] = {
    "stringequals": (lambda a, e: a == e, False),
    "stringnotequals": (lambda a, e: a == e, True),
    "stringequalsignorecase": (lambda a, e: a.lower() == e.lower(), False),
    "stringnotequalsignorecase": (lambda a, e: a.lower() == e.lower(), True),
    "stringlike": (lambda a, e: glob_match(e, a), False),
    "stringnotlike": (lambda a, e: glob_match(e, a), True),
    "numericequals": (_numeric(lambda a, b: a == b), False),
    "numericnotequals": (_numeric(lambda a, b: a == b), True),
    "numericlessthan": (_numeric(lambda a, b: a < b), False),
    "numericlessthanequals": (_numeric(lambda a, b: a <= b), False),
    "numericgreaterthan": (_numeric(lambda a, b: a > b), False),
    "numericgreaterthanequals": (_numeric(lambda a, b: a >= b), False),
    "dateequals": (_date(lambda a, b: a == b), False),
    "datenotequals": (_date(lambda a, b: a == b), True),
    "datelessthan": (_date(lambda a, b: a < b), False),
    "datelessthanequals": (_date(lambda a, b: a <= b), False),
    "dategreaterthan": (_date(lambda a, b: a > b), False),
    "dategreaterthanequals": (_date(lambda a, b: a >= b), False),
    "bool": (_bool, False),
    "binaryequals": (lambda a, e: a == e, False),
    "ipaddress": (_ip_in, False),
    "notipaddress": (_ip_in, True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
}


def _as_list(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]


def conditions_hold(block: Mapping[str, Any], context: ContextValues,
                    substitute: Callable[[str], str] = lambda text: text) -> bool:
    """Whether every operator of a statement's ``Condition`` block holds for the request context.

    ``substitute`` replaces policy variables (``${aws:username}``) in the policy's values.
    Unknown operators never hold, so a statement that uses one never applies.
    """
    for operator, keys in block.items():
        if not isinstance(keys, Mapping):
            return False
        for key, expected in keys.items():
            expected_values = [substitute(v) for v in _as_list(expected)]
            if not _holds(operator, key, expected_values, context):
                return False
    return True


def _holds(operator: str, key: str, expected: list[str], context: ContextValues) -> bool:
    name = operator.lower()
    present = key.lower() in context
    raw = context.get(key.lower())
    actual = [] if raw is None else raw if isinstance(raw, list) else [raw]
    if name == "null":
        return any((v.lower() == "true") == (not present) for v in expected)
    set_operator = None
    if name.startswith(("foranyvalue:", "forallvalues:")):
        set_operator, name = name.split(":", 1)
    if_exists = name.endswith("ifexists")
    if if_exists:
        name = name[: -len("ifexists")]
    found = _OPERATORS.get(name)
    if found is None:
        return False
    matcher, negated = found

    def matches(value: str) -> bool:
        hit = any(matcher(value, e) for e in expected)
        return not hit if negated else hit

    if set_operator == "forallvalues":
        return all(matches(v) for v in actual)  # vacuously true for a missing or empty key
    if set_operator == "foranyvalue":
        return any(matches(v) for v in actual)
    if not present:
        return if_exists or negated
    return all(matches(v) for v in actual) if negated else any(matches(v) for v in actual)
