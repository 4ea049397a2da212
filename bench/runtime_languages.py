"""Cold start and warm invoke per language runtime, next to the host's floor for that language.

For a hello-world function of each runtime (the platform's Python, nodejs20.x, java17) through the
environment pool's API (no HTTP), isolation on: the p50 of a cold start (create -> first
response, the previous environment retired, 100 ms apart) and of warm invokes. Java is measured
three ways: with Cumulo's AppCDS archive of its runtime (the default), with the JDK's own CDS
archive only, and with class data sharing off (``JAVA_TOOL_OPTIONS=-Xshare:off``). Floors: ``python3
-c pass``, ``node -e 0``, ``java -version`` (and with ``-Xshare:off``).

Run: ``python -m bench.runtime_languages [--quick]``.  The first Java cold start of a pool also
compiles Cumulo's Java runtime and dumps its archive; it is left out (a warm-up start).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._runtime_common import Bench
from bench.report import Figure, percentile, print_figures

NAME = "runtime_languages"
PAUSE_S = 0.1
PYTHON = "python{}.{}".format(*sys.version_info[:2])
JAVA_HELLO = "public class Hello { public String handle(Object event) { return \"hello\"; } }\n"


def _floor(argv: list[str], n: int) -> float:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        samples.append((time.perf_counter() - t) * 1000)
    return round(percentile(samples, 50), 2)


def _floors(quick: bool) -> list[Figure]:
    n = 5 if quick else 20
    figures = [Figure(NAME, "floor: python3 -c pass p50", _floor([sys.executable, "-c", "pass"], n), "ms")]
    if shutil.which("node"):
        figures.append(Figure(NAME, "floor: node -e 0 p50", _floor(["node", "-e", "0"], n), "ms"))
    if shutil.which("java"):
        figures += [Figure(NAME, "floor: java -version p50", _floor(["java", "-version"], n), "ms"),
                    Figure(NAME, "floor: java -Xshare:off -version p50",
                           _floor(["java", "-Xshare:off", "-version"], n), "ms")]
    return figures


def _java_code(tmp: Path) -> Path:
    code = tmp / "java-hello"
    code.mkdir()
    (tmp / "Hello.java").write_text(JAVA_HELLO)
    subprocess.run(["javac", "--release", "11", "-d", str(code), str(tmp / "Hello.java")], check=True)
    return code


async def _measure(bench: Bench, label: str, make, count: int) -> list[Figure]:
    await bench.invoke(make())  # the zygote (and for Java the runtime's build) first
    colds, warms = [], []
    for _ in range(count):
        spec = make()
        t = time.perf_counter()
        result = await bench.invoke(spec)
        colds.append((time.perf_counter() - t) * 1000)
        assert result.payload == b'"hello"', result.payload
        for _ in range(5):
            t = time.perf_counter()
            await bench.invoke(spec)
            warms.append((time.perf_counter() - t) * 1000)
        await bench.pool.retire(spec.key)
        await asyncio.sleep(PAUSE_S)
    return [Figure(NAME, f"{label} cold start p50", round(percentile(colds, 50), 2), "ms"),
            Figure(NAME, f"{label} cold start p95", round(percentile(colds, 95), 2), "ms"),
            Figure(NAME, f"{label} warm invoke p50", round(percentile(warms, 50), 3), "ms")]


async def _run(quick: bool) -> list[Figure]:
    """One pool at a time (two isolated pools side by side in one process are not a use case)."""
    count = 5 if quick else 20
    figures: list[Figure] = []
    code = _java_code(Path(tempfile.mkdtemp(prefix="cumulo-bench-java-"))) if shutil.which("javac") else None

    def java(b: Bench, **env: str):
        return lambda: dataclasses.replace(b.function("python3.11"), runtime="java17", handler="Hello::handle",
                                           code_dir=code, memory_mb=512, environment=env)
    bench = Bench(isolation="auto")
    await bench.pool.start()
    try:
        figures += await _measure(bench, PYTHON, lambda: dataclasses.replace(bench.function("python3.11"),
                                                                             runtime=PYTHON), count)
        if shutil.which("node"):
            figures += await _measure(bench, "nodejs20.x", lambda: bench.function("nodejs20.x"), count)
        if code is not None:
            figures += await _measure(bench, "java17 with Cumulo's AppCDS archive", java(bench), count)
            figures += await _measure(bench, "java17 without CDS (-Xshare:off)",
                                      java(bench, JAVA_TOOL_OPTIONS="-Xshare:off"), count)
    finally:
        await bench.pool.close()
    if code is not None:
        no_cds = Bench(isolation="auto", java_app_cds=False)
        await no_cds.pool.start()
        try:
            figures += await _measure(no_cds, "java17 with the JDK's CDS only", java(no_cds), count)
        finally:
            await no_cds.pool.close()
    return figures


def run(quick: bool = False) -> list[Figure]:
    return _floors(quick) + asyncio.run(_run(quick))


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
