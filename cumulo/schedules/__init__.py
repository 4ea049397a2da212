"""Schedule expressions shared by EventBridge rules and EventBridge Scheduler.

``parse_expression`` reads ``rate(...)``, ``cron(...)`` and (for the Scheduler) ``at(...)``;
``next_fire`` computes the next fire time in a time zone; ``Cron`` is AWS's six-field cron;
``ScheduleClock`` is the (optionally accelerated) clock schedules run on.
"""

from cumulo.schedules.clock import ScheduleClock
from cumulo.schedules.cron import Cron, CronError
from cumulo.schedules.expressions import (
    At,
    CronSchedule,
    Expression,
    Rate,
    ScheduleError,
    fire_times,
    iso,
    next_fire,
    parse_expression,
    time_zone,
)

__all__ = ["At", "Cron", "CronError", "CronSchedule", "Expression", "Rate", "ScheduleClock", "ScheduleError",
           "fire_times", "iso", "next_fire", "parse_expression", "time_zone"]
