"""Content-addressed storage of code artifacts (function and layer zip files).

A zip is stored once under ``<data-dir>/artifacts/<sha256[:2]>/<sha256>.zip`` however many
functions, versions and layers use it, and unpacked on demand into
``<data-dir>/unpacked/<sha256>/`` for execution environments. Writes go to a temporary file
and are renamed into place, so a crash never leaves a half-written artifact under its name.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cumulo.store.blobs import write_atomically


@dataclass(frozen=True)
class Artifact:
    sha256_hex: str
    size: int

    @property
    def code_sha256(self) -> str:
        """The base64 SHA-256 that Lambda reports as ``CodeSha256``."""
        return base64.b64encode(bytes.fromhex(self.sha256_hex)).decode()


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._zips = root / "artifacts"
        self._unpacked = root / "unpacked"
        self._zips.mkdir(parents=True, exist_ok=True)
        self._unpacked.mkdir(parents=True, exist_ok=True)
        self._unpack_lock = threading.Lock()

    def path(self, sha256_hex: str) -> Path:
        return self._zips / sha256_hex[:2] / f"{sha256_hex}.zip"

    def put(self, data: bytes) -> Artifact:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            write_atomically(target, data)
        return Artifact(digest, len(data))

    def read(self, sha256_hex: str) -> bytes:
        return self.path(sha256_hex).read_bytes()

    def exists(self, sha256_hex: str) -> bool:
        return self.path(sha256_hex).exists()

    def unpacked(self, sha256_hex: str) -> Path:
        """The artifact unpacked into a directory (made once, then reused; file modes kept)."""
        target = self._unpacked / sha256_hex
        if target.is_dir():
            return target
        with self._unpack_lock:
            if target.is_dir():
                return target
            staging = Path(tempfile.mkdtemp(dir=self._unpacked, prefix=".tmp-"))
            try:
                with zipfile.ZipFile(self.path(sha256_hex)) as archive:
                    for info in archive.infolist():
                        extracted = Path(archive.extract(info, staging))
                        mode = (info.external_attr >> 16) & 0o7777
                        if mode and not info.is_dir():
                            extracted.chmod(mode | stat.S_IRUSR)
                os.replace(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return target
