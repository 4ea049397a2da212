"""The platform's own log lines, worded and tab-separated exactly as AWS Lambda writes them.

Every message ends with a newline, as CloudWatch Logs stores Lambda's events.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time

TAIL_BYTES = 4096


def log_stream_name(version: str, now: float | None = None) -> str:
    """``2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef``."""
    day = time.strftime("%Y/%m/%d", time.gmtime(now if now is not None else time.time()))
    return f"{day}/[{version}]{secrets.token_hex(16)}"


def runtime_version(runtime: str, region: str) -> tuple[str, str]:
    """(runtime version label, runtime version ARN), as INIT_START and platform.initStart show them."""
    family, _, version = runtime.partition("3.") if runtime.startswith("python") else (runtime, "", "")
    label = f"python:3.{version}.cumulo" if family == "python" else runtime.replace(".x", "") + ".cumulo"
    digest = hashlib.sha256(runtime.encode()).hexdigest()
    return label, f"arn:aws:lambda:{region}::runtime:{digest}"


def init_start(runtime: str, region: str) -> str:
    label, arn = runtime_version(runtime, region)
    return f"INIT_START Runtime Version: {label}\tRuntime Version ARN: {arn}\n"


def init_report(duration_ms: float, phase: str, status: str, error_type: str | None = None) -> str:
    """``INIT_REPORT Init Duration: 3003.83 ms\\tPhase: invoke\\tStatus: timeout`` (failed inits only)."""
    if status == "success":  # provisioned concurrency: INIT runs ahead of any invoke
        return f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\n"
    line = f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
    if error_type:
        line += "\tError Type: " + error_type
    return line + "\n"


def start(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def billed(duration_ms: float) -> int:
    return max(1, math.ceil(duration_ms))


def report(request_id: str, duration_ms: float, memory_mb: int, max_used_mb: int,
           init_duration_ms: float | None = None, status: str | None = None,
           error_type: str | None = None) -> str:
    """``REPORT RequestId: ...\\tDuration: 1.23 ms\\tBilled Duration: 2 ms\\t...`` with AWS's tabs.

    A successful invoke's line ends with a tab; a failed one ends with ``Status: timeout`` or
    ``Status: error\\tError Type: Runtime.ExitError``.
    """
    line = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {billed(duration_ms)} ms\tMemory Size: {memory_mb} MB\t"
            f"Max Memory Used: {max_used_mb} MB\t")
    if init_duration_ms is not None:
        line += f"Init Duration: {init_duration_ms:.2f} ms\t"
    if status:
        line += "Status: " + status
        if error_type:
            line += "\tError Type: " + error_type
    return line + "\n"


def timed_out(request_id: str, seconds: float, now: float | None = None) -> str:
    """``2024-04-14T01:17:35.426Z <id> Task timed out after 3.05 seconds``."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    return f"{stamp} {request_id} Task timed out after {seconds:.2f} seconds\n"


def exit_error(request_id: str, status: str) -> str:
    return f"RequestId: {request_id} Error: Runtime exited with error: {status}\nRuntime.ExitError\n"


def tail(messages: list[str], limit: int = TAIL_BYTES) -> str:
    """The last ``limit`` bytes of an invoke's log, cut on a character boundary."""
    data = "".join(messages).encode()
    if len(data) <= limit:
        return data.decode()
    return data[-limit:].decode("utf-8", "ignore")
