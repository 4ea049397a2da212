"""Shared fixtures: a real Cumulo server per test session (per xdist worker) and boto3 clients."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterator

import pytest

from tests.server import CumuloServer


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    instance = CumuloServer(tmp_path_factory.mktemp("cumulo") / "data").start()
    yield instance
    instance.stop()


@pytest.fixture
def lambda_client(server: CumuloServer):
    return server.client("lambda")


@pytest.fixture
def logs_client(server: CumuloServer):
    return server.client("logs")


def make_zip(files: dict[str, str | bytes]) -> bytes:
    """A zip archive of ``files`` (name -> content), as a user would upload."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name.endswith("bootstrap") else 0o644) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def published_function_with_alias(client, source: str, prefix: str,
                                  role: str = "arn:aws:iam::000000000000:role/lambda-role") -> tuple[str, str]:
    """A new Python function (``app.handler``) with version 1 published and alias ``live`` on it:
    (name, version)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    client.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": source})})
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    version = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    return name, version
