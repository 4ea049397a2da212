"""Authenticating requests signed with role-session credentials (function environments, STS AssumeRole).

A session's access key is verified like an operator key, against the session's secret; the
request must also carry the session's token and arrive before the session expires, as AWS
requires of temporary credentials.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from cumulo.gateway.auth import auth_error, read_signature, verify
from cumulo.iam.sessions import Session, SessionStore
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest


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


def signed_caller(request: HttpRequest, operator_keys: Mapping[str, str], sessions: SessionStore,
                  account: str) -> dict[str, Any]:
    """Who signed ``request`` (SigV4 with an operator key or a session's temporary credentials), as
    the ``iam`` identity that data planes pass to functions (HTTP API AWS_IAM routes, function URLs
    with AuthType AWS_IAM); raises ``AwsError`` when the signature or the session does not hold."""
    info = read_signature(request)
    verify(request, info, SigningSecrets(operator_keys, sessions), "rest-json")
    assert info is not None
    session = sessions.find(info.access_key)
    if session is not None:
        check_session(request, session, "rest-json")
    user_arn, user_id = (session.arn, session.user_id) if session else (f"arn:aws:iam::{account}:root", account)
    return {"accessKey": info.access_key, "accountId": account, "callerId": user_id, "cognitoIdentity": None,
            "principalOrgId": None, "userArn": user_arn, "userId": user_id}
