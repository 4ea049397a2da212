"""Test data kept in the repository (``tests/data/``), so the suite runs in a fresh clone."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
# AWS-recorded EventBridge event-pattern cases (Apache-2.0; see the README beside them).
EVENT_PATTERN_CASES = DATA_DIR / "event-patterns"
