"""From pattern JSON to a list of sub-rules (the pattern in disjunctive normal form).

Validation follows event-ruler's streaming JsonRuleCompiler: the document is walked in
order and the first problem met is the one reported, with event-ruler's wording. ``$or``
forks the sub-rules built so far, one copy per branch, so a pattern becomes a list of
sub-rules, each a mapping of field path (keys joined with ``.``) to its value matchers. As in
event-ruler, a path written twice in one sub-rule keeps its last value list.
"""

from __future__ import annotations

import json
from typing import Any

from . import matchers as m
from .dialects import Dialect
from .ip import parse_cidr
from .matchers import Matcher
from .wildcard import tokenize

SubRule = dict[str, tuple[Matcher, ...]]

OR = "$or"
RESERVED_IN_OR = frozenset(
    {
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard",
        "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard",
        "not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
        "date-on-or-before", "in-date-range", "ip-address-in-range", "ip-address-not-in-range",
    }
)  # fmt: skip
NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")
# Nested $or multiplies alternatives; this bound keeps a 4 KB pattern from exploding.
MAX_SUBRULES = 1024


class PNum:
    """A number of the pattern, kept with its JSON text (messages and exact keys need it)."""

    __slots__ = ("text", "value")

    def __init__(self, text: str) -> None:
        self.text = text
        self.value = float(text) if any(c in text for c in ".eE") else int(text)


class _Bad(Exception):
    """Internal: a validation failure, turned into the dialect's error at the boundary."""


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def load(pattern: str | dict, dialect: Dialect) -> dict:
    """Parse the pattern's JSON (a dict is re-serialized, so both forms behave alike)."""
    text = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if len(text) > dialect.max_length:
        raise dialect.error(f"Pattern is longer than {dialect.max_length} characters")
    try:
        document = json.loads(text, parse_int=PNum, parse_float=PNum, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise dialect.error(dialect.invalid_json) from None
    if not isinstance(document, dict):
        raise dialect.error("Filter is not an object")
    return document


def parse(pattern: str | dict, dialect: Dialect) -> list[SubRule]:
    """The pattern's sub-rules; raises InvalidEventPattern with the dialect's message."""
    document = load(pattern, dialect)
    try:
        rules: list[SubRule] = []
        _Walker(dialect).object(rules, (), document, inside_or=False)
        return rules
    except _Bad as bad:
        raise dialect.error(str(bad)) from None
    except RecursionError:
        raise dialect.error("Pattern is nested too deeply") from None


class _Walker:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.numbers = dialect.numbers

    # structure

    def object(self, rules: list[SubRule], path: tuple[str, ...], obj: dict, inside_or: bool) -> None:
        if not obj:
            raise _Bad("Empty objects are not allowed")
        for name, value in obj.items():
            if name == OR:
                self.or_(rules, path, value)
                continue
            if inside_or and name in RESERVED_IN_OR:
                raise _Bad(f"{name} is Ruler reserved fieldName which cannot be used inside {OR}.")
            if isinstance(value, dict):
                if not self.dialect.nesting:
                    raise _Bad("Filter policy scope MessageAttributes does not support nested filter policy")
                self.object(rules, (*path, name), value, inside_or)
            elif isinstance(value, list):
                self.field(rules, ".".join((*path, name)), value)
            else:
                raise _Bad(f'"{name}" must be an object or an array')

    def or_(self, rules: list[SubRule], path: tuple[str, ...], value: Any) -> None:
        current = [dict(rule) for rule in rules]
        rules.clear()
        if not isinstance(value, list):
            raise _Bad(f"It must be an Array followed with {OR}.")
        for branch in value:
            if not isinstance(branch, dict):
                raise _Bad(f"Only JSON object is allowed in array of {OR} relationship.")
            forked = [dict(rule) for rule in current] or [{}]
            self.object(forked, path, branch, inside_or=True)
            rules.extend(forked)
            if len(rules) > MAX_SUBRULES:
                raise _Bad(f"Rule is too complex - {OR} expands to more than {MAX_SUBRULES} alternatives")
        if len(value) < 2:
            raise _Bad(f"There must have at least 2 Objects in {OR} relationship.")

    def field(self, rules: list[SubRule], path: str, values: list) -> None:
        found: dict[tuple, Matcher] = {}
        for value in values:
            for matcher in self.value(value):
                found.setdefault(matcher.key, matcher)
        if not values:
            raise _Bad("Empty arrays are not allowed")
        if not rules:
            rules.append({})
        for rule in rules:
            rule.pop(path, None)  # a rewritten path keeps its last value list, in last position
            rule[path] = tuple(found.values())

    # values

    def value(self, value: Any) -> list[Matcher]:
        if isinstance(value, dict):
            return [self.expression(value)]
        if isinstance(value, str):
            return [m.exact_string(value)]
        if isinstance(value, PNum):
            return [m.exact_number(self.numbers.key_of_text(value.text), value.value)]
        if value is True or value is False or value is None:
            return [Matcher("exact_l", value)]
        raise _Bad("Match value must be String, number, true, false, or null")

    def expression(self, expr: dict) -> Matcher:
        if not expr:
            raise _Bad("Match expression name not found")
        op, operand = next(iter(expr.items()))
        handler = _EXPRESSIONS.get(op)
        if handler is None or op not in self.dialect.operators:
            raise _Bad(f"Unrecognized match type {op}")
        matcher = handler(self, operand)
        if len(expr) > 1:
            raise _Bad(
                "Too many elements in numeric expression"
                if op in ("numeric", "anything-but")
                else "Only one key allowed in match expression"
            )
        return matcher

    def exactly(self, operand: Any) -> Matcher:
        if not isinstance(operand, str):
            raise _Bad("exact match pattern must be a string")
        return Matcher("exact_s", operand)

    def prefix(self, operand: Any) -> Matcher:
        return self._affix("prefix", operand)

    def suffix(self, operand: Any) -> Matcher:
        return self._affix("suffix", operand)

    def _affix(self, op: str, operand: Any) -> Matcher:
        if isinstance(operand, dict):
            if not operand:
                raise _Bad(f"{op.capitalize()} expression name not found")
            inner, text = next(iter(operand.items()))
            if inner != "equals-ignore-case" or f"{op}/{inner}" not in self.dialect.operators:
                raise _Bad(f"Unsupported {op} pattern: {inner}")
            if not isinstance(text, str):
                raise _Bad("equals-ignore-case match pattern must be a string")
            if len(operand) > 1:
                raise _Bad("Only one key allowed in match expression")
            return Matcher(f"{op}_ic", text.lower())
        if not isinstance(operand, str):
            raise _Bad(f"{op} match pattern must be a string")
        return Matcher(op, operand)

    def equals_ignore_case(self, operand: Any) -> Matcher:
        if not isinstance(operand, str):
            raise _Bad("equals-ignore-case match pattern must be a string")
        return Matcher("eq_ic", operand.lower())

    def wildcard(self, operand: Any) -> Matcher:
        if not isinstance(operand, str):
            raise _Bad("wildcard match pattern must be a string")
        self._check_wildcard(operand)
        return m.wildcard(operand)

    @staticmethod
    def _check_wildcard(text: str) -> None:
        try:
            tokenize(text)
        except ValueError as bad:
            raise _Bad(str(bad)) from None

    def exists(self, operand: Any) -> Matcher:
        if operand is not True and operand is not False:
            raise _Bad("exists match pattern must be either true or false.")
        return Matcher("exists", operand)

    def cidr(self, operand: Any) -> Matcher:
        if not isinstance(operand, str):
            raise _Bad("prefix match pattern must be a string")  # sic: event-ruler's wording
        try:
            return Matcher("cidr", parse_cidr(operand))
        except ValueError as bad:
            raise _Bad(str(bad)) from None

    # numeric

    def numeric(self, operand: Any) -> Matcher:
        if not isinstance(operand, list):
            raise _Bad("Value of numeric must be an array.")
        terms = iter(operand)
        op = next(terms, _END)
        if not isinstance(op, str):
            raise _Bad(f"Invalid member in numeric match: {_token_text(op)}")
        if op not in NUMERIC_OPERATORS:
            raise _Bad(f"Unrecognized numeric range operator: {op}")
        first = self._threshold("equals" if op == "=" else op, next(terms, _END))
        following = next(terms, _END)
        if op == "=":
            if following is not _END:
                raise _Bad("Too many elements in numeric expression")
            return Matcher("numeric", (first, False, first, False))
        if op in ("<", "<="):
            if following is not _END:
                raise _Bad("Too many elements in numeric expression")
            return Matcher("numeric", (None, False, first, op == "<"))
        if following is _END:
            return Matcher("numeric", (first, op == ">", None, False))
        if not isinstance(following, str):
            raise _Bad(f"Bad value in numeric range: {_token_text(following)}")
        if following not in ("<", "<="):
            raise _Bad(f"Bad numeric range operator: {following}")
        top = self._threshold(following, next(terms, _END))
        if next(terms, _END) is not _END:
            raise _Bad("Too many terms in numeric range expression")
        if first >= top:
            raise _Bad("Bottom must be less than top")
        return Matcher("numeric", (first, op == ">", top, following == "<"))

    def _threshold(self, op: str, term: Any) -> int:
        if not isinstance(term, PNum):
            raise _Bad(f"Value of {op} must be numeric")
        key = self.numbers.key_of_text(term.text)
        if key is None:
            raise _Bad(self.numbers.range_error())
        return key

    # anything-but

    def anything_but(self, operand: Any) -> Matcher:
        nested = None
        if isinstance(operand, dict):
            if not operand:
                raise _Bad("Anything-But expression name not found")
            nested, inner = next(iter(operand.items()))
            if nested not in ("equals-ignore-case", "prefix", "suffix", "wildcard") or (
                f"anything-but/{nested}" not in self.dialect.operators
            ):
                raise _Bad(f"Unsupported anything-but pattern: {nested}")
            values = inner
        else:
            values = operand
        if not isinstance(values, (list, str, PNum)):
            raise _Bad("Value of anything-but must be an array or single string/number value.")
        matcher = (
            self._anything_but_values(values) if nested is None else self._anything_but_set(nested, values)
        )
        if nested is not None and len(operand) > 1:
            raise _Bad("Too many elements in numeric expression")
        return matcher

    def _anything_but_values(self, values: list | str | PNum) -> Matcher:
        items = values if isinstance(values, list) else [values]
        strings: set[str] = set()
        numbers: set[int] = set()
        for item in items:
            if isinstance(item, str):
                strings.add(item)
            elif isinstance(item, PNum):
                key = self.numbers.key_of_text(item.text)
                if key is None:
                    raise _Bad(self.numbers.range_error())
                numbers.add(key)
            else:
                raise _Bad("Inside anything but list, start|null|boolean is not supported.")
        if bool(strings) == bool(numbers):
            raise _Bad(
                "Inside anything but list, either all values are number or string, "
                "mixed type is not supported"
            )
        if numbers:
            return Matcher("ab_n", frozenset(numbers))
        return Matcher("ab_s", frozenset(strings))

    def _anything_but_set(self, nested: str, values: list | str | PNum) -> Matcher:
        items = values if isinstance(values, list) else [values]
        texts: list[str] = []
        for item in items:
            if not isinstance(item, str):
                if nested == "equals-ignore-case":
                    raise _Bad(
                        "Inside anything-but/equals-ignore-case list, "
                        "number|start|null|boolean is not supported."
                    )
                if nested == "wildcard":
                    raise _Bad("wildcard match pattern must be a string")
                raise _Bad("prefix/suffix match pattern must be a string")
            if nested in ("prefix", "suffix") and not item:
                raise _Bad("Null prefix/suffix not allowed")
            texts.append(item)
        if nested == "wildcard":
            for text in texts:
                self._check_wildcard(text)
            return m.anything_but_wildcard(tuple(sorted(set(texts))))
        if nested == "equals-ignore-case":
            return Matcher("ab_ic", frozenset(t.lower() for t in texts))
        return Matcher(f"ab_{nested}", tuple(sorted(set(texts))))


_END = object()


def _token_text(term: Any) -> str:
    """What Jackson's getText() would show for this token."""
    if term is _END:
        return "]"
    if isinstance(term, PNum):
        return term.text
    if term is None:
        return "null"
    if term is True or term is False:
        return "true" if term else "false"
    if isinstance(term, list):
        return "["
    if isinstance(term, dict):
        return "{"
    return str(term)


_EXPRESSIONS = {
    "exactly": _Walker.exactly,
    "prefix": _Walker.prefix,
    "suffix": _Walker.suffix,
    "equals-ignore-case": _Walker.equals_ignore_case,
    "wildcard": _Walker.wildcard,
    "exists": _Walker.exists,
    "cidr": _Walker.cidr,
    "numeric": _Walker.numeric,
    "anything-but": _Walker.anything_but,
}
