"""A provisioned shard's write limits (1 MiB/s and 1,000 records/s, AWS's), counted per second
in memory. Turned off with the ``kinesis_shard_limits`` setting."""

from __future__ import annotations

import time

RECORDS_PER_SECOND = 1000
BYTES_PER_SECOND = 1024 * 1024


class ShardWriteLimits:
    def __init__(self) -> None:
        self._second = 0
        self._used: dict[tuple[str, str], tuple[int, int]] = {}

    def admit(self, stream_key: str, shard: str, size: int) -> bool:
        """Count one record of ``size`` bytes against the shard's current second; False (and not
        counted) when it would exceed a limit."""
        second = int(time.time())
        if second != self._second:
            self._second, self._used = second, {}
        records, used = self._used.get((stream_key, shard), (0, 0))
        if records + 1 > RECORDS_PER_SECOND or used + size > BYTES_PER_SECOND:
            return False
        self._used[(stream_key, shard)] = (records + 1, used + size)
        return True
