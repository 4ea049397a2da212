"""EventBridge and EventBridge Scheduler metrics, handed to the CloudWatch metrics service.

``record_metric`` is the one entry point. When the build has a ``cloudwatch`` provider with a
``put_internal`` method, each data point goes there::

    providers["cloudwatch"].put_internal(account, region, namespace, name, dimensions, value,
                                         unit="Count", timestamp=epoch_seconds)

where ``dimensions`` is a list of ``{"Name": ..., "Value": ...}``. Without one, metrics are
counted in memory only (``MetricCounters``, visible to tests through the provider) and
otherwise dropped. Recording never raises.

EventBridge (namespace ``AWS/Events``), as AWS documents them:

* ``MatchedEvents`` (dimension ``EventBusName``): events that matched at least one rule;
* ``TriggeredRules`` (``RuleName``, ``EventBusName``): rules that matched an event or fired on
  their schedule;
* ``Invocations`` (``RuleName``): targets invoked (a delivery counts once, however many
  attempts it took);
* ``FailedInvocations`` (``RuleName``): deliveries that failed permanently;
* ``DeadLetterInvocations`` (``RuleName``): events not delivered because EventBridge refused
  to route them (an event that already crossed one bus-to-bus hop);
* ``InvocationsSentToDLQ`` / ``InvocationsFailedToBeSentToDLQ`` (``RuleName``).

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
from typing import Any

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


def record_metric(platform: Any, account: str, region: str, namespace: str, name: str,
                  dimensions: dict[str, str] | None = None, value: float = 1.0,
                  counters: MetricCounters | None = None) -> None:
    """Record one data point; a missing or failing metrics service is not an error."""
    dims = [{"Name": k, "Value": v} for k, v in (dimensions or {}).items()]
    if counters is not None:
        counters.add(namespace, name, dims, value)
    cloudwatch = getattr(platform, "providers", {}).get("cloudwatch")
    put = getattr(cloudwatch, "put_internal", None)
    if put is None:
        return
    try:
        result = put(account, region, namespace, name, dims, value, unit="Count", timestamp=time.time())
        if inspect.isawaitable(result):  # an async implementation: run it in the background
            task = asyncio.ensure_future(result)
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)
    except Exception:  # metrics must never break delivery
        log.debug("recording metric %s/%s failed", namespace, name, exc_info=True)
