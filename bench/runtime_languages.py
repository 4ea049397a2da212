"""Cold start and warm invoke per language runtime, next to the host's floor for that language.

For a hello-world function of each runtime (the platform's Python, nodejs20.x, java17) through the
environment pool's API (no HTTP), isolation on: the p50 of a cold start (create -> first
response, the previous environment retired, 100 ms apart) and of warm invokes. Java is measured
three ways, interleaved: with Cumulo's AppCDS archive of its runtime (the default), with the JDK's
own CDS archive only (``JAVA_TOOL_OPTIONS=-Xshare:auto``) and with class data sharing off
(``-Xshare:off``). Floors: ``python3
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


async def _measure(bench: Bench, makers: dict, count: int) -> list[Figure]:
    """Cold starts and warm invokes of each kind of function, interleaved (a busy host's noise
    falls on all of them alike)."""
    colds: dict[str, list[float]] = {label: [] for label in makers}
    warms: dict[str, list[float]] = {label: [] for label in makers}
    for make in makers.values():
        await bench.invoke(make())  # the zygote (and for Java the runtime's build) first
    for _ in range(count):
        for label, make in makers.items():
            spec = make()
            t = time.perf_counter()
            result = await bench.invoke(spec)
            colds[label].append((time.perf_counter() - t) * 1000)
            assert result.payload == b'"hello"', result.payload
            for _ in range(5):
                t = time.perf_counter()
                await bench.invoke(spec)
                warms[label].append((time.perf_counter() - t) * 1000)
            await bench.pool.retire(spec.key)
            await asyncio.sleep(PAUSE_S)
    figures = []
    for label in makers:
        figures += [Figure(NAME, f"{label} cold start p50", round(percentile(colds[label], 50), 2), "ms"),
                    Figure(NAME, f"{label} cold start p95", round(percentile(colds[label], 95), 2), "ms"),
                    Figure(NAME, f"{label} warm invoke p50", round(percentile(warms[label], 50), 3), "ms")]
    return figures


async def _run(quick: bool) -> list[Figure]:
    count = 5 if quick else 20
    bench = Bench(isolation="auto")
    makers = {PYTHON: lambda: dataclasses.replace(bench.function("python3.11"), runtime=PYTHON)}
    if shutil.which("node"):
        makers["nodejs20.x"] = lambda: bench.function("nodejs20.x")
    if shutil.which("javac"):
        code = _java_code(Path(tempfile.mkdtemp(prefix="cumulo-bench-java-")))

        def java(**env: str):
            return lambda: dataclasses.replace(bench.function("python3.11"), runtime="java17", handler="Hello::handle",
                                               code_dir=code, memory_mb=512, environment=env)
        makers["java17 with Cumulo's AppCDS archive"] = java()
        # -Xshare in JAVA_TOOL_OPTIONS is left to the JVM: auto maps the JDK's own archive only
        makers["java17 with the JDK's CDS only"] = java(JAVA_TOOL_OPTIONS="-Xshare:auto")
        makers["java17 without CDS"] = java(JAVA_TOOL_OPTIONS="-Xshare:off")
    await bench.pool.start()
    try:
        return await _measure(bench, makers, count)
    finally:
        await bench.pool.close()


def run(quick: bool = False) -> list[Figure]:
    return _floors(quick) + asyncio.run(_run(quick))


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
