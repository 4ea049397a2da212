"""CloudWatch Logs filter patterns, as FilterLogEvents and metric filters read them.

Supported forms (case-sensitive, as on AWS):

* empty pattern: every event;
* terms: ``ERROR Exception`` (all must appear), ``"exact phrase"``, ``?ERROR ?WARN`` (any of
  the ``?`` terms), ``ERROR -Retrying`` (``-`` excludes), ``%regex%``;
* JSON: ``{ $.level = "ERROR" }``, ``{ $.code != 200 }``, ``{ $.latency > 1.5 }``, string
  values with ``*`` wildcards or ``%regex%``, ``IS TRUE|FALSE|NULL``, ``NOT EXISTS``,
  ``&&``, ``||`` and parentheses, member paths with ``.field`` and ``[index]``;
* space-delimited: ``[ip, user, ..., status = 404, size > 1000]`` against the message's
  whitespace-separated fields (``"..."`` and ``[...]`` groups are one field).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from typing import Any

Matcher = Callable[[str], bool]
_MISSING = object()


class FilterPatternError(ValueError):
    """The pattern cannot be parsed; AWS answers InvalidParameterException."""


def compile_filter(pattern: str | None) -> Matcher:
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text.startswith("{"):
        if not text.endswith("}"):
            raise FilterPatternError("Invalid filter pattern: JSON pattern must end with '}'")
        return _json_matcher(_JsonParser(text[1:-1]).parse())
    if text.startswith("["):
        if not text.endswith("]"):
            raise FilterPatternError("Invalid filter pattern: space-delimited pattern must end with ']'")
        return _delimited_matcher(text[1:-1])
    return _term_matcher(text)


# ------------------------------------------------------------------- terms
def _term_matcher(text: str) -> Matcher:
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError as exc:
        raise FilterPatternError(f"Invalid filter pattern: {exc}") from exc
    required: list[Matcher] = []
    optional: list[Matcher] = []
    excluded: list[Matcher] = []
    for token in tokens:
        if token.startswith("?") and len(token) > 1:
            optional.append(_contains(token[1:]))
        elif token.startswith("-") and len(token) > 1:
            excluded.append(_contains(token[1:]))
        else:
            required.append(_contains(token))

    def match(message: str) -> bool:
        if any(m(message) for m in excluded):
            return False
        if optional and not any(m(message) for m in optional):
            return False
        return all(m(message) for m in required)

    return match


def _contains(term: str) -> Matcher:
    if len(term) >= 2 and term.startswith("%") and term.endswith("%"):
        regex = _regex(term[1:-1])
        return lambda message: regex.search(message) is not None
    return lambda message: term in message


def _regex(body: str) -> re.Pattern[str]:
    try:
        return re.compile(body)
    except re.error as exc:
        raise FilterPatternError(f"Invalid regular expression in filter pattern: {exc}") from exc


# --------------------------------------------------------------------- JSON
_TOKEN = re.compile(r"""\s*(?:
    (?P<op>&&|\|\||!=|>=|<=|=|>|<|\(|\))
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<regex>%[^%]*%)
  | (?P<word>[^\s()=!<>&|"]+)
)""", re.VERBOSE)


class _JsonParser:
    """Recursive descent over: expr := term (('&&'|'||') term)*; term := '(' expr ')' | cmp."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            found = _TOKEN.match(text, position)
            if found is None or found.end() == position:
                raise FilterPatternError(f"Invalid filter pattern near '{text[position:position + 20]}'")
            kind = found.lastgroup or "word"
            self.tokens.append((kind, found.group(kind)))
            position = found.end()
        self.index = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise FilterPatternError("Invalid filter pattern: unexpected end of pattern")
        self.index += 1
        return token

    def parse(self) -> Callable[[Any], bool]:
        expression = self._expression()
        if self._peek() is not None:
            raise FilterPatternError(f"Invalid filter pattern: unexpected '{self._peek()[1]}'")
        return expression

    def _expression(self) -> Callable[[Any], bool]:
        left = self._term()
        while (token := self._peek()) is not None and token[1] in ("&&", "||"):
            self._next()
            right = self._term()
            if token[1] == "&&":
                left = (lambda a, b: lambda doc: a(doc) and b(doc))(left, right)
            else:
                left = (lambda a, b: lambda doc: a(doc) or b(doc))(left, right)
        return left

    def _term(self) -> Callable[[Any], bool]:
        token = self._next()
        if token[1] == "(":
            inner = self._expression()
            if self._next()[1] != ")":
                raise FilterPatternError("Invalid filter pattern: missing ')'")
            return inner
        if token[0] != "word" or not token[1].startswith("$"):
            raise FilterPatternError(f"Invalid filter pattern: expected a selector like $.field, got '{token[1]}'")
        path = _parse_selector(token[1])
        operator = self._next()
        if operator[1] == "IS":
            value = self._next()[1]
            expected = {"TRUE": True, "FALSE": False, "NULL": None}.get(value)
            if value not in ("TRUE", "FALSE", "NULL"):
                raise FilterPatternError(f"Invalid filter pattern: IS {value}")
            return lambda doc: (found := _select(doc, path)) is not _MISSING and found is expected and (
                expected is not None or found is None)
        if operator[1] == "NOT":
            if self._next()[1] != "EXISTS":
                raise FilterPatternError("Invalid filter pattern: expected NOT EXISTS")
            return lambda doc: _select(doc, path) is _MISSING
        if operator[1] == "EXISTS":
            return lambda doc: _select(doc, path) is not _MISSING
        if operator[0] != "op" or operator[1] in ("(", ")", "&&", "||"):
            raise FilterPatternError(f"Invalid filter pattern: expected a comparison after {token[1]}")
        return _comparison(path, operator[1], self._next())


def _parse_selector(selector: str) -> list[str | int]:
    path: list[str | int] = []
    for part in re.finditer(r"\.([^.\[\]]+)|\[(\d+|\*)\]", selector[1:]):
        if part.group(1) is not None:
            path.append(part.group(1))
        else:
            path.append(-1 if part.group(2) == "*" else int(part.group(2)))
    return path


def _select(document: Any, path: list[str | int]) -> Any:
    current = document
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                return _MISSING
            current = current[step] if step >= 0 else current
        else:
            if not isinstance(current, dict) or step not in current:
                return _MISSING
            current = current[step]
    return current


def _comparison(path: list[str | int], operator: str, token: tuple[str, str]) -> Callable[[Any], bool]:
    kind, raw = token
    if kind == "regex":
        regex = _regex(raw[1:-1])

        def test(value: Any) -> bool:
            return isinstance(value, str) and regex.search(value) is not None
    elif kind == "string":
        text = json.loads(raw)
        test = _string_test(text)
    else:
        try:
            number = float(raw)
        except ValueError:
            number = None
        if number is not None:
            test = _number_test(number, operator)
        else:
            test = _string_test(raw)
            if operator not in ("=", "!="):
                raise FilterPatternError(f"Invalid filter pattern: {operator} needs a number, got '{raw}'")
    if operator in ("=", "!="):
        negate = operator == "!="

        def match(doc: Any) -> bool:
            found = _select(doc, path)
            if found is _MISSING:
                return False
            hit = test(found)
            return not hit if negate else hit

        return match

    def ordered(doc: Any) -> bool:
        found = _select(doc, path)
        return found is not _MISSING and test(found)

    return ordered


def _string_test(text: str) -> Callable[[Any], bool]:
    if "*" in text:
        regex = re.compile("^" + ".*".join(re.escape(part) for part in text.split("*")) + "$", re.DOTALL)
        return lambda value: isinstance(value, str) and regex.match(value) is not None
    return lambda value: isinstance(value, str) and value == text


def _number_test(number: float, operator: str) -> Callable[[Any], bool]:
    compare = {"=": float.__eq__, "!=": float.__eq__, ">": float.__gt__, "<": float.__lt__,
               ">=": float.__ge__, "<=": float.__le__}[operator]

    def test(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return bool(compare(float(value), number))

    return test


def _json_matcher(predicate: Callable[[Any], bool]) -> Matcher:
    def match(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict | list) and predicate(document)

    return match


# ----------------------------------------------------------- space-delimited
_FIELD = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')


def _delimited_matcher(body: str) -> Matcher:
    specs = [spec.strip() for spec in body.split(",")] if body.strip() else []
    checks: list[Callable[[str], bool] | None] = []
    for spec in specs:
        if spec == "...":
            checks.append(None)
            continue
        found = re.match(r"^(\w*)\s*(!=|>=|<=|=|>|<)\s*(.+)$", spec)
        if found is None:
            checks.append(lambda value: True)
            continue
        operator, raw = found.group(2), found.group(3).strip()
        token = ("string", raw) if raw.startswith('"') else (("regex", raw) if raw.startswith("%") else ("word", raw))
        compare = _comparison([], operator, token)
        checks.append(lambda value, c=compare: c(_number_or_text(value)))

    def match(message: str) -> bool:
        fields = [f[1:-1] if f[:1] in '"[' else f for f in _FIELD.findall(message)]
        return _match_fields(checks, fields)

    return match


def _number_or_text(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def _match_fields(checks: list[Callable[[str], bool] | None], fields: list[str]) -> bool:
    if not checks:
        return not fields
    head, rest = checks[0], checks[1:]
    if head is None:
        return any(_match_fields(rest, fields[skip:]) for skip in range(len(fields) + 1))
    if not fields or not head(fields[0]):
        return False
    if not rest:
        return len(fields) == 1
    return _match_fields(rest, fields[1:])
