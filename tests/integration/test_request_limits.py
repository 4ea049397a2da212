"""No client can stall the endpoint: oversized or slow request heads, too many connections and
documents nested too deeply are refused with the right status, and everyone else is still served."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.server import CumuloServer, wait_for

HEALTH = b"GET /_cumulo/health HTTP/1.1\r\nHost: x\r\n\r\n"
LOGS = "X-Amz-Target: Logs_20140328.CreateLogGroup\r\nContent-Type: application/x-amz-json-1.1\r\n"


def _read_response(reader) -> tuple[int, dict[str, str], bytes]:
    status = int(reader.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, reader.read(int(headers.get("content-length", "0")))


def _connect(server: CumuloServer, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def _refused_and_closed(server: CumuloServer, data: bytes) -> int:
    """Send ``data``; the status of the answer, after checking the connection closes behind it."""
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(data)
        status, headers, _ = _read_response(reader)
        assert headers["connection"] == "close"
        assert reader.read() == b""
    return status


@pytest.fixture(scope="module")
def quick_timeouts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    instance = CumuloServer(tmp_path_factory.mktemp("timeouts") / "data",
                            env={"CUMULO_HEADER_TIMEOUT_SECONDS": "1"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def four_connections(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    instance = CumuloServer(tmp_path_factory.mktemp("capped") / "data", env={"CUMULO_MAX_CONNECTIONS": "4"}).start()
    yield instance
    instance.stop()


# --- request heads ---------------------------------------------------------------------------------
def test_a_header_beyond_64_kib_gets_431(server):
    assert _refused_and_closed(server, HEALTH[:-2] + b"X-Big: " + b"a" * (66 * 1024)) == 431
    assert server.health()["status"] == "running"


def test_a_head_of_many_headers_beyond_64_kib_gets_431(server):
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 900) for i in range(80))
    assert _refused_and_closed(server, HEALTH[:-2] + headers + b"\r\n") == 431


def test_more_than_100_headers_get_431(server):
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(101))
    assert _refused_and_closed(server, HEALTH[:-2] + headers + b"\r\n") == 431


def test_a_request_line_beyond_16_kib_gets_414(server):
    assert _refused_and_closed(server, b"GET /_cumulo/" + b"p" * (17 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n") == 414


def test_large_heads_within_the_limits_are_served(server):
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"c" * 500) for i in range(99))
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(b"GET /_cumulo/health?" + b"q" * 8000 + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        assert _read_response(reader)[0] == 200


# --- slow clients ------------------------------------------------------------------------------------
def test_a_head_not_sent_within_the_timeout_gets_408(quick_timeouts):
    with _connect(quick_timeouts) as sock, sock.makefile("rb") as reader:
        started = time.monotonic()
        sock.sendall(b"GET /_cumulo/health HTTP/1.1\r\nHost: x\r\n")
        status, headers, _ = _read_response(reader)
        waited = time.monotonic() - started
        assert (status, headers["connection"]) == (408, "close")
        assert reader.read() == b""
    assert 0.9 < waited < 5


def test_a_client_trickling_its_head_is_cut_off(quick_timeouts):
    with _connect(quick_timeouts) as sock, sock.makefile("rb") as reader:
        sock.sendall(b"GET /_cumulo/health HTTP/1.1\r\nHost: x\r\n")
        stop = threading.Event()

        def trickle() -> None:
            with contextlib.suppress(OSError):
                for i in range(40):
                    if stop.wait(0.1):
                        return
                    sock.sendall(b"X-%d: y\r\n" % i)
        sender = threading.Thread(target=trickle)
        sender.start()
        try:
            assert _read_response(reader)[0] == 408
        finally:
            stop.set()
            sender.join()


def test_a_silent_connection_is_closed_after_the_timeout(quick_timeouts):
    with _connect(quick_timeouts) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""
    assert time.monotonic() - started < 5


def test_requests_sent_in_time_are_served_on_a_kept_alive_connection(quick_timeouts):
    with _connect(quick_timeouts) as sock, sock.makefile("rb") as reader:
        for _ in range(3):
            sock.sendall(HEALTH)
            assert _read_response(reader)[0] == 200
            time.sleep(0.6)  # idle between requests is the keep-alive period's business, not the head's


# --- connections -------------------------------------------------------------------------------------
def test_connections_beyond_the_cap_get_503_and_the_others_are_still_served(four_connections):
    with contextlib.ExitStack() as stack:
        open_ones = []
        for _ in range(4):
            sock = stack.enter_context(_connect(four_connections))
            reader = stack.enter_context(sock.makefile("rb"))
            sock.sendall(HEALTH)
            assert _read_response(reader)[0] == 200
            open_ones.append((sock, reader))
        with _connect(four_connections) as extra, extra.makefile("rb") as reader:
            status, headers, body = _read_response(reader)
            assert (status, headers["connection"]) == (503, "close")
            assert "message" in json.loads(body)
            assert reader.read() == b""
        for sock, reader in open_ones:
            sock.sendall(HEALTH)
            assert _read_response(reader)[0] == 200
        open_ones[0][0].close()
        open_ones[0][1].close()

        def served_again() -> bool:
            with _connect(four_connections) as sock, sock.makefile("rb") as reader:
                sock.sendall(HEALTH)
                return _read_response(reader)[0] == 200
        wait_for(served_again, 5, interval=0.05, message="a freed slot to be reused")


# --- deeply nested documents ---------------------------------------------------------------------------
def _json_request(target_headers: str, path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\n{target_headers}Content-Length: {len(body)}\r\n\r\n".encode()
            + body)


@pytest.mark.parametrize("depth", [129, 1000, 100_000])
def test_deeply_nested_json_gets_400_serialization_exception(server, depth):
    body = b'{"logGroupName":"deep","x":' + b"[" * depth + b"]" * depth + b"}"
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(_json_request(LOGS, "/", body))
        status, _, answer = _read_response(reader)
    assert status == 400, answer[:300]
    assert json.loads(answer)["__type"] == "SerializationException"


@pytest.mark.parametrize("depth", [129, 1000])
def test_deeply_nested_rest_json_gets_400_serialization_exception(server, depth):
    body = b'{"FunctionName":"deep","Environment":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(_json_request("Content-Type: application/json\r\n", "/2015-03-31/functions", body))
        status, headers, answer = _read_response(reader)
    assert status == 400, answer[:300]
    assert headers["x-amzn-errortype"] == "SerializationException"


def test_nesting_within_the_limit_is_read_as_usual(server):
    body = b'{"logGroupName":"nested-ok","x":' + b"[" * 127 + b"]" * 127 + b"}"
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(_json_request(LOGS, "/", body))
        status, _, answer = _read_response(reader)
    assert status == 200, answer[:300]


# --- bodies ------------------------------------------------------------------------------------------
def test_a_body_announced_beyond_the_limit_is_refused_before_it_is_sent(server):
    assert _refused_and_closed(server, b"PUT /bucket/key HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                       b"Content-Length: 6442450944\r\n\r\n") == 413
