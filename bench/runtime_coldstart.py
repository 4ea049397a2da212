"""Cold start: create -> first response for hello-world Python, Node and provided functions.

Reports p50/p95 of the total time and of the platform overhead (total minus the invoke
phase, i.e. environment creation, namespaces, cgroups, runtime start and init), with and
without isolation, next to the machine's floor: ``python3 -c pass`` and a bare fork+exec
of ``/bin/true``.  Run: ``python -m bench.runtime_coldstart [--quick]``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from bench._runtime_common import Bench
from bench.report import Figure, percentile, print_figures

NAME = "runtime_coldstart"


def _floor(quick: bool) -> list[Figure]:
    n = 10 if quick else 30
    py = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        py.append((time.perf_counter() - t) * 1000)
    spawn = []
    for _ in range(n):
        t = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.execv("/bin/true", ["/bin/true"])
        os.waitpid(pid, 0)
        spawn.append((time.perf_counter() - t) * 1000)
    return [Figure(NAME, "floor: python3 -c pass p50", round(percentile(py, 50), 2), "ms"),
            Figure(NAME, "floor: fork+exec /bin/true p50", round(percentile(spawn, 50), 3), "ms")]


async def _measure(isolation: str, quick: bool) -> list[Figure]:
    bench = Bench(isolation=isolation)
    await bench.pool.start()
    figures = []
    try:
        for runtime in ("python3.11", "nodejs20.x", "provided.al2023"):
            await bench.invoke(bench.function(runtime))  # start the zygote first
            totals, overheads = [], []
            for _ in range(10 if quick else 40):
                spec = bench.function(runtime)
                t = time.perf_counter()
                result = await bench.invoke(spec)
                total = (time.perf_counter() - t) * 1000
                assert result.payload == b'"hello"', result.payload
                totals.append(total)
                overheads.append(total - result.duration_ms)
                await bench.pool.retire(spec.key)
            label = f"{runtime} isolation={isolation}"
            figures += [
                Figure(NAME, f"{label} total p50", round(percentile(totals, 50), 2), "ms"),
                Figure(NAME, f"{label} total p95", round(percentile(totals, 95), 2), "ms"),
                Figure(NAME, f"{label} platform overhead p50", round(percentile(overheads, 50), 2), "ms",
                       "total minus the invoke phase"),
                Figure(NAME, f"{label} platform overhead p95", round(percentile(overheads, 95), 2), "ms"),
            ]
    finally:
        await bench.pool.close()
    return figures


def run(quick: bool = False) -> list[Figure]:
    figures = _floor(quick)
    for isolation in ("auto", "off"):
        figures += asyncio.run(_measure(isolation, quick))
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
