"""Schedule expressions: ``rate(...)``, ``cron(...)`` and ``at(...)``, and their next fire time.

EventBridge rules accept ``rate`` and ``cron`` (always UTC); EventBridge Scheduler also
accepts ``at(yyyy-mm-ddThh:mm:ss)`` and evaluates ``cron`` and ``at`` in an IANA time zone.

Fire times are epoch seconds. Daylight saving time follows EventBridge Scheduler's documented
behaviour: a cron time that does not exist (the hour skipped in spring) is skipped, a time that
exists twice (the hour repeated in autumn) fires once, on its first occurrence; a rate is a
fixed duration (``rate(1 day)`` is 24 hours, whatever the clocks do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cumulo.schedules.cron import Cron, CronError

UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^rate\((\d+) (minutes?|hours?|days?)\)$")
_CRON = re.compile(r"^cron\((.*)\)$", re.DOTALL)
_AT = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")


class ScheduleError(ValueError):
    """The schedule expression is not valid."""


@dataclass(frozen=True)
class Rate:
    value: int
    unit: str

    @property
    def seconds(self) -> int:
        return self.value * UNIT_SECONDS[self.unit.rstrip("s")]


@dataclass(frozen=True)
class CronSchedule:
    cron: Cron


@dataclass(frozen=True)
class At:
    moment: datetime  # naive, in the schedule's time zone


Expression = Rate | CronSchedule | At


def parse_expression(text: str, *, allow_at: bool = False, unit_must_agree: bool = True) -> Expression:
    """Read a schedule expression; raises ScheduleError when it is not valid.

    ``unit_must_agree``: EventBridge rules require the singular unit for 1 and the plural
    otherwise ("rate(1 hours) and rate(5 hour) aren't valid", EventBridge User Guide, "Rate
    expressions reference"); EventBridge Scheduler documents the unit as any of
    ``minute | minutes | hour | hours | day | days`` for a positive value, so it accepts
    ``rate(5 minute)`` and ``rate(1 minutes)`` (pass False).
    """
    found = _RATE.match(text)
    if found:
        value, unit = int(found.group(1)), found.group(2)
        if value < 1 or found.group(1).startswith("0"):
            raise ScheduleError("the rate value must be a positive integer")
        if unit_must_agree and (value == 1) == unit.endswith("s"):
            raise ScheduleError("use a singular unit for 1 and a plural unit otherwise")
        return Rate(value, unit)
    found = _CRON.match(text)
    if found:
        try:
            return CronSchedule(Cron.parse(found.group(1)))
        except CronError as exc:
            raise ScheduleError(str(exc)) from exc
    found = _AT.match(text) if allow_at else None
    if found:
        try:
            return At(datetime(*(int(part) for part in found.groups())))  # type: ignore[misc]
        except ValueError as exc:
            raise ScheduleError(str(exc)) from exc
    raise ScheduleError(f"not a schedule expression: {text!r}")


def time_zone(name: str | None) -> ZoneInfo:
    """The IANA zone (UTC when not given); raises ScheduleError for an unknown name."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {name!r}") from exc


def _to_epoch(local: datetime, zone: ZoneInfo) -> float | None:
    """Epoch seconds of a wall-clock time in ``zone``; None when the time does not exist there."""
    aware = local.replace(tzinfo=zone, fold=0)
    instant = aware.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local:
        return None  # skipped by a daylight-saving jump
    return instant.timestamp()


def next_fire(expression: Expression, after: float, *, zone: ZoneInfo | None = None,
              anchor: float | None = None) -> float | None:
    """The first fire time strictly after ``after`` (epoch seconds), or None if there is none.

    ``anchor`` is where a rate starts counting (its first fire time).
    """
    zone = zone or ZoneInfo("UTC")
    if isinstance(expression, Rate):
        start = after if anchor is None else anchor
        if start > after:
            return start
        period = expression.seconds
        steps = int((after - start) // period) + 1
        return start + steps * period
    if isinstance(expression, At):
        moment = _to_epoch(expression.moment, zone)
        if moment is None:  # a one-time schedule in the skipped hour runs at the same UTC offset later
            moment = expression.moment.replace(tzinfo=zone).astimezone(UTC).timestamp()
        return moment if moment > after else None
    cursor = datetime.fromtimestamp(after, UTC).astimezone(zone).replace(tzinfo=None)
    for _ in range(100_000):
        candidate = expression.cron.next_after(cursor)
        if candidate is None:
            return None
        moment = _to_epoch(candidate, zone)
        if moment is not None and moment > after:
            return moment
        cursor = candidate
    return None


def fire_times(expression: Expression, after: float, count: int, **kwargs: object) -> list[float]:
    """The next ``count`` fire times after ``after`` (for tests and documentation)."""
    times: list[float] = []
    cursor = after
    for _ in range(count):
        moment = next_fire(expression, cursor, **kwargs)  # type: ignore[arg-type]
        if moment is None:
            break
        times.append(moment)
        cursor = moment
    return times


def iso(moment: float) -> str:
    """``2024-01-01T00:00:00Z``, the time format of EventBridge events."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def floor_minute(moment: float) -> float:
    return moment - moment % 60


__all__ = ["At", "CronSchedule", "Expression", "Rate", "ScheduleError", "fire_times", "floor_minute", "iso",
           "next_fire", "parse_expression", "time_zone"]
