"""Where the project's shared test data lives: ``shared/`` beside the repository (a clone or a
worktree), unless ``CUMULO_CONFORMANCE_DIR`` points the event-pattern cases elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
EVENT_PATTERN_CASES = Path(os.environ.get("CUMULO_CONFORMANCE_DIR") or SHARED_DIR / "conformance" / "event-patterns")
