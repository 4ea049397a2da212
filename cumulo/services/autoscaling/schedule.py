"""Application Auto Scaling schedule expressions: ``at(...)``, ``rate(...)`` and ``cron(...)``.

* ``at(yyyy-mm-ddThh:mm:ss)``: once, in the action's time zone (UTC by default);
* ``rate(value unit)``: every ``value`` minutes/hours/days (``minute`` when value is 1),
  from the action's creation (or StartTime);
* ``cron(minutes hours day-of-month month day-of-week year)``: fields take ``*``, ``?``,
  numbers, names (JAN-DEC, SUN-SAT with SUN=1), ranges ``a-b``, lists ``a,b``, steps
  ``*/n``/``a/n``/``a-b/n``, and ``L`` (last day of the month) in day-of-month.

A small private parser (the project may grow a shared one in ``cumulo/schedules/``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                       "NOV", "DEC"), start=1)}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
MAX_YEARS = 6  # how far ahead a cron expression is searched


class ScheduleError(ValueError):
    pass


def zone(name: str | None) -> dt.tzinfo:
    if not name:
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"Invalid timezone: {name}") from exc


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values a cron field allows (None = any)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"bad step in {text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ScheduleError(f"value out of range in {text!r}")
        if end < start:  # wrapping range (FRI-MON)
            values.update(range(start, high + 1, step))
            values.update(range(low, end + 1, step))
        else:
            values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    upper = text.upper()
    if names and upper in names:
        return names[upper]
    if not text.isdigit():
        raise ScheduleError(f"bad value {text!r}")
    return int(text)


class Schedule:
    """A parsed expression; :meth:`next_after` gives the next time (UTC) strictly after a moment."""

    def __init__(self, expression: str, timezone: str | None = None, rate_scale: float = 1.0) -> None:
        self.expression = expression
        self.tz = zone(timezone)
        self.rate_scale = rate_scale
        self.at: dt.datetime | None = None
        self.period: float | None = None
        self.cron: tuple | None = None
        if m := _AT.match(expression):
            try:
                self.at = dt.datetime.fromisoformat(m.group(1)).replace(tzinfo=self.tz).astimezone(dt.UTC)
            except ValueError as exc:
                raise ScheduleError(str(exc)) from exc
        elif m := _RATE.match(expression):
            value, unit = int(m.group(1)), m.group(2).rstrip("s")
            if value < 1 or (value == 1) != (not m.group(2).endswith("s")):
                raise ScheduleError("rate value must be positive; use the singular unit for 1")
            self.period = value * _UNITS[unit] * rate_scale
        elif m := _CRON.match(expression):
            fields = m.group(1).split()
            if len(fields) != 6:
                raise ScheduleError("cron expressions have 6 fields")
            minute, hour, dom, month, dow, year = fields
            if dom != "?" and dow != "?" and not (dom == "*" and dow == "*"):
                raise ScheduleError("one of day-of-month and day-of-week must be ?")
            last_day = dom == "L"
            self.cron = (_field(minute, 0, 59), _field(hour, 0, 23), None if last_day else _field(dom, 1, 31),
                         _field(month, 1, 12, _MONTHS), _field(dow, 1, 7, _DAYS),
                         _field(year, 1970, 2199), last_day)
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
        minutes, hours, doms, months, dows, years, last_day = self.cron
        local = moment.astimezone(self.tz).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        day = local.date()
        end = day.replace(year=day.year + MAX_YEARS) if day.month != 2 or day.day != 29 else day + dt.timedelta(
            days=365 * MAX_YEARS)
        first = True
        while day <= end:
            if (years is None or day.year in years) and (months is None or day.month in months):
                dom_ok = (day.day == calendar.monthrange(day.year, day.month)[1]) if last_day else (
                    doms is None or day.day in doms)
                dow_ok = dows is None or (day.isoweekday() % 7 + 1) in dows
                if dom_ok and dow_ok:
                    for hour in sorted(hours) if hours is not None else range(24):
                        if first and hour < local.hour:
                            continue
                        for minute in sorted(minutes) if minutes is not None else range(60):
                            if first and hour == local.hour and minute < local.minute:
                                continue
                            candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)
                            return candidate.astimezone(dt.UTC)
            day += dt.timedelta(days=1)
            first = False
        return None
