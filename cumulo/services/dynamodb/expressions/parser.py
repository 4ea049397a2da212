"""Tokenizer and recursive-descent parser of DynamoDB's expression language.

One grammar serves ConditionExpression, FilterExpression, KeyConditionExpression,
UpdateExpression and ProjectionExpression. ``#name`` and ``:value`` placeholders are resolved
while parsing against ExpressionAttributeNames/Values; the ``Context`` records which were used
so the caller can refuse unused ones as DynamoDB does.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from cumulo.services.dynamodb.errors import validation
from cumulo.services.dynamodb.expressions.reserved import RESERVED_WORDS

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<name>\#[A-Za-z0-9_]+)
  | (?P<value>:[A-Za-z0-9_]+)
  | (?P<number>[0-9]+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><>|<=|>=|[=<>(),.\[\]+-])
""", re.VERBOSE)

COMPARATORS = ("=", "<>", "<", "<=", ">", ">=")
CONDITION_FUNCTIONS = {"attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2,
                       "begins_with": 2, "contains": 2}
OPERAND_FUNCTIONS = {"size": 1}
UPDATE_FUNCTIONS = {"if_not_exists": 2, "list_append": 2}
KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "IN"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


class _BadCharacter(ValueError):
    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


@functools.lru_cache(maxsize=1024)
def _tokens(text: str) -> tuple[Token, ...]:
    """The tokens of an expression (cached: clients send the same few expressions again and again)."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _BadCharacter(position)
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup or "", match.group(), match.start(), match.end()))
        position = match.end()
    tokens.append(Token("eof", "<EOF>", len(text), len(text)))
    return tuple(tokens)


# ------------------------------------------------------------------ the tree
Path = tuple  # of str (attribute names) and int (list indexes)


@dataclass(frozen=True)
class Value:
    value: dict[str, Any]


@dataclass(frozen=True)
class PathRef:
    path: Path
    text: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple


@dataclass(frozen=True)
class Arith:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Between:
    operand: Any
    low: Any
    high: Any


@dataclass(frozen=True)
class In:
    operand: Any
    options: tuple


@dataclass(frozen=True)
class Logical:
    op: str  # AND / OR
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    operand: Any


@dataclass
class UpdateActions:
    set: list[tuple[PathRef, Any]] = field(default_factory=list)
    remove: list[PathRef] = field(default_factory=list)
    add: list[tuple[PathRef, Value]] = field(default_factory=list)
    delete: list[tuple[PathRef, Value]] = field(default_factory=list)


@dataclass
class Context:
    """The placeholders of one request and which of them its expressions used."""

    names: dict[str, str]
    values: dict[str, dict]
    used_names: set[str] = field(default_factory=set)
    used_values: set[str] = field(default_factory=set)

    def check_all_used(self) -> None:
        unused_names = sorted(set(self.names) - self.used_names)
        if unused_names:
            raise validation("Value provided in ExpressionAttributeNames unused in expressions: keys: "
                             f"{{{', '.join(unused_names)}}}")
        unused_values = sorted(set(self.values) - self.used_values)
        if unused_values:
            raise validation("Value provided in ExpressionAttributeValues unused in expressions: keys: "
                             f"{{{', '.join(unused_values)}}}")


# --------------------------------------------------------------------- parser
class Parser:
    def __init__(self, text: str, kind: str, context: Context) -> None:
        self.text = text
        self.kind = kind  # ConditionExpression, UpdateExpression ... (for messages)
        self.context = context
        self.tokens = self._tokenize(text)
        self.position = 0

    def _error(self, message: str) -> Exception:
        return validation(f"Invalid {self.kind}: {message}")

    def _tokenize(self, text: str) -> list[Token]:
        try:
            return list(_tokens(text))
        except _BadCharacter as bad:
            near = text[max(0, bad.position - 1):bad.position + 2]
            raise self._error(f'Syntax error; token: "{text[bad.position]}", near: "{near}"') from None

    # -- token helpers
    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.position + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.position += 1
        return token

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "ident" and token.text.upper() == word

    def at_op(self, op: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.text == op

    def syntax_error(self, token: Token | None = None) -> Exception:
        token = token or self.peek()
        index = self.tokens.index(token)
        start = self.tokens[index - 1].start if index > 0 else token.start
        near = self.text[start:token.end]
        return self._error(f'Syntax error; token: "{token.text}", near: "{near}"')

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise self.syntax_error()
        return self.next()

    def expect_end(self) -> None:
        if self.peek().kind != "eof":
            raise self.syntax_error()

    # -- operands
    def resolve_name(self, token: Token) -> str:
        if token.kind == "name":
            if token.text not in self.context.names:
                raise self._error("An expression attribute name used in the document path is not defined; "
                                  f"attribute name: {token.text}")
            self.context.used_names.add(token.text)
            return self.context.names[token.text]
        if token.text.upper() in RESERVED_WORDS:
            raise self._error(f"Attribute name is a reserved keyword; reserved keyword: {token.text}")
        return token.text

    def path(self) -> PathRef:
        token = self.next()
        if token.kind not in ("name", "ident"):
            raise self.syntax_error(token)
        elements: list[Any] = [self.resolve_name(token)]
        end = token.end
        start = token.start
        while True:
            if self.at_op("."):
                self.next()
                token = self.next()
                if token.kind not in ("name", "ident"):
                    raise self.syntax_error(token)
                elements.append(self.resolve_name(token))
                end = token.end
            elif self.at_op("["):
                self.next()
                token = self.next()
                if token.kind != "number":
                    raise self.syntax_error(token)
                elements.append(int(token.text))
                end = self.expect_op("]").end
            else:
                return PathRef(tuple(elements), self.text[start:end])

    def value(self) -> Value:
        token = self.next()
        if token.text not in self.context.values:
            raise self._error("An expression attribute value used in expression is not defined; "
                              f"attribute value: {token.text}")
        self.context.used_values.add(token.text)
        return Value(self.context.values[token.text])

    def operand(self, update: bool = False) -> Any:
        token = self.peek()
        if token.kind == "value":
            return self.value()
        if token.kind == "ident" and self.peek(1).kind == "op" and self.peek(1).text == "(":
            return self.call(token, update)
        if token.kind in ("name", "ident"):
            return self.path()
        raise self.syntax_error()

    def call(self, token: Token, update: bool) -> Call:
        name = token.text
        known = {**OPERAND_FUNCTIONS, **(UPDATE_FUNCTIONS if update else {})}
        if name not in known:
            if name in CONDITION_FUNCTIONS or name in UPDATE_FUNCTIONS or name in OPERAND_FUNCTIONS:
                raise self._error(f"The function is not allowed in {'an update' if update else 'a condition'} "
                                  f"expression; function: {name}" if update else
                                  f"The function is not allowed to be used this way in an expression; function: {name}")
            raise self._error(f"Invalid function name; function: {name}")
        self.next()
        args = self.arguments(lambda: self.operand(update))
        if len(args) != known[name]:
            raise self._error(f"Incorrect number of operands for operator or function; operator or function: {name}, "
                              f"number of operands: {len(args)}")
        return Call(name, tuple(args))

    def arguments(self, item: Any) -> list[Any]:
        self.expect_op("(")
        args = [item()]
        while self.at_op(","):
            self.next()
            args.append(item())
        self.expect_op(")")
        return args

    # -- conditions
    def condition(self) -> Any:
        left = self.conjunction()
        while self.at_keyword("OR"):
            self.next()
            left = Logical("OR", left, self.conjunction())
        return left

    def conjunction(self) -> Any:
        left = self.negation()
        while self.at_keyword("AND"):
            self.next()
            left = Logical("AND", left, self.negation())
        return left

    def negation(self) -> Any:
        if self.at_keyword("NOT"):
            self.next()
            return Not(self.negation())
        return self.predicate()

    def predicate(self) -> Any:
        if self.at_op("("):
            self.next()
            inner = self.condition()
            self.expect_op(")")
            return inner
        token = self.peek()
        if token.kind == "ident" and token.text in CONDITION_FUNCTIONS and self.peek(1).text == "(":
            self.next()
            args = self.arguments(self.operand)
            if len(args) != CONDITION_FUNCTIONS[token.text]:
                raise self._error("Incorrect number of operands for operator or function; operator or function: "
                                  f"{token.text}, number of operands: {len(args)}")
            if not isinstance(args[0], PathRef):
                raise self._error(f"Operator or function requires a document path; operator or function: {token.text}")
            return Call(token.text, tuple(args))
        left = self.operand()
        following = self.peek()
        if following.kind == "op" and following.text in COMPARATORS:
            self.next()
            return Compare(following.text, left, self.operand())
        if self.at_keyword("BETWEEN"):
            self.next()
            low = self.operand()
            if not self.at_keyword("AND"):
                raise self.syntax_error()
            self.next()
            return Between(left, low, self.operand())
        if self.at_keyword("IN"):
            self.next()
            return In(left, tuple(self.arguments(self.operand)))
        if isinstance(left, Call) and left.name == "size":
            raise self.syntax_error()
        raise self.syntax_error()

    # -- update
    def update(self) -> UpdateActions:
        actions = UpdateActions()
        seen: set[str] = set()
        if self.peek().kind == "eof":
            raise self.syntax_error()
        while self.peek().kind != "eof":
            token = self.next()
            clause = token.text.upper()
            if token.kind != "ident" or clause not in ("SET", "REMOVE", "ADD", "DELETE"):
                raise self.syntax_error(token)
            if clause in seen:
                raise self._error(f'The "{clause}" section can only be used once in an update expression;')
            seen.add(clause)
            while True:
                if clause == "SET":
                    target = self.path()
                    self.expect_op("=")
                    actions.set.append((target, self.set_value()))
                elif clause == "REMOVE":
                    actions.remove.append(self.path())
                else:
                    target = self.path()
                    if self.peek().kind != "value":
                        raise self.syntax_error()
                    (actions.add if clause == "ADD" else actions.delete).append((target, self.value()))
                if not self.at_op(","):
                    break
                self.next()
        return actions

    def set_value(self) -> Any:
        left = self.operand(update=True)
        if self.at_op("+") or self.at_op("-"):
            op = self.next().text
            return Arith(op, left, self.operand(update=True))
        return left


# ----------------------------------------------------------------- entry points
def parse_condition(text: str, context: Context, kind: str = "ConditionExpression") -> Any:
    if not text.strip():
        raise validation(f"Invalid {kind}: The expression can not be empty;")
    parser = Parser(text, kind, context)
    tree = parser.condition()
    parser.expect_end()
    return tree


def parse_update(text: str, context: Context) -> UpdateActions:
    if not text.strip():
        raise validation("Invalid UpdateExpression: The expression can not be empty;")
    parser = Parser(text, "UpdateExpression", context)
    actions = parser.update()
    parser.expect_end()
    return actions


def parse_projection(text: str, context: Context) -> list[PathRef]:
    if not text.strip():
        raise validation("Invalid ProjectionExpression: The expression can not be empty;")
    parser = Parser(text, "ProjectionExpression", context)
    paths = [parser.path()]
    while parser.at_op(","):
        parser.next()
        paths.append(parser.path())
    parser.expect_end()
    return paths

