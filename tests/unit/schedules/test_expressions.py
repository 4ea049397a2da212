"""Schedule expressions: AWS's cron dialect, rates, one-time schedules, time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cumulo.schedules import (
    At,
    Cron,
    CronError,
    Rate,
    ScheduleClock,
    ScheduleError,
    fire_times,
    iso,
    next_fire,
    parse_expression,
    time_zone,
)


def ts(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=time_zone(zone)).timestamp()


def times(expression: str, start: str, count: int = 4, zone: str = "UTC", **kwargs) -> list[str]:
    tz = time_zone(zone)
    found = fire_times(parse_expression(expression, allow_at=True), ts(start), count, zone=tz, **kwargs)
    return [datetime.fromtimestamp(moment, tz).strftime("%Y-%m-%d %H:%M %a") for moment in found]


# ------------------------------------------------------------ the examples of AWS's documentation
@pytest.mark.parametrize("expression, start, expected", [
    ("cron(0 10 * * ? *)", "2024-01-01T11:00", ["2024-01-02 10:00 Tue", "2024-01-03 10:00 Wed"]),
    ("cron(15 12 * * ? *)", "2024-01-01T00:00", ["2024-01-01 12:15 Mon", "2024-01-02 12:15 Tue"]),
    ("cron(0 18 ? * MON-FRI *)", "2024-01-05T19:00", ["2024-01-08 18:00 Mon", "2024-01-09 18:00 Tue"]),
    ("cron(0 8 1 * ? *)", "2024-01-15T00:00", ["2024-02-01 08:00 Thu", "2024-03-01 08:00 Fri"]),
    ("cron(0/15 * * * ? *)", "2024-01-01T00:07", ["2024-01-01 00:15 Mon", "2024-01-01 00:30 Mon"]),
    ("cron(0/10 * ? * MON-FRI *)", "2024-01-05T23:45", ["2024-01-05 23:50 Fri", "2024-01-08 00:00 Mon"]),
    ("cron(0/5 8-17 ? * MON-FRI *)", "2024-01-05T17:52", ["2024-01-05 17:55 Fri", "2024-01-08 08:00 Mon"]),
    ("cron(0/30 20-2 ? * MON-FRI *)", "2024-01-08T01:40", ["2024-01-08 02:00 Mon", "2024-01-08 02:30 Mon",
                                                            "2024-01-08 20:00 Mon"]),
    ("cron(5,35 14 * * ? *)", "2024-01-01T14:10", ["2024-01-01 14:35 Mon", "2024-01-02 14:05 Tue"]),
    ("cron(15 10 ? * 6L 2019-2022)", "2022-10-01T00:00", ["2022-10-28 10:15 Fri", "2022-11-25 10:15 Fri",
                                                          "2022-12-30 10:15 Fri"]),
])
def test_documented_examples(expression, start, expected):
    assert times(expression, start, len(expected)) == expected


def test_a_year_range_ends():
    assert times("cron(15 10 ? * 6L 2019-2022)", "2022-12-31T00:00") == []


# ------------------------------------------------------------ wildcards
@pytest.mark.parametrize("expression, start, expected", [
    ("cron(0 12 L * ? *)", "2024-01-31T13:00", ["2024-02-29 12:00 Thu", "2024-03-31 12:00 Sun"]),
    ("cron(0 12 L-2 * ? *)", "2024-02-01T00:00", ["2024-02-27 12:00 Tue", "2024-03-29 12:00 Fri"]),
    ("cron(0 12 LW * ? *)", "2024-06-01T00:00", ["2024-06-28 12:00 Fri", "2024-07-31 12:00 Wed"]),
    ("cron(0 12 15W * ? *)", "2024-06-01T00:00", ["2024-06-14 12:00 Fri", "2024-07-15 12:00 Mon"]),
    ("cron(0 12 1W * ? *)", "2024-06-01T00:00", ["2024-06-03 12:00 Mon", "2024-07-01 12:00 Mon"]),
    ("cron(0 12 30W * ? *)", "2024-06-01T00:00", ["2024-06-28 12:00 Fri", "2024-07-30 12:00 Tue"]),
    ("cron(0 12 31W * ? *)", "2024-04-01T00:00", ["2024-05-31 12:00 Fri", "2024-07-31 12:00 Wed"]),
    ("cron(0 12 ? * 3#2 *)", "2024-06-01T00:00", ["2024-06-11 12:00 Tue", "2024-07-09 12:00 Tue"]),
    ("cron(0 12 ? * MON#5 *)", "2024-01-01T00:00", ["2024-01-29 12:00 Mon", "2024-04-29 12:00 Mon"]),
    ("cron(0 12 ? * L *)", "2024-06-01T13:00", ["2024-06-08 12:00 Sat", "2024-06-15 12:00 Sat"]),
    ("cron(0 12 ? * FRIL *)", "2024-06-01T00:00", ["2024-06-28 12:00 Fri", "2024-07-26 12:00 Fri"]),
    ("cron(0 12 ? * SUN,SAT *)", "2024-06-03T00:00", ["2024-06-08 12:00 Sat", "2024-06-09 12:00 Sun"]),
    ("cron(0 0 29 FEB ? *)", "2024-03-01T00:00", ["2028-02-29 00:00 Tue", "2032-02-29 00:00 Sun"]),
    ("cron(*/20 9 * JAN-MAR,DEC ? 2030)", "2030-03-31T09:30", ["2030-03-31 09:40 Sun", "2030-12-01 09:00 Sun"]),
    ("cron(10-40/15 * * * ? *)", "2024-01-01T00:00", ["2024-01-01 00:10 Mon", "2024-01-01 00:25 Mon",
                                                      "2024-01-01 00:40 Mon", "2024-01-01 01:10 Mon"]),
    ("cron(0 22-1/2 * * ? *)", "2024-01-01T12:00", ["2024-01-01 22:00 Mon", "2024-01-02 00:00 Tue"]),
    ("cron(0 0 1 1 ? 2199)", "2100-01-01T00:00", ["2199-01-01 00:00 Tue"]),
])
def test_wildcards(expression, start, expected):
    assert times(expression, start, len(expected)) == expected


@pytest.mark.parametrize("fields", [
    "0 1 * * * *",  # both day fields given
    "0 1 ? * ? *",  # neither day field given
    "7 20 * * NOT *", "INVALID", "0 dummy ? * MON-FRI *", "71 8 1 * ? *", "", "0 1 * * ?", "0 1 * * ? * *",
    "0 24 * * ? *", "0 0 32 * ? *", "0 0 0 * ? *", "0 0 * 13 ? *", "0 0 ? * 8 *", "0 0 * * ? 1969",
    "0 0 * * ? 2200", "0/0 * * * ? *", "0 0 ? * 3#1,6#3 *", "0 0 ? * 3#6 *", "0 0 L,1 * ? *", "0 0 LW-1 * ? *",
    "0 0 ? * 1W *", "0 0 32W * ? *", "x-5 * * * ? *", "0 0 * * ? L",
])
def test_invalid_cron(fields):
    with pytest.raises(CronError):
        Cron.parse(fields)
    with pytest.raises(ScheduleError):
        parse_expression(f"cron({fields})")


# ------------------------------------------------------------ rate and at
@pytest.mark.parametrize("text, seconds", [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600),
                                           ("rate(12 hours)", 43200), ("rate(1 day)", 86400),
                                           ("rate(7 days)", 604800)])
def test_rates(text, seconds):
    rate = parse_expression(text)
    assert isinstance(rate, Rate) and rate.seconds == seconds
    assert fire_times(rate, 1000.0, 3, anchor=1000.0 + seconds) == [1000.0 + seconds * k for k in (1, 2, 3)]


@pytest.mark.parametrize("text", ["rate(10 seconds)", "rate(10 years)", "rate()", "rate(10)", "rate(10 minutess)",
                                  "rate(foo minutes)", "rate(-10 minutes)", "rate( 10 minutes )",
                                  " rate(10 minutes)", "rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)",
                                  "rate(05 minutes)", "Rate(5 minutes)", "at(2030-01-01T00:00:00)",
                                  "cron(0 0 * * ? *) ", "every 5 minutes"])
def test_invalid_rule_expressions(text):
    with pytest.raises(ScheduleError):
        parse_expression(text)


@pytest.mark.parametrize("text, seconds", [("rate(5 minute)", 300), ("rate(1 minutes)", 60), ("rate(2 hour)", 7200),
                                           ("rate(1 days)", 86400), ("rate(1 minute)", 60), ("rate(7 days)", 604800)])
def test_scheduler_rates_take_either_unit_form(text, seconds):
    rate = parse_expression(text, allow_at=True, unit_must_agree=False)
    assert isinstance(rate, Rate) and rate.seconds == seconds


@pytest.mark.parametrize("text", ["rate(0 minute)", "rate(05 minutes)", "rate(10 seconds)", "rate(5 minutess)",
                                  "rate(-1 minute)"])
def test_invalid_scheduler_rates(text):
    with pytest.raises(ScheduleError):
        parse_expression(text, allow_at=True, unit_must_agree=False)


@pytest.mark.parametrize("text", ["at(2021-12-31T23:59:59Z)", "at(2021-12-31)", "at(2021-02-30T00:00:00)",
                                  "at(2021-12-31 23:59:59)", "at()"])
def test_invalid_one_time_expressions(text):
    with pytest.raises(ScheduleError):
        parse_expression(text, allow_at=True)


def test_one_time_schedule_in_a_time_zone():
    at = parse_expression("at(2030-01-01T10:00:00)", allow_at=True)
    assert isinstance(at, At)
    paris = time_zone("Europe/Paris")
    assert next_fire(at, 0, zone=paris) == ts("2030-01-01T09:00", "UTC")
    assert next_fire(at, ts("2030-01-01T09:00"), zone=paris) is None


def test_rate_anchor_is_its_first_fire_and_it_catches_up_after_a_gap():
    rate = Rate(5, "minutes")
    assert next_fire(rate, 0, anchor=100) == 100
    assert next_fire(rate, 100, anchor=100) == 400
    assert next_fire(rate, 1000, anchor=100) == 1300  # aligned on the anchor: 100, 400, 700, 1000, 1300


def test_unknown_time_zone():
    with pytest.raises(ScheduleError):
        time_zone("Mars/Olympus")


# ------------------------------------------------------------ daylight saving time
def test_a_cron_time_skipped_in_spring_does_not_fire():
    assert times("cron(30 2 * * ? *)", "2024-03-09T00:00", 3, zone="America/New_York") == [
        "2024-03-09 02:30 Sat", "2024-03-11 02:30 Mon", "2024-03-12 02:30 Tue"]


def test_a_cron_time_repeated_in_autumn_fires_once():
    found = fire_times(parse_expression("cron(0/30 * * * ? *)"), ts("2024-11-03T04:50"), 6,
                       zone=time_zone("America/New_York"))
    assert [iso(moment) for moment in found] == [
        "2024-11-03T05:00:00Z", "2024-11-03T05:30:00Z",  # 01:00 and 01:30 EDT
        "2024-11-03T07:00:00Z", "2024-11-03T07:30:00Z",  # 02:00, 02:30 EST: 01:00-01:59 EST is skipped
        "2024-11-03T08:00:00Z", "2024-11-03T08:30:00Z"]


def test_rates_are_durations_across_dst():
    start = ts("2024-03-09T12:00", "America/New_York")
    found = fire_times(Rate(1, "day"), start, 2, anchor=start + 86400)
    assert [iso(m) for m in found] == ["2024-03-10T17:00:00Z", "2024-03-11T17:00:00Z"]


def test_cron_in_a_time_zone():
    assert times("cron(0 9 ? * MON *)", "2023-12-31T12:00", 2, zone="Asia/Tokyo") == [
        "2024-01-01 09:00 Mon", "2024-01-08 09:00 Mon"]
    found = next_fire(parse_expression("cron(0 9 ? * MON *)"), ts("2024-01-01T08:00", "Asia/Tokyo"),
                      zone=time_zone("Asia/Tokyo"))
    assert iso(found) == "2024-01-01T00:00:00Z"


def test_iso_is_seconds_with_z():
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC).timestamp()) == "2024-05-06T07:08:09Z"


# ------------------------------------------------------------ the accelerated clock
def test_schedule_clock_runs_faster_from_the_schedule_origin(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("cumulo.schedules.clock.time.time", lambda: now[0])
    clock = ScheduleClock(60)
    assert clock.now(origin=1000.0) == 1000.0
    now[0] = 1001.0
    assert clock.now(origin=1000.0) == 1060.0
    assert clock.now(origin=1001.0) == 1001.0  # a schedule created now starts at real time
    assert clock.real(1000.0, 1060.0) == 1001.0
    assert ScheduleClock(1).real(0.0, 5.0) == 5.0 and ScheduleClock(1).now(0.0) == 1001.0
    with pytest.raises(ValueError):
        ScheduleClock(0)
