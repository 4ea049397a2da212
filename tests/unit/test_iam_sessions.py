"""Role sessions: minting, finding them again (after a restart), tokens, expiry, signing secrets."""

from __future__ import annotations

import pytest

from cumulo.gateway.session_auth import SigningSecrets, check_session
from cumulo.iam.sessions import SessionStore
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest
from cumulo.store.sqlite import SqliteStore

ROLE = "arn:aws:iam::000000000000:role/service/app"


@pytest.fixture
def store(tmp_path):
    instance = SqliteStore(tmp_path / "state.db")
    yield instance
    instance.close()


def mint(sessions: SessionStore, duration_s: float = 3600):
    return sessions.mint(account="000000000000", role_arn=ROLE, role_id="AROAEXAMPLE", session_name="orders",
                         duration_s=duration_s, function_arn="arn:aws:lambda:us-east-1:000000000000:function:orders")


def test_a_session_is_an_assumed_role_found_by_its_access_key_from_any_holder(store):
    session = mint(SessionStore(store))
    assert session.access_key.startswith("ASIA") and len(session.access_key) == 20
    assert session.arn == "arn:aws:sts::000000000000:assumed-role/app/orders"
    assert session.user_id == "AROAEXAMPLE:orders"
    assert SessionStore(store).find(session.access_key) == session  # another holder, e.g. after a restart
    assert SessionStore(store).find("ASIANOSUCHKEY0000000") is None
    assert SessionStore(store).find("test") is None


def test_expired_sessions_are_purged(store):
    sessions = SessionStore(store)
    live, dead = mint(sessions), mint(sessions, duration_s=-1)
    assert dead.expired() and not live.expired()
    assert sessions.purge_expired() == 1
    assert sessions.find(dead.access_key) is None and sessions.find(live.access_key) == live


def test_signing_secrets_prefer_operator_keys_then_sessions(store):
    sessions = SessionStore(store)
    session = mint(sessions)
    secrets = SigningSecrets({"test": "operator-secret"}, sessions)
    assert secrets.get("test") == "operator-secret"
    assert secrets.get(session.access_key) == session.secret_key
    assert secrets.get("ASIAUNKNOWN000000000") is None


def request_with(token: str | None) -> HttpRequest:
    return HttpRequest("POST", "/", headers={"x-amz-security-token": token} if token is not None else {})


def test_a_session_request_needs_its_token_and_an_unexpired_session(store):
    sessions = SessionStore(store)
    session = mint(sessions)
    check_session(request_with(session.token), session, "json")
    check_session(HttpRequest("GET", "/", query_string=f"X-Amz-Security-Token={session.token}"), session,
                  "rest-xml")
    for token in (None, "other"):
        with pytest.raises(AwsError) as excinfo:
            check_session(request_with(token), session, "json")
        assert excinfo.value.code == "UnrecognizedClientException"
    expired = mint(sessions, duration_s=-1)
    with pytest.raises(AwsError) as excinfo:
        check_session(request_with(expired.token), expired, "json")
    assert excinfo.value.code == "ExpiredTokenException"
    with pytest.raises(AwsError) as excinfo:
        check_session(request_with(expired.token), expired, "query")
    assert excinfo.value.code == "ExpiredToken"
