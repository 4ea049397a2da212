"""Pure pieces of the layer: runtime discovery, log line formats, channel framing, HTTP parsing."""

from __future__ import annotations

import re

import pytest

from cumulo.runtime import (
    RESERVED,
    UnsupportedRuntimeError,
    channel,
    install_hint,
    logfmt,
    supported_runtimes,
)
from cumulo.runtime.agent import http


def test_supported_runtimes_and_install_hints():
    runtimes = supported_runtimes()
    assert {"provided", "provided.al2", "provided.al2023", "python3.11"} <= set(runtimes)
    assert install_hint("python3.11") is None and install_hint("provided.al2023") is None
    hint = install_hint("python3.99")
    assert "python3.99" in hint and "pyenv install 3.99" in hint
    if "java21" not in runtimes:  # a JDK 21 is not here: substituted by another JDK, or missing
        assert "cumulo runtimes install java21" in install_hint("java21")
    assert "dotnet8" in install_hint("dotnet8")
    assert "Unknown runtime 'cobol1'" in install_hint("cobol1")
    if "nodejs20.x" in runtimes and "nodejs22.x" not in runtimes:  # node 22 is substituted, not exact
        assert "cumulo runtimes install nodejs22.x" in install_hint("nodejs22.x")


def test_unsupported_runtime_is_refused_before_anything_starts(rt):
    spec = rt.function({"app.py": ""}, runtime="python2.7")
    with pytest.raises(UnsupportedRuntimeError):
        rt.invoke(spec, {})


def test_reserved_keys_are_awss():
    assert {"AWS_REGION", "_HANDLER", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT",
            "AWS_SESSION_TOKEN"} <= RESERVED
    assert not {"PATH", "LANG", "TZ", "LD_LIBRARY_PATH", "PYTHONPATH", "NODE_PATH"} & RESERVED


def test_log_lines():
    assert logfmt.start("r1", "$LATEST") == "START RequestId: r1 Version: $LATEST\n"
    assert logfmt.end("r1") == "END RequestId: r1\n"
    assert logfmt.report("r1", 1.234, 128, 40, 100.123) == (
        "REPORT RequestId: r1\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 40 MB\tInit Duration: 100.12 ms\t\n")
    assert logfmt.report("r1", 3000.0, 128, 41, status="timeout") == (
        "REPORT RequestId: r1\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 41 MB\tStatus: timeout\n")
    assert logfmt.report("r1", 5.0, 128, 30, status="error", error_type="Runtime.ExitError").endswith(
        "Max Memory Used: 30 MB\tStatus: error\tError Type: Runtime.ExitError\n")
    assert logfmt.init_report(154.031, "init", "error", "Runtime.ExitError") == (
        "INIT_REPORT Init Duration: 154.03 ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError\n")
    assert logfmt.timed_out("r1", 3.05, now=0.5) == (
        "1970-01-01T00:00:00.500Z r1 Task timed out after 3.05 seconds\n")
    assert logfmt.exit_error("r1", "exit status 1") == (
        "RequestId: r1 Error: Runtime exited with error: exit status 1\nRuntime.ExitError\n")
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[3\][0-9a-f]{32}", logfmt.log_stream_name("3"))
    assert logfmt.billed(0.2) == 1 and logfmt.billed(2.0) == 2 and logfmt.billed(2.01) == 3


def test_tail_cuts_on_a_character_boundary():
    tail = logfmt.tail(["é" * 3000])
    assert len(tail.encode()) <= 4096 and set(tail) == {"é"}


def test_channel_frames_survive_any_split():
    frames = [(channel.INVOKE, {"id": "a", "deadline_ms": 1}, b"x" * 70000), (channel.SHUTDOWN, {}, b""),
              (channel.LOGS, {"events": [[1, "hi\n"]]}, b"")]
    data = b"".join(channel.encode(k, m, b) for k, m, b in frames)
    for step in (1, 7, 4096, len(data)):
        reader = channel.FrameReader()
        got = []
        for i in range(0, len(data), step):
            got += reader.feed(data[i : i + step])
        assert got == frames


def test_http_parser():
    buf = bytearray(b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /y HTTP/1.1\r\n\r\n")
    first = http.parse(buf, 100)
    second = http.parse(buf, 100)
    assert (first.method, first.path, first.body) == ("POST", "/x", b"abc")
    assert (second.method, second.path, second.body, buf) == ("GET", "/y", b"", bytearray())
    chunked = bytearray(b"POST /z HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n")
    assert http.parse(chunked, 100).body == b"abcde"
    assert http.parse(bytearray(b"GET / HTTP/1.1\r\nHost: a"), 100) is None
    with pytest.raises(http.BadRequest):
        http.parse(bytearray(b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), 100)
    with pytest.raises(http.BadRequest):
        http.parse(bytearray(b"garbage\r\n\r\n"), 100)
    closing = http.parse(bytearray(b"GET / HTTP/1.0\r\n\r\n"), 100)
    assert closing.close
