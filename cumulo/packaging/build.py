"""``cumulo build``: build every function (and every layer with a BuildMethod) as ``sam build`` does.

Output goes where SAM puts it: ``.aws-sam/build/<LogicalId>/`` next to the template holds each
artifact, and ``.aws-sam/build/template.yaml`` is the built template, whose code properties name
those folders (its other local paths are rewritten relative to it). How each resource is built is
decided by :mod:`cumulo.packaging.build_plan` and done by :mod:`cumulo.packaging.builders`.

Builds are incremental: each artifact is recorded with a hash of its source, its manifest and
everything that steers its build (``.aws-sam/cumulo-build.json``); an artifact whose hash is
unchanged is kept, and a build with nothing changed changes nothing. ``cumulo deploy`` uses the
built template while it is newer than the source template, and says which functions changed
since.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from cumulo.packaging.build_plan import FUNCTION_TYPES, cache_key, default_code_uris, plan
from cumulo.packaging.builders import BUILDERS
from cumulo.packaging.builders.target import METHODS, BuildTarget
from cumulo.packaging.builders.tools import BuildError, MissingToolError
from cumulo.packaging.local_paths import local_references
from cumulo.template_loader import load_template

__all__ = ["BUILD_DIR", "FUNCTION_TYPES", "BuildError", "BuildEvent", "MissingToolError", "build",
           "deployable_template"]

BUILD_DIR = ".aws-sam"  # SAM's folder; everything a build writes is under it
ARTIFACTS = "build"
STATE = "cumulo-build.json"


@dataclass(frozen=True)
class BuildEvent:
    """One step of a build, for progress output; ``str()`` gives the line to print."""

    logical_id: str
    state: Literal["building", "built", "cached"]
    method: str
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.state == "building":
            return f"{self.logical_id}: building ({self.method})"
        if self.state == "cached":
            return f"{self.logical_id}: up to date ({self.method})"
        return f"{self.logical_id}: built ({self.method}) in {self.seconds:.1f} s"


def build_paths(template: Path) -> tuple[Path, Path]:
    """(the artifacts folder, the built template) of a template."""
    out = template.parent.resolve() / BUILD_DIR / ARTIFACTS
    return out, out / "template.yaml"


def _load_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(state, indent=1, sort_keys=True))
    partial.replace(path)


Done = dict[str, tuple[Path, dict[str, str]]]  # cache key -> (artifact, environment) built in this run


def _label(target: BuildTarget) -> str:
    return f"{METHODS[target.method]}, {target.runtime}" if target.runtime else METHODS[target.method]


def _build_one(target: BuildTarget, key: str, out: Path, done: Done) -> dict[str, str]:
    """Build ``target`` into ``out/<LogicalId>`` (replaced only on success); returns its added environment."""
    staging = out / f".{target.logical_id}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    if key in done:  # the same code built the same way for another resource in this run
        shutil.copytree(done[key][0], staging, symlinks=True)
        environment = done[key][1]
    else:
        staging.mkdir(parents=True)
        with tempfile.TemporaryDirectory(prefix=f"cumulo-build-{target.logical_id}-") as scratch:
            try:
                environment = BUILDERS[target.method](target, staging, Path(scratch)).environment
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    artifact = out / target.logical_id
    shutil.rmtree(artifact, ignore_errors=True)
    staging.rename(artifact)
    done[key] = (artifact, environment)
    return environment


def _built_template(body: dict[str, Any], base: Path, out: Path, targets: list[BuildTarget],
                    state: dict[str, Any]) -> dict[str, Any]:
    built = copy.deepcopy(body)
    default_code_uris(built)
    for reference in list(local_references(built)):  # paths stay valid from the build folder
        reference.holder[reference.rule.name] = os.path.relpath(base / reference.path, out)
    resources = built["Resources"]
    for target in targets:
        props = resources[target.logical_id]["Properties"]
        props[target.code_property] = target.logical_id
        added = state[target.logical_id].get("environment") or {}
        if added:
            environment = props.setdefault("Environment", {})
            environment["Variables"] = {**(environment.get("Variables") or {}), **added}
    return built


def build(template: Path, progress: Callable[[BuildEvent], None] = print, force: bool = False) -> Path:
    """Build every buildable resource of ``template``; returns the built template's path."""
    body = load_template(template.read_text())
    base = template.parent.resolve()
    out, built_template = build_paths(template)
    out.mkdir(parents=True, exist_ok=True)
    state_file = base / BUILD_DIR / STATE
    previous = {} if force else _load_state(state_file)
    planned = copy.deepcopy(body)
    default_code_uris(planned)
    targets = plan(planned, base)
    state: dict[str, Any] = {}
    done: Done = {}
    for target in targets:
        key = cache_key(target)
        recorded = previous.get(target.logical_id)
        if isinstance(recorded, dict) and recorded.get("key") == key and (out / target.logical_id).is_dir():
            state[target.logical_id] = recorded
            done.setdefault(key, (out / target.logical_id, recorded.get("environment") or {}))
            progress(BuildEvent(target.logical_id, "cached", _label(target)))
            continue
        method = _label(target)
        progress(BuildEvent(target.logical_id, "building", method))
        started = time.perf_counter()
        environment = _build_one(target, key, out, done)
        state[target.logical_id] = {"key": key, "environment": environment}
        _save_state(state_file, {**previous, **state})
        progress(BuildEvent(target.logical_id, "built", method, time.perf_counter() - started))
    for stale in set(previous) - set(state):
        shutil.rmtree(out / stale, ignore_errors=True)
    if state != previous:
        _save_state(state_file, state)
    text = yaml.safe_dump(_plain(_built_template(body, base, out, targets, state)), sort_keys=False)
    if not built_template.is_file() or built_template.read_text() != text or \
            built_template.stat().st_mtime < template.stat().st_mtime:
        built_template.write_text(text)
    return built_template


def _plain(value: Any) -> Any:
    """Intrinsics in long form (YAML short tags are not needed in a generated file)."""
    return json.loads(json.dumps(value))


def changed_since_build(template: Path) -> list[str]:
    """The logical ids whose build would change now (new, edited, or no longer built); none when the
    build folder was not written by ``cumulo build`` (``sam build``'s, for example)."""
    state_file = template.parent.resolve() / BUILD_DIR / STATE
    if not state_file.is_file():
        return []
    body = load_template(template.read_text())
    default_code_uris(body)
    state = _load_state(state_file)
    targets = plan(body, template.parent.resolve())
    changed = [t.logical_id for t in targets if (state.get(t.logical_id) or {}).get("key") != cache_key(t)]
    return changed + sorted(set(state) - {t.logical_id for t in targets})


def deployable_template(template: Path, warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) \
        -> Path:
    """The built template if it is newer than ``template`` (with a warning naming what changed since the
    build), else ``template`` itself (with a warning when a build exists but is older)."""
    _, built = build_paths(template)
    if not built.is_file():
        return template
    if built.stat().st_mtime < template.stat().st_mtime:
        warn(f"warning: {template} changed since the last `cumulo build`: deploying it unbuilt "
             "(run `cumulo build` to deploy built code)")
        return template
    try:
        changed = changed_since_build(template)
    except (OSError, BuildError):
        changed = []
    if changed:
        warn(f"warning: deploying the last build; changed since: {', '.join(changed)} (run `cumulo build`)")
    return built
