"""Large binary values (object bodies) on disk, named by random ids, written atomically.

The store's records say which blob an object uses; writing a blob and then committing the
record that references it means a crash can leave an unreferenced file (swept on start-up),
never a record that points at a missing or half-written one.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a synced temporary file renamed into place: after a
    crash the name holds either nothing or all of ``data``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, target)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, blob_id: str) -> Path:
        return self.root / blob_id[:2] / blob_id

    def put(self, data: bytes) -> str:
        blob_id = uuid.uuid4().hex
        write_atomically(self._path(blob_id), data)
        return blob_id

    def read(self, blob_id: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive; None for the rest) of a blob."""
        with open(self._path(blob_id), "rb") as handle:
            handle.seek(start)
            return handle.read() if end is None else handle.read(end - start)

    def delete(self, blob_id: str) -> None:
        try:
            self._path(blob_id).unlink()
        except FileNotFoundError:
            pass

    def sweep(self, referenced: set[str]) -> int:
        """Delete blobs no record references (left by a crash between write and commit)."""
        removed = 0
        for path in self.root.glob("*/*"):
            if path.name not in referenced and not path.name.startswith("tmp"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed
