"""Packaging a template's local code for deployment (what ``sam package`` does).

Every local path of ``cumulo.packaging.local_paths``'s table is uploaded once per content hash to
a deployment bucket on the server and replaced by its location in the form the property takes.
Code (``CodeUri``, ``Code``, ``ContentUri``, ``Content``) is zipped deterministically (sorted
entries, fixed timestamps, so unchanged code gives the same bytes and the same hash); definitions
(OpenAPI files, state machine definitions, ``AWS::Include`` snippets) are uploaded as they are. A
nested stack's template (``TemplateURL``, SAM ``Location``) is packaged in turn, then uploaded.
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

from cumulo.packaging.local_paths import Form, LocalReference, local_references
from cumulo.template_loader import load_template

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
IGNORED = {"__pycache__", ".git", ".aws-sam", ".cumulo", "node_modules/.cache"}

Uploader = Callable[[bytes, str], str]  # (artifact bytes, file name: sha256 hex + extension) -> s3:// URI


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


def _write_back(reference: LocalReference, path: Path, upload_path: Callable[[Path, bool], str],
                upload: Uploader) -> None:
    rule, holder = reference.rule, reference.holder
    if rule.nested:  # a nested stack's template: its own local paths are relative to its folder
        nested = package_template(load_template(path.read_text()), path.parent, upload)
        data = json.dumps(nested, indent=1, sort_keys=True).encode()
        holder[rule.name] = upload(data, f"{hashlib.sha256(data).hexdigest()}.template")
        return
    uri = upload_path(path, rule.zipped)
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    holder[rule.name] = {Form.S3_URI: uri, Form.BUCKET_KEY: {"Bucket": bucket, "Key": key},
                         Form.S3BUCKET_S3KEY: {"S3Bucket": bucket, "S3Key": key}}[rule.form]


def package_template(body: dict[str, Any], base: Path, upload: Uploader) -> dict[str, Any]:
    """A copy of ``body`` with every local path uploaded (or inlined) and replaced by its S3 location."""
    packaged = copy.deepcopy(body)
    uploaded: dict[Path, str] = {}

    def upload_path(path: Path, zipped: bool) -> str:
        if path not in uploaded:
            if not zipped and path.is_dir():
                raise IsADirectoryError(f"{path} is a directory: a definition must be one file")
            as_is = not zipped or path.suffix in (".zip", ".jar")
            data = path.read_bytes() if as_is else zip_directory(path)
            digest = hashlib.sha256(data).hexdigest()
            uploaded[path] = upload(data, f"{digest}{path.suffix if as_is else '.zip'}")
        return uploaded[path]

    globals_function = (packaged.get("Globals") or {}).get("Function") or {}
    for resource in (packaged.get("Resources") or {}).values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"] = resource.get("Properties") or {}  # `Properties:` may be empty
        if not {"CodeUri", "InlineCode", "ImageUri"} & set(props):
            props["CodeUri"] = globals_function.get("CodeUri", ".")  # sam package's default: the template's folder
    for reference in list(local_references(packaged)):
        path = (base / reference.path).resolve()
        if not path.exists():
            raise FileNotFoundError(f"{reference.logical_id}: {reference.rule.name} '{reference.path}' does not exist "
                                    f"(relative to {base})")
        _write_back(reference, path, upload_path, upload)
    globals_function.pop("CodeUri", None)  # the template's own Globals.Function (or a throwaway {})
    return packaged
