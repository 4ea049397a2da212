"""The suite needs nothing beside the repository: a clone in an empty folder (no sibling folders,
no data outside it) runs part of the README's test command, with this checkout's virtual
environment, importing the clone's own code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import PROJECT_ROOT

# A small part of `python -m pytest` that fits CI's time: the conformance cases read from tests/data
# (once read from a sibling folder a clone does not have) and the project's hygiene checks.
SUBSET = ["tests/unit/patterns/test_conformance.py", "tests/unit/test_project.py"]


def test_a_fresh_clone_runs_the_tests_on_its_own(tmp_path: Path):
    git = shutil.which("git")
    if git is None or subprocess.run([git, "-C", str(PROJECT_ROOT), "rev-parse", "--git-dir"],
                                     capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    empty = tmp_path / "empty"
    empty.mkdir()
    clone = empty / "cumulo"
    subprocess.run([git, "clone", "--quiet", "--no-hardlinks", str(PROJECT_ROOT), str(clone)], check=True,
                   capture_output=True, timeout=120)
    assert [p.name for p in empty.iterdir()] == ["cumulo"]
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("PYTEST_", "CUMULO_")) and key != "PYTHONPATH"}
    environment["PYTHONPATH"] = str(clone)
    result = subprocess.run([sys.executable, "-m", "pytest", *SUBSET, "-q", "-x", "-n", "0", "-p", "no:cacheprovider"],
                            cwd=clone, env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-2000:]
    imported = subprocess.run([sys.executable, "-c", "import cumulo; print(cumulo.__file__)"], cwd=clone,
                              env=environment, capture_output=True, text=True, check=True)
    assert Path(imported.stdout.strip()).is_relative_to(clone)
