"""Which Lambda runtimes this host can run, and with what.

* ``python3.X``: a host interpreter named ``python3.X`` on PATH or in pyenv (3.9 and newer),
  running Cumulo's Python runtime in a process forked from that interpreter's zygote.
* ``nodejsN.x`` (any N): the host's ``node``, whatever its version, running Cumulo's Node
  runtime (``node/index.mjs``).  AWS pins a major version per runtime id; here every
  ``nodejs*.x`` id maps to the one host node, and :func:`supported_runtimes` says which.
* ``provided``, ``provided.al2``, ``provided.al2023``: the function's own executable
  ``bootstrap`` in the code root, run on the host OS.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .spec import UnsupportedRuntimeError

PROVIDED = ("provided", "provided.al2", "provided.al2023")
MIN_PYTHON = (3, 9)  # the oldest AWS still runs; current boto3 needs it too
_PY = re.compile(r"^python3\.(\d+)$")
_NODE = re.compile(r"^nodejs(\d+)\.x$")
NODE_RUNTIME_DIR = Path(__file__).parent / "node"


@dataclass(frozen=True)
class RuntimePlan:
    kind: str  # "python" | "node" | "provided"
    runtime: str
    executable: str  # interpreter path; node path; "" for provided
    execution_env: str | None  # AWS_EXECUTION_ENV


def _version_key(path: str) -> tuple[int, int]:
    m = re.search(r"python3\.(\d+)$", path)
    return (3, int(m.group(1))) if m else (0, 0)


@functools.lru_cache(maxsize=1)
def python_interpreters() -> dict[str, str]:
    """``{"python3.11": "/path/to/python3.11", ...}`` -- first found wins, the platform's own first."""
    found: dict[str, str] = {}
    own = "python{}.{}".format(*sys.version_info[:2])
    found[own] = sys.executable
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not d.endswith("shims")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    try:
        dirs += sorted((str(p / "bin") for p in (pyenv_root / "versions").iterdir()), reverse=True)
    except OSError:
        pass
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            m = _PY.match(name)
            if not m or name in found or (3, int(m.group(1))) < MIN_PYTHON:
                continue
            path = os.path.join(d, name)
            if os.access(path, os.X_OK) and os.path.isfile(path):
                found[name] = path
    return dict(sorted(found.items(), key=lambda kv: _version_key(kv[0])))


@functools.lru_cache(maxsize=1)
def node_executable() -> tuple[str, str] | None:
    """(path, version) of the host node, or None."""
    path = shutil.which("node")
    if not path:
        return None
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
        version = done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return path, version


def supported_runtimes() -> dict[str, str]:
    """Runtime id -> what runs it on this host."""
    out = {name: path for name, path in python_interpreters().items()}
    node = node_executable()
    if node:
        major = int(node[1].lstrip("v").split(".")[0])
        for n in sorted({18, 20, 22, 24, major}):
            out[f"nodejs{n}.x"] = f"{node[0]} ({node[1]}; every nodejs*.x maps to the host node)"
    for name in PROVIDED:
        out[name] = "executable 'bootstrap' in the code root, run on the host"
    return out


def install_hint(runtime: str) -> str | None:
    """None if ``runtime`` runs here, else what to install (for CreateFunction's error message)."""
    try:
        plan(runtime)
        return None
    except UnsupportedRuntimeError as e:
        return str(e)


def plan(runtime: str) -> RuntimePlan:
    """How to run ``runtime`` here; raises UnsupportedRuntimeError with an install hint."""
    m = _PY.match(runtime)
    if m:
        path = python_interpreters().get(runtime)
        if not path:
            minor = m.group(1)
            raise UnsupportedRuntimeError(
                f"The runtime {runtime} needs a Python 3.{minor} interpreter named python3.{minor} on PATH "
                f"or in pyenv (for example `pyenv install 3.{minor}` or your OS package python3.{minor}).")
        return RuntimePlan("python", runtime, path, "AWS_Lambda_" + runtime)
    if _NODE.match(runtime):
        node = node_executable()
        if not node:
            raise UnsupportedRuntimeError(
                f"The runtime {runtime} needs Node.js: install it so that `node` is on PATH.")
        return RuntimePlan("node", runtime, node[0], "AWS_Lambda_" + runtime)
    if runtime in PROVIDED:
        return RuntimePlan("provided", runtime, "", None)
    raise UnsupportedRuntimeError("Unknown runtime {!r}. Supported here: {}".format(runtime, ", ".join(
        supported_runtimes())))
