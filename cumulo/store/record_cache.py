"""Decoded records kept in memory for hot read paths (every Invoke reads its function).

An entry is trusted while its table's ``Store.generation`` is unchanged, so any write to the
table (or a rollback) makes the next read go to the store again. Records handed out are
shared between callers: read them, never change them.
"""

from __future__ import annotations

from cumulo.store.base import Record, Store

MAX_ENTRIES = 4096


class RecordCache:
    def __init__(self, store: Store, max_entries: int = MAX_ENTRIES) -> None:
        self._store = store
        self._max_entries = max_entries
        self._entries: dict[tuple[str, str], tuple[int, Record | None]] = {}

    def get(self, table: str, key: str) -> Record | None:
        generation = self._store.generation(table)  # before the read: a write after it is noticed
        cached = self._entries.get((table, key))
        if cached is not None and cached[0] == generation:
            return cached[1]
        record = self._store.get(table, key)
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[(table, key)] = (generation, record)
        return record
