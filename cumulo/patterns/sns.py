"""SNS filter policies: the two scopes and the events they are matched against.

- ``MessageAttributes`` scope (the default): the policy is flat (no nesting) and is matched
  against the message attributes. ``String`` attributes are strings, ``Number`` attributes
  numbers (compared numerically, 5 decimals, within +/-1e9), ``String.Array`` (and
  ``Number.Array``) attributes are JSON arrays whose elements are matched one by one, and
  ``Binary`` attributes are ignored, as if absent. A ``String.Array``/``Number`` attribute
  whose value does not parse is ignored too.
- ``MessageBody`` scope: the policy may nest and is matched against the message body, which
  must be a JSON object; any other body matches no policy.

Attributes are accepted in both spellings SNS uses: the Publish API's
``{"DataType": ..., "StringValue": ...}`` and the delivered ``{"Type": ..., "Value": ...}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .dialects import SNS, Dialect
from .machine import RuleSet
from .pattern import CompiledPattern, compile_pattern

SCOPES = ("MessageAttributes", "MessageBody")


def dialect_for(scope: str = "MessageAttributes") -> Dialect:
    return SNS.with_scope(scope)


def compile_filter_policy(policy: str | dict, scope: str = "MessageAttributes") -> CompiledPattern:
    """Validate a filter policy; raises InvalidEventPattern (code ``InvalidParameter``)."""
    return compile_pattern(policy, dialect=dialect_for(scope))


def filter_rule_set(scope: str = "MessageAttributes") -> RuleSet:
    """A RuleSet for the subscriptions of one topic that share a scope."""
    return RuleSet(dialect=dialect_for(scope))


def attributes_event(attributes: Mapping[str, Mapping[str, Any]] | None) -> dict:
    """The message attributes as the flat event a MessageAttributes policy sees."""
    event: dict[str, Any] = {}
    for name, attribute in (attributes or {}).items():
        data_type = str(attribute.get("Type", attribute.get("DataType", "")))
        raw = attribute.get("Value", attribute.get("StringValue"))
        base = data_type.split(".", 1)[0]
        if base == "Binary" or raw is None:
            continue
        if data_type.endswith(".Array"):
            value = _json_or_none(raw)
            if isinstance(value, list):
                event[name] = value
        elif base == "Number":
            value = _json_or_none(raw)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                event[name] = value
        else:
            event[name] = str(raw)
    return event


def body_event(message: str | None) -> dict | None:
    """The message body as a MessageBody policy sees it, or None when it is not a JSON
    object (then no MessageBody policy matches)."""
    value = _json_or_none(message) if isinstance(message, str) else None
    return value if isinstance(value, dict) else None


def policy_matches(
    policy: CompiledPattern,
    *,
    message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
    message: str | None = None,
) -> bool:
    """Does a published message pass this compiled filter policy (in its own scope)?"""
    if policy.dialect.nesting:
        event = body_event(message)
        return event is not None and policy.matches(event)
    return policy.matches(attributes_event(message_attributes))


def _json_or_none(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None
