"""Shared shape for benchmark results: every benchmark returns a list of `Figure`s.

A benchmark module in this folder exposes ``run(quick: bool = False) -> list[Figure]`` and
can be run on its own (``python -m bench.<name>``); ``python -m bench`` (or ``cumulo bench``)
runs them all and prints one table plus the same figures as JSON.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass


@dataclass
class Figure:
    benchmark: str
    metric: str
    value: float
    unit: str
    note: str = ""


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``samples`` (pct in 0..100)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def latency_figures(benchmark: str, label: str, samples_s: list[float]) -> list[Figure]:
    """p50/p99 (and mean) figures in milliseconds for a list of per-operation durations."""
    ms = [s * 1000 for s in samples_s]
    return [
        Figure(benchmark, f"{label} p50", round(percentile(ms, 50), 3), "ms"),
        Figure(benchmark, f"{label} p99", round(percentile(ms, 99), 3), "ms"),
        Figure(benchmark, f"{label} mean", round(statistics.fmean(ms), 3), "ms"),
    ]


def timed_samples(operation: Callable[[], object], count: int, warmup: int = 10) -> list[float]:
    """Run ``operation`` ``warmup`` times unmeasured, then ``count`` times, returning durations."""
    for _ in range(warmup):
        operation()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        operation()
        samples.append(time.perf_counter() - start)
    return samples


def print_figures(figures: Iterable[Figure], as_json: bool = True) -> None:
    figures = list(figures)
    width_b = max([len(f.benchmark) for f in figures] + [9])
    width_m = max([len(f.metric) for f in figures] + [6])
    print(f"{'benchmark':<{width_b}}  {'metric':<{width_m}}  {'value':>12}  unit  note")
    for f in figures:
        print(f"{f.benchmark:<{width_b}}  {f.metric:<{width_m}}  {f.value:>12,.3f}  {f.unit:<4}  {f.note}")
    if as_json:
        print(json.dumps([asdict(f) for f in figures], indent=1))
