"""Evaluating identity-based IAM policy documents for one request.

The decision is IAM's for identity policies alone: an explicit ``Deny`` in any statement that
applies wins, otherwise an applicable ``Allow`` allows, otherwise the request is implicitly
denied. A statement applies when its ``Action``/``NotAction`` covers the action (case-insensitive,
``*`` and ``?`` wildcards), its ``Resource``/``NotResource`` covers the resource (case-sensitive,
wildcards, policy variables such as ``${aws:username}``) and its ``Condition`` block holds.
Resource policies, permission boundaries, SCPs and session policies are not evaluated.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cumulo.iam.conditions import ContextValues, conditions_hold, glob_match

_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"


@dataclass(frozen=True)
class AccessRequest:
    action: str  # "sqs:SendMessage"
    resource: str  # an ARN, or "*" when the request's target cannot be named
    context: ContextValues = field(default_factory=dict)  # lower-cased condition keys


def evaluate(documents: Iterable[Mapping[str, Any]], request: AccessRequest) -> Decision:
    """IAM's decision for ``request`` under the given identity-based policy documents."""
    allowed = False
    for document in documents:
        for statement in _statements(document):
            if not _applies(statement, request):
                continue
            if str(statement.get("Effect", "")).lower() == "deny":
                return Decision.EXPLICIT_DENY
            if str(statement.get("Effect", "")).lower() == "allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    return [s for s in statements if isinstance(s, Mapping)] if isinstance(statements, list) else []


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _applies(statement: Mapping[str, Any], request: AccessRequest) -> bool:
    if "Action" in statement:
        if not any(glob_match(p, request.action, ignore_case=True) for p in _listed(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(glob_match(p, request.action, ignore_case=True) for p in _listed(statement["NotAction"])):
            return False
    else:
        return False

    def substitute(text: str) -> str:
        return substitute_variables(text, request.context)

    if "Resource" in statement:
        if not any(_resource_match(substitute(p), request.resource) for p in _listed(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(_resource_match(substitute(p), request.resource) for p in _listed(statement["NotResource"])):
            return False
    else:
        return False
    condition = statement.get("Condition")
    return not condition or (isinstance(condition, Mapping) and conditions_hold(condition, request.context,
                                                                                 substitute))


def _resource_match(pattern: str, resource: str) -> bool:
    # A request whose resource cannot be named ("*") is covered only by a statement for all resources.
    if resource == "*":
        return pattern == "*"
    return glob_match(pattern, resource)


def substitute_variables(text: str, context: ContextValues) -> str:
    """Replace ``${key}`` (``${key, 'default'}``) with the request's single value of the key.

    A key the request lacks, without a default, leaves the text unable to match (IAM treats the
    statement as not matching). The escapes ``${*}``, ``${?}`` and ``${$}`` are not supported: they
    never match, which errs on the side of denying.
    """
    if "${" not in text:
        return text

    def replace(found: re.Match[str]) -> str:
        key, _, default = found.group(1).partition(",")
        value = context.get(key.strip().lower())
        if isinstance(value, str):
            return value
        default = default.strip()
        if len(default) >= 2 and default[0] == default[-1] == "'":
            return default[1:-1]
        return "\x00unresolved\x00"

    return _VARIABLE.sub(replace, text)
