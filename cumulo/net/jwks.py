"""Signing keys of JWT issuers (HTTP API JWT authorizers, REST API Cognito authorizers): discovered
from ``{issuer}/.well-known/openid-configuration``.

The discovery document names ``jwks_uri``; the key set is fetched from there and kept for two
hours (API Gateway caches public keys that long). A token whose ``kid`` is not in the cached set
triggers one refetch (at most every ``REFETCH_AFTER_S``), so rotated keys are picked up.
Concurrent requests share one fetch per issuer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from cumulo.net import http_client

if TYPE_CHECKING:
    import jwt

log = logging.getLogger("cumulo.net")
KEYS_TTL_S = 7200.0
REFETCH_AFTER_S = 5.0
FETCH_TIMEOUT_S = 5.0
MAX_DOCUMENT_BYTES = 1 << 20


class JwksError(Exception):
    """The issuer's keys could not be fetched or read."""


async def _get_json(url: str) -> Any:
    reply = await http_client.request("GET", url, {"Accept": "application/json", "User-Agent": "cumulo"},
                                      timeout=FETCH_TIMEOUT_S, follow_redirects=True, max_body=MAX_DOCUMENT_BYTES)
    if not 200 <= reply.status < 300:
        raise http_client.HttpClientError(f"HTTP Error {reply.status} from {url}")
    return json.loads(reply.body)


class _Entry:
    __slots__ = ("fetched", "keys", "lock")

    def __init__(self) -> None:
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched = 0.0
        self.lock = asyncio.Lock()


class JwksCache:
    def __init__(self) -> None:
        self._issuers: dict[str, _Entry] = {}

    def clear(self) -> None:
        self._issuers.clear()

    async def key(self, issuer: str, kid: str | None) -> jwt.PyJWK | None:
        """The issuer's key for ``kid`` (the only key when the token names none); None if unknown."""
        entry = self._issuers.setdefault(issuer, _Entry())
        now = time.monotonic()
        found = self._pick(entry, kid)
        fresh = now - entry.fetched < KEYS_TTL_S
        if found is not None and fresh:
            return found
        if entry.fetched and fresh and now - entry.fetched < REFETCH_AFTER_S:
            return None
        async with entry.lock:
            if entry.fetched < now:  # nobody refreshed while we waited
                try:
                    entry.keys = await self._fetch(issuer)
                finally:  # a failed fetch is not retried by every request either
                    entry.fetched = time.monotonic()
        return self._pick(entry, kid)

    @staticmethod
    def _pick(entry: _Entry, kid: str | None) -> jwt.PyJWK | None:
        if kid is not None:
            return entry.keys.get(kid)
        return next(iter(entry.keys.values())) if len(entry.keys) == 1 else None

    @staticmethod
    async def _fetch(issuer: str) -> dict[str, jwt.PyJWK]:
        import jwt  # imported on first use: PyJWT and cryptography cost start-up time

        base = issuer.rstrip("/")
        try:
            discovery = await _get_json(f"{base}/.well-known/openid-configuration")
            jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
            if not jwks_uri:
                raise JwksError(f"the OpenID configuration of {issuer} has no jwks_uri")
            document = await _get_json(jwks_uri)
        except JwksError:
            raise
        except Exception as exc:
            raise JwksError(f"unable to fetch the signing keys of {issuer}: {exc}") from exc
        keys: dict[str, jwt.PyJWK] = {}
        for index, data in enumerate(document.get("keys", []) if isinstance(document, dict) else []):
            if data.get("use") not in (None, "sig"):
                continue
            try:
                key = jwt.PyJWK(data)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, KeyError) as exc:
                log.warning("ignoring key %s of %s: %s", data.get("kid", index), issuer, exc)
                continue
            keys[str(data.get("kid", f"#{index}"))] = key
        log.debug("fetched %d signing key(s) of %s", len(keys), issuer)
        return keys
