"""Authenticating role-session credentials and holding them to their role's policies.

The gateway asks three things of a signed request: which secret verifies its signature (an
operator key from the settings, or a live session's secret), whether a session-signed request
carries its session's token and is not expired, and (with ``--enforce-iam``) whether the
session's role allows the action on the resource. Requests signed with operator keys are never
restricted; only session credentials (function environments, STS AssumeRole) are evaluated.
"""

from __future__ import annotations

import datetime as dt
import hmac
import time
from collections.abc import Mapping
from typing import Any

from cumulo.gateway.auth import auth_error
from cumulo.iam.policy import AccessRequest, Decision, evaluate
from cumulo.iam.request_target import action_name, resource_arn
from cumulo.iam.sessions import Session, SessionStore
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest
from cumulo.services.iam.roles import role_policy_documents
from cumulo.store.base import Store


class SigningSecrets:
    """Secret access keys by access key id: the operator's configured keys, then live sessions'.

    Shaped like the mapping signature verification reads (``.get(access_key)``).
    """

    def __init__(self, operator_keys: Mapping[str, str], sessions: SessionStore) -> None:
        self.operator_keys = operator_keys
        self.sessions = sessions

    def get(self, access_key: str, default: str | None = None) -> str | None:
        secret = self.operator_keys.get(access_key)
        if secret is not None:
            return secret
        session = self.sessions.find(access_key)
        return session.secret_key if session is not None else default


def check_session(request: HttpRequest, session: Session, protocol_family: str) -> None:
    """A session's requests must carry its token, before it expires (as STS credentials must)."""
    token = request.headers.get("x-amz-security-token") or request.query.get("X-Amz-Security-Token", "")
    if not hmac.compare_digest(token.encode(), session.token.encode()):
        raise auth_error("unknown-key", protocol_family)
    if session.expired():
        if protocol_family in ("query", "rest-xml"):
            raise AwsError("ExpiredToken", "The security token included in the request is expired",
                           status=400 if protocol_family == "rest-xml" else 403)
        raise AwsError("ExpiredTokenException", "The security token included in the request is expired",
                       status=403)


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
