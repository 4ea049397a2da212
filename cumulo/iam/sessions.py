"""Temporary credentials of assumed-role sessions (function environments and STS AssumeRole).

A session is what STS AssumeRole returns: an ``ASIA...`` access key, a secret, a session token
and an expiry, bound to a role and a session name (for a function environment, the function's
name). STS sessions are kept in the store (table ``iam.sessions``, keyed by access key) so that a
client holding AssumeRole credentials is recognised after a server restart; a small in-memory cache
spares the store on every request. Sessions are immutable until they expire, so each holder's cache
never goes stale.

A function execution environment's session is *ephemeral*: minted when the environment starts and
revoked when it ends, held in memory only (environments do not outlive the server, so neither may
their keys; and a cold start costs no store write). A revoked session answers as expired
(``ExpiredToken``) for as long as it is remembered (the last ``_REVOKED_LIMIT``), then as unknown.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace

from cumulo.store.base import Store

SESSIONS = "iam.sessions"
_CACHE_LIMIT = 10_000
_REVOKED_LIMIT = 10_000


def random_id(prefix: str, length: int) -> str:
    """An AWS-style identifier: ``prefix`` and ``length`` upper-case letters or digits (base32, as AWS's
    key ids are; one read of the system's random source, not one per character: every cold start mints one)."""
    return prefix + base64.b32encode(secrets.token_bytes((length * 5 + 7) // 8)).decode()[:length]


@dataclass(frozen=True)
class Session:
    access_key: str
    secret_key: str
    token: str
    account: str
    role_arn: str  # arn:aws:iam::ACCOUNT:role[/path]/NAME
    role_id: str  # AROA...
    session_name: str
    expires_at: float  # epoch seconds
    function_arn: str = ""  # set for the credentials of a function's execution environment

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def arn(self) -> str:
        """The assumed-role ARN, as GetCallerIdentity and AccessDenied messages name the caller."""
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.session_name}"

    @property
    def user_id(self) -> str:
        return f"{self.role_id}:{self.session_name}"

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at


class SessionStore:
    """Mints sessions and finds them by access key."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Session] = {}
        self._ephemeral: dict[str, Session] = {}  # live environments' sessions (never evicted)
        self._revoked: OrderedDict[str, Session] = OrderedDict()  # ended environments', as expired

    def mint(self, *, account: str, role_arn: str, role_id: str, session_name: str, duration_s: float,
             function_arn: str = "", ephemeral: bool = False) -> Session:
        """A new session; an ``ephemeral`` one lives in memory until :meth:`revoke` (see module docstring)."""
        session = Session(access_key=random_id("ASIA", 16), secret_key=secrets.token_urlsafe(30),
                          token=secrets.token_urlsafe(120), account=account, role_arn=role_arn,
                          role_id=role_id, session_name=session_name, expires_at=time.time() + duration_s,
                          function_arn=function_arn)
        if ephemeral:
            self._ephemeral[session.access_key] = session
        else:
            self.store.put(SESSIONS, session.access_key, asdict(session))
            self._remember(session)
        return session

    def revoke(self, access_key: str) -> None:
        """End an ephemeral session now: from here on its requests are refused as expired."""
        session = self._ephemeral.pop(access_key, None)
        if session is None:
            return
        self._revoked[access_key] = replace(session, expires_at=min(session.expires_at, time.time()))
        if len(self._revoked) > _REVOKED_LIMIT:
            self._revoked.popitem(last=False)

    def find(self, access_key: str) -> Session | None:
        """The session of an access key (expired ones too: the caller says why it is refused)."""
        if not access_key.startswith("ASIA"):
            return None
        session = self._ephemeral.get(access_key) or self._revoked.get(access_key) or self._cache.get(access_key)
        if session is None:
            record = self.store.get(SESSIONS, access_key)
            if record is None:
                return None
            session = Session(**record)
            self._remember(session)
        return session

    def purge_expired(self) -> int:
        """Delete the sessions that expired; returns how many."""
        now = time.time()
        gone = [key for key, record in self.store.scan(SESSIONS, "ASIA") if record["expires_at"] <= now]
        for key in gone:
            self.store.delete(SESSIONS, key)
            self._cache.pop(key, None)
        return len(gone)

    def _remember(self, session: Session) -> None:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[session.access_key] = session
