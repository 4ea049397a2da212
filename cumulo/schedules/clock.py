"""The clock schedules run on, optionally faster than real time (for tests and demos).

``ScheduleClock(speed)`` keeps virtual time equal to real time at start-up and lets it run
``speed`` times faster: with ``speed=60`` a minute of schedule time passes in one real second,
so ``rate(1 minute)`` fires every second and ``cron(0/5 * * * ? *)`` every five seconds. All
schedule arithmetic (fire times, start and end dates, flexible windows) happens in virtual
time; waits are converted back to real seconds. The default speed of 1 is the real clock.

Set with the ``schedule_clock_speed`` setting (``CUMULO_SCHEDULE_CLOCK_SPEED``).
"""

from __future__ import annotations

import time


class ScheduleClock:
    def __init__(self, speed: float = 1.0, origin: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("the schedule clock speed must be positive")
        self.speed = speed
        self.origin = time.time() if origin is None else origin

    def now(self) -> float:
        """Virtual epoch seconds."""
        real = time.time()
        if self.speed == 1:
            return real
        return self.origin + (real - self.origin) * self.speed

    def real_delay(self, virtual_seconds: float) -> float:
        """Real seconds to wait for ``virtual_seconds`` of schedule time to pass."""
        return max(0.0, virtual_seconds / self.speed)
