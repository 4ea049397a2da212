"""Holding requests signed with role-session credentials to their role's identity policies.

With ``--enforce-iam`` the gateway asks, for each request signed with session credentials
(function environments, STS AssumeRole), whether the session's role allows the action on the
resource. Requests signed with operator keys are never restricted.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from cumulo.iam.policy import AccessRequest, Decision, evaluate
from cumulo.iam.request_target import action_name, resource_arn
from cumulo.iam.roles import role_policy_documents
from cumulo.iam.sessions import Session
from cumulo.protocol.errors import AwsError
from cumulo.store.base import Store

# Actions AWS allows whatever the policies say.
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})


def condition_context(session: Session, region: str, source_ip: str) -> dict[str, Any]:
    """The global condition keys IAM can supply for a session's request (lower-cased)."""
    now = time.time()
    context: dict[str, Any] = {
        "aws:principalarn": session.role_arn,
        "aws:principalaccount": session.account,
        "aws:principaltype": "AssumedRole",
        "aws:userid": session.user_id,
        "aws:requestedregion": region,
        "aws:currenttime": dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(int(now)),
        "aws:securetransport": "false",
    }
    if source_ip:
        context["aws:sourceip"] = source_ip
    if session.function_arn:
        context["lambda:sourcefunctionarn"] = session.function_arn
    return context


def authorize(store: Store, session: Session, *, signing_name: str, operation: str, params: dict[str, Any],
              region: str, source_ip: str, protocol_family: str) -> None:
    """Raise AWS's AccessDenied unless the session's role policies allow the request."""
    action = action_name(signing_name, operation)
    if action in ALWAYS_ALLOWED:
        return
    resource = resource_arn(action, params, region, session.account)
    request = AccessRequest(action, resource, condition_context(session, region, source_ip))
    decision = evaluate(role_policy_documents(store, session.role_arn), request)
    if decision is Decision.ALLOW:
        return
    reason = ("with an explicit deny in an identity-based policy" if decision is Decision.EXPLICIT_DENY
              else f"because no identity-based policy allows the {action} action")
    message = f"User: {session.arn} is not authorized to perform: {action} on resource: {resource} {reason}"
    raise AwsError("AccessDenied" if protocol_family == "rest-xml" else "AccessDeniedException", message,
                   status=403, query_code="AccessDenied")
