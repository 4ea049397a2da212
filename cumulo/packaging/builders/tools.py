"""Finding and running the build tools a function's language needs, with errors that say how to get them."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

# What to do when a tool is missing: the one line the error ends with.
HOW_TO_GET = {
    "pip": "install pip for this Python (python3 -m ensurepip, or your OS package python3-pip)",
    "npm": "install Node.js, which ships npm (https://nodejs.org, or your OS package nodejs + npm)",
    "esbuild": "add it to the project (`npm install --save-dev esbuild` next to package.json) or put it on "
               "PATH (`npm install --global esbuild`)",
    "make": "install GNU make (your OS package make, or build-essential)",
    "javac": "install a JDK, not just a JRE (your OS package openjdk-21-jdk-headless, or https://adoptium.net)",
    "mvn": "install Apache Maven (your OS package maven, or https://maven.apache.org/download.cgi)",
    "gradle": "add the Gradle wrapper to the project (`gradle wrapper`) or install Gradle (https://gradle.org/install)",
    "go": "install Go (https://go.dev/dl/, or your OS package golang-go)",
    "cargo": "install Rust with rustup (https://rustup.rs)",
    "cargo-lambda": "install Cargo Lambda (`pip install cargo-lambda`, or `cargo install cargo-lambda`)",
}


class BuildError(Exception):
    """A build step failed; the message says which resource, which tool, and the tool's output."""


class MissingToolError(BuildError):
    """The build tool a resource needs is not installed: the message names it and how to get it."""

    def __init__(self, tool: str, needed_for: str, looked_in: str = "PATH") -> None:
        super().__init__(f"{needed_for} needs `{tool}`, which was not found in {looked_in}: {HOW_TO_GET[tool]}.")
        self.tool = tool


def find_tool(tool: str, needed_for: str, *, local_dirs: Sequence[Path] = ()) -> str:
    """The path of ``tool``: first in ``local_dirs`` (a project's own node_modules/.bin), then on PATH."""
    for directory in local_dirs:
        candidate = directory / tool
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(tool)
    if found is None:
        looked_in = ", ".join([*(str(d) for d in local_dirs), "PATH"])
        raise MissingToolError(tool, needed_for, looked_in)
    return found


def run(command: Sequence[str], *, cwd: Path, what: str, env: Mapping[str, str] | None = None) -> str:
    """Run a build command; its output is returned, or carried by the BuildError when it fails."""
    environment = {**os.environ, **(env or {})}
    try:
        result = subprocess.run(list(command), cwd=cwd, env=environment, capture_output=True, text=True)
    except FileNotFoundError as exc:  # found by find_tool, then gone: report it like a missing tool
        raise BuildError(f"{what}: {command[0]} could not be started ({exc})") from exc
    if result.returncode != 0:
        shown = " ".join(Path(command[0]).name if i == 0 else part for i, part in enumerate(command))
        raise BuildError(f"{what}: `{shown}` failed (exit {result.returncode}):\n"
                         f"{(result.stdout + result.stderr).strip()}")
    return result.stdout
