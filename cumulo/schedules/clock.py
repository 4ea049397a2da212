"""The clock schedules run on, optionally faster than real time (for tests and demos).

Each schedule keeps an *origin*: the real time it was created (or last updated or enabled).
From its origin on, the schedule's own clock runs ``speed`` times faster than real time: with
``speed=60`` a schedule minute passes in one real second, so ``rate(1 minute)`` fires every
second and ``at(...)`` five minutes after creation fires five seconds after it. All schedule
arithmetic (fire times, start and end dates, flexible windows, the times in events and context
attributes) happens on the schedule's clock; the runner converts back to real time. With the
default speed of 1 both clocks are the real clock.

Set with the ``schedule_clock_speed`` setting (``CUMULO_SCHEDULE_CLOCK_SPEED``).
"""

from __future__ import annotations

import time


class ScheduleClock:
    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("the schedule clock speed must be positive")
        self.speed = speed

    def now(self, origin: float, real: float | None = None) -> float:
        """Schedule time (epoch seconds) of a schedule with this origin, at ``real`` (default: now)."""
        real = time.time() if real is None else real
        if self.speed == 1:
            return real
        return origin + (real - origin) * self.speed

    def real(self, origin: float, moment: float) -> float:
        """Real epoch seconds at which a schedule with this origin reaches schedule time ``moment``."""
        if self.speed == 1:
            return moment
        return origin + (moment - origin) / self.speed
