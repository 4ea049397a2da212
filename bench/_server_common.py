"""Shared set-up for the benchmarks that drive a real ``cumulo serve``: a signed-looking
Authorization header for raw HTTP requests, and Python functions created and waited for."""

from __future__ import annotations

from typing import Any

from tests.conftest import make_zip

#: any credentials are accepted on loopback; the header only names the service and region
AUTH = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, "
        "Signature=00")
ROLE = "arn:aws:iam::000000000000:role/bench"


def code_zip(source: str) -> bytes:
    """A deployment package with ``source`` as ``app.py``."""
    return make_zip({"app.py": source})


def create_python_function(client: Any, name: str, source: str, **properties: Any) -> None:
    """Create ``name`` (handler ``app.handler``, python3.11) and wait until it is Active."""
    client.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
                           Code={"ZipFile": code_zip(source)}, **properties)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})


def update_python_code(client: Any, name: str, source: str) -> None:
    """Publish new code for ``name`` and wait until the update has finished."""
    client.update_function_code(FunctionName=name, ZipFile=code_zip(source))
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.02})
