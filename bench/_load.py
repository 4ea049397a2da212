"""Load generators shared by the benchmarks: client processes on raw keep-alive connections,
and wrk (a C client, Debian package ``wrk``) when it is installed."""

from __future__ import annotations

import multiprocessing
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench._raw_http import RawConnection


def _client_loop(port: int, request: bytes, status: int, seconds: float, results: multiprocessing.Queue) -> None:
    connection = RawConnection(port)
    check(connection.send(request), status)
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        check(connection.send(request), status)
        count += 1
    results.put(count)


def check(answer: tuple[int, dict[str, str], bytes], status: int) -> dict[str, str]:
    """The answer's headers, once its status is the expected one and no function error is flagged."""
    got, headers, body = answer
    if got != status or "x-amz-function-error" in headers:
        raise RuntimeError(f"expected {status}, got {got} {body[:300]!r}")
    return headers


def client_processes(port: int, request: bytes, status: int, clients: int, seconds: float) -> float:
    """Requests/s of ``clients`` processes, each sending ``request`` one at a time on its own connection."""
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_client_loop, args=(port, request, status, seconds, results))
               for _ in range(clients)]
    for worker in workers:
        worker.start()
    total = sum(results.get(timeout=seconds + 60) for _ in workers)
    for worker in workers:
        worker.join()
    return total / seconds


@dataclass
class WrkResult:
    rate: float
    p50_ms: float | None
    p99_ms: float | None


def wrk(port: int, method: str, path: str, body: bytes, headers: dict[str, str], connections: int,
        seconds: float, success_only: bool = True) -> WrkResult | None:
    """wrk -t1 with ``connections`` connections, or None when wrk is not installed.
    ``success_only``: any non-2xx answer or socket error fails the run."""
    program = shutil.which("wrk")
    if program is None:
        return None
    lines = [f'wrk.method = "{method}"', f"wrk.body = {_lua_string(body.decode())}"]
    lines += [f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}" for name, value in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    try:
        output = subprocess.run([program, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s",
                                 script.name, f"http://127.0.0.1:{port}{path}"],
                                capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    finally:
        Path(script.name).unlink()
    if success_only and ("Non-2xx" in output or "Socket errors" in output):
        raise RuntimeError(f"wrk saw failures:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = re.search(r"\s50%\s+([\d.]+\w+)", output)
    p99 = re.search(r"\s99%\s+([\d.]+\w+)", output)
    return WrkResult(rate, _ms(p50.group(1)) if p50 else None, _ms(p99.group(1)) if p99 else None)


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
