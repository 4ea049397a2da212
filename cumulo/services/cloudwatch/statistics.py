"""Aggregating raw metric samples into CloudWatch statistics over periods.

A sample is either one value with a count (``PutMetricData`` ``Value``/``Values`` and
``Counts``) or a pre-aggregated statistic set (``StatisticValues``). Percentiles (``p99``,
``p50.5``) need raw values; periods containing statistic sets have none for those values,
as on CloudWatch.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

STANDARD = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,2})?|100)$")


@dataclass
class Bucket:
    count: float = 0.0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    values: list[float] = field(default_factory=list)
    exact: bool = True  # every sample is a raw value (percentiles are computable)

    def add_value(self, value: float, count: float = 1.0) -> None:
        self.count += count
        self.total += value * count
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)
        self.values.extend([value] * max(1, int(count)))

    def add_set(self, sample_count: float, total: float, minimum: float, maximum: float) -> None:
        self.count += sample_count
        self.total += total
        self.minimum = min(self.minimum, minimum)
        self.maximum = max(self.maximum, maximum)
        self.exact = False

    def statistic(self, name: str) -> float | None:
        if name == "SampleCount":
            return self.count
        if name == "Sum":
            return self.total
        if name == "Average":
            return self.total / self.count if self.count else None
        if name == "Minimum":
            return self.minimum
        if name == "Maximum":
            return self.maximum
        found = PERCENTILE.match(name)
        if found and self.exact and self.values:
            return percentile(sorted(self.values), float(found.group(1)))
        return None


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile, as CloudWatch reports it for raw values."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def is_known_statistic(name: str) -> bool:
    return name in STANDARD or PERCENTILE.match(name) is not None


def bucketize(samples: list[dict], start: float, end: float, period: int) -> dict[float, Bucket]:
    """Samples with ``t`` (epoch seconds) in [start, end) grouped into periods aligned to ``period``."""
    buckets: dict[float, Bucket] = {}
    for sample in samples:
        when = sample["t"]
        if not start <= when < end:
            continue
        slot = math.floor(when / period) * period
        bucket = buckets.setdefault(slot, Bucket())
        if "set" in sample:
            count, total, minimum, maximum = sample["set"]
            bucket.add_set(count, total, minimum, maximum)
        else:
            bucket.add_value(sample["v"], sample.get("c", 1.0))
    return buckets
