"""The three pattern languages built on one engine, and what differs between them.

- ``eventbridge``: EventBridge event patterns (rules, archives, TestEventPattern). The whole
  language; numbers in [-5e9, 5e9] with 6 decimals; patterns up to 4096 characters.
- ``sns``: SNS subscription filter policies. No wildcard, no ``exactly``, anything-but may
  only nest ``prefix`` or ``suffix``, prefix/suffix take a plain string; numbers in
  [-1e9, 1e9] with 5 decimals; at most 5 keys and 150 value combinations; policies up to
  256 KB; errors are ``InvalidParameter`` "Invalid parameter: FilterPolicy: ...". The
  MessageAttributes scope also refuses nested objects.
- ``esm``: Lambda event source mapping filter patterns (FilterCriteria). EventBridge syntax
  with the operators Lambda documents (no wildcard; anything-but takes plain values only);
  patterns up to 4096 characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidEventPattern
from .numbers import EVENTBRIDGE_NUMBERS, SNS_NUMBERS, NumberFormat

ALL_OPERATORS = frozenset(
    {
        "exactly",
        "prefix",
        "prefix/equals-ignore-case",
        "suffix",
        "suffix/equals-ignore-case",
        "equals-ignore-case",
        "wildcard",
        "numeric",
        "cidr",
        "exists",
        "anything-but",
        "anything-but/prefix",
        "anything-but/suffix",
        "anything-but/equals-ignore-case",
        "anything-but/wildcard",
    }
)


@dataclass(frozen=True)
class Dialect:
    name: str
    numbers: NumberFormat
    operators: frozenset[str]
    max_length: int  # characters of the pattern's JSON text
    code: str
    message_prefix: str
    invalid_json: str
    max_keys: int | None = None
    max_combinations: int | None = None
    nesting: bool = True

    def error(self, reason: str) -> InvalidEventPattern:
        return InvalidEventPattern(reason, message=self.message_prefix + reason, code=self.code)

    def with_scope(self, scope: str) -> Dialect:
        """SNS only: the MessageAttributes scope (flat) or the MessageBody scope (nested)."""
        if scope not in ("MessageAttributes", "MessageBody"):
            raise ValueError(f"unknown filter policy scope {scope!r}")
        return Dialect(**{**self.__dict__, "nesting": scope == "MessageBody"})


EVENTBRIDGE = Dialect(
    name="eventbridge",
    numbers=EVENTBRIDGE_NUMBERS,
    operators=ALL_OPERATORS,
    max_length=4096,
    code="InvalidEventPatternException",
    message_prefix="Event pattern is not valid. Reason: ",
    invalid_json="Invalid JSON",
)

SNS = Dialect(
    name="sns",
    numbers=SNS_NUMBERS,
    operators=ALL_OPERATORS
    - {
        "exactly",
        "wildcard",
        "prefix/equals-ignore-case",
        "suffix/equals-ignore-case",
        "anything-but/equals-ignore-case",
        "anything-but/wildcard",
    },
    max_length=256 * 1024,
    code="InvalidParameter",
    message_prefix="Invalid parameter: FilterPolicy: ",
    invalid_json="failed to parse JSON.",
    max_keys=5,
    max_combinations=150,
    nesting=False,
)

ESM = Dialect(
    name="esm",
    numbers=EVENTBRIDGE_NUMBERS,
    operators=ALL_OPERATORS
    - {
        "exactly",
        "wildcard",
        "anything-but/prefix",
        "anything-but/suffix",
        "anything-but/equals-ignore-case",
        "anything-but/wildcard",
    },
    max_length=4096,
    code="InvalidParameterValueException",
    message_prefix="Invalid filter pattern definition. Reason: ",
    invalid_json="Invalid JSON",
)

DIALECTS = {d.name: d for d in (EVENTBRIDGE, SNS, ESM)}


def get_dialect(name: str | Dialect) -> Dialect:
    if isinstance(name, Dialect):
        return name
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown pattern dialect {name!r}; expected one of {sorted(DIALECTS)}") from None
