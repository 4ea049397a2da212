"""The Python examples of docs/http-apis.md run against a real server."""

from __future__ import annotations

import contextlib
import io
import re
import uuid

from tests.server import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "http-apis.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


def test_quick_start_runs_as_written(server):
    source = blocks("python")[0].replace("http://127.0.0.1:4566", server.url)
    source = source.replace('"hello"', f'"hello-{uuid.uuid4().hex[:6]}"')
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(source, str(DOC), "exec"), {})
    lines = output.getvalue().splitlines()
    assert lines[0].startswith(f"{server.url}/_api/")
    assert lines[1] == "{'message': 'hello', 'path': '/some/path'}"


def test_later_examples_run_against_the_quick_start_api(server):
    namespace: dict = {}
    setup = blocks("python")[0].replace("http://127.0.0.1:4566", server.url)
    setup = setup.replace('"hello"', f'"hello-{uuid.uuid4().hex[:6]}"')
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(setup, str(DOC), "exec"), namespace)
    namespace["api_id"] = namespace["api"]["ApiId"]
    namespace["integration_id"] = namespace["apigw"].get_integrations(ApiId=namespace["api_id"])["Items"][0][
        "IntegrationId"]
    for source in blocks("python")[1:]:
        exec(compile(source, str(DOC), "exec"), namespace)
    routes = {r["RouteKey"] for r in namespace["apigw"].get_routes(ApiId=namespace["api_id"])["Items"]}
    assert {"GET /pets/{id}", "POST /orders"} <= routes
