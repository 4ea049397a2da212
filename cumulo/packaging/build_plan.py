"""Which resources of a template ``cumulo build`` builds, and how (SAM's rules).

Functions (``AWS::Serverless::Function``, ``AWS::Lambda::Function``) whose code is a local folder
are built; layers (``AWS::Serverless::LayerVersion``, ``AWS::Lambda::LayerVersion``) only when
their ``Metadata`` names a ``BuildMethod``, as ``sam build`` does. The method comes from
``Metadata.BuildMethod`` when set (``esbuild``, ``makefile``, ``rust-cargolambda``, ``go1.x``, or a
runtime id such as ``python3.13``, ``nodejs22.x``, ``java21``), else from the function's Runtime;
a Java project is built with Maven, Gradle or javac by the files it has. Functions with nothing to
build (``provided.al2023`` without a BuildMethod, Ruby, .NET) are left where they are: the built
template points at their source folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cumulo.packaging.builders.files import COPY_EXCLUDED, tree_hash
from cumulo.packaging.builders.java import JAVA_OUTPUTS
from cumulo.packaging.builders.java import method_for as java_method
from cumulo.packaging.builders.target import BuildTarget
from cumulo.packaging.builders.tools import BuildError
from cumulo.packaging.local_paths import is_local

FUNCTION_TYPES = {"AWS::Serverless::Function": "CodeUri", "AWS::Lambda::Function": "Code"}
LAYER_TYPES = {"AWS::Serverless::LayerVersion": "ContentUri", "AWS::Lambda::LayerVersion": "Content"}
NAMED_METHODS = {"esbuild": "esbuild", "makefile": "makefile", "rust-cargolambda": "rust", "go1.x": "go"}
FORMAT = 1  # bumped when a builder's output changes, so that older cached builds are redone


def default_code_uris(body: dict[str, Any]) -> None:
    """Give every SAM function its CodeUri as ``sam package`` would (Globals' CodeUri, else the template's
    folder), and drop Globals' CodeUri: a built template names each function's own artifact."""
    globals_function = (body.get("Globals") or {}).get("Function") or {}
    default = globals_function.pop("CodeUri", ".")
    for resource in (body.get("Resources") or {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
            props = resource["Properties"] = resource.get("Properties") or {}  # `Properties:` may be empty
            if not {"CodeUri", "InlineCode", "ImageUri"} & set(props):
                props["CodeUri"] = default


def _method(logical_id: str, build_method: str, language: str, source: Path) -> str:
    if build_method in NAMED_METHODS:
        return NAMED_METHODS[build_method]
    for prefix, method in (("python", "python"), ("nodejs", "nodejs"), ("java", "")):
        if language.startswith(prefix):
            return method or java_method(source)
    if language == "go1.x":
        return "go"
    if build_method:
        raise BuildError(f"{logical_id}: unknown Metadata.BuildMethod {build_method!r}: use esbuild, makefile, "
                         "rust-cargolambda, go1.x, or a runtime id (python3.13, nodejs22.x, java21)")
    return ""  # nothing to build: the built template points at the source folder


def _variables(props: dict[str, Any], globals_function: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for holder in (globals_function, props):
        environment = holder.get("Environment")
        variables = environment.get("Variables") if isinstance(environment, dict) else None
        if isinstance(variables, dict):
            merged.update(variables)
    return merged


def _target(logical_id: str, resource: dict[str, Any], base: Path,
            globals_function: dict[str, Any]) -> BuildTarget | None:
    kind = resource.get("Type")
    is_layer = kind in LAYER_TYPES
    code_property = LAYER_TYPES.get(kind) or FUNCTION_TYPES.get(kind)
    props = resource.get("Properties") or {}
    metadata = resource.get("Metadata") if isinstance(resource.get("Metadata"), dict) else {}
    code = props.get(code_property)
    if code_property is None or not is_local(code) or not (base / code).is_dir() or metadata.get("SkipBuild"):
        return None
    if props.get("PackageType") == "Image":
        return None
    build_method = str(metadata.get("BuildMethod") or "")
    if is_layer and not build_method:
        return None  # sam build builds a layer only when it names its BuildMethod
    source = (base / code).resolve()
    inherited = {} if is_layer else globals_function
    runtime = str(props.get("Runtime") or inherited.get("Runtime") or "")
    language = build_method if build_method and build_method not in NAMED_METHODS else runtime
    architectures = props.get("Architectures") or inherited.get("Architectures") or props.get(
        "CompatibleArchitectures") or ["x86_64"]
    architecture = str(metadata.get("BuildArchitecture") or (architectures[0] if isinstance(architectures, list)
                                                             else "x86_64"))
    build_properties = metadata.get("BuildProperties") if isinstance(metadata.get("BuildProperties"), dict) else {}
    method = _method(logical_id, build_method, language, source)
    if not method:
        return None
    return BuildTarget(
        logical_id=logical_id, resource_type=kind, code_property=code_property, source=source, method=method,
        runtime=language,
        handler=str(props.get("Handler") or inherited.get("Handler") or ""), architecture=architecture,
        properties=build_properties, environment={} if is_layer else _variables(props, inherited),
        is_layer=is_layer)


def plan(body: dict[str, Any], base: Path) -> list[BuildTarget]:
    """The build targets of a template whose SAM functions already carry their CodeUri (see above)."""
    globals_function = (body.get("Globals") or {}).get("Function") or {}
    targets = []
    for logical_id, resource in (body.get("Resources") or {}).items():
        if isinstance(resource, dict):
            target = _target(logical_id, resource, base, globals_function)
            if target is not None:
                targets.append(target)
    return targets


def hash_excluded(target: BuildTarget) -> frozenset[str]:
    """What the content hash leaves out: installed dependencies and the build tools' own outputs."""
    excluded = COPY_EXCLUDED | {"node_modules"}
    if target.method.startswith("java"):
        excluded |= JAVA_OUTPUTS
    if (target.source / "Cargo.toml").is_file():
        excluded |= {"target"}
    return excluded


def cache_key(target: BuildTarget) -> str:
    """What a build depends on: the source's content, the method and everything that steers it."""
    inputs = [FORMAT, target.method, target.runtime, target.handler, target.architecture, target.is_layer,
              target.properties, target.environment.get("NODE_OPTIONS") if target.method == "esbuild" else None,
              tree_hash(target.source, hash_excluded(target))]
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
