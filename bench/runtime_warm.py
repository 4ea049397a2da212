"""Warm invokes through the environment pool's API (no HTTP): latency, throughput, memory.

* p50/p99 of sequential warm invokes of a hello-world Python function (and Node), with the
  default freeze policy (freeze after an idle grace) and with freezing at every idle moment,
  to show what the freezer costs on the warm path;
* throughput with 1, 2 and 8 concurrent callers (each caller gets its own environment);
* proportional set size (PSS: shared pages split between sharers, so forked environments
  are not double counted) of one idle environment and of 100 warm ones, and the private dirty
  memory of each environment's agent and runtime process (what each more environment costs:
  pages written since the fork from the zygote).

Run: ``python -m bench.runtime_warm [--quick]``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from bench._runtime_common import Bench
from bench.report import Figure, percentile, print_figures

NAME = "runtime_warm"


async def _latency(bench: Bench, runtime: str, count: int, label: str) -> list[Figure]:
    spec = bench.function(runtime)
    for _ in range(20):
        await bench.invoke(spec)
    samples = []
    for _ in range(count):
        t = time.perf_counter()
        await bench.invoke(spec)
        samples.append((time.perf_counter() - t) * 1000)
    return [Figure(NAME, f"{label} warm invoke p50", round(percentile(samples, 50), 3), "ms"),
            Figure(NAME, f"{label} warm invoke p99", round(percentile(samples, 99), 3), "ms")]


async def _frozen_latency(count: int) -> list[Figure]:
    """Freeze at every idle moment, and wait until frozen, so each invoke pays a thaw."""
    bench = Bench(freeze_after_s=0.0)
    await bench.pool.start()
    try:
        spec = bench.function("python3.11")
        await bench.invoke(spec)
        env = next(iter(bench.pool._all))
        samples = []
        for _ in range(count):
            deadline = time.monotonic() + 2
            while not env.frozen and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            t = time.perf_counter()
            await bench.invoke(spec)
            samples.append((time.perf_counter() - t) * 1000)
        return [Figure(NAME, "python3.11 invoke after freeze p50", round(percentile(samples, 50), 3), "ms",
                       "thaw + invoke: the cost freezing at every idle moment would add"),
                Figure(NAME, "python3.11 invoke after freeze p99", round(percentile(samples, 99), 3), "ms")]
    finally:
        await bench.pool.close()


async def _throughput(bench: Bench, callers: int, seconds: float) -> Figure:
    spec = bench.function("python3.11")
    await asyncio.gather(*(bench.invoke(spec) for _ in range(callers)))
    done = 0
    stop = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await bench.invoke(spec)
            done += 1
    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    rate = done / (time.perf_counter() - start)
    return Figure(NAME, f"throughput, {callers} concurrent caller(s)", round(rate), "invokes/s")


def _pss_kb(pid: int) -> int:
    """PSS of a process and its descendants."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            continue
    return total


def _private_dirty_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1])
    return 0


async def _memory(bench: Bench, count: int) -> list[Figure]:
    spec = bench.function("python3.11")
    await asyncio.gather(*(bench.invoke(spec) for _ in range(count)))
    pids = [e.agent_pid for e in bench.pool._all if e.spec.key == spec.key]
    one = _pss_kb(pids[0]) / 1024
    total = sum(_pss_kb(p) for p in pids) / 1024
    agents = [_private_dirty_kb(p) for p in pids]
    children = [Path(f"/proc/{p}/task/{p}/children").read_text().split() for p in pids]
    runtimes = [_private_dirty_kb(int(c)) for kids in children for c in kids]
    return [Figure(NAME, "PSS of one idle Python environment", round(one, 1), "MB", "agent + runtime"),
            Figure(NAME, f"PSS of {len(pids)} warm Python environments", round(total, 1), "MB"),
            Figure(NAME, "private dirty of an agent, mean", round(sum(agents) / len(agents) / 1024, 2), "MB",
                   f"over {len(agents)} warm environments"),
            Figure(NAME, "private dirty of a Python runtime process, mean",
                   round(sum(runtimes) / max(1, len(runtimes)) / 1024, 2), "MB")]


async def _main(quick: bool) -> list[Figure]:
    count = 300 if quick else 3000
    figures = await _frozen_latency(50 if quick else 200)
    bench = Bench()
    await bench.pool.start()
    try:
        figures += await _latency(bench, "python3.11", count, "python3.11")
        figures += await _latency(bench, "nodejs20.x", count, "nodejs20.x")
        for callers in (1, 2, 8):
            figures.append(await _throughput(bench, callers, 1.0 if quick else 3.0))
        figures += await _memory(bench, 20 if quick else 100)
    finally:
        await bench.pool.close()
    return figures


def run(quick: bool = False) -> list[Figure]:
    return asyncio.run(_main(quick))


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
