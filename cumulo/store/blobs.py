"""Large binary values (object bodies) on disk, named by random ids, written atomically.

The store's records say which blob an object uses; writing a blob and then committing the
record that references it means a crash can leave an unreferenced file (swept on start-up),
never a record that points at a missing or half-written one. Blob files are created
readable by their owner only (``tempfile``'s mode, kept by the rename).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

SWEEP_MIN_AGE_S = 600.0  # blobs younger than this are never swept: their write may be in flight


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

    def sweep(self, referenced: Callable[[], set[str]], min_age_s: float = SWEEP_MIN_AGE_S) -> int:
        """Delete blobs no record references (left by a crash between write and commit).

        Blobs are listed before ``referenced()`` reads the records, so a blob whose record was
        committed before the read is never taken for an orphan; and a blob younger than
        ``min_age_s`` is kept whatever the records say, as it may belong to a write in flight.
        """
        cutoff = time.time() - min_age_s
        candidates = [path for path in self.root.glob("*/*")
                      if not path.name.startswith("tmp") and _modified_before(path, cutoff)]
        if not candidates:
            return 0
        keep = referenced()
        removed = 0
        for path in candidates:
            if path.name not in keep:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _modified_before(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False
