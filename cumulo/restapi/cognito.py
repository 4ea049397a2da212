"""Cognito user pool authorizers of REST APIs: the token (from the identity source header,
``Authorization`` by default) must be a JWT signed by one of the authorizer's user pools.

A pool's issuer is ``{cognito_issuer}/{userPoolId}`` (the setting defaults to AWS's
``https://cognito-idp.{region}.amazonaws.com``; point it at a local issuer to test), and its
signing keys come from the issuer's OpenID configuration (``net/jwks``). As API Gateway does: a
method without authorization scopes takes ID tokens (``token_use: id``); a method with scopes takes
access tokens that carry one of them. Anything else (no token, bad signature, other issuer,
expired) is 401 ``Unauthorized``. The claims reach ``requestContext.authorizer.claims`` as strings.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from cumulo.net.jwks import JwksCache, JwksError
from cumulo.restapi.authorizers import Rejection, identity_value, unauthorized
from cumulo.restapi.call import RestCall

log = logging.getLogger("cumulo.restapi")
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
LEEWAY_S = 5.0


def _claim_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


class CognitoAuthorizers:
    def __init__(self, issuer_base: str) -> None:
        self.issuer_base = issuer_base.rstrip("/")
        self.jwks = JwksCache()

    def issuers(self, authorizer: dict[str, Any]) -> list[str]:
        found = []
        for arn in authorizer.get("providerARNs") or []:
            parts = str(arn).split(":")
            if len(parts) == 6 and parts[5].startswith("userpool/"):
                found.append(self.issuer_base.replace("{region}", parts[3]) + "/" + parts[5][len("userpool/"):])
        return found

    async def authorize(self, call: RestCall, authorizer: dict[str, Any], scopes: list[str]) -> None:
        token = identity_value(authorizer.get("identitySource") or "method.request.header.Authorization", call)
        if not token:
            raise unauthorized()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        claims = await self._verified(token, self.issuers(authorizer))
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or time.time() > exp + LEEWAY_S:
            raise unauthorized()
        if scopes:
            granted = str(claims.get("scope") or "").split()
            if claims.get("token_use") != "access" or not any(scope in granted for scope in scopes):
                raise unauthorized()
        elif claims.get("token_use") != "id":
            raise unauthorized()
        call.authorizer = {"claims": {name: _claim_text(value) for name, value in claims.items()}}

    async def _verified(self, token: str, issuers: list[str]) -> dict[str, Any]:
        import jwt  # imported on first use: PyJWT and cryptography cost start-up time

        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise unauthorized() from None
        issuer = unverified.get("iss")
        if issuer not in issuers or header.get("alg") not in ALGORITHMS:
            raise unauthorized()
        try:
            key = await self.jwks.key(issuer, header.get("kid"))
        except JwksError as error:
            log.warning("Cognito authorizer: %s", error)
            raise Rejection(500, "Internal server error", "AUTHORIZER_CONFIGURATION_ERROR") from None
        if key is None:
            raise unauthorized()
        try:
            return jwt.decode(token, key.key, algorithms=[header["alg"]], options={
                "verify_signature": True, "verify_exp": False, "verify_aud": False, "verify_iss": False})
        except jwt.PyJWTError:
            raise unauthorized() from None
