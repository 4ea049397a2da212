"""Choice rules: compile the JSONPath-mode rule language and evaluate it.

A rule is a comparison (``Variable`` + one operator), or a combination of rules with ``And``,
``Or`` and ``Not``. Operators compare against a literal or, with a ``...Path`` suffix, against the
value at another path. A comparison between mismatched types is simply false; a ``Variable`` (or
``...Path`` operand) that resolves to nothing is a States.Runtime error, except for ``IsPresent``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cumulo.asl import errors
from cumulo.asl.paths import Path, PathNotFound, parse_path
from cumulo.asl.templates import Env, lookup

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (uppercase ``T``, ``Z`` or a numeric offset), or None."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:  # Python accepts at most 6 fractional digits
        head, rest = text.split(".", 1)
        digits = re.match(r"\d+", rest).group(0)  # type: ignore[union-attr]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits):]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _string_matches(value: str, pattern: str) -> bool:
    regex = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        regex.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(regex), value, re.DOTALL) is not None


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq, "LessThan": operator.lt, "GreaterThan": operator.gt,
    "LessThanEquals": operator.le, "GreaterThanEquals": operator.ge,
}


def _comparator(op: str) -> tuple[Callable[[Any, Any], bool], Callable[[Any], bool]]:
    """(compare(variable_value, operand), operand_is_valid) for a comparison operator name."""
    for kind in ("String", "Numeric", "Boolean", "Timestamp"):
        if op.startswith(kind):
            rel = op[len(kind):]
            if kind == "String" and rel == "Matches":
                return (lambda a, b: isinstance(a, str) and _string_matches(a, b)), \
                    (lambda b: isinstance(b, str))
            cmp = _ORDER[rel]
            if kind == "String":
                return (lambda a, b, cmp=cmp: isinstance(a, str) and isinstance(b, str) and cmp(a, b)), \
                    (lambda b: isinstance(b, str))
            if kind == "Numeric":
                return (lambda a, b, cmp=cmp: _is_number(a) and _is_number(b) and cmp(a, b)), _is_number
            if kind == "Boolean":
                return (lambda a, b: isinstance(a, bool) and isinstance(b, bool) and a == b), \
                    (lambda b: isinstance(b, bool))

            def ts_cmp(a: Any, b: Any, cmp: Callable[[Any, Any], bool] = cmp) -> bool:
                ta, tb = parse_timestamp(a), parse_timestamp(b)
                return ta is not None and tb is not None and cmp(ta, tb)

            return ts_cmp, (lambda b: parse_timestamp(b) is not None)
    raise KeyError(op)


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}

COMPARISON_OPERATORS = frozenset(
    [f"{k}{r}" for k in ("String", "Numeric", "Timestamp") for r in _ORDER]
    + ["StringMatches", "BooleanEquals"]
)
OPERATORS = frozenset(
    COMPARISON_OPERATORS
    | {f"{op}Path" for op in COMPARISON_OPERATORS if op != "StringMatches"}
    | set(_TYPE_TESTS) | {"IsPresent"}
)


class Rule:
    __slots__ = ()

    def evaluate(self, data: Any, env: Env) -> bool:
        raise NotImplementedError


def _invalid_path(path: Path) -> errors.EvaluationError:
    return errors.EvaluationError(
        errors.RUNTIME,
        f"Invalid path '{path.source}': The choice state's condition path references an invalid value.",
    )


@dataclass(slots=True)
class Comparison(Rule):
    variable: Path
    op: str
    operand: Any
    operand_path: Path | None
    compare: Callable[[Any, Any], bool]

    def evaluate(self, data: Any, env: Env) -> bool:
        if self.op == "IsPresent":
            try:
                lookup(self.variable, data, env)
                present = True
            except PathNotFound:
                present = False
            return present == self.operand
        try:
            value = lookup(self.variable, data, env)
        except PathNotFound:
            raise _invalid_path(self.variable) from None
        operand = self.operand
        if self.operand_path is not None:
            try:
                operand = lookup(self.operand_path, data, env)
            except PathNotFound:
                raise _invalid_path(self.operand_path) from None
        return self.compare(value, operand)


@dataclass(slots=True)
class And(Rule):
    rules: list[Rule]

    def evaluate(self, data: Any, env: Env) -> bool:
        return all(r.evaluate(data, env) for r in self.rules)


@dataclass(slots=True)
class Or(Rule):
    rules: list[Rule]

    def evaluate(self, data: Any, env: Env) -> bool:
        return any(r.evaluate(data, env) for r in self.rules)


@dataclass(slots=True)
class Not(Rule):
    rule: Rule

    def evaluate(self, data: Any, env: Env) -> bool:
        return not self.rule.evaluate(data, env)


class RuleError(ValueError):
    def __init__(self, message: str, location: str) -> None:
        super().__init__(message)
        self.location = location


_RULE_META = {"Next", "Comment", "Assign", "Output"}


def compile_rule(rule: Any, location: str, top_level: bool) -> Rule:
    """Compile one JSONPath-mode Choice rule; raise RuleError with AWS-style messages."""
    if not isinstance(rule, dict):
        raise RuleError("The value must be an OBJECT", location)
    allowed_meta = {"Next", "Comment", "Assign"} if top_level else {"Comment"}
    for key in rule:
        if key in _RULE_META and key not in allowed_meta:
            raise RuleError(f"Field '{key}' is not supported", f"{location}/{key}")
    body = {k: v for k, v in rule.items() if k not in allowed_meta}
    combinators = [k for k in ("And", "Or", "Not") if k in body]
    operators = [k for k in body if k in OPERATORS]
    unknown = [k for k in body if k not in OPERATORS and k not in ("And", "Or", "Not", "Variable")]
    if unknown:
        raise RuleError(f"Field '{unknown[0]}' is not supported", f"{location}/{unknown[0]}")
    if combinators:
        if len(combinators) > 1 or operators or "Variable" in body:
            raise RuleError("A Choice rule must have exactly one comparison operator or combinator",
                            location)
        key = combinators[0]
        value = body[key]
        if key == "Not":
            return Not(compile_rule(value, f"{location}/Not", False))
        if not isinstance(value, list) or not value:
            raise RuleError(f"The field '{key}' must be a non-empty array", f"{location}/{key}")
        rules = [compile_rule(r, f"{location}/{key}[{i}]", False) for i, r in enumerate(value)]
        return And(rules) if key == "And" else Or(rules)
    if "Variable" not in body:
        raise RuleError("These fields are required: [Variable]", location)
    if len(operators) != 1:
        raise RuleError("A Choice rule must have exactly one comparison operator or combinator", location)
    try:
        variable = parse_path(body["Variable"])
    except (ValueError, TypeError):
        raise RuleError("The value for the field 'Variable' must be a valid JSONPath",
                        f"{location}/Variable") from None
    op = operators[0]
    operand = body[op]
    if op == "IsPresent" or op in _TYPE_TESTS:
        if not isinstance(operand, bool):
            raise RuleError(f"The value for the field '{op}' must be a BOOLEAN", f"{location}/{op}")
        if op == "IsPresent":
            return Comparison(variable, op, operand, None, operator.eq)
        test = _TYPE_TESTS[op]
        return Comparison(variable, op, operand, None, lambda v, b, test=test: test(v) == b)
    if op.endswith("Path"):
        compare, _ = _comparator(op[:-4])
        try:
            operand_path = parse_path(operand)
        except (ValueError, TypeError):
            raise RuleError(f"The value for the field '{op}' must be a valid JSONPath",
                            f"{location}/{op}") from None
        return Comparison(variable, op, None, operand_path, compare)
    compare, valid = _comparator(op)
    if not valid(operand):
        kind = "a valid TIMESTAMP" if op.startswith("Timestamp") else {
            "String": "a STRING", "Numeric": "a NUMBER", "Boolean": "a BOOLEAN"}[
            next(k for k in ("String", "Numeric", "Boolean") if op.startswith(k))]
        raise RuleError(f"The value for the field '{op}' must be {kind}", f"{location}/{op}")
    return Comparison(variable, op, operand, None, compare)
