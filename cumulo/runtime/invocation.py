"""One invoke on an environment that is ready: the event goes in, the runtime's answer (or a
timeout, or the runtime's exit) comes out as an :class:`InvokeResult`, with the START, END and
REPORT lines in the function's log stream and the REPORT to telemetry subscribers.

When extensions still work on the event after the runtime has answered, the caller gets the
result at once and the invoke ends (duration, billing, memory final) in a coroutine. A streamed
response is handed over the same way, as soon as it starts: the result carries the
``ResponseStream`` and the coroutine relays it to its end.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import Any

from . import channel as ch
from . import logfmt
from .agent import telemetry
from .environment import Environment
from .errors import InitFailure, error_json, error_type_of, exit_error, timeout_error
from .spec import EnvironmentSpec, InvokeRequest, InvokeResult
from .streaming import ResponseStream


def failed_init_result(env: Environment, spec: EnvironmentSpec, request: InvokeRequest,
                       failure: InitFailure, init_ms: float, invoke_started: float) -> InvokeResult:
    """The invoke's result when its environment failed to initialize (the caller destroys ``env``)."""
    captured = env.captured if env.captured is not None else env.capture()
    env.log(logfmt.start(request.request_id, spec.version))
    if failure.status == "timeout":
        env.log(logfmt.timed_out(request.request_id, time.monotonic() - invoke_started))
    duration = (time.monotonic() - invoke_started) * 1000
    env.log(logfmt.end(request.request_id))
    error_type = failure.error_type if failure.status == "error" else None
    env.log(logfmt.report(request.request_id, duration, spec.memory_mb, env.peak_memory_mb(),
                          None, failure.status, error_type))
    result = InvokeResult(
        payload=failure.payload, function_error="Unhandled", error_type=failure.error_type,
        log_tail=logfmt.tail(captured), duration_ms=round(duration, 2),
        billed_duration_ms=logfmt.billed(duration), memory_size_mb=spec.memory_mb,
        max_memory_used_mb=env.peak_memory_mb(), init_duration_ms=round(init_ms, 2), cold_start=True,
        log_stream=env.log_stream)
    env.stop_capture()
    return result


async def run_event(env: Environment, request: InvokeRequest,
                    init_ms: float | None) -> tuple[InvokeResult, Coroutine[Any, Any, None] | None]:
    """Run the event; returns (result, None), or (result, rest) when extensions are still
    busy after the runtime's answer: ``rest`` is a coroutine that ends the invoke."""
    spec = env.spec
    env.busy = True
    captured = env.capture()
    rid = request.request_id
    env.log(logfmt.start(rid, spec.version))
    suppressed = env.init_in_invoke
    budget = spec.timeout_s - (suppressed / 1000 if suppressed else 0.0)
    now = time.time()
    meta = {"id": rid, "deadline_ms": int((now + budget) * 1000), "arn": request.invoked_function_arn}
    if request.trace_id:
        meta["trace_id"] = request.trace_id
    if request.client_context:
        meta["client_context"] = request.client_context
    if request.cognito_identity:
        meta["cognito_identity"] = request.cognito_identity
    started = time.perf_counter()
    env.send_invoke(meta, request.payload)
    try:
        frame = await env.wait_frame(max(budget, 0.0))
    except BaseException:  # the caller went away (cancelled): the event is still running
        env.kill()
        raise
    duration = (time.perf_counter() - started) * 1000
    if suppressed:
        duration += suppressed
    status = error_type = function_error = None
    pending = False
    report_meta: dict = {}
    if frame is None:
        _timed_out(env)
        env.log(logfmt.timed_out(rid, duration / 1000))
        payload = timeout_error(rid, spec.timeout_s)
        status, error_type, function_error = "timeout", "Sandbox.Timedout", "Unhandled"
    else:
        kind, fmeta, payload = frame
        report_meta = fmeta
        if kind == ch.STREAM_START:
            result = InvokeResult(
                payload=b"", function_error=None, error_type=None, log_tail="", duration_ms=0.0,
                billed_duration_ms=0, memory_size_mb=spec.memory_mb, max_memory_used_mb=0,
                init_duration_ms=round(init_ms, 2) if init_ms is not None else None,
                cold_start=init_ms is not None, log_stream=env.log_stream, stream=env.stream)
            return result, _streaming(env, request, result, captured, started, budget, suppressed, init_ms)
        if kind == ch.RESPONSE:
            pending = bool(fmeta.get("pending"))
        elif kind == ch.INVOKE_ERROR:
            function_error = "Unhandled"
            error_type = fmeta.get("error_type") or error_type_of(payload)
            pending = bool(fmeta.get("pending"))
        else:  # the runtime (or an extension) exited mid-invoke
            status, error_type, function_error, payload = _exited(env, rid, fmeta)
    result = InvokeResult(
        payload=payload, function_error=function_error, error_type=error_type,
        log_tail="", duration_ms=round(duration, 2),
        billed_duration_ms=logfmt.billed(duration), memory_size_mb=spec.memory_mb,
        max_memory_used_mb=0, init_duration_ms=round(init_ms, 2) if init_ms is not None else None,
        cold_start=init_ms is not None, log_stream=env.log_stream)
    if pending:  # the caller has its answer; the invoke ends when every extension is ready
        result.log_tail = logfmt.tail(captured)
        return result, _after_runtime(env, request, result, started, budget, suppressed, init_ms, report_meta)
    _end_invoke(env, request, result, duration, status, init_ms if not suppressed else None, captured, report_meta)
    return result, None


async def _streaming(env: Environment, request: InvokeRequest, result: InvokeResult, captured: list[str],
                     started: float, budget: float, suppressed: float | None, init_ms: float | None) -> None:
    """Relay a streamed response until its end (or a timeout, or the runtime's exit), then end the
    invoke as for a buffered response."""
    rid = request.request_id
    stream: ResponseStream = result.stream
    frame = await env.wait_frame(max(budget - (time.perf_counter() - started), 0.0))
    env.stream = None
    duration = (time.perf_counter() - started) * 1000 + (suppressed or 0.0)
    status = None
    report_meta: dict = {}
    if frame is None:
        _timed_out(env)
        env.log(logfmt.timed_out(rid, duration / 1000))
        status, result.error_type, result.function_error = "timeout", "Sandbox.Timedout", "Unhandled"
        stream.finish("Sandbox.Timedout", timeout_error(rid, env.spec.timeout_s))
    elif frame[0] == ch.STREAM_END:
        report_meta = frame[1]
        error_type = report_meta.get("error_type")
        if error_type:
            result.function_error, result.error_type = "Unhandled", error_type
        stream.finish(error_type, frame[2])
        if report_meta.get("pending"):
            result.log_tail = logfmt.tail(captured)
            await _after_runtime(env, request, result, started, budget, suppressed, init_ms, report_meta)
            return
    else:  # the runtime (or an extension) exited mid-stream
        status, result.error_type, result.function_error, payload = _exited(env, rid, frame[1])
        stream.finish(result.error_type, payload)
    _end_invoke(env, request, result, duration, status, init_ms if not suppressed else None, captured, report_meta)


def _timed_out(env: Environment) -> None:
    if env.shutdown_extensions:
        env.ending = "timeout"  # SHUTDOWN (reason timeout) for extensions, then the end
    else:
        env.kill()


def _exited(env: Environment, rid: str, fmeta: dict) -> tuple[str, str, str, bytes]:
    """The runtime (or an extension) exited mid-invoke: (status, error type, function error, payload)."""
    exit_status = fmeta.get("status") or env.exit_status or "signal: killed"
    error_type = fmeta.get("error_type") or "Runtime.ExitError"
    if error_type == "Runtime.ExitError":
        env.log(logfmt.exit_error(rid, exit_status))
        payload = exit_error(rid, exit_status)
    else:  # an extension crashed or reported exit/error
        payload = error_json(error_type, f"RequestId: {rid} Error: {exit_status}")
    if env.shutdown_extensions:
        env.ending = "failure"
    return "error", error_type, "Unhandled", payload


async def _after_runtime(env: Environment, request: InvokeRequest, result: InvokeResult,
                         started: float, budget: float, suppressed: float | None, init_ms: float | None,
                         report_meta: dict) -> None:
    rid = request.request_id
    remaining = budget - (time.perf_counter() - started)
    frame = await env.wait_frame(max(remaining, 0.0))
    duration = (time.perf_counter() - started) * 1000 + (suppressed or 0.0)
    status = None
    if frame is None:
        _timed_out(env)
        env.log(logfmt.timed_out(rid, duration / 1000))
        status = "timeout"
    elif frame[0] == ch.EXITED:
        status, error_type, _, _ = _exited(env, rid, frame[1])
        result.error_type = result.error_type or error_type
    else:
        report_meta = {**report_meta, **frame[1]}
    captured = env.captured if env.captured is not None else []
    _end_invoke(env, request, result, duration, status, init_ms if not suppressed else None, captured, report_meta)


def _end_invoke(env: Environment, request: InvokeRequest, result: InvokeResult, duration: float,
                status: str | None, init_ms: float | None, captured: list[str], report_meta: dict) -> None:
    spec = env.spec
    rid = request.request_id
    max_used = env.peak_memory_mb()
    error_type = result.error_type
    env.log(logfmt.end(rid))
    env.log(logfmt.report(rid, duration, spec.memory_mb, max_used, init_ms, status,
                          error_type if status == "error" else None))
    env.stop_capture()
    env.flush_logs()
    env.init_in_invoke = None
    result.duration_ms = round(duration, 2)
    result.billed_duration_ms = logfmt.billed(duration)
    result.max_memory_used_mb = max_used
    if not result.log_tail:
        result.log_tail = logfmt.tail(captured)
    if report_meta.get("telemetry"):
        env.telemetry = True
        env.telemetry_ms = report_meta.get("telemetry_ms") or env.telemetry_ms
    if env.telemetry and not env.dead:
        metrics = {"durationMs": round(duration, 3), "billedDurationMs": result.billed_duration_ms,
                   "memorySizeMB": spec.memory_mb, "maxMemoryUsedMB": max_used}
        if init_ms is not None:
            metrics["initDurationMs"] = round(init_ms, 3)
        record = {"requestId": rid,
                  "status": status or ("error" if result.function_error else "success"),
                  "metrics": metrics}
        if result.error_type:
            record["errorType"] = result.error_type
        if request.trace_id:
            record["tracing"] = {"type": "X-Amzn-Trace-Id", "value": request.trace_id}
        if "extensions_ms" in report_meta:
            record["spans"] = [{"name": "extensionOverhead",
                                "start": telemetry.iso(time.time() * 1000 - report_meta["extensions_ms"]),
                                "durationMs": report_meta["extensions_ms"]}]
        env.send_platform([["platform.report", record, time.time() * 1000]])
