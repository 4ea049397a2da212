"""``cumulo build``: install each function's dependencies into a deployable artifact directory.

For every function whose code is a local directory, the directory is copied to
``.cumulo-build/<LogicalId>`` and its dependencies installed next to the code:
``requirements.txt`` with pip (``pip install -r requirements.txt -t DIR``), ``package.json``
with npm (``npm install --omit=dev``). Builds are cached by a hash of the source tree and the
manifest, so an unchanged function is not rebuilt. The built template,
``.cumulo-build/template.yaml``, points at the build directories and is what ``cumulo deploy``
uses when it is newer than the source template.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from cumulo.packaging.local_paths import local_references
from cumulo.packaging.package import IGNORED
from cumulo.template_loader import load_template

BUILD_DIR = ".cumulo-build"
FUNCTION_TYPES = {"AWS::Serverless::Function": "CodeUri", "AWS::Lambda::Function": "Code"}


class BuildError(Exception):
    """A dependency installation failed; the message carries the tool's output."""


def source_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if path.is_file() and not any(part in IGNORED for part in relative.parts):
            digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _install(source: Path, target: Path, runtime: str) -> None:
    if (source / "requirements.txt").is_file() and runtime.startswith("python"):
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "-r", str(source / "requirements.txt"), "-t", str(target)]
    elif (source / "package.json").is_file() and runtime.startswith("nodejs"):
        command = ["npm", "install", "--omit=dev", "--no-audit", "--no-fund", "--prefix", str(target)]
    else:
        return
    result = subprocess.run(command, capture_output=True, text=True, cwd=target)
    if result.returncode != 0:
        raise BuildError(f"{' '.join(command[:4])} failed for {source}:\n{result.stdout}{result.stderr}")


def build(template: Path, progress: Callable[[str], None] = print) -> Path:
    """Build every local function of ``template``; returns the built template's path."""
    body = load_template(template.read_text())
    base = template.parent.resolve()
    out = base / BUILD_DIR
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    built = copy.deepcopy(body)
    globals_function = (built.get("Globals") or {}).get("Function") or {}
    for logical_id, resource in (built.get("Resources") or {}).items():
        prop = FUNCTION_TYPES.get(resource.get("Type"))
        if prop is None:
            continue
        props = resource["Properties"] = resource.get("Properties") or {}  # `Properties:` may be empty
        code = props.get(prop, globals_function.get("CodeUri") if prop == "CodeUri" else None)
        if not isinstance(code, str) or code.startswith("s3://") or not (base / code).is_dir():
            continue
        source = (base / code).resolve()
        runtime = props.get("Runtime") or globals_function.get("Runtime") or ""
        manifest = next((source / m for m in ("requirements.txt", "package.json") if (source / m).is_file()), None)
        key = hashlib.sha256(f"{source_hash(source)}:{runtime}".encode()).hexdigest()[:24]
        target = cache / key
        if target.is_dir():
            progress(f"{logical_id}: up to date ({code})")
        else:
            staging = cache / f".{key}.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(source, staging, ignore=shutil.ignore_patterns(*IGNORED))
            if manifest is not None:
                progress(f"{logical_id}: installing {manifest.name} for {runtime}")
                _install(source, staging, runtime)
            staging.rename(target)
            progress(f"{logical_id}: built ({code})")
        props[prop] = str(target.relative_to(base))
    globals_function.pop("CodeUri", None)  # the built template's own Globals.Function (or a throwaway {})
    built_template = out / "template.yaml"
    # The built template lives in the build directory: local paths are rewritten relative to it.
    for reference in list(local_references(built)):
        reference.holder[reference.rule.name] = os.path.relpath(base / reference.path, out)
    built_template.write_text(yaml.safe_dump(_plain(built), sort_keys=False))
    return built_template


def _plain(value: Any) -> Any:
    """Intrinsics in long form (YAML short tags are not needed in a generated file)."""
    return json.loads(json.dumps(value))


def deployable_template(template: Path) -> Path:
    """The built template if it is newer than ``template``, else ``template`` itself."""
    built = template.parent / BUILD_DIR / "template.yaml"
    if built.is_file() and built.stat().st_mtime >= template.stat().st_mtime:
        return built
    return template
