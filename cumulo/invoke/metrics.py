"""``AWS/Lambda`` metrics, counted in memory and handed to CloudWatch a few times a second.

An invoke produces several samples (Invocations, Errors, Duration, ConcurrentExecutions,
the provisioned-concurrency metrics...) for several dimension sets; writing each as its own
row cost more than the rest of a warm invoke.  Samples are counted per (metric, dimensions,
unit, value) over a short window and written as one value with a count (as
``PutMetricData`` ``Values``/``Counts`` does), which keeps every statistic exact: Sum,
SampleCount, Minimum, Maximum, Average and percentiles.  Lambda's own metrics reach
CloudWatch with a delay too.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cumulo.platform import Platform

WINDOW_S = 0.2
NAMESPACE = "AWS/Lambda"

Dimensions = tuple[tuple[str, str], ...]


class LambdaMetrics:
    def __init__(self, platform: Platform, window_s: float = WINDOW_S) -> None:
        self.platform = platform
        self.window_s = window_s
        self._counts: dict[tuple[str, str, str, Dimensions, str, float], int] = {}
        self._since = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, account: str, region: str, name: str, value: float, dimensions: Dimensions = (),
            unit: str = "Count") -> None:
        key = (account, region, name, dimensions, unit, value)
        counts = self._counts
        if not counts:
            self._since = time.time()
            if self._timer is None:
                try:
                    self._timer = asyncio.get_running_loop().call_later(self.window_s, self.flush)
                except RuntimeError:  # no loop (tools, tests): write at once
                    counts[key] = 1
                    self.flush()
                    return
        counts[key] = counts.get(key, 0) + 1

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        counts, self._counts = self._counts, {}
        if not counts:
            return
        for (account, region, name, dimensions, unit, value), count in counts.items():
            self.platform.metrics.put(account, region, NAMESPACE, name, value, dict(dimensions), unit,
                           timestamp=self._since, count=count)
