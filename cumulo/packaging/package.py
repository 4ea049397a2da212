"""Packaging a template's local code for deployment (what ``sam package`` does).

Local paths in ``CodeUri``/``ContentUri``/``Code``/``Content`` are zipped deterministically
(sorted entries, fixed timestamps, so unchanged code gives the same bytes and the same hash),
uploaded once per content hash to a deployment bucket on the server, and replaced by their
``s3://`` location. Local ``DefinitionUri`` files of state machines and HTTP APIs are read
into the template inline.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cumulo.template_loader import load_template

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# resource type -> (property holding a local path, how it must be written back)
CODE_PROPERTIES = {
    "AWS::Serverless::Function": ("CodeUri", "uri"),
    "AWS::Serverless::LayerVersion": ("ContentUri", "uri"),
    "AWS::Lambda::Function": ("Code", "s3-object"),
    "AWS::Lambda::LayerVersion": ("Content", "s3-object"),
}
DEFINITION_PROPERTIES = {
    "AWS::Serverless::StateMachine": ("DefinitionUri", "Definition"),
    "AWS::Serverless::HttpApi": ("DefinitionUri", "DefinitionBody"),
    "AWS::Serverless::Api": ("DefinitionUri", "DefinitionBody"),
}
IGNORED = {"__pycache__", ".git", ".aws-sam", ".cumulo", "node_modules/.cache"}

Uploader = Callable[[bytes, str], str]  # (zip bytes, sha256 hex) -> s3:// URI


def zip_directory(root: Path) -> bytes:
    """A reproducible zip of a directory (or of one file), keeping the executable bit."""
    buffer = io.BytesIO()
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.is_file() and not any(part in IGNORED for part in p.relative_to(root).parts))
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            name = path.name if root.is_file() else path.relative_to(root).as_posix()
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            executable = os.stat(path).st_mode & stat.S_IXUSR
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _local_path(value: Any, base: Path) -> Path | None:
    if not isinstance(value, str) or value.startswith(("s3://", "http://", "https://")):
        return None
    path = (base / value).resolve()
    return path if path.exists() else None


def package_template(body: dict[str, Any], base: Path, upload: Uploader) -> dict[str, Any]:
    """A copy of ``body`` with every local code path uploaded and replaced by its S3 location."""
    packaged = copy.deepcopy(body)
    uploaded: dict[Path, str] = {}

    def upload_path(path: Path) -> str:
        if path not in uploaded:
            data = path.read_bytes() if path.is_file() and path.suffix in (".zip", ".jar") else zip_directory(path)
            uploaded[path] = upload(data, hashlib.sha256(data).hexdigest())
        return uploaded[path]

    globals_function = (packaged.get("Globals") or {}).get("Function") or {}
    for logical_id, resource in (packaged.get("Resources") or {}).items():
        kind = resource.get("Type")
        props = resource.setdefault("Properties", {}) if kind in CODE_PROPERTIES or kind in DEFINITION_PROPERTIES \
            else resource.get("Properties") or {}
        if kind in CODE_PROPERTIES:
            name, form = CODE_PROPERTIES[kind]
            value = props.get(name)
            if value is None and kind == "AWS::Serverless::Function" and "InlineCode" not in props \
                    and "ImageUri" not in props:
                value = globals_function.get("CodeUri", ".")
            path = _local_path(value, base)
            if path is not None:
                uri = upload_path(path)
                if form == "uri":
                    props[name] = uri
                else:
                    bucket, _, key = uri.removeprefix("s3://").partition("/")
                    props[name] = {"S3Bucket": bucket, "S3Key": key}
            elif isinstance(value, str) and not value.startswith("s3://"):
                raise FileNotFoundError(f"{logical_id}: {name} '{value}' does not exist (relative to {base})")
        if kind in DEFINITION_PROPERTIES:
            name, inline = DEFINITION_PROPERTIES[kind]
            path = _local_path(props.get(name), base)
            if path is not None:
                text = path.read_text()
                props[inline] = json.loads(text) if text.lstrip().startswith("{") else load_template(text)
                del props[name]
    if "Globals" in packaged and "Function" in packaged["Globals"]:
        packaged["Globals"]["Function"].pop("CodeUri", None)
    return packaged
