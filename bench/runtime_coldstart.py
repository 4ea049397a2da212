"""Cold start: create -> first response for hello-world Python, Node and provided functions.

Reports p50/p95 of the total time and of the platform overhead (total minus the invoke
phase, i.e. environment creation, namespaces, cgroups, runtime start and init), with and
without isolation, cold starts 100 ms apart (and one back-to-back burst figure: then the
previous environment's teardown and the zygote's refill compete for the 2 cores), next to
the machine's floor: ``python3 -c pass``, ``node -e 0`` and a bare
fork+exec of ``/bin/true``. Each environment gets its own credentials, as from the server;
what issuing and revoking them costs is a figure of its own. Python cold starts are measured
once more with the isolated function network (``network="isolated"``: a network namespace per
environment, and slirp4netns for its outside network where installed).
Run: ``python -m bench.runtime_coldstart [--quick]``.
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
PAUSE_S = 0.1  # between cold starts: the previous environment's teardown and blank refill are done


def _floor(quick: bool) -> list[Figure]:
    n = 10 if quick else 30
    py = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        py.append((time.perf_counter() - t) * 1000)
    node = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(["node", "-e", "0"], check=True)
        node.append((time.perf_counter() - t) * 1000)
    spawn = []
    for _ in range(n):
        t = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.execv("/bin/true", ["/bin/true"])
        os.waitpid(pid, 0)
        spawn.append((time.perf_counter() - t) * 1000)
    return [Figure(NAME, "floor: python3 -c pass p50", round(percentile(py, 50), 2), "ms"),
            Figure(NAME, "floor: node -e 0 p50", round(percentile(node, 50), 2), "ms"),
            Figure(NAME, "floor: fork+exec /bin/true p50", round(percentile(spawn, 50), 3), "ms")]


async def _cold_starts(bench: Bench, runtime: str, count: int, pause_s: float) -> tuple[list, list]:
    totals, overheads = [], []
    for _ in range(count):
        spec = bench.function(runtime)
        t = time.perf_counter()
        result = await bench.invoke(spec)
        total = (time.perf_counter() - t) * 1000
        assert result.payload == b'"hello"', result.payload
        totals.append(total)
        overheads.append(total - result.duration_ms)
        await bench.pool.retire(spec.key)
        await asyncio.sleep(pause_s)
    return totals, overheads


BURST = 8


async def _bursts(bench: Bench, size: int, rounds: int) -> list[float]:
    """``size`` concurrent first invokes of one new function (more than the zygote's stock)."""
    walls: list[float] = []
    for _ in range(rounds):
        spec = bench.function("python3.11")
        t = time.perf_counter()
        results = await asyncio.gather(*(bench.invoke(spec) for _ in range(size)))
        walls.append((time.perf_counter() - t) * 1000)
        assert all(r.payload == b'"hello"' for r in results), [r.payload for r in results]
        await bench.pool.retire(spec.key)
        await asyncio.sleep(PAUSE_S * 3)
    return walls


async def _measure(isolation: str, quick: bool, network: str = "host",
                   runtimes: tuple[str, ...] = ("python3.11", "nodejs20.x", "provided.al2023")) -> list[Figure]:
    """Cold starts spaced out (an otherwise idle platform), plus a back-to-back burst."""
    bench = Bench(isolation=isolation, network=network, endpoint_port=4566)
    await bench.pool.start()
    figures = []
    count = 10 if quick else 40
    suffix = "" if network == "host" else f" network={network}"
    try:
        for runtime in runtimes:
            await bench.invoke(bench.function(runtime))  # start the zygote first
            totals, overheads = await _cold_starts(bench, runtime, count, PAUSE_S)
            label = f"{runtime} isolation={isolation}{suffix}"
            figures += [
                Figure(NAME, f"{label} total p50", round(percentile(totals, 50), 2), "ms"),
                Figure(NAME, f"{label} total p95", round(percentile(totals, 95), 2), "ms"),
                Figure(NAME, f"{label} platform overhead p50", round(percentile(overheads, 50), 2), "ms",
                       "total minus the invoke phase"),
                Figure(NAME, f"{label} platform overhead p95", round(percentile(overheads, 95), 2), "ms"),
            ]
        _, overheads = await _cold_starts(bench, "python3.11", count, 0.0)
        figures.append(Figure(NAME, f"python3.11 isolation={isolation}{suffix} back-to-back overhead p50",
                              round(percentile(overheads, 50), 2), "ms", "cold starts with no pause"))
        walls = await _bursts(bench, BURST, 3 if quick else 10)
        figures += [
            Figure(NAME, f"python3.11 isolation={isolation}{suffix} burst of {BURST} concurrent cold starts p50",
                   round(percentile(walls, 50), 2), "ms", "until the last of the burst has answered"),
            Figure(NAME, f"python3.11 isolation={isolation}{suffix} burst of {BURST}, worst", round(max(walls), 2),
                   "ms", f"every one of {len(walls) * BURST} cold starts succeeded"),
        ]
    finally:
        await bench.pool.close()
    return figures


def _credentials(quick: bool) -> list[Figure]:
    """Issuing an environment's credentials (role lookup, a new session) and revoking them."""
    bench = Bench()
    issuer = bench.pool.config.credentials
    spec = bench.function("python3.11")
    samples = []
    for _ in range(200 if quick else 2000):
        t = time.perf_counter()
        issuer.revoke(issuer.issue(spec, 3600)[0])
        samples.append((time.perf_counter() - t) * 1e6)
    return [Figure(NAME, "per-environment credentials, issue + revoke p50", round(percentile(samples, 50), 1), "us",
                   "on every cold start (in memory; a role lookup in the store)")]


def run(quick: bool = False) -> list[Figure]:
    figures = _floor(quick) + _credentials(quick)
    for isolation in ("auto", "off"):
        figures += asyncio.run(_measure(isolation, quick))
    if sys.platform.startswith("linux") and os.geteuid() == 0:
        figures += asyncio.run(_measure("auto", quick, "isolated", ("python3.11",)))
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
