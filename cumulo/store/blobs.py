"""Writing a file atomically (code artifacts): after a crash, its name holds all of it or nothing.

Files are created readable by their owner only (``tempfile``'s mode, kept by the rename).
"""

from __future__ import annotations

import os
import tempfile
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
