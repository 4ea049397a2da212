"""Resolving runtime ids to installations: exact, nearest substitute, missing; installs seen at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from cumulo.runtime import UnsupportedRuntimeError
from cumulo.runtime.discovery import installations
from cumulo.runtime.runtimes import plan, resolve


def fake_install(runtimes: Path, folder: str, executable: str) -> Path:
    """Install a stand-in the way the installer does: build under a temporary name, rename into place."""
    staging = runtimes / f".staging-{folder}"
    binary = staging / executable
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    staging.rename(runtimes / folder)
    return runtimes / folder / executable


def test_an_installed_runtime_is_used_exactly_without_restarting_discovery(tmp_path):
    runtimes = tmp_path / "runtimes"
    runtimes.mkdir()
    before = resolve("nodejs24.x", runtimes)
    if any(i.version[0] == 24 for i in installations("node", None)):
        pytest.skip("the host has node 24")
    assert before.status in ("substituted", "missing")
    node = fake_install(runtimes, "node-24.1.0", "bin/node")
    after = resolve("nodejs24.x", runtimes)
    assert after.status == "exact" and after.installation.path == str(node)
    assert after.installation.source == "cumulo"
    assert plan("nodejs24.x", runtimes, "strict").executable == str(node)


def test_a_missing_python_is_substituted_by_the_nearest_or_refused_when_strict(tmp_path):
    runtimes = tmp_path / "runtimes"
    runtimes.mkdir()
    if any(i.version[:2] == (3, 14) for i in installations("python", None)):
        pytest.skip("the host has Python 3.14")
    nearest = max(i.version[:2] for i in installations("python", None))
    resolution = resolve("python3.14", runtimes)
    assert resolution.status == "substituted" and resolution.installation.version[:2] == nearest
    assert "cumulo runtimes install python3.14" in resolution.note
    assert plan("python3.14", runtimes).runs_as == f"python3.{nearest[1]}"
    with pytest.raises(UnsupportedRuntimeError, match=r"cumulo runtimes install python3\.14"):
        plan("python3.14", runtimes, "strict")
    python = fake_install(runtimes, "python-3.14.0", "cpython-3.14.0-linux-x86_64-gnu/bin/python3.14")
    assert resolve("python3.14", runtimes).installation.path == str(python)


def test_ids_aws_does_not_offer_are_never_substituted():
    assert resolve("python3.99").status == "missing"
    assert resolve("nodejs99.x").status == "missing"
    assert resolve("java99").status == "missing"
    with pytest.raises(UnsupportedRuntimeError, match="dotnet8"):
        plan("dotnet8")
