"""Which Lambda runtimes this host can run, and what to install for the others.

CreateFunction rejects a runtime the host cannot run (instead of failing at invoke time),
with a message naming what to install.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from pathlib import Path

# Runtimes AWS no longer accepts for new functions, with the successor AWS recommends.
DEPRECATED = {
    "python2.7": "python3.12", "python3.6": "python3.12", "python3.7": "python3.12",
    "python3.8": "python3.12",
    "nodejs": "nodejs20.x", "nodejs4.3": "nodejs20.x", "nodejs4.3-edge": "nodejs20.x",
    "nodejs6.10": "nodejs20.x", "nodejs8.10": "nodejs20.x", "nodejs10.x": "nodejs20.x",
    "nodejs12.x": "nodejs20.x", "nodejs14.x": "nodejs20.x", "nodejs16.x": "nodejs20.x",
    "dotnetcore1.0": "dotnet8", "dotnetcore2.0": "dotnet8", "dotnetcore2.1": "dotnet8",
    "dotnetcore3.1": "dotnet8", "dotnet6": "dotnet8", "ruby2.5": "ruby3.3", "ruby2.7": "ruby3.3",
    "go1.x": "provided.al2023", "java8": "java21",
}
PROVIDED = ("provided", "provided.al2", "provided.al2023")


@functools.lru_cache(maxsize=64)
def python_interpreter(runtime: str) -> str | None:
    """Path of the host interpreter for ``python3.X``: on PATH, or a pyenv installation."""
    version = runtime.removeprefix("python")
    found = shutil.which(f"python{version}")
    if found:
        return found
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv_root.is_dir():
        for candidate in sorted(pyenv_root.glob(f"{version}.*"), reverse=True):
            binary = candidate / "bin" / f"python{version}"
            if binary.exists():
                return str(binary)
    return None


@functools.lru_cache(maxsize=8)
def node_binary() -> str | None:
    return shutil.which("node")


def unsupported_reason(runtime: str) -> str | None:
    """None when the host can run ``runtime``; otherwise the message for the caller."""
    if runtime in DEPRECATED:
        return (f"The runtime parameter of {runtime} is no longer supported for creating or updating "
                f"AWS Lambda functions. We recommend you use the new runtime ({DEPRECATED[runtime]}) "
                "while creating or updating functions.")
    if runtime in PROVIDED:
        return None
    if re.fullmatch(r"python3\.\d+", runtime):
        if python_interpreter(runtime):
            return None
        return (f"Runtime {runtime} needs a {runtime} interpreter on this host: install Python "
                f"{runtime.removeprefix('python')} (for example with pyenv or your package manager) "
                "so that it is on PATH, then retry.")
    if runtime.startswith("nodejs"):
        if node_binary():
            return None
        return f"Runtime {runtime} needs Node.js on this host: install node so that it is on PATH, then retry."
    return (f"Runtime {runtime} is not supported by Cumulo yet: use a python3.x, nodejs*.x or "
            "provided.al2023 runtime (a provided runtime runs any executable 'bootstrap').")
