"""AWS's six-field cron: parsing and "next minute that matches".

``cron(Minutes Hours Day-of-month Month Day-of-week Year)`` as EventBridge rules and
EventBridge Scheduler read it (a Quartz dialect without the seconds field):

============  =============  ========================
field         values         wildcards
============  =============  ========================
Minutes       0-59           ``, - * /``
Hours         0-23           ``, - * /``
Day-of-month  1-31           ``, - * ? / L W``
Month         1-12, JAN-DEC  ``, - * /``
Day-of-week   1-7, SUN-SAT   ``, - * ? L #``
Year          1970-2199      ``, - * /``
============  =============  ========================

* exactly one of Day-of-month and Day-of-week is ``?`` (a value or ``*`` in one needs ``?``
  in the other);
* ``a-b`` is a range and wraps around when ``a > b`` (hours ``20-2`` is 20..23 and 0..2);
* ``a/n`` and ``a-b/n`` step by ``n`` from ``a``; ``*/n`` is ``min/n``;
* Day-of-month ``L`` is the last day of the month, ``L-n`` n days before it, ``nW`` the
  weekday (Monday-Friday) nearest day ``n`` without leaving the month, ``LW`` the last weekday;
* Day-of-week 1 is Sunday; ``L`` alone is Saturday (the last day of the week), ``nL`` the last
  day ``n`` of the month, ``n#k`` the k-th day ``n`` of the month (k from 1 to 5). ``L``,
  ``W`` and ``#`` stand alone in their field (``3#1,6#3`` is not valid).

Times are wall-clock minutes (naive datetimes); time zones are applied by the caller.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

MONTHS = {name: number for number, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
WEEKDAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"),
                                                        start=1)}
MIN_YEAR, MAX_YEAR = 1970, 2199


class CronError(ValueError):
    """The expression is not a valid AWS cron expression."""


def aws_weekday(day: date) -> int:
    """1 = Sunday ... 7 = Saturday, as the Day-of-week field counts."""
    return (day.weekday() + 1) % 7 + 1


def _number(text: str, low: int, high: int, names: dict[str, int] | None) -> int:
    upper = text.upper()
    if names and upper in names:
        return names[upper]
    if not text.isdigit():
        raise CronError(f"not a number: {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{value} is outside {low}-{high}")
    return value


def _values(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The values of a plain field: lists of ``*``, ``a``, ``a-b``, ``a/n``, ``a-b/n``, ``*/n``."""
    if not text:
        raise CronError("empty field")
    found: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"bad increment in {item!r}")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, low, high, names), _number(last, low, high, names)
        else:
            start = _number(base, low, high, names)
            end = high if slash else start
        if start <= end:
            found.update(range(start, end + 1, step))
        else:  # wraps around: 20-2 in hours is 20..23 then 0..2
            span = list(range(start, high + 1)) + list(range(low, end + 1))
            found.update(span[::step])
    return frozenset(found)


@dataclass(frozen=True)
class DayOfMonth:
    values: frozenset[int] = frozenset()
    last_offset: int | None = None  # L (0) or L-n (n)
    nearest_weekday: int | None = None  # nW
    last_weekday: bool = False  # LW

    def days(self, year: int, month: int) -> frozenset[int]:
        last = calendar.monthrange(year, month)[1]
        if self.last_weekday:
            day = last
            while date(year, month, day).weekday() >= 5:
                day -= 1
            return frozenset({day})
        if self.last_offset is not None:
            day = last - self.last_offset
            return frozenset({day}) if day >= 1 else frozenset()
        if self.nearest_weekday is not None:
            target = self.nearest_weekday
            if target > last:
                return frozenset()
            weekday = date(year, month, target).weekday()
            if weekday == 5:  # Saturday: Friday before, or Monday after on the 1st
                day = target - 1 if target > 1 else target + 2
            elif weekday == 6:  # Sunday: Monday after, or Friday before at the month's end
                day = target + 1 if target < last else target - 2
            else:
                day = target
            return frozenset({day})
        return frozenset(d for d in self.values if d <= last)


@dataclass(frozen=True)
class DayOfWeek:
    values: frozenset[int] = frozenset()
    last_of: int | None = None  # nL
    nth: tuple[int, int] | None = None  # n#k

    def days(self, year: int, month: int) -> frozenset[int]:
        last = calendar.monthrange(year, month)[1]
        first_weekday = aws_weekday(date(year, month, 1))

        def weekday_of(day: int) -> int:
            return (first_weekday - 1 + day - 1) % 7 + 1

        if self.last_of is not None:
            day = last
            while weekday_of(day) != self.last_of:
                day -= 1
            return frozenset({day})
        if self.nth is not None:
            weekday, k = self.nth
            first = 1 + (weekday - first_weekday) % 7
            day = first + 7 * (k - 1)
            return frozenset({day}) if day <= last else frozenset()
        return frozenset(d for d in range(1, last + 1) if weekday_of(d) in self.values)


def _day_of_month(text: str) -> DayOfMonth | None:
    upper = text.upper()
    if upper == "?":
        return None
    if upper == "L":
        return DayOfMonth(last_offset=0)
    if upper == "LW":
        return DayOfMonth(last_weekday=True)
    if upper.startswith("L-"):
        offset = upper[2:]
        if not offset.isdigit() or not 1 <= int(offset) <= 30:
            raise CronError(f"bad day-of-month {text!r}")
        return DayOfMonth(last_offset=int(offset))
    if upper.endswith("W"):
        return DayOfMonth(nearest_weekday=_number(upper[:-1], 1, 31, None))
    return DayOfMonth(values=_values(text, 1, 31))


def _day_of_week(text: str) -> DayOfWeek | None:
    upper = text.upper()
    if upper == "?":
        return None
    if upper == "L":
        return DayOfWeek(values=frozenset({7}))
    if "#" in upper:
        weekday, _, k = upper.partition("#")
        if not k.isdigit() or not 1 <= int(k) <= 5:
            raise CronError(f"bad day-of-week {text!r}")
        return DayOfWeek(nth=(_number(weekday, 1, 7, WEEKDAYS), int(k)))
    if upper.endswith("L"):
        return DayOfWeek(last_of=_number(upper[:-1], 1, 7, WEEKDAYS))
    return DayOfWeek(values=_values(text, 1, 7, WEEKDAYS))


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: DayOfMonth | None
    months: frozenset[int]
    day_of_week: DayOfWeek | None
    years: frozenset[int]
    _day_cache: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, fields: str) -> Cron:
        parts = fields.split()
        if len(parts) != 6:
            raise CronError(f"expected 6 fields, got {len(parts)}")
        minute, hour, dom, month, dow, year = parts
        day_of_month, day_of_week = _day_of_month(dom), _day_of_week(dow)
        if (day_of_month is None) == (day_of_week is None):
            raise CronError("exactly one of day-of-month and day-of-week must be '?'")
        return cls(_values(minute, 0, 59), _values(hour, 0, 23), day_of_month, _values(month, 1, 12, MONTHS),
                   day_of_week, _values(year, MIN_YEAR, MAX_YEAR))

    def days(self, year: int, month: int) -> tuple[int, ...]:
        key = (year, month)
        cached = self._day_cache.get(key)
        if cached is None:
            spec = self.day_of_month if self.day_of_month is not None else self.day_of_week
            assert spec is not None
            cached = tuple(sorted(spec.days(year, month)))
            if len(self._day_cache) > 512:
                self._day_cache.clear()
            self._day_cache[key] = cached
        return cached

    def matches(self, moment: datetime) -> bool:
        return (moment.minute in self.minutes and moment.hour in self.hours and moment.month in self.months
                and moment.year in self.years and moment.day in self.days(moment.year, moment.month))

    def next_after(self, moment: datetime) -> datetime | None:
        """The first matching minute strictly after ``moment`` (naive wall clock), or None."""
        start = moment.replace(second=0, microsecond=0, tzinfo=None) + timedelta(minutes=1)
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        for year in sorted(y for y in self.years if y >= start.year):
            for month in sorted(self.months):
                if (year, month) < (start.year, start.month):
                    continue
                for day in self.days(year, month):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    same_day = (year, month, day) == (start.year, start.month, start.day)
                    for hour in hours:
                        if same_day and hour < start.hour:
                            continue
                        for minute in minutes:
                            if same_day and hour == start.hour and minute < start.minute:
                                continue
                            return datetime(year, month, day, hour, minute)
        return None
