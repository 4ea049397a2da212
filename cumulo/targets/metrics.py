"""Delivery metrics of EventBridge and EventBridge Scheduler, handed to the CloudWatch metrics service.

``record_metric`` is the one entry point. Each data point goes to the CloudWatch metrics
service of the build, where GetMetricStatistics/GetMetricData/ListMetrics read it::

    platform.metrics.put(account, region, namespace, name, value, dimensions, unit="Count",
                         timestamp=epoch_seconds)

with ``dimensions`` a ``{name: value}`` dict; the points are also counted in memory
(``MetricCounters``). Recording never raises.

EventBridge (namespace ``AWS/Events``), as AWS documents them, each published without
dimensions (account level) and with the dimensions shown:

* ``MatchedEvents`` (``EventBusName``): events that matched at least one rule;
* ``TriggeredRules`` (``RuleName``; ``EventBusName`` + ``RuleName``): rules that matched an
  event or fired on their schedule;
* ``Invocations`` (``RuleName``): target invocations that ended, successfully or not (a delivery
  counts once, however many attempts it took);
* ``FailedInvocations`` (``RuleName``): deliveries that failed permanently;
* ``DeadLetterInvocations`` (``RuleName``): events EventBridge refused to route (one that
  already crossed a bus-to-bus hop); not counted in the two above;
* ``InvocationsSentToDlq`` / ``InvocationsFailedToBeSentToDlq`` (``RuleName``).

EventBridge Scheduler (namespace ``AWS/Scheduler``): ``InvocationAttemptCount``,
``TargetErrorCount``, ``InvocationDroppedCount``, ``InvocationsSentToDeadLetterCount``,
``InvocationsFailedToBeSentToDeadLetterCount`` (no dimensions, as AWS's account-level
metrics).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.events")
EVENTS_NAMESPACE = "AWS/Events"
SCHEDULER_NAMESPACE = "AWS/Scheduler"
_PENDING: set[asyncio.Future] = set()


class MetricCounters:
    """In-process totals by (namespace, name, dimensions), for inspection and tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: Counter[tuple] = Counter()

    def add(self, namespace: str, name: str, dimensions: list[dict[str, str]], value: float) -> None:
        key = (namespace, name, tuple(sorted((d["Name"], d["Value"]) for d in dimensions)))
        with self._lock:
            self._totals[key] += value

    def total(self, namespace: str, name: str, **dimensions: str) -> float:
        wanted = set(dimensions.items())
        with self._lock:
            return sum(v for (ns, n, dims), v in self._totals.items()
                       if ns == namespace and n == name and wanted <= set(dims))


def record_metric(platform: Platform, account: str, region: str, namespace: str, name: str,
                  dimensions: dict[str, str] | None = None, value: float = 1.0,
                  counters: MetricCounters | None = None) -> None:
    """Record one data point; a missing or failing metrics service is not an error."""
    if counters is not None:
        counters.add(namespace, name, [{"Name": k, "Value": v} for k, v in (dimensions or {}).items()], value)
    try:
        result = platform.metrics.put(account, region, namespace, name, value, dict(dimensions or {}), unit="Count",
                     timestamp=time.time())
        if inspect.isawaitable(result):  # an async implementation: run it in the background
            task = asyncio.ensure_future(result)
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)
    except Exception:  # metrics must never break delivery
        log.debug("recording metric %s/%s failed", namespace, name, exc_info=True)
