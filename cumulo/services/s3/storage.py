"""Object bodies on disk, stored once by content and streamed in and out.

A body is a file named by its SHA-256 under ``<data-dir>/s3``; records say which body an object
version or upload part uses, and a reference count per body (in the store, changed in the same
transaction as the records) says when the file can go. Writing a body is two steps:

* ``stage_*`` (in a worker thread, as it reads and hashes gigabytes) writes or takes the bytes
  into a synced file and computes the MD5 (the ETag), SHA-256 (the name) and the checksums the
  client asked for;
* ``commit`` (on the event loop, like every store write) renames the staged file into place.

Renaming, committing the records and deleting unreferenced files all happen on the event loop,
so no two of them interleave: a body is never deleted between another upload's rename and that
upload's commit. A crash between rename and commit, or between commit and delete, leaves an
unreferenced file, which ``sweep`` removes at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import BodyFile

if TYPE_CHECKING:
    from cumulo.store.base import Store

BODIES = "s3.bodies"  # SHA-256 -> {"refs": n}
PIECE = 1024 * 1024
SWEEP_MIN_AGE_S = 600.0  # files younger than this may belong to an upload in flight


class _Crc:
    """An incremental CRC with its big-endian width, as S3 encodes checksums (base64 of the bytes)."""

    def __init__(self, function: Any, width: int) -> None:
        self.function, self.width, self.value = function, width, 0

    def update(self, data: bytes) -> None:
        self.value = self.function(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self.width, "big")


def _hasher(algorithm: str) -> Any:
    if algorithm == "CRC32":
        return _Crc(zlib.crc32, 4)
    if algorithm == "CRC32C":
        from awscrt import checksums  # loaded when first needed: its native library costs start-up time

        return _Crc(checksums.crc32c, 4)
    if algorithm == "CRC64NVME":
        from awscrt import checksums

        return _Crc(checksums.crc64nvme, 8)
    return hashlib.new(algorithm.lower())


def digest(algorithm: str, data: bytes) -> bytes:
    hasher = _hasher(algorithm)
    hasher.update(data)
    return hasher.digest()


@dataclass
class Staged:
    """A body written and hashed, waiting to be renamed into place."""

    path: str
    size: int
    sha256: str
    md5: str  # hex
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm -> base64, as asked for

    @property
    def etag(self) -> str:
        return f'"{self.md5}"'


class _Hashing:
    """Every digest a body needs, fed piece by piece."""

    def __init__(self, algorithms: Iterable[str]) -> None:
        self.sha256, self.md5 = hashlib.sha256(), hashlib.md5()
        self.extra = {name: _hasher(name) for name in algorithms if name != "SHA256"}
        self.want_sha256 = "SHA256" in algorithms
        self.size = 0

    def update(self, piece: bytes) -> None:
        self.size += len(piece)
        self.sha256.update(piece)
        self.md5.update(piece)
        for hasher in self.extra.values():
            hasher.update(piece)

    def staged(self, path: str) -> Staged:
        checksums = {name: base64.b64encode(h.digest()).decode() for name, h in self.extra.items()}
        if self.want_sha256:
            checksums["SHA256"] = base64.b64encode(self.sha256.digest()).decode()
        return Staged(path, self.size, self.sha256.hexdigest(), self.md5.hexdigest(), checksums)


class BodyStore:
    def __init__(self, root: Path, store: Store) -> None:
        self.root = root
        self.staging = root / "staging"
        self.staging.mkdir(parents=True, exist_ok=True)
        self.store = store

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    # ------------------------------------------------------------ staging (worker threads)
    def _new_file(self) -> BinaryIO:
        return tempfile.NamedTemporaryFile(dir=self.staging, prefix="tmp", delete=False)

    def stage_bytes(self, data: bytes, algorithms: Iterable[str] = ()) -> Staged:
        hashing = _Hashing(algorithms)
        hashing.update(data)
        with self._new_file() as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return hashing.staged(handle.name)

    def stage_spool(self, spool: BodyFile, algorithms: Iterable[str] = ()) -> Staged:
        """Hash a spooled request body and sync it; the file itself becomes the body (no copy)."""
        hashing = _Hashing(algorithms)
        with open(spool.path, "rb+") as handle:
            while piece := handle.read(PIECE):
                hashing.update(piece)
            os.fsync(handle.fileno())
        return hashing.staged(spool.path)

    def stage_concat(self, parts: list[tuple[str, int, int]], algorithms: Iterable[str] = ()) -> Staged:
        """One body from ranges ``(sha256, start, length)`` of stored bodies (multipart completion)."""
        hashing = _Hashing(algorithms)
        with self._new_file() as out:
            for sha256, start, length in parts:
                with open(self.path(sha256), "rb") as source:
                    source.seek(start)
                    left = length
                    while left and (piece := source.read(min(PIECE, left))):
                        left -= len(piece)
                        hashing.update(piece)
                        out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        return hashing.staged(out.name)

    @staticmethod
    def discard(staged: Staged) -> None:
        Path(staged.path).unlink(missing_ok=True)

    # ------------------------------------------------------------ references (event loop)
    def commit(self, staged: Staged) -> str:
        """Rename a staged body into place (an identical body may be there: same bytes); call
        ``retain`` in the transaction that commits the records using it, right after."""
        target = self.path(staged.sha256)
        target.parent.mkdir(exist_ok=True)
        os.replace(staged.path, target)
        return staged.sha256

    def retain(self, sha256: str) -> None:
        record = self.store.get(BODIES, sha256) or {"refs": 0}
        record["refs"] += 1
        self.store.put(BODIES, sha256, record)

    def release(self, sha256: str) -> str | None:
        """Drop one reference; returns the body when none is left (delete it after the commit)."""
        record = self.store.get(BODIES, sha256)
        if record is None or record["refs"] <= 1:
            self.store.delete(BODIES, sha256)
            return sha256
        record["refs"] -= 1
        self.store.put(BODIES, sha256, record)
        return None

    def delete_unreferenced(self, bodies: Iterable[str | None]) -> None:
        for sha256 in bodies:
            if sha256 is not None and self.store.get(BODIES, sha256) is None:
                self.path(sha256).unlink(missing_ok=True)

    # ------------------------------------------------------------ reading
    def open(self, sha256: str, start: int, length: int) -> BodyFile:
        """An open range of a body, for the edge to stream (it stays readable if deleted meanwhile)."""
        handle = open(self.path(sha256), "rb")  # noqa: SIM115 - closed by the edge
        return BodyFile(str(self.path(sha256)), length, handle, start)

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> bytes:
        with open(self.path(sha256), "rb") as handle:
            handle.seek(start)
            return handle.read() if end is None else handle.read(end - start)

    def sweep(self, min_age_s: float = SWEEP_MIN_AGE_S) -> int:
        """Delete bodies nothing references and staged files a crash left behind."""
        cutoff = time.time() - min_age_s
        removed = 0
        for path in [*self.root.glob("*/*")]:
            try:
                old = path.stat().st_mtime < cutoff
            except FileNotFoundError:
                continue
            if old and (path.parent == self.staging or self.store.get(BODIES, path.name) is None):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def check_digests(staged: Staged, content_md5: str | None, claimed: dict[str, str]) -> None:
    """AWS's BadDigest when the body does not match its Content-MD5 or a checksum the client sent."""
    if content_md5 and base64.b64encode(bytes.fromhex(staged.md5)).decode() != content_md5:
        raise AwsError("BadDigest", "The Content-MD5 you specified did not match what we received.")
    for algorithm, value in claimed.items():
        if staged.checksums.get(algorithm) != value:
            raise AwsError("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
