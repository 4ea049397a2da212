"""Authorization of HTTP API routes: JWT authorizers against a local OpenID issuer, Lambda
authorizers (simple and IAM policy responses, result caching) and AWS_IAM."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.integration.test_apigw_support import ECHO, call, deploy, http_api, lambda_uri

SIMPLE_AUTHORIZER = """
import json
CALLS = 0

def handler(event, context):
    global CALLS
    CALLS += 1
    token = (event.get("headers") or {}).get("authorization", "")
    if token == "boom":
        raise RuntimeError("broken authorizer")
    if token == "unauthorized":
        raise Exception("Unauthorized")
    seen = {k: event.get(k) for k in ("version", "type", "routeArn", "identitySource", "routeKey", "rawPath")}
    return {"isAuthorized": token.startswith("allow"),
            "context": {"calls": CALLS, "token": token, "seen": json.dumps(seen)}}
"""

POLICY_AUTHORIZER = """
CALLS = 0

def handler(event, context):
    global CALLS
    CALLS += 1
    token = event["authorizationToken"]
    base = event["methodArn"].split("/", 1)[0]
    effect = "Allow" if token.startswith("allow") else "Deny"
    return {"principalId": "user-" + token,
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [base + "/*/GET/allowed"]}]},
            "context": {"calls": CALLS, "methodArn": event["methodArn"], "type": event["type"],
                        "version": event["version"], "query": event["queryStringParameters"]["q"]}}
"""


class Issuer:
    """A local OpenID Connect issuer: discovery document and JWKS, with fetch counting."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/keys"}
                elif self.path == "/keys":
                    issuer.fetches += 1
                    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(issuer.rsa.public_key()))
                    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(issuer.ec.public_key()))
                    body = {"keys": [{**rsa_jwk, "kid": "rsa1", "use": "sig", "alg": "RS256"},
                                     {**ec_jwk, "kid": "ec1", "use": "sig", "alg": "ES256"}]}
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
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, key: str = "rsa", kid: str | None = None, **claims: object) -> str:
        now = int(time.time())
        payload = {"iss": self.url, "aud": "my-app", "sub": "user-1", "iat": now, "exp": now + 300, **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        if key == "ec":
            return jwt.encode(payload, self.ec, algorithm="ES256", headers={"kid": kid or "ec1"})
        signer = self.other if key == "other" else self.rsa
        return jwt.encode(payload, signer, algorithm="RS256", headers={"kid": kid or "rsa1"})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def gw(server):
    return server.client("apigatewayv2")


@pytest.fixture(scope="module")
def lam(server):
    return server.client("lambda", read_timeout=70)


@pytest.fixture(scope="module")
def echo(lam):
    return deploy(lam, ECHO)


@pytest.fixture(scope="module")
def issuer():
    instance = Issuer()
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def jwt_api(gw, echo, issuer):
    api = http_api(gw)
    api_id = api["ApiId"]
    authorizer = gw.create_authorizer(ApiId=api_id, Name="jwt", AuthorizerType="JWT",
                                      IdentitySource=["$request.header.Authorization"],
                                      JwtConfiguration={"Issuer": issuer.url, "Audience": ["my-app", "other-app"]})
    for key, version, scopes in (("GET /open", "2.0", []), ("GET /admin", "2.0", ["admin", "root"]),
                                 ("GET /v1", "1.0", [])):
        integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                            PayloadFormatVersion=version)
        gw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}",
                        AuthorizationType="JWT", AuthorizerId=authorizer["AuthorizerId"], AuthorizationScopes=scopes)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return api


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_valid_jwt_passes_claims_and_scopes(jwt_api, issuer):
    token = issuer.token(scope="read write", groups=["a", "b"], admin=True)
    reply = call(jwt_api["ApiEndpoint"] + "/open", headers=bearer(token))
    assert reply.status == 200, reply.body
    authorizer = reply.json()["requestContext"]["authorizer"]
    claims = authorizer["jwt"]["claims"]
    assert claims["sub"] == "user-1" and claims["aud"] == "my-app" and claims["iss"] == issuer.url
    assert claims["groups"] == "[a b]" and claims["admin"] == "true" and claims["exp"].isdigit()
    assert authorizer["jwt"]["scopes"] == ["read", "write"]
    # the token alone, without the Bearer prefix, is accepted too
    assert call(jwt_api["ApiEndpoint"] + "/open", headers={"Authorization": token}).status == 200


def test_jwt_payload_v1_and_es256(jwt_api, issuer):
    reply = call(jwt_api["ApiEndpoint"] + "/v1", headers=bearer(issuer.token(key="ec", scp=["s1"])))
    assert reply.status == 200, reply.body
    authorizer = reply.json()["requestContext"]["authorizer"]
    assert authorizer["claims"]["sub"] == "user-1" and authorizer["scopes"] == ["s1"]


@pytest.mark.parametrize(("claims", "key", "description"), [
    ({"exp": int(time.time()) - 60}, "rsa", "the token has expired"),
    ({"aud": "someone-else"}, "rsa", "the token does not have a valid audience"),
    ({"iss": "https://impostor.example"}, "rsa", "the token does not have a valid issuer"),
    ({}, "other", "the token signature is invalid"),
    ({"nbf": int(time.time()) + 600}, "rsa", "the token is not valid yet"),
])
def test_invalid_jwts_are_401_with_the_reason(jwt_api, issuer, claims, key, description):
    reply = call(jwt_api["ApiEndpoint"] + "/open", headers=bearer(issuer.token(key=key, **claims)))
    assert (reply.status, reply.json()) == (401, {"message": "Unauthorized"})
    assert reply.header("www-authenticate") == (
        f'Bearer scope="" error="invalid_token" error_description="{description}"')


def test_missing_or_garbage_tokens_are_401(jwt_api):
    reply = call(jwt_api["ApiEndpoint"] + "/open")
    assert (reply.status, reply.json()) == (401, {"message": "Unauthorized"})
    garbage = call(jwt_api["ApiEndpoint"] + "/open", headers=bearer("not.a.jwt"))
    assert garbage.status == 401


def test_client_id_is_checked_when_there_is_no_aud(jwt_api, issuer):
    assert call(jwt_api["ApiEndpoint"] + "/open", headers=bearer(issuer.token(aud=None, client_id="other-app"))
                ).status == 200
    assert call(jwt_api["ApiEndpoint"] + "/open", headers=bearer(issuer.token(aud=None, client_id="nope"))
                ).status == 401


def test_route_scopes(jwt_api, issuer):
    reply = call(jwt_api["ApiEndpoint"] + "/admin", headers=bearer(issuer.token(scope="read")))
    assert (reply.status, reply.json()) == (403, {"message": "Forbidden"})
    assert 'error="insufficient_scope"' in reply.header("www-authenticate")
    assert call(jwt_api["ApiEndpoint"] + "/admin", headers=bearer(issuer.token(scope="read root"))).status == 200
    assert call(jwt_api["ApiEndpoint"] + "/admin", headers=bearer(issuer.token(scp=["admin"]))).status == 200


def test_jwks_is_fetched_once_and_cached(jwt_api, issuer):
    call(jwt_api["ApiEndpoint"] + "/open", headers=bearer(issuer.token()))
    before = issuer.fetches
    for index in range(5):
        assert call(jwt_api["ApiEndpoint"] + "/open", headers=bearer(issuer.token(n=index))).status == 200
    assert issuer.fetches == before


def test_jwt_from_the_query_string(gw, echo, issuer):
    api = http_api(gw)
    authorizer = gw.create_authorizer(ApiId=api["ApiId"], Name="q", AuthorizerType="JWT",
                                      IdentitySource=["$request.querystring.token"],
                                      JwtConfiguration={"Issuer": issuer.url, "Audience": ["my-app"]})
    integration = gw.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                        PayloadFormatVersion="2.0")
    gw.create_route(ApiId=api["ApiId"], RouteKey="GET /q", Target=f"integrations/{integration['IntegrationId']}",
                    AuthorizationType="JWT", AuthorizerId=authorizer["AuthorizerId"])
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    assert call(api["ApiEndpoint"] + "/q?token=" + issuer.token()).status == 200
    assert call(api["ApiEndpoint"] + "/q").status == 401


@pytest.fixture(scope="module")
def simple_api(gw, lam, echo):
    function = deploy(lam, SIMPLE_AUTHORIZER)
    api = http_api(gw)
    authorizer = gw.create_authorizer(
        ApiId=api["ApiId"], Name="simple", AuthorizerType="REQUEST", AuthorizerUri=lambda_uri(function),
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True, AuthorizerResultTtlInSeconds=300,
        IdentitySource=["$request.header.Authorization"])
    integration = gw.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                        PayloadFormatVersion="2.0")
    gw.create_route(ApiId=api["ApiId"], RouteKey="ANY /{proxy+}", Target=f"integrations/{integration['IntegrationId']}",
                    AuthorizationType="CUSTOM", AuthorizerId=authorizer["AuthorizerId"])
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    return api


def test_lambda_authorizer_simple_response_context_and_event(simple_api):
    reply = call(simple_api["ApiEndpoint"] + "/things/1", headers={"Authorization": "allow-event"})
    assert reply.status == 200, reply.body
    context = reply.json()["requestContext"]["authorizer"]["lambda"]
    assert context["token"] == "allow-event"
    seen = json.loads(context["seen"])
    assert seen["version"] == "2.0" and seen["type"] == "REQUEST" and seen["identitySource"] == ["allow-event"]
    assert seen["routeKey"] == "ANY /{proxy+}" and seen["rawPath"] == "/things/1"
    assert seen["routeArn"] == f"arn:aws:execute-api:us-east-1:000000000000:{simple_api['ApiId']}/$default/GET/things/1"


def test_lambda_authorizer_denies_and_requires_identity(simple_api):
    denied = call(simple_api["ApiEndpoint"] + "/x", headers={"Authorization": "deny"})
    assert (denied.status, denied.json()) == (403, {"message": "Forbidden"})
    missing = call(simple_api["ApiEndpoint"] + "/x")
    assert (missing.status, missing.json()) == (401, {"message": "Unauthorized"})
    broken = call(simple_api["ApiEndpoint"] + "/x", headers={"Authorization": "boom"})
    assert (broken.status, broken.json()) == (500, {"message": "Internal Server Error"})
    refused = call(simple_api["ApiEndpoint"] + "/x", headers={"Authorization": "unauthorized"})
    assert (refused.status, refused.json()) == (401, {"message": "Unauthorized"})


def test_lambda_authorizer_results_are_cached_per_identity(gw, simple_api):
    first = call(simple_api["ApiEndpoint"] + "/a", headers={"Authorization": "allow-cache"}).json()
    calls = first["requestContext"]["authorizer"]["lambda"]["calls"]
    for path in ("/b", "/c/d"):
        again = call(simple_api["ApiEndpoint"] + path, headers={"Authorization": "allow-cache"}).json()
        assert again["requestContext"]["authorizer"]["lambda"]["calls"] == calls  # answered from the cache
    other = call(simple_api["ApiEndpoint"] + "/a", headers={"Authorization": "allow-other"}).json()
    assert other["requestContext"]["authorizer"]["lambda"]["calls"] > calls
    gw.reset_authorizers_cache(ApiId=simple_api["ApiId"], StageName="$default")
    fresh = call(simple_api["ApiEndpoint"] + "/a", headers={"Authorization": "allow-cache"}).json()
    assert fresh["requestContext"]["authorizer"]["lambda"]["calls"] > calls


def test_lambda_authorizer_iam_policy_v1_with_cache(gw, lam, echo):
    function = deploy(lam, POLICY_AUTHORIZER)
    api = http_api(gw)
    api_id = api["ApiId"]
    authorizer = gw.create_authorizer(
        ApiId=api_id, Name="policy", AuthorizerType="REQUEST", AuthorizerUri=lambda_uri(function),
        AuthorizerPayloadFormatVersion="1.0", AuthorizerResultTtlInSeconds=60,
        IdentitySource=["$request.header.Authorization", "$request.querystring.q"])
    assert authorizer["EnableSimpleResponses"] is False
    for key in ("GET /allowed", "GET /other"):
        integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                            PayloadFormatVersion="1.0")
        gw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}",
                        AuthorizationType="CUSTOM", AuthorizerId=authorizer["AuthorizerId"])
    gw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    ok = call(api["ApiEndpoint"] + "/prod/allowed?q=1", headers={"Authorization": "allow"})
    assert ok.status == 200, ok.body
    context = ok.json()["requestContext"]["authorizer"]
    assert context["principalId"] == "user-allow,1" and context["type"] == "REQUEST" and context["version"] == "1.0"
    assert context["methodArn"] == f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/prod/GET/allowed"
    assert context["query"] == "1" and isinstance(context["integrationLatency"], int)
    # the cached policy is evaluated again for another route: it only allows /allowed
    other = call(api["ApiEndpoint"] + "/prod/other?q=1", headers={"Authorization": "allow"})
    assert (other.status, other.json()) == (403, {"message": "Forbidden"})
    again = call(api["ApiEndpoint"] + "/prod/allowed?q=1", headers={"Authorization": "allow"})
    assert again.json()["requestContext"]["authorizer"]["calls"] == context["calls"]
    denied = call(api["ApiEndpoint"] + "/prod/allowed?q=1", headers={"Authorization": "deny"})
    assert denied.status == 403
    missing_query = call(api["ApiEndpoint"] + "/prod/allowed", headers={"Authorization": "allow"})
    assert missing_query.status == 401


def test_aws_iam_routes_check_sigv4(server, gw, echo):
    api = http_api(gw)
    integration = gw.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                        PayloadFormatVersion="2.0")
    gw.create_route(ApiId=api["ApiId"], RouteKey="GET /iam", Target=f"integrations/{integration['IntegrationId']}",
                    AuthorizationType="AWS_IAM")
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    url = api["ApiEndpoint"] + "/iam"

    def signed(secret: str, key: str = "test", token: str | None = None) -> dict[str, str]:
        request = AWSRequest(method="GET", url=url, headers={"x-amz-date": dt.datetime.now(dt.UTC).strftime(
            "%Y%m%dT%H%M%SZ")})
        SigV4Auth(Credentials(key, secret, token), "execute-api", "us-east-1").add_auth(request)
        return {k: v for k, v in request.headers.items() if k.lower() != "host"}

    reply = call(url, headers=signed("test"))
    assert reply.status == 200, reply.body
    iam = reply.json()["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == "test" and iam["accountId"] == "000000000000"
    assert call(url).status == 403
    assert call(url, headers=signed("wrong")).json() == {"message": "Forbidden"}
    # Temporary credentials (a function's own, or STS AssumeRole's) sign too, token included.
    role = "arn:aws:iam::000000000000:role/api-caller"
    credentials = server.client("sts").assume_role(RoleArn=role, RoleSessionName="caller")["Credentials"]
    session = signed(credentials["SecretAccessKey"], credentials["AccessKeyId"], credentials["SessionToken"])
    as_role = call(url, headers=session)
    assert as_role.status == 200, as_role.body
    assert as_role.json()["requestContext"]["authorizer"]["iam"]["userArn"] == (
        "arn:aws:sts::000000000000:assumed-role/api-caller/caller")
    without_token = {k: v for k, v in session.items() if k.lower() != "x-amz-security-token"}
    assert call(url, headers=without_token).status == 403
