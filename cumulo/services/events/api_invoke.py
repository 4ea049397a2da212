"""Calling an API destination: the HTTP request, its authorization, its rate and its outcome.

* The request: the destination's method and endpoint (each ``*`` in it replaced by the next of
  the target's ``PathParameterValues``), the payload as body (``application/json``), the
  connection's ``InvocationHttpParameters`` and the target's ``HttpParameters`` (headers,
  query string; the connection's body parameters are added to a JSON object payload).
* Authorization: ``API_KEY`` sends the key as the header it names, ``BASIC`` an
  ``Authorization: Basic`` header, ``OAUTH_CLIENT_CREDENTIALS`` a bearer token fetched from
  the authorization endpoint with the client credentials (HTTP Basic, plus the connection's
  OAuth HTTP parameters, the body form-encoded), cached until it expires and fetched anew
  when the destination answers 401.
* The rate: a token bucket of one token per destination refilled at
  ``InvocationRateLimitPerSecond``, so a burst leaves at exactly that rate.
* The outcome, as AWS documents: 2xx delivered; 401, 407, 409, 429 and 5xx retried (through the
  rule's RetryPolicy and dead-letter queue); other statuses fail at once; no answer within
  5 seconds is a retryable timeout.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cumulo.net import http_client
from cumulo.targets.errors import TargetError

if TYPE_CHECKING:
    from cumulo.platform import Platform

TIMEOUT_S = 5.0
RETRYABLE = {401, 407, 409, 429}
USER_AGENT = "Amazon/EventBridge/ApiDestinations"


class Pacer:
    """A token bucket holding one token: callers leave at most ``rate`` times per second."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = 0.0

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = max(now, self.next_at)
        self.next_at = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


def _pairs(parameters: dict[str, Any] | None, kind: str) -> list[tuple[str, str]]:
    return [(item["Key"], str(item.get("Value", ""))) for item in (parameters or {}).get(kind) or []]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class ApiDestinationInvoker:
    """Mixed into ``EventsProvider``."""

    platform: Platform
    _pacers: dict[str, Pacer]
    _tokens: dict[str, tuple[str, float]]
    _token_locks: dict[str, asyncio.Lock]

    connection_by_arn: Callable[[str], dict[str, Any] | None]  # ConnectionOperations'
    destination_by_arn: Callable[[str], dict[str, Any] | None]

    def forget_token(self, connection_arn: str) -> None:
        self._tokens.pop(connection_arn, None)

    def forget_pacer(self, destination_arn: str) -> None:
        self._pacers.pop(destination_arn, None)

    async def invoke_api_destination(self, arn: str, body: str, http_parameters: dict[str, Any] | None) -> None:
        """Deliver ``body`` to the API destination ``arn``; raises TargetError."""
        destination = self.destination_by_arn(arn)
        if destination is None:
            raise TargetError("NO_RESOURCE", f"API destination {arn} does not exist.", retryable=False)
        connection = self.connection_by_arn(destination["ConnectionArn"])
        if connection is None or connection["ConnectionState"] != "AUTHORIZED":
            raise TargetError("INVALID_PARAMETER", f"Connection {destination['ConnectionArn']} is not authorized.",
                              retryable=False)
        pacer = self._pacers.get(arn)
        if pacer is None:
            pacer = self._pacers[arn] = Pacer(destination["InvocationRateLimitPerSecond"])
        await pacer.wait()
        method, url, headers, data = self._http_request(destination, connection, body, http_parameters or {})
        status = await self._http_call(method, url, headers + await self._authorization(connection), data)
        if status == 401 and connection["AuthorizationType"] == "OAUTH_CLIENT_CREDENTIALS":
            self.forget_token(connection["ConnectionArn"])
            status = await self._http_call(method, url, headers + await self._authorization(connection), data)
        if 200 <= status < 300:
            return
        retryable = status in RETRYABLE or status >= 500
        raise TargetError("ERROR_FROM_TARGET", f"The API destination answered with HTTP status code {status}.",
                          retryable=retryable)

    @staticmethod
    def _http_request(destination: dict[str, Any], connection: dict[str, Any], body: str,
                 target: dict[str, Any]) -> tuple[str, str, list[tuple[str, str]], bytes]:
        shared = connection["AuthParameters"].get("InvocationHttpParameters") or {}
        url = destination["InvocationEndpoint"]
        for value in target.get("PathParameterValues") or []:
            url = url.replace("*", urllib.parse.quote(value, safe=""), 1)
        query = _pairs(shared, "QueryStringParameters") + list((target.get("QueryStringParameters") or {}).items())
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        headers = [("Content-Type", "application/json; charset=utf-8"), ("User-Agent", USER_AGENT)]
        headers += _pairs(shared, "HeaderParameters") + list((target.get("HeaderParameters") or {}).items())
        extra = _pairs(shared, "BodyParameters")
        if extra:
            try:
                document = json.loads(body)
            except ValueError:
                document = None
            if isinstance(document, dict):
                body = json.dumps({**document, **dict(extra)}, separators=(",", ":"))
        method = destination["HttpMethod"]
        return method, url, headers, body.encode() if method not in ("GET", "HEAD") else b""

    async def _http_call(self, method: str, url: str, headers: list[tuple[str, str]], data: bytes) -> int:
        try:
            reply = await http_client.request(method, url, headers, data, timeout=TIMEOUT_S, max_body=1 << 20)
        except TimeoutError as exc:
            raise TargetError("SDK_CLIENT_ERROR", f"The API destination did not answer within {TIMEOUT_S:g} "
                                                  "seconds.") from exc
        except http_client.HttpClientError as exc:
            raise TargetError("SDK_CLIENT_ERROR", f"Unable to reach the API destination: {exc}") from exc
        return reply.status

    async def _authorization(self, connection: dict[str, Any]) -> list[tuple[str, str]]:
        auth = connection["AuthParameters"]
        kind = connection["AuthorizationType"]
        if kind == "API_KEY":
            key = auth["ApiKeyAuthParameters"]
            return [(key["ApiKeyName"], key["ApiKeyValue"])]
        if kind == "BASIC":
            basic = auth["BasicAuthParameters"]
            return [("Authorization", _basic(basic["Username"], basic["Password"]))]
        return [("Authorization", "Bearer " + await self._oauth_token(connection))]

    async def _oauth_token(self, connection: dict[str, Any]) -> str:
        """The connection's cached token, or a new one (one fetch at a time per connection)."""
        arn = connection["ConnectionArn"]
        lock = self._token_locks.setdefault(arn, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(arn)
            if cached is not None and cached[1] > time.time():
                return cached[0]
            return await self._fetch_token(connection)

    async def _fetch_token(self, connection: dict[str, Any]) -> str:
        oauth = connection["AuthParameters"]["OAuthParameters"]
        client = oauth["ClientParameters"]
        extra = oauth.get("OAuthHttpParameters") or {}
        url = oauth["AuthorizationEndpoint"]
        query = _pairs(extra, "QueryStringParameters")
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        headers = [("Authorization", _basic(client["ClientID"], client["ClientSecret"])),
                   ("Content-Type", "application/x-www-form-urlencoded"), *_pairs(extra, "HeaderParameters")]
        form = urllib.parse.urlencode(_pairs(extra, "BodyParameters") or [("grant_type", "client_credentials")])
        try:
            reply = await http_client.request(oauth["HttpMethod"], url, headers, form.encode(), timeout=TIMEOUT_S)
            answer = json.loads(reply.body) if 200 <= reply.status < 300 else None
        except (TimeoutError, http_client.HttpClientError, ValueError) as exc:
            raise TargetError("SDK_CLIENT_ERROR", f"Unable to get an OAuth token: {exc}") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
            raise TargetError("SDK_CLIENT_ERROR", f"The authorization endpoint answered HTTP {reply.status} without "
                                                  "an access_token.")
        expires = float(answer.get("expires_in") or 3600)
        self._tokens[connection["ConnectionArn"]] = (answer["access_token"], time.time() + max(0.0, expires - 5))
        return answer["access_token"]
