"""The AWS Parameters and Secrets Lambda Extension, as an external extension inside the environment.

Shipped in the built-in layer ``AWS-Parameters-and-Secrets-Lambda-Extension``
(``cumulo.services.lambda_.builtin_layers``) and started by the agent like any extension in
``/opt/extensions``. It serves AWS's local HTTP interface on 127.0.0.1 (port
``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT``, 2773 by default):

* ``GET /secretsmanager/get?secretId=...[&versionId=...][&versionStage=...]``
* ``GET /systemsmanager/parameters/get?name=...[&version=...|&label=...][&withDecryption=true]``

Requests must carry ``X-Aws-Parameters-Secrets-Token`` equal to the function's
``AWS_SESSION_TOKEN`` (401 otherwise). Answers come from the Cumulo endpoint
(``AWS_ENDPOINT_URL``), signed with the function's own credentials (SigV4), so the function can
read nothing it could not read with the SDK; they are cached for ``SECRETS_MANAGER_TTL`` /
``SSM_PARAMETER_STORE_TTL`` seconds (300 by default, 0 or
``PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED=false`` turns caching off).

Standard library only: it runs under any function's runtime.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.server
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

NAME = "AWSParametersAndSecretsLambdaExtension"
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signed_call(service: str, target: str, body: dict) -> tuple[int, bytes]:
    """POST one JSON-protocol operation to the endpoint, signed with the environment's credentials."""
    endpoint = os.environ["AWS_ENDPOINT_URL"].rstrip("/") + "/"
    region = os.environ.get("AWS_REGION", "us-east-1")
    payload = json.dumps(body).encode()
    host = urllib.parse.urlsplit(endpoint).netloc
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (any python3 runs this)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {"content-type": "application/x-amz-json-1.1", "host": host, "x-amz-date": stamp,
               "x-amz-target": target}
    token = os.environ.get("AWS_SESSION_TOKEN")
    if token:
        headers["x-amz-security-token"] = token
    names = sorted(headers)
    canonical = "\n".join(["POST", "/", "", *(f"{n}:{headers[n]}" for n in names), "", ";".join(names),
                           hashlib.sha256(payload).hexdigest()])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _sign(_sign(_sign(_sign(("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode(), day), region), service),
                "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={signature}")
    request = urllib.request.Request(endpoint, data=payload, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Cache:
    def __init__(self) -> None:
        self._items: dict[tuple, tuple[float, int, bytes]] = {}
        self._lock = threading.Lock()
        enabled = os.environ.get("PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED", "true").lower() != "false"
        self.ttl = {"secretsmanager": float(os.environ.get("SECRETS_MANAGER_TTL", "300")) if enabled else 0.0,
                    "ssm": float(os.environ.get("SSM_PARAMETER_STORE_TTL", "300")) if enabled else 0.0}

    def fetch(self, service: str, target: str, body: dict) -> tuple[int, bytes]:
        key = (target, json.dumps(body, sort_keys=True))
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1], hit[2]
        status, answer = signed_call(service, target, body)
        if status == 200 and self.ttl[service] > 0:
            with self._lock:
                self._items[key] = (time.monotonic() + self.ttl[service], status, answer)
        return status, answer


CACHE = Cache()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the function's log is the function's."""

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.headers.get(TOKEN_HEADER) != os.environ.get("AWS_SESSION_TOKEN"):
            self._answer(401, b'{"message": "Unauthorized"}')
            return
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        if url.path == "/secretsmanager/get" and query.get("secretId"):
            body = {"SecretId": query["secretId"]}
            for name, member in (("versionId", "VersionId"), ("versionStage", "VersionStage")):
                if query.get(name):
                    body[member] = query[name]
            self._answer(*CACHE.fetch("secretsmanager", "secretsmanager.GetSecretValue", body))
        elif url.path == "/systemsmanager/parameters/get" and query.get("name"):
            name = query["name"]
            selector = query.get("version") or query.get("label")
            body = {"Name": f"{name}:{selector}" if selector else name,
                    "WithDecryption": query.get("withDecryption", "false").lower() == "true"}
            self._answer(*CACHE.fetch("ssm", "AmazonSSM.GetParameter", body))
        else:
            self._answer(400, b'{"message": "Bad request: unknown path or missing parameter"}')


def lifecycle(api: str) -> None:
    """Register for SHUTDOWN and wait for it (the HTTP interface serves meanwhile)."""
    request = urllib.request.Request(f"http://{api}/2020-01-01/extension/register", method="POST",
                                     data=json.dumps({"events": ["SHUTDOWN"]}).encode(),
                                     headers={"Lambda-Extension-Name": NAME})
    with urllib.request.urlopen(request) as response:
        extension_id = response.headers["Lambda-Extension-Identifier"]
    while True:
        request = urllib.request.Request(f"http://{api}/2020-01-01/extension/event/next",
                                         headers={"Lambda-Extension-Identifier": extension_id})
        with urllib.request.urlopen(request) as response:
            if json.loads(response.read()).get("eventType") == "SHUTDOWN":
                return


def main() -> None:
    port = int(os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773"))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OSError as error:  # without a private network (isolation off) another environment may hold it
        print(f"{NAME}: cannot serve on 127.0.0.1:{port}: {error}", flush=True)
    else:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    lifecycle(os.environ["AWS_LAMBDA_RUNTIME_API"])


if __name__ == "__main__":
    main()
