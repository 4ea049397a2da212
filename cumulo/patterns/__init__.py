"""Cumulo's event-pattern engine: EventBridge patterns, SNS filter policies, Lambda filters.

Semantics, limits and error messages are AWS's (event-ruler's); see README.md beside this
file for the whole language. Typical use::

    from cumulo.patterns import RuleSet, compile_pattern, matches

    matches('{"source": ["aws.ec2"]}', {"source": "aws.ec2"})          # one-off check
    rules = RuleSet()                                                   # all rules of a bus
    rules.add("r1", '{"detail": {"state": [{"anything-but": "ok"}]}}')
    rules.match(event)                                                  # -> {"r1"} or set()
"""

from .dialects import ESM, EVENTBRIDGE, SNS, Dialect, get_dialect
from .errors import InvalidEventPattern
from .machine import RuleSet
from .pattern import CompiledPattern, compile_pattern, matches

__all__ = [
    "ESM",
    "EVENTBRIDGE",
    "SNS",
    "CompiledPattern",
    "Dialect",
    "InvalidEventPattern",
    "RuleSet",
    "compile_pattern",
    "get_dialect",
    "matches",
]
