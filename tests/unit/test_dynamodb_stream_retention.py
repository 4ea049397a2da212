"""Stream records older than 24 hours are dropped, oldest first, newer ones kept."""

from __future__ import annotations

from cumulo.services.dynamodb.streams import RETENTION_S, STREAM, StreamLog
from cumulo.store.sqlite import SqliteStore


def test_trim_drops_only_records_past_retention(tmp_path):
    store = SqliteStore(tmp_path / "state.db")
    log = StreamLog(store)
    now = 1_000_000.0
    ages = [RETENTION_S + 50 - i for i in range(120)]  # the first 50 are past retention
    for number, age in enumerate(ages, start=1):
        store.put(STREAM, f"sid/{10**20 + number}", {"at": now - age, "dynamodb": {}})
    assert log.trim("sid", now) == 50
    left = [key for key, _ in store.scan(STREAM, "sid/")]
    assert left[0] == f"sid/{10**20 + 51}" and len(left) == 70
    assert log.trim("sid", now) == 0
    store.close()
