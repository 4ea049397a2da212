"""Batched writes for high-volume, loss-tolerant streams (log lines, metric samples).

Items are collected in memory and written together, in one transaction, after a short delay
or once enough are waiting; readers call ``flush`` first so they always see every item added
before their call. A crash loses at most the last ``delay_s`` of items, which is why only
streams that AWS itself delivers asynchronously (logs, metrics) use this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class BatchedWriter(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None], delay_s: float, max_items: int) -> None:
        self._write = write
        self._delay_s = delay_s
        self._max_items = max_items
        self._items: list[T] = []
        self._weight = 0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, item: T, weight: int = 1) -> None:
        """Queue an item; ``weight`` counts towards ``max_items`` (e.g. the lines in a batch)."""
        self._items.append(item)
        self._weight += weight
        if self._weight >= self._max_items:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self._delay_s, self.flush)
            except RuntimeError:  # no event loop: write at once
                self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._items:
            return
        items, self._items, self._weight = self._items, [], 0
        self._write(items)
