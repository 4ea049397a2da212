"""Authenticating requests signed with role-session credentials (function environments, STS AssumeRole).

A session's access key is verified like an operator key, against the session's secret; the
request must also carry the session's token and arrive before the session expires, as AWS
requires of temporary credentials.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from cumulo.gateway.auth import auth_error
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
