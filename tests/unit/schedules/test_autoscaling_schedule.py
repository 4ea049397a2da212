"""Application Auto Scaling's cron reads AWS's full grammar through the shared parser, on the wall
clock of the action's time zone."""

from __future__ import annotations

import datetime as dt

import pytest

from cumulo.services.autoscaling.schedule import Schedule, ScheduleError

NOW = dt.datetime(2026, 12, 7, 23, 0, tzinfo=dt.UTC)  # Monday 8 December, 00:00 in Paris


@pytest.mark.parametrize(("expression", "expected"), [
    ("cron(0 12 * * ? *)", dt.datetime(2026, 12, 8, 11, 0, tzinfo=dt.UTC)),
    ("cron(0 0 * * * *)", dt.datetime(2026, 12, 8, 23, 0, tzinfo=dt.UTC)),  # both '*': every day
    ("cron(15 10 ? * MON-FRI *)", dt.datetime(2026, 12, 8, 9, 15, tzinfo=dt.UTC)),
    ("cron(0 9 L * ? *)", dt.datetime(2026, 12, 31, 8, 0, tzinfo=dt.UTC)),
    ("cron(0 9 ? * 6#3 *)", dt.datetime(2026, 12, 18, 8, 0, tzinfo=dt.UTC)),
    ("cron(0 9 1W * ? *)", dt.datetime(2027, 1, 1, 8, 0, tzinfo=dt.UTC)),
])
def test_cron_in_a_time_zone(expression: str, expected: dt.datetime) -> None:
    assert Schedule(expression, "Europe/Paris").next_after(NOW) == expected


@pytest.mark.parametrize("expression", ["cron(nope)", "cron(0 9 5 * 2 *)", "cron(0 24 * * ? *)"])
def test_invalid_cron_is_a_schedule_error(expression: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule(expression)


@pytest.mark.parametrize(("expression", "minutes"), [("rate(5 minute)", 5), ("rate(1 minutes)", 1),
                                                     ("rate(2 hour)", 120), ("rate(1 day)", 1440),
                                                     ("rate(3 days)", 4320)])
def test_rates_take_either_unit_form(expression: str, minutes: int) -> None:
    assert Schedule(expression).next_after(NOW, origin=NOW) == NOW + dt.timedelta(minutes=minutes)


@pytest.mark.parametrize("expression", ["rate(0 minutes)", "rate(5 seconds)", "rate(five minutes)"])
def test_invalid_rates_are_schedule_errors(expression: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule(expression)
