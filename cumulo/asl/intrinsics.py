"""The ``States.*`` intrinsic functions: parser and evaluator.

An intrinsic is the value of a ``.$`` field (or a JSONPath-mode ``Assign``), e.g.
``States.Format('Hello {}', $.name)``. Arguments are string literals in single quotes (with the
reserved characters ``' { } \\`` escaped by a backslash), numbers, ``true``/``false``/``null``,
paths (``$.x``, ``$$.Execution.Id``, ``$var.x``) or nested intrinsics (at most 10 deep).

Runtime failures raise States.IntrinsicFailure (or States.Runtime for an unresolvable path).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cumulo.asl import errors
from cumulo.asl.paths import Path, parse_path, to_json

MAX_NESTING = 10
MAX_STRING = 10_000  # Base64Encode/Decode and Hash input limit
MAX_RANGE_ITEMS = 1000
HASH_ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
                   "SHA-512": "sha512"}


class Entropy(Protocol):
    """The source of nondeterministic values, so that the engine can record and replay them."""

    def uuid(self) -> str: ...
    def random_int(self, start: int, end: int) -> int: ...


class PathResolver(Protocol):
    def __call__(self, path: Path) -> Any: ...


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any
    #: for a quoted string: the text split at its unescaped ``{}`` placeholders (States.Format)
    pieces: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class PathArg:
    path: Path


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, msg: str) -> ValueError:
        return ValueError(f"{msg} at position {self.pos} in {self.text!r}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n\r":
            self.pos += 1

    def call(self, depth: int) -> Call:
        if depth > MAX_NESTING:
            raise self.fail(f"more than {MAX_NESTING} nested intrinsic functions")
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "."):
            self.pos += 1
        name = self.text[start:self.pos]
        if name not in FUNCTIONS:
            raise self.fail(f"unknown intrinsic function {name!r}")
        self.skip_ws()
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise self.fail("expected '('")
        self.pos += 1
        args: list[Any] = []
        self.skip_ws()
        if self.pos < len(self.text) and self.text[self.pos] == ")":
            self.pos += 1
            return Call(name, ())
        while True:
            self.skip_ws()
            args.append(self.arg(depth))
            self.skip_ws()
            if self.pos >= len(self.text):
                raise self.fail("unterminated argument list")
            ch = self.text[self.pos]
            self.pos += 1
            if ch == ")":
                return Call(name, tuple(args))
            if ch != ",":
                raise self.fail("expected ',' or ')'")

    def arg(self, depth: int) -> Any:
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self.fail("missing argument")
        ch = text[pos]
        if ch == "'":
            value, pieces = self.string()
            return Literal(value, pieces)
        if ch == "$":
            return PathArg(self.path())
        if text.startswith("States.", pos):
            return self.call(depth + 1)
        end = pos
        while end < len(text) and text[end] not in ",) \t":
            end += 1
        token = text[pos:end]
        self.pos = end
        if token in ("true", "false", "null"):
            return Literal({"true": True, "false": False, "null": None}[token])
        try:
            number = json.loads(token)
        except ValueError:
            raise self.fail(f"invalid argument {token!r}") from None
        if not isinstance(number, int | float) or isinstance(number, bool):
            raise self.fail(f"invalid argument {token!r}")
        return Literal(number)

    def string(self) -> tuple[str, tuple[str, ...]]:
        """A quoted literal: its value and its pieces around unescaped ``{}`` placeholders."""
        out: list[str] = []
        pieces: list[str] = []
        self.pos += 1
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\":
                nxt = text[self.pos + 1] if self.pos + 1 < len(text) else ""
                if not nxt or nxt not in "'{}\\":
                    raise self.fail("open escape backslash in string literal")
                out.append(nxt)
                self.pos += 2
                continue
            if ch == "'":
                self.pos += 1
                pieces.append("".join(out))
                return "{}".join(pieces), tuple(pieces)
            if text.startswith("{}", self.pos):
                pieces.append("".join(out))
                out = []
                self.pos += 2
                continue
            out.append(ch)
            self.pos += 1
        raise self.fail("unterminated string literal")

    def path(self) -> Path:
        text, depth, quote = self.text, 0, ""
        start = self.pos
        while self.pos < len(text):
            ch = text[self.pos]
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in "'\"" and depth:
                quote = ch
            elif ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                break
            self.pos += 1
        token = text[start:self.pos].rstrip()
        try:
            return parse_path(token)
        except ValueError as exc:
            raise self.fail(str(exc)) from None


def is_intrinsic(text: str) -> bool:
    return isinstance(text, str) and text.startswith("States.")


def parse(text: str) -> Call:
    """Parse an intrinsic function invocation; raise ValueError on bad syntax or arity."""
    parser = _Parser(text)
    call = parser.call(1)
    parser.skip_ws()
    if parser.pos != len(text):
        raise parser.fail("unexpected trailing characters")
    _check_arity(call)
    return call


_ARITY: dict[str, tuple[int, int | None]] = {}


def _check_arity(call: Call) -> None:
    low, high = _ARITY[call.name]
    n = len(call.args)
    if n < low or (high is not None and n > high):
        expected = f"{low}" if low == high else f"{low} to {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{call.name} takes {expected} arguments, got {n}")
    for arg in call.args:
        if isinstance(arg, Call):
            _check_arity(arg)


def evaluate(call: Call, resolve: PathResolver, entropy: Entropy) -> Any:
    """Evaluate ``call``; ``resolve`` looks up path arguments (raising PathNotFound)."""
    args: list[Any] = []
    if call.name == "States.Format" and isinstance(call.args[0], Literal) and call.args[0].pieces:
        args.append(call.args[0].pieces)  # a literal template: placeholders known from parsing
        rest = call.args[1:]
    else:
        rest = call.args
    for arg in rest:
        if isinstance(arg, Literal):
            args.append(arg.value)
        elif isinstance(arg, PathArg):
            args.append(resolve(arg.path))
        else:
            args.append(evaluate(arg, resolve, entropy))
    try:
        return FUNCTIONS[call.name](args, entropy)
    except _Failure as exc:
        raise errors.StatesError(errors.INTRINSIC_FAILURE,
                                 f"Invalid arguments in {call.name}: {exc}") from None


class _Failure(Exception):
    pass


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise _Failure(msg)


def _is_int(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _format(args: list[Any], _: Entropy) -> str:
    template = args[0]
    if isinstance(template, str):
        pieces = template.split("{}")  # a template read from data has no escapes
    else:
        _require(isinstance(template, tuple), "the first argument must be a string")
        pieces = list(template)
    values = args[1:]
    _require(len(values) == len(pieces) - 1,
             f"the template has {len(pieces) - 1} '{{}}' placeholders but {len(values)} values were given")
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        _require(not isinstance(value, dict | list), "values must be strings, numbers, booleans or null")
        out.append(value if isinstance(value, str) else to_json(value))
        out.append(piece)
    return "".join(out)


def _string_to_json(args: list[Any], _: Entropy) -> Any:
    _require(isinstance(args[0], str), "the argument must be a string")
    text = args[0].strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _Failure(f"the string is not valid JSON ({exc})") from None


def _json_to_string(args: list[Any], _: Entropy) -> str:
    return to_json(args[0])


def _array(args: list[Any], _: Entropy) -> list[Any]:
    return list(args)


def _array_partition(args: list[Any], _: Entropy) -> list[Any]:
    array, size = args
    _require(isinstance(array, list), "the first argument must be an array")
    _require(_is_int(size) and size > 0, "the chunk size must be a positive integer")
    size = int(size)
    return [array[i:i + size] for i in range(0, len(array), size)]


def _array_contains(args: list[Any], _: Entropy) -> bool:
    array, value = args
    _require(isinstance(array, list), "the first argument must be an array")
    return any(_json_equal(item, value) for item in array)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _array_range(args: list[Any], _: Entropy) -> list[int]:
    start, end, step = args
    _require(all(_is_int(v) for v in args), "all arguments must be integers")
    start, end, step = int(start), int(end), int(step)
    _require(step != 0, "the step must not be 0")
    items = list(range(start, end + (1 if step > 0 else -1), step))
    _require(len(items) <= MAX_RANGE_ITEMS, f"the range has more than {MAX_RANGE_ITEMS} items")
    return items


def _array_get_item(args: list[Any], _: Entropy) -> Any:
    array, index = args
    _require(isinstance(array, list), "the first argument must be an array")
    _require(_is_int(index) and index >= 0, "the index must be a non-negative integer")
    _require(int(index) < len(array), f"the index {int(index)} is out of bounds")
    return array[int(index)]


def _array_length(args: list[Any], _: Entropy) -> int:
    _require(isinstance(args[0], list), "the argument must be an array")
    return len(args[0])


def _array_unique(args: list[Any], _: Entropy) -> list[Any]:
    _require(isinstance(args[0], list), "the argument must be an array")
    out: list[Any] = []
    for item in args[0]:
        if not any(_json_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _base64_encode(args: list[Any], _: Entropy) -> str:
    _require(isinstance(args[0], str), "the argument must be a string")
    _require(len(args[0]) <= MAX_STRING, f"the input exceeds {MAX_STRING} characters")
    return base64.b64encode(args[0].encode()).decode()


def _base64_decode(args: list[Any], _: Entropy) -> str:
    _require(isinstance(args[0], str), "the argument must be a string")
    _require(len(args[0]) <= MAX_STRING, f"the input exceeds {MAX_STRING} characters")
    try:
        return base64.b64decode(args[0], validate=True).decode()
    except ValueError:
        raise _Failure("the input is not valid base64") from None


def _hash(args: list[Any], _: Entropy) -> str:
    data, algorithm = args
    _require(isinstance(data, str), "the data to hash must be a string")
    _require(len(data) <= MAX_STRING, f"the input exceeds {MAX_STRING} characters")
    _require(algorithm in HASH_ALGORITHMS,
             f"the algorithm must be one of {', '.join(HASH_ALGORITHMS)}")
    return hashlib.new(HASH_ALGORITHMS[algorithm], data.encode()).hexdigest()


def _json_merge(args: list[Any], _: Entropy) -> dict[str, Any]:
    left, right, deep = args
    _require(isinstance(left, dict) and isinstance(right, dict), "the first two arguments must be objects")
    _require(isinstance(deep, bool), "the third argument must be a boolean")
    _require(deep is False, "deep merging is not supported; the third argument must be false")
    return {**left, **right}


def _math_random(args: list[Any], entropy: Entropy) -> int:
    _require(all(_is_int(v) for v in args), "all arguments must be integers")
    start, end = int(args[0]), int(args[1])
    _require(start < end, "the start must be less than the end")
    if len(args) == 3:
        return random.Random(int(args[2])).randrange(start, end)
    return entropy.random_int(start, end)


_INT32 = (-(2**31), 2**31 - 1)


def _math_add(args: list[Any], _: Entropy) -> int:
    _require(all(_is_int(v) for v in args), "both arguments must be integers")
    a, b = int(args[0]), int(args[1])
    _require(all(_INT32[0] <= v <= _INT32[1] for v in (a, b)), "arguments must be 32-bit integers")
    return a + b


def _string_split(args: list[Any], _: Entropy) -> list[str]:
    text, delimiters = args
    _require(isinstance(text, str) and isinstance(delimiters, str), "both arguments must be strings")
    if not delimiters:
        return [text] if text else []
    parts, current = [], []
    for ch in text:
        if ch in delimiters:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p]


def _uuid(args: list[Any], entropy: Entropy) -> str:
    return entropy.uuid()


FUNCTIONS: dict[str, Callable[[list[Any], Entropy], Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}

_ARITY.update({
    "States.Format": (1, None), "States.StringToJson": (1, 1), "States.JsonToString": (1, 1),
    "States.Array": (0, None), "States.ArrayPartition": (2, 2), "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3), "States.ArrayGetItem": (2, 2), "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1), "States.Base64Encode": (1, 1), "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2), "States.JsonMerge": (3, 3), "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2), "States.StringSplit": (2, 2), "States.UUID": (0, 0),
})
