"""Route authorization of HTTP APIs: JWT authorizers, Lambda (REQUEST) authorizers and AWS_IAM.

JWT: the token comes from the identity source (``Bearer `` prefix allowed); its signature is
checked with the issuer's key (RS256/384/512, PS*, ES256/384/512), then ``iss``, ``aud`` (or
``client_id`` when there is no ``aud``), ``exp``, ``nbf`` and ``iat`` (with ``JWT_LEEWAY_S``),
then the route's scopes against ``scope``/``scp``. Failures are 401 with a ``www-authenticate``
header naming the reason, or 403 for missing scopes, as API Gateway answers. Verified
signatures are remembered per token, so a client that reuses its token pays for one check.

Lambda: identity sources must all be present (401 otherwise); the function gets the 1.0 or 2.0
authorizer event and answers a simple response (``isAuthorized``) or an IAM policy, which is
evaluated against the route's ARN. With ``AuthorizerResultTtlInSeconds`` > 0 the answer is
cached per identity-source values (a cached policy is re-evaluated for each route).

The outcome is what the integration sees in ``requestContext.authorizer``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cumulo.gateway.session_auth import signed_caller
from cumulo.httpapi import events
from cumulo.httpapi.integrations import substitute_stage_variables, within
from cumulo.httpapi.mapping import evaluate
from cumulo.net.jwks import JwksCache, JwksError
from cumulo.protocol.errors import AwsError
from cumulo.services.apigatewayv2.addresses import lambda_arn_of

if TYPE_CHECKING:
    from cumulo.httpapi.call import Call
    from cumulo.httpapi.views import RouteView
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.httpapi")
JWT_LEEWAY_S = 5
JWT_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
AUTHORIZER_TIMEOUT_S = 30.0  # as long as an integration may take
MAX_VERIFIED_TOKENS = 10_000


@dataclass
class Rejection(Exception):
    status: int
    message: str
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def unauthorized(reason: str, description: str | None = None) -> Rejection:
    headers = {}
    if description:
        headers["www-authenticate"] = f'Bearer scope="" error="invalid_token" error_description="{description}"'
    return Rejection(401, "Unauthorized", reason, headers)


def forbidden(reason: str, headers: dict[str, str] | None = None) -> Rejection:
    return Rejection(403, "Forbidden", reason, headers or {})


def internal(reason: str) -> Rejection:
    return Rejection(500, "Internal Server Error", reason)


def claim_text(value: Any) -> str:
    """A claim as payload format 2.0 carries it: every value a string, arrays as ``[a b]``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(claim_text(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _token_scopes(claims: dict[str, Any]) -> list[str]:
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [str(v) for v in value]
    return []


def _policy_pattern(resource: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(resource).replace(r"\*", ".*").replace(r"\?", ".") + "$")


def policy_allows(policy: Any, arn: str) -> bool:
    """Evaluate an IAM policy document for ``execute-api:Invoke`` on ``arn``: an explicit Deny wins."""
    if not isinstance(policy, dict):
        return False
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        actions = statement.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if not any(_policy_pattern(a.lower()).match("execute-api:invoke") for a in actions if isinstance(a, str)):
            continue
        resources = statement.get("Resource") or []
        resources = [resources] if isinstance(resources, str) else resources
        if not any(_policy_pattern(r).match(arn) for r in resources if isinstance(r, str)):
            continue
        effect = str(statement.get("Effect", "")).lower()
        if effect == "deny":
            return False
        if effect == "allow":
            allowed = True
    return allowed


class Authorizers:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.jwks = JwksCache()
        self._verified: dict[tuple[str, str], dict[str, Any]] = {}

    async def authorize(self, call: Call, route: RouteView) -> None:
        """Authorize ``call`` for ``route``; raises ``Rejection``. Records the outcome on the call."""
        kind = route.authorization_type
        if kind == "NONE":
            return
        started = time.perf_counter()
        try:
            if kind == "JWT" and route.authorizer is not None:
                await self._jwt(call, route, route.authorizer)
            elif kind == "CUSTOM" and route.authorizer is not None:
                await self._lambda(call, route.authorizer)
            elif kind == "AWS_IAM":
                self._iam(call)
            else:
                raise internal(f"route {route.route_key} has authorization type {kind} without an authorizer")
            call.authorizer_status = 200
        except Rejection as rejection:
            call.authorizer_status = rejection.status
            call.authorizer_error = rejection.message if not rejection.reason else rejection.reason
            if rejection.status >= 500:
                log.warning("HTTP API %s route %s: authorizer failed: %s", call.stage.api.api_id, route.route_key,
                            rejection.reason)
            raise
        finally:
            call.authorizer_latency = int((time.perf_counter() - started) * 1000)

    # ------------------------------------------------------------ AWS_IAM
    def _iam(self, call: Call) -> None:
        """SigV4 with the operator's keys or temporary credentials (a function's, STS AssumeRole's)."""
        try:
            identity = signed_caller(call.request, self.platform.settings.access_keys, self.platform.sessions,
                                     call.stage.api.account)
        except AwsError as error:
            raise forbidden(error.message) from None
        call.sigv4_identity = identity
        call.authorizer = {"iam": identity}
        call.authorizer_v1 = None

    # ------------------------------------------------------------ JWT
    async def _jwt(self, call: Call, route: RouteView, authorizer: dict[str, Any]) -> None:
        config = authorizer.get("JwtConfiguration") or {}
        issuer = config.get("Issuer") or ""
        audience = set(config.get("Audience") or [])
        source = (authorizer.get("IdentitySource") or ["$request.header.Authorization"])[0]
        token = evaluate(source, call)
        if not token:
            raise unauthorized("the request has no token")
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        claims = self._verified.get((issuer, token))
        if claims is None:
            claims = await self._verify_signature(issuer, token)
            if len(self._verified) >= MAX_VERIFIED_TOKENS:
                self._verified.clear()
            self._verified[(issuer, token)] = claims
        if claims.get("iss") != issuer:
            raise unauthorized("invalid issuer", "the token does not have a valid issuer")
        if "aud" in claims:
            aud = claims["aud"]
            values = [aud] if isinstance(aud, str) else (aud if isinstance(aud, list) else [])
            valid_audience = any(isinstance(a, str) and a in audience for a in values)
        else:
            valid_audience = claims.get("client_id") in audience
        if not valid_audience:
            raise unauthorized("invalid audience", "the token does not have a valid audience")
        now = time.time()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise unauthorized("no exp claim", "the token has no valid exp claim")
        if now > exp + JWT_LEEWAY_S:
            raise unauthorized("expired", "the token has expired")
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value > now + JWT_LEEWAY_S:
                raise unauthorized(f"{name} in the future", "the token is not valid yet")
        scopes = _token_scopes(claims)
        if route.scopes and not any(scope in scopes for scope in route.scopes):
            wanted = " ".join(route.scopes)
            raise forbidden("insufficient scope", {
                "www-authenticate": f'Bearer scope="{wanted}" error="insufficient_scope" '
                                    'error_description="the token does not have the required scope"'})
        call.jwt_claims = claims
        text_claims = {name: claim_text(value) for name, value in claims.items()}
        call.authorizer = {"jwt": {"claims": text_claims, "scopes": scopes or None}}
        call.authorizer_v1 = {"claims": text_claims, "scopes": scopes or None}
        call.authorizer_principal = claims.get("sub")

    async def _verify_signature(self, issuer: str, token: str) -> dict[str, Any]:
        import jwt  # imported on first use: PyJWT and cryptography cost start-up time

        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise unauthorized("malformed token", "the token is malformed") from None
        algorithm = header.get("alg")
        if algorithm not in JWT_ALGORITHMS:
            raise unauthorized("unsupported algorithm", f"signing method {algorithm} is invalid")
        try:
            key = await self.jwks.key(issuer, header.get("kid"))
        except JwksError as error:
            log.warning("JWT authorizer: %s", error)
            raise unauthorized("keys unavailable", "unable to fetch the issuer's signing keys") from None
        if key is None:
            raise unauthorized("unknown key", "the token's key id is not one of the issuer's signing keys")
        try:
            return jwt.decode(token, key.key, algorithms=[algorithm], options={
                "verify_signature": True, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                "verify_aud": False, "verify_iss": False, "require": []})
        except jwt.InvalidSignatureError:
            raise unauthorized("invalid signature", "the token signature is invalid") from None
        except jwt.PyJWTError as error:
            raise unauthorized("invalid token", f"the token is invalid: {error}") from None

    # ------------------------------------------------------------ Lambda (REQUEST) authorizers
    async def _lambda(self, call: Call, authorizer: dict[str, Any]) -> None:
        sources = authorizer.get("IdentitySource") or []
        values = [evaluate(source, call) for source in sources]
        if any(not value for value in values):
            raise unauthorized("identity source missing")
        version = authorizer.get("AuthorizerPayloadFormatVersion") or "1.0"
        simple = bool(authorizer.get("EnableSimpleResponses")) and version == "2.0"
        ttl = int(authorizer.get("AuthorizerResultTtlInSeconds") or 0)
        cache_key = (authorizer["AuthorizerId"], tuple(values))
        arn = self.route_arn(call)
        result: dict[str, Any] | None = None
        if ttl > 0:
            cached = call.stage.auth_cache.get(cache_key)
            if cached is not None and cached[0] > time.monotonic():
                result = cached[1]
        if result is None:
            result = await self._invoke_authorizer(call, authorizer, version, values, arn, simple)
            if ttl > 0:
                call.stage.auth_cache[cache_key] = (time.monotonic() + ttl, result)
        context = result.get("context") or {}
        if simple:
            if result.get("isAuthorized") is not True:
                raise forbidden("the authorizer denied the request")
        elif not policy_allows(result.get("policyDocument"), arn):
            raise forbidden("the authorizer's policy does not allow the request")
        principal = result.get("principalId")
        call.authorizer_principal = principal if isinstance(principal, str) else None
        call.authorizer = {"lambda": context}
        v1 = dict(context)
        if principal is not None:
            call.authorizer["principalId"] = principal
            v1["principalId"] = principal
        v1["integrationLatency"] = call.elapsed_ms
        call.authorizer_v1 = v1

    def route_arn(self, call: Call) -> str:
        api = call.stage.api
        return f"arn:aws:execute-api:{api.region}:{api.account}:{api.api_id}/{call.stage.name}/{call.method}{call.path}"

    async def _invoke_authorizer(self, call: Call, authorizer: dict[str, Any], version: str, values: list[str | None],
                                 arn: str, simple: bool) -> dict[str, Any]:
        function = lambda_arn_of(authorizer.get("AuthorizerUri") or "")
        if function is None:
            raise internal("the authorizer names no Lambda function")
        function = substitute_stage_variables(function, call.stage.variables)
        event = self.authorizer_event(call, version, [v or "" for v in values], arn)
        try:
            outcome = await within(self.platform.functions.invoke_function(
                function, json.dumps(event).encode(), account=call.stage.api.account,
                region=call.stage.api.region), AUTHORIZER_TIMEOUT_S)
        except TimeoutError:
            raise internal(f"the authorizer did not answer within {AUTHORIZER_TIMEOUT_S:.0f} seconds") from None
        except AwsError as error:
            log.warning("HTTP API %s: authorizer %s failed: %s", call.stage.api.api_id, function, error)
            raise internal(f"the authorizer failed: {error.code}") from None
        payload = outcome.get("Payload") or b""
        if outcome.get("FunctionError"):
            try:
                message = json.loads(payload).get("errorMessage")
            except (ValueError, AttributeError):
                message = None
            if message == "Unauthorized":
                raise unauthorized("the authorizer answered Unauthorized")
            raise internal(f"the authorizer function failed: {message}")
        try:
            result = json.loads(payload)
        except ValueError:
            raise internal("the authorizer's response is not JSON") from None
        if not isinstance(result, dict):
            raise internal("the authorizer's response is not a JSON object")
        if simple and not isinstance(result.get("isAuthorized"), bool):
            raise internal("the authorizer's simple response has no boolean isAuthorized")
        if not simple and not isinstance(result.get("policyDocument"), dict):
            raise internal("the authorizer's response has no policyDocument")
        if result.get("context") is not None and not isinstance(result["context"], dict):
            raise internal("the authorizer's context must be an object")
        return result

    @staticmethod
    def authorizer_event(call: Call, version: str, values: list[str], arn: str) -> dict[str, Any]:
        if version == "2.0":
            event = events.event_v2(call)
            for name in ("body", "isBase64Encoded"):
                event.pop(name, None)
            result = {"version": "2.0", "type": "REQUEST", "routeArn": arn, "identitySource": values}
            result.update({k: v for k, v in event.items() if k != "version"})
            result["requestContext"].pop("authorizer", None)
            return result
        event = events.event_v1(call)
        for name in ("body", "isBase64Encoded", "version"):
            event.pop(name, None)
        event["requestContext"].pop("authorizer", None)
        joined = ",".join(values)
        return {"version": "1.0", "type": "REQUEST", "methodArn": arn, "identitySource": joined,
                "authorizationToken": joined, **event}
