"""Lambda authorizers of REST APIs (TOKEN and REQUEST), with their result cache.

TOKEN: the token comes from the ``identitySource`` header; a missing token, or one that fails
``identityValidationExpression``, is 401 without calling the function. REQUEST: every identity
source (headers, query strings, stage variables, context) must be present, else 401. The
function's policy is evaluated against the method ARN (its ``context`` reaches the integration
with every value as a string; a nested value fails the request with 500): an Allow of a matching ``execute-api:Invoke``
resource lets the request through, an explicit Deny or no Allow is 403, a failing function or a
malformed answer is 500. Results are cached per stage by identity for
``authorizerResultTtlInSeconds`` (300 by default; 0 turns the cache off), as API Gateway does.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from typing import TYPE_CHECKING, Any

from cumulo.gateway.auth import read_signature, verify
from cumulo.gateway.session_auth import SigningSecrets, check_session
from cumulo.protocol.errors import AwsError
from cumulo.restapi.call import RestCall
from cumulo.restapi.integrations import LAMBDA_URI, stage_substitute

if TYPE_CHECKING:
    from cumulo.platform import Platform


class Rejection(Exception):
    def __init__(self, status: int, message: str, response_type: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.response_type = response_type


def unauthorized() -> Rejection:
    return Rejection(401, "Unauthorized", "UNAUTHORIZED")


def identity_value(source: str, call: RestCall) -> str | None:
    source = source.strip()
    if source.startswith("method.request.header."):
        return call.header(source[len("method.request.header."):])
    if source.startswith("method.request.querystring."):
        values = call.query_lists().get(source[len("method.request.querystring."):])
        return values[-1] if values else None
    if source.startswith("stageVariables."):
        return call.stage.variables.get(source[len("stageVariables."):])
    if source.startswith("context."):
        value = call.request_context().get(source[len("context."):])
        return None if value is None else str(value)
    return None


def allows(policy: Any, method_arn: str) -> bool:
    """Whether an IAM policy document allows ``execute-api:Invoke`` on ``method_arn`` (a Deny wins)."""
    allowed = False
    statements = (policy or {}).get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action") or []
        actions = actions if isinstance(actions, list) else [actions]
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) or a == "*" for a in actions):
            continue
        resources = statement.get("Resource") or []
        resources = resources if isinstance(resources, list) else [resources]
        if not any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


class Authorizers:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def iam(self, call: RestCall) -> None:
        """``AWS_IAM`` methods: SigV4 with the operator's keys or temporary credentials (a function's,
        STS AssumeRole's); unsigned is 403 ``Missing Authentication Token``, a bad signature 403."""
        sessions = self.platform.sessions
        info = None
        try:
            info = read_signature(call.request)
            if info is None:
                raise Rejection(403, "Missing Authentication Token", "MISSING_AUTHENTICATION_TOKEN")
            verify(call.request, info, SigningSecrets(self.platform.settings.access_keys, sessions), "rest-json")
            session = sessions.find(info.access_key)
            if session is not None:
                check_session(call.request, session, "rest-json")
        except AwsError as error:
            raise Rejection(403, error.message, "INVALID_SIGNATURE") from None
        account = call.stage.account
        user_arn, user_id = (session.arn, session.user_id) if session else (f"arn:aws:iam::{account}:root", account)
        call.iam_identity = {"accessKey": info.access_key, "accountId": account, "caller": user_id,
                             "user": user_id, "userArn": user_arn}

    async def authorize(self, call: RestCall, authorizer: dict[str, Any]) -> None:
        """Let the call through (setting ``call.authorizer``) or raise ``Rejection``."""
        kind = authorizer.get("type")
        if kind == "TOKEN":
            source = authorizer.get("identitySource") or "method.request.header.Authorization"
            token = identity_value(source, call)
            if not token:
                raise unauthorized()
            expression = authorizer.get("identityValidationExpression")
            if expression and not re.fullmatch(expression, token):
                raise unauthorized()
            identity = [token]
            event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": token, "methodArn": call.method_arn}
        elif kind == "REQUEST":
            sources = [s for s in (authorizer.get("identitySource") or "").split(",") if s.strip()]
            identity = [identity_value(s, call) or "" for s in sources]
            if any(not value for value in identity):
                raise unauthorized()
            event = {"type": "REQUEST", "methodArn": call.method_arn, **call.proxy_event()}
            event.pop("body", None)
            event.pop("isBase64Encoded", None)
        else:
            raise Rejection(500, "Internal server error", "AUTHORIZER_CONFIGURATION_ERROR")
        ttl = authorizer.get("authorizerResultTtlInSeconds", 300) if identity else 0
        key = (authorizer["id"], "\x00".join(identity))
        cached = call.stage.auth_cache.get(key) if ttl else None
        if cached is not None and cached[0] > time.monotonic():
            result = cached[1]
        else:
            result = await self._invoke(call, authorizer, event)
            if ttl:
                call.stage.auth_cache[key] = (time.monotonic() + ttl, result)
        if not allows(result.get("policyDocument"), call.method_arn):
            raise Rejection(403, "User is not authorized to access this resource", "ACCESS_DENIED")
        context = {}
        for key, value in (result.get("context") or {}).items():
            if isinstance(value, dict | list):  # only flat values are allowed; AWS fails the request
                raise Rejection(500, "Internal server error", "AUTHORIZER_CONFIGURATION_ERROR")
            # the proxy event carries every context value as a string
            context[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        call.authorizer = {**context, "principalId": result.get("principalId"),
                           "integrationLatency": call.integration_latency or 0}
        if result.get("usageIdentifierKey"):
            call.usage_key = str(result["usageIdentifierKey"])

    async def _invoke(self, call: RestCall, authorizer: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        uri = stage_substitute(authorizer.get("authorizerUri") or "", call.stage.variables)
        found = LAMBDA_URI.match(uri)
        function = found.group("arn") if found else uri
        try:
            result = await self.platform.functions.invoke_function(
                function, json.dumps(event).encode(), account=call.stage.account, region=call.stage.region)
        except AwsError as error:
            raise Rejection(500, f"Authorizer error: {error.code}", "AUTHORIZER_CONFIGURATION_ERROR") from None
        payload = result.get("Payload") or b""
        if result.get("FunctionError"):
            try:
                message = (json.loads(payload) or {}).get("errorMessage")
            except (ValueError, AttributeError):
                message = None
            if message == "Unauthorized":  # the documented way for a function to answer 401
                raise unauthorized()
            raise Rejection(500, "Authorizer error", "AUTHORIZER_FAILURE")
        try:
            answer = json.loads(payload)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "policyDocument" not in answer:
            raise Rejection(500, "Authorizer error", "AUTHORIZER_CONFIGURATION_ERROR")
        return answer
