"""The workflow clock: real time by default, accelerated for tests (``states_clock_scale``).

With a scale ``s`` (0 < s <= 1) workflow time runs ``1/s`` times faster than real time:
``now = anchor + (real_now - anchor) / s``. Every duration the engine measures (Wait states, retry
intervals, task timeouts and heartbeats, execution timeouts) is on this clock, so a one-hour Wait
takes ``3600 * s`` real seconds. The anchor is stored with the data, so workflow time keeps
running forward across restarts and the absolute deadlines recorded in execution logs stay
meaningful: a resumed Wait sleeps for what is left of it.
"""

from __future__ import annotations

import asyncio
import time


class ScaledClock:
    def __init__(self, scale: float = 1.0, anchor: float | None = None) -> None:
        if scale <= 0:
            raise ValueError("states_clock_scale must be positive")
        self.scale = scale
        self.anchor = time.time() if anchor is None else anchor

    def now(self) -> float:
        if self.scale == 1.0:
            return time.time()
        return self.anchor + (time.time() - self.anchor) / self.scale

    def real_delay(self, workflow_seconds: float) -> float:
        return workflow_seconds * self.scale

    async def sleep_until(self, deadline: float) -> None:
        while (remaining := deadline - self.now()) > 0:
            await asyncio.sleep(remaining * self.scale)
