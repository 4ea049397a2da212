"""The endpoint's HTTP/1.1 server as clients see it on the wire: keep-alive, pipelining, chunked
bodies, 100-continue, HEAD, oversized and malformed requests, and a stop that lets requests in
flight finish."""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import socket
import threading
import time

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/r"
LOGS = {"X-Amz-Target": "Logs_20140328.CreateLogGroup", "Content-Type": "application/x-amz-json-1.1"}


def _read_response(sock_file, head: bool = False) -> tuple[int, dict[str, str], bytes]:
    """One response from a socket's file: status, headers (lower-case names), body (none for HEAD)."""
    status = int(sock_file.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := sock_file.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, b"" if head else sock_file.read(int(headers.get("content-length", "0")))


def _connect(server: CumuloServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def test_keep_alive_serves_many_requests_on_one_connection(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    ports = set()
    for _ in range(3):
        connection.request("GET", "/_cumulo/health")
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["status"] == "running"
        assert response.getheader("Date")
        ports.add(connection.sock.getsockname()[1])
    assert len(ports) == 1


def test_pipelined_requests_are_answered_in_order(server):
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(b"GET /_cumulo/health HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /_cumulo/nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /_cumulo/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert [_read_response(reader)[0] for _ in range(3)] == [200, 404, 200]


def test_chunked_request_body_is_read_whole(server):
    body = json.dumps({"logGroupName": "chunked-group"}).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in LOGS.items())
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode()
                     + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:7], body[7:]))
                     + b"0\r\n\r\n")
        status, _, answer = _read_response(reader)
    assert status == 200, answer
    groups = server.client("logs").describe_log_groups(logGroupNamePrefix="chunked-")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["chunked-group"]


def test_expect_100_continue_gets_an_interim_answer_before_the_body(server):
    body = json.dumps({"logGroupName": "continued-group"}).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in LOGS.items())
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\n{head}Expect: 100-continue\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode())
        assert reader.readline().startswith(b"HTTP/1.1 100 Continue")
        assert reader.readline() == b"\r\n"
        sock.sendall(body)
        assert _read_response(reader)[0] == 200


def test_head_keeps_the_length_and_sends_no_body(server):
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(b"HEAD /_cumulo/health HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /_cumulo/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = _read_response(reader, head=True)
        assert status == 200 and int(headers["content-length"]) > 0
        assert _read_response(reader)[0] == 404  # the next answer starts right after the headers


def test_oversized_body_gets_413_and_the_connection_closes(server):
    size = 64 * 1024 * 1024 + 1
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
        chunk = b"x" * (1024 * 1024)
        sent = 0
        while sent < size:
            sent += sock.send(chunk[: size - sent])
        status, headers, body = _read_response(reader)
        assert status == 413
        assert json.loads(body) == {"message": "Request entity too large"}
        assert headers["connection"] == "close"
        assert reader.read() == b""


def test_malformed_request_gets_400_and_the_connection_closes(server):
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(b"NOT AN HTTP REQUEST\r\n\r\n")
        status, headers, _ = _read_response(reader)
        assert status == 400
        assert headers["connection"] == "close"
        assert reader.read() == b""
    assert server.health()["status"] == "running"


def test_connection_close_is_honoured(server):
    with _connect(server) as sock, sock.makefile("rb") as reader:
        sock.sendall(b"GET /_cumulo/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, _ = _read_response(reader)
        assert (status, headers["connection"]) == (200, "close")
        assert reader.read() == b""


def test_sigterm_lets_an_invoke_in_flight_finish(tmp_path):
    instance = CumuloServer(tmp_path / "data").start()
    with socket.create_server(("127.0.0.1", 0)) as beacon:  # the function calls here once it runs
        try:
            client = instance.client("lambda", read_timeout=30)
            code = ("import socket, time\n"
                    "def handler(event, context):\n"
                    f"    socket.create_connection(('127.0.0.1', {beacon.getsockname()[1]})).close()\n"
                    "    time.sleep(1)\n"
                    "    return 'finished'\n")
            client.create_function(FunctionName="slow", Runtime="python3.11", Handler="app.handler", Role=ROLE,
                                   Code={"ZipFile": make_zip({"app.py": code})}, Timeout=10)
            client.get_waiter("function_active_v2").wait(FunctionName="slow", WaiterConfig={"Delay": 0.1})
            answers: list = []
            caller = threading.Thread(
                target=lambda: answers.append(client.invoke(FunctionName="slow")["Payload"].read()))
            caller.start()
            beacon.settimeout(30)
            beacon.accept()[0].close()  # the invoke is running now
            status = instance.stop(signal.SIGTERM)
            caller.join(10)
            assert answers == [b'"finished"']
            assert status == 0
        finally:
            instance.stop()


def test_a_second_ctrl_c_stops_waiting_for_requests_in_flight(tmp_path):
    instance = CumuloServer(tmp_path / "data").start()
    with socket.create_server(("127.0.0.1", 0)) as beacon:
        try:
            client = instance.client("lambda", read_timeout=60)
            code = ("import socket, time\n"
                    "def handler(event, context):\n"
                    f"    socket.create_connection(('127.0.0.1', {beacon.getsockname()[1]})).close()\n"
                    "    time.sleep(60)\n")
            client.create_function(FunctionName="stuck", Runtime="python3.11", Handler="app.handler", Role=ROLE,
                                   Code={"ZipFile": make_zip({"app.py": code})}, Timeout=120)
            client.get_waiter("function_active_v2").wait(FunctionName="stuck", WaiterConfig={"Delay": 0.1})
            def invoke() -> None:
                with contextlib.suppress(Exception):  # the server goes away under it
                    client.invoke(FunctionName="stuck")
            threading.Thread(target=invoke, daemon=True).start()
            beacon.settimeout(30)
            beacon.accept()[0].close()
            instance.process.send_signal(signal.SIGINT)
            wait_for(lambda: "shutting down" in instance.log(), 10, message="the first Ctrl-C to be seen")
            started = time.monotonic()
            instance.process.send_signal(signal.SIGINT)
            assert instance.process.wait(30) == 0
            assert time.monotonic() - started < 8  # not the 10 s grace, let alone the 60 s sleep
        finally:
            instance.stop()
