"""Lambda event source mapping filters (FilterCriteria).

A mapping has a few filter patterns (EventBridge syntax, ``esm`` dialect; the API layer
enforces Lambda's quota on their number); a record is sent to the function when any of them
matches, and dropped otherwise.

Patterns see the record as Lambda does, with its payload decoded first:

- SQS: ``body``; Kinesis: ``kinesis.data`` (base64); Amazon MQ: ``data`` (base64); Kafka:
  ``value`` (base64); DynamoDB streams need no decoding.
- A payload that is a JSON object or array is matched as that JSON (so ``{"body":
  {"RequestCode": ["BBBB"]}}`` filters on a field of the message); any other payload is
  matched as the plain string it is (``{"body": ["plain text"]}``), and a pattern on fields
  of a plain-string payload matches nothing.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Iterable
from typing import Any

from .dialects import ESM
from .machine import RuleSet
from .pattern import as_event

# eventSource -> (path of the payload inside the record, whether it is base64)
_PAYLOADS: dict[str, tuple[tuple[str, ...], bool]] = {
    "aws:sqs": (("body",), False),
    "aws:kinesis": (("kinesis", "data"), True),
    "aws:mq": (("data",), True),
    "aws:rmq": (("data",), True),
    "aws:kafka": (("value",), True),
    "SelfManagedKafka": (("value",), True),
}


def decode_payload(text: str, *, base64_encoded: bool = False) -> Any:
    """A payload as filters see it: parsed JSON object/array, else the plain string."""
    if base64_encoded:
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (dict, list)) else text


def record_for_filtering(record: dict | str) -> dict | None:
    """A copy of the record with its payload decoded (see the module docstring); None when
    the record is not a JSON object."""
    record = as_event(record)
    if record is None:
        return None
    where = _PAYLOADS.get(record.get("eventSource") or record.get("eventSourceKey", ""))
    if where is None:
        return record
    path, is_base64 = where
    parent = record
    for step in path[:-1]:
        parent = parent.get(step)
        if not isinstance(parent, dict):
            return record
    payload = parent.get(path[-1])
    if not isinstance(payload, str):
        return record
    record = copy.copy(record)
    target = record
    for step in path[:-1]:
        target[step] = dict(target[step])
        target = target[step]
    target[path[-1]] = decode_payload(payload, base64_encoded=is_base64)
    return record


class FilterCriteria:
    """The compiled ``Filters`` of one event source mapping."""

    def __init__(self, patterns: Iterable[str | dict]) -> None:
        self._rules = RuleSet(dialect=ESM)
        for position, pattern in enumerate(patterns):
            self._rules.add(position, pattern)

    def __len__(self) -> int:
        return len(self._rules)

    def matches(self, record: dict | str) -> bool:
        """Should this record reach the function? (True when there are no filters.)"""
        if not len(self._rules):
            return True
        prepared = record_for_filtering(record)
        return prepared is not None and bool(self._rules.match(prepared))
