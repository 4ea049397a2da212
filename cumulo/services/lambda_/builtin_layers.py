"""Layers AWS publishes that Cumulo provides itself: a function may name them by their ARN.

``AWS-Parameters-and-Secrets-Lambda-Extension`` (and its ``-Arm64`` twin), any account, region
and version: the extension ``cumulo.runtime.extensions.parameters_secrets`` in ``extensions/``
(a launcher that runs it with the environment's ``python3``). The layer's zip is built once,
deterministically, and kept in the artifact store like any layer version.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from cumulo.runtime.extensions import parameters_secrets
from cumulo.store.artifacts import Artifact, ArtifactStore

PARAMETERS_SECRETS_LAYER = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:AWS-Parameters-and-Secrets-Lambda-Extension(-Arm64)?:\d+$")
LAUNCHER = """#!/bin/sh
script="$(dirname "$0")/../parameters-secrets-extension/extension.py"
for python in python3 /var/lang/bin/python3 /usr/local/bin/python3 /usr/bin/python3; do
  if command -v "$python" >/dev/null 2>&1; then exec "$python" "$script"; fi
done
echo "AWSParametersAndSecretsLambdaExtension: no python3 in this environment" >&2
exit 1
"""
_built: dict[str, Artifact] = {}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content, mode in (
                (f"extensions/{parameters_secrets.NAME}", LAUNCHER, 0o755),
                ("parameters-secrets-extension/extension.py", Path(parameters_secrets.__file__).read_text(), 0o644)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def builtin_layer(artifacts: ArtifactStore, arn: str) -> Artifact | None:
    """The artifact of a built-in layer named by ``arn``, or None when ``arn`` names no built-in layer."""
    if not PARAMETERS_SECRETS_LAYER.match(arn):
        return None
    artifact = _built.get("parameters-secrets")
    if artifact is None or not artifacts.exists(artifact.sha256_hex):
        artifact = _built["parameters-secrets"] = artifacts.put(_zip())
    return artifact
