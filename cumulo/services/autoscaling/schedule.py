"""Application Auto Scaling schedule expressions: ``at(...)``, ``rate(...)`` and ``cron(...)``.

* ``at(yyyy-mm-ddThh:mm:ss)``: once, in the action's time zone (UTC by default);
* ``rate(value unit)``: every ``value`` minutes/hours/days from the action's creation (or
  StartTime); the API reference gives value as a positive integer and unit as any of
  ``minute | minutes | hour | hours | day | days``, with no singular/plural agreement (unlike
  EventBridge rules), so ``rate(5 minute)`` is accepted;
* ``cron(minutes hours day-of-month month day-of-week year)``: AWS's six-field cron, read by
  the platform's one cron parser (``cumulo/schedules/cron.py``, with ``?``, ``L``, ``W`` and
  ``#``), evaluated on the wall clock of the action's time zone. Day-of-month and day-of-week
  may both be ``*`` here (each day), which Application Auto Scaling has always accepted.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cumulo.schedules.cron import Cron, CronError

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(ValueError):
    pass


def zone(name: str | None) -> dt.tzinfo:
    if not name:
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"Invalid timezone: {name}") from exc


class Schedule:
    """A parsed expression; :meth:`next_after` gives the next time (UTC) strictly after a moment."""

    def __init__(self, expression: str, timezone: str | None = None, rate_scale: float = 1.0) -> None:
        self.expression = expression
        self.tz = zone(timezone)
        self.rate_scale = rate_scale
        self.at: dt.datetime | None = None
        self.period: float | None = None
        self.cron: Cron | None = None
        if m := _AT.match(expression):
            try:
                self.at = dt.datetime.fromisoformat(m.group(1)).replace(tzinfo=self.tz).astimezone(dt.UTC)
            except ValueError as exc:
                raise ScheduleError(str(exc)) from exc
        elif m := _RATE.match(expression):
            value, unit = int(m.group(1)), m.group(2).rstrip("s")
            if value < 1:
                raise ScheduleError("rate value must be a positive integer")
            self.period = value * _UNITS[unit] * rate_scale
        elif m := _CRON.match(expression):
            fields = m.group(1).split()
            if len(fields) == 6 and fields[2] == "*" and fields[4] == "*":
                fields[4] = "?"  # every day of the month, whatever its weekday
            try:
                self.cron = Cron.parse(" ".join(fields))
            except CronError as exc:
                raise ScheduleError(str(exc)) from exc
        else:
            raise ScheduleError(f"invalid schedule expression {expression!r}")

    def next_after(self, moment: dt.datetime, origin: dt.datetime | None = None) -> dt.datetime | None:
        """The first run strictly after ``moment`` (aware datetimes); None if there is none."""
        if self.at is not None:
            return self.at if self.at > moment else None
        if self.period is not None:
            origin = origin or moment
            elapsed = (moment - origin).total_seconds()
            runs = int(elapsed // self.period) + 1 if elapsed >= 0 else 0
            return origin + dt.timedelta(seconds=runs * self.period)
        return self._next_cron(moment)

    def _next_cron(self, moment: dt.datetime) -> dt.datetime | None:
        assert self.cron is not None
        local = self.cron.next_after(moment.astimezone(self.tz))
        return None if local is None else local.replace(tzinfo=self.tz).astimezone(dt.UTC)
