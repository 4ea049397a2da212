"""REST API behaviour that needs a server of its own: Cognito user pool authorizers against a local
issuer standing in for the pool (``cognito_issuer`` setting: ID tokens for methods without scopes,
access tokens with a scope for methods with scopes, 401 for everything else), and what survives a
``kill -9`` (deployed APIs, API keys, quota counts)."""

from __future__ import annotations

import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.test_apigw_support import call
from tests.integration.test_restapi import add_path, url
from tests.server import CumuloServer

POOL = "us-east-1_TestPool1"


class Pool:
    """A local stand-in for a user pool's issuer: OpenID configuration and signing keys."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pool = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == f"/{POOL}/.well-known/openid-configuration":
                    body = {"issuer": pool.issuer, "jwks_uri": pool.issuer + "/.well-known/jwks.json"}
                elif self.path == f"/{POOL}/.well-known/jwks.json":
                    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(pool.key.public_key()))
                    body = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = f"{self.base}/{POOL}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, use: str = "id", signer: object = None, **claims: object) -> str:
        now = int(time.time())
        payload = {"iss": self.issuer, "sub": "u-1", "token_use": use, "iat": now, "exp": now + 300,
                   "email": "ann@example.com", **claims}
        return jwt.encode(payload, signer or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def pool():
    instance = Pool()
    yield instance
    instance.server.shutdown()
    instance.server.server_close()


@pytest.fixture(scope="module")
def cognito_server(tmp_path_factory, pool):
    server = CumuloServer(tmp_path_factory.mktemp("cognito") / "data",
                          env={"CUMULO_COGNITO_ISSUER": pool.base}).start()
    yield server
    server.stop()


def test_cognito_user_pool_authorizer(cognito_server, pool):
    server = cognito_server
    apigw = server.client("apigateway")
    api_id = apigw.create_rest_api(name="cognito")["id"]
    authorizer = apigw.create_authorizer(
        restApiId=api_id, name="pool", type="COGNITO_USER_POOLS", identitySource="method.request.header.Authorization",
        providerARNs=[f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{POOL}"])
    for path, scopes in (("/profile", []), ("/orders", ["orders/read"])):
        resource = add_path(apigw, api_id, path)
        apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod="GET",
                         authorizationType="COGNITO_USER_POOLS", authorizerId=authorizer["id"],
                         **({"authorizationScopes": scopes} if scopes else {}))
        apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="GET", type="MOCK",
                              requestTemplates={"application/json": '{"statusCode": 200}'})
        apigw.put_integration_response(
            restApiId=api_id, resourceId=resource, httpMethod="GET", statusCode="200",
            responseTemplates={"application/json": '{"sub": "$context.authorizer.claims.sub", '
                                                   '"email": "$context.authorizer.claims.email"}'})
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    profile = url(server, api_id, "prod", "/profile")
    assert call(profile).status == 401
    ok = call(profile, headers={"Authorization": pool.token()})
    assert (ok.status, ok.json()) == (200, {"sub": "u-1", "email": "ann@example.com"})
    assert call(profile, headers={"Authorization": pool.token(signer=pool.stranger)}).status == 401
    assert call(profile, headers={"Authorization": pool.token(exp=int(time.time()) - 60)}).status == 401
    assert call(profile, headers={"Authorization": pool.token(iss="http://elsewhere/" + POOL)}).status == 401
    assert call(profile, headers={"Authorization": pool.token("access", scope="orders/read")}).status == 401
    orders = url(server, api_id, "prod", "/orders")
    assert call(orders, headers={"Authorization": pool.token("access", scope="orders/read")}).status == 200
    assert call(orders, headers={"Authorization": pool.token("access", scope="other")}).status == 401
    assert call(orders, headers={"Authorization": pool.token()}).status == 401


def test_apis_keys_and_quota_counts_survive_kill_9(cognito_server):
    server = cognito_server
    apigw = server.client("apigateway")
    api_id = apigw.create_rest_api(name="durable")["id"]
    resource = add_path(apigw, api_id, "/counted")
    apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod="GET", authorizationType="NONE",
                     apiKeyRequired=True)
    apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=resource, httpMethod="GET", statusCode="200")
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    key = apigw.create_api_key(name="durable", enabled=True)
    plan = apigw.create_usage_plan(name="durable", apiStages=[{"apiId": api_id, "stage": "prod"}],
                                   quota={"limit": 3, "period": "MONTH"})
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    target = url(server, api_id, "prod", "/counted")
    headers = {"x-api-key": key["value"]}
    assert [call(target, headers=headers).status for _ in range(2)] == [200, 200]
    server.stop(signal.SIGKILL)
    server.start()
    assert call(target, headers=headers).status == 200
    assert call(target, headers=headers).status == 429
