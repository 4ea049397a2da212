"""The init agent: the first process of an execution environment.

It owns the environment from the inside: it starts the runtime process, serves the
Runtime API to it on 127.0.0.1:<ephemeral port>, captures its output (stdout/stderr as
lines, and AWS's framed telemetry log fd for runtimes that use it) with timestamps, and
relays events, responses, errors and logs to the platform over the inherited channel
(:mod:`cumulo.runtime.channel`).  One thread, one ``selectors`` loop; nothing here
allocates per invoke beyond the payload itself.

When the runtime exits the agent reports ``EXITED`` and ends; when the platform goes away
(channel EOF) or asks for ``SHUTDOWN`` the agent kills the runtime and ends.  With a pid
namespace the agent is pid 1, so its exit takes every process of the environment with it;
without one it kills its process group.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
import re
import selectors
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterator

from .. import channel, sandbox
from . import extensions_api, http, peercheck, runtime_api, telemetry

MAX_BODY = 16 * 1024 * 1024  # bodies are buffered up to this; larger ones are refused unread
RECV_SIZE = 1 << 20  # bytes taken off a socket per read
MAX_EVENT = 256 * 1024  # CloudWatch's event size: a longer line is cut into several events
_TELEMETRY_HEAD = struct.Struct("!IIQ")

_SIGNAL_NAMES = {  # as Go's os.ProcessState prints them (AWS reports these)
    signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGTERM: "terminated",
    signal.SIGABRT: "aborted", signal.SIGINT: "interrupt", signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception", signal.SIGILL: "illegal instruction",
    signal.SIGPIPE: "broken pipe", signal.SIGHUP: "hangup", signal.SIGQUIT: "quit",
    signal.SIGUSR1: "user defined signal 1", signal.SIGUSR2: "user defined signal 2",
    signal.SIGALRM: "alarm clock", signal.SIGTRAP: "trace/breakpoint trap",
}


def _available(fd: int) -> Iterator[bytes]:
    """What a non-blocking pipe holds right now, chunk by chunk; an empty chunk, always the last,
    means the writer has closed it (or reading failed)."""
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        yield data
        if not data:
            return


def exit_status(status: int) -> str:
    """A wait status the way AWS words it: 'exit status 1', 'signal: killed'."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return "signal: " + _SIGNAL_NAMES.get(sig, f"signal {sig}")
    return f"exit status {os.WEXITSTATUS(status)}"


class _Conn:
    __slots__ = ("close_after", "closed", "held", "inbuf", "outbuf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.held = bytearray()  # answers waiting to go out with the parked request's answer
        self.closed = False
        self.close_after = False  # "Connection: close" on a parked request: close once answered


class Agent:
    """See the module docstring.

    Two steps, so that both forks happen before the function is known (in a blank
    environment, off the cold start's critical path): :meth:`prepare` opens the Runtime API
    socket and the output pipes and forks the runtime process, which waits for its
    configuration; :meth:`run` receives the channel and the platform's config, sends the
    runtime its part and serves.
    """

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        # anonymous memory: only the pages reads have touched become resident (a bytearray of this
        # size would add 1 MB to every idle environment)
        self.recv_buffer = mmap.mmap(-1, RECV_SIZE)
        self.recv_view = memoryview(self.recv_buffer)
        self.api = runtime_api.RuntimeAPI(self)
        self.events: list = []  # log events not yet sent: [timestamp_ms, message]
        self.out_partial = bytearray()
        self.tel_buf = bytearray()
        self.runtime_pid = 0
        self.reader = channel.FrameReader()
        self.config: dict = {}
        self.function: dict = {}
        self.ext_api = extensions_api.ExtensionsAPI(self)
        self.telemetry: telemetry.Telemetry | None = None
        self.ext_r = -1  # extensions' stdout/stderr
        self.ext_partial = bytearray()
        self.runtime_started = False
        self.runtime_ready = False  # the runtime asked for its first event
        self.init_sent = False
        self.init_failed = False
        self.init_started = 0.0
        self.invoke: dict | None = None  # the event in flight: id, started, response time...
        self.shutting_down = False
        self.shutdown_deadline = 0.0
        self.reset_error: str | None = None  # an extension reported exit/error: reset after this invoke

    # --- set-up ------------------------------------------------------------------
    def prepare(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]

        self.out_r, out_w = os.pipe()
        self.tel_r, tel_w = os.pipe()
        cfg_r, self.cfg_w = os.pipe()
        self.sig_r, sig_w = os.pipe()
        os.set_blocking(self.sig_r, False)
        os.set_blocking(sig_w, False)
        signal.set_wakeup_fd(sig_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # not SIG_IGN: the runtime's exit must be seen

        pid = os.fork()
        if pid == 0:
            self._runtime_child(cfg_r, out_w, tel_w, sig_w)
        self.runtime_pid = pid
        for fd in (out_w, tel_w, cfg_r):
            os.close(fd)
        os.set_blocking(self.out_r, False)
        os.set_blocking(self.tel_r, False)

    def _runtime_child(self, cfg_r: int, out_w: int, tel_w: int, sig_w: int) -> None:
        """The runtime process: wait for the config, wire fds, environment and limits, run."""
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (self.out_r, self.tel_r, self.sig_r, sig_w, self.cfg_w, self.listener.fileno()):
                os.close(fd)
            data = b""
            while True:
                chunk = os.read(cfg_r, 1 << 16)
                if not chunk:
                    break
                data += chunk
            os.close(cfg_r)
            if not data:
                os._exit(0)
            config = json.loads(data)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.close(out_w)
            env = dict(config["env"])
            env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.port}"
            if config.get("telemetry"):
                env["_LAMBDA_TELEMETRY_LOG_FD"] = str(tel_w)
                os.set_inheritable(tel_w, True)
            else:
                os.close(tel_w)
            sandbox.enter_runtime_process(config)
            os.chdir(config["cwd"])
            rt = config["runtime"]
            wrapper = rt.get("wrapper")
            if wrapper and rt.get("python_handler") is not None:  # AWS_LAMBDA_EXEC_WRAPPER: a real exec
                env["_CUMULO_PY_HANDLER"] = rt["python_handler"]
                env["_CUMULO_PY_SYS_PATH"] = json.dumps(rt.get("sys_path", []))
                os.execve(wrapper, [wrapper, sys.executable, rt["bootstrap"]], env)
            if wrapper:
                os.execve(wrapper, [wrapper, *rt["argv"]], env)
            if rt.get("python_handler") is not None:
                os.environ.clear()
                os.environ.update(env)
                from .. import python_runtime

                python_runtime.main(rt["python_handler"], rt.get("sys_path", []))
                os._exit(0)
            os.execvpe(rt["argv"][0], rt["argv"], env)
        except BaseException as e:  # exec failures end up as a Runtime.* init error
            code = 127
            if isinstance(e, SystemExit):
                code = e.code if isinstance(e.code, int) else 1
            else:
                try:
                    os.write(2, (f"{type(e).__name__}: {e}\n").encode())
                except OSError:
                    pass
            os._exit(code)

    def activate(self, chan: socket.socket, config: dict) -> None:
        self.chan = chan
        self.config = config
        self.function = config.get("function") or {}
        self.init_started = time.time()
        self.telemetry = telemetry.Telemetry(self.sel, self.function)
        if config.get("oom_protect"):
            sandbox.set_oom_score_adj(-1000)
        fn = self.function
        self.telemetry.platform("platform.initStart", {
            "initializationType": fn.get("initialization_type", "on-demand"), "phase": "init",
            "runtimeVersion": fn.get("runtime_version", ""), "runtimeVersionArn": fn.get("runtime_version_arn", ""),
            "functionName": fn.get("name", ""), "functionVersion": fn.get("version", "")}, self.init_started * 1000)
        launch_error = self._launch_extensions(config)
        self.sel.register(self.chan, selectors.EVENT_READ, self._on_channel)
        self.sel.register(self.listener, selectors.EVENT_READ, self._on_accept)
        self.sel.register(self.out_r, selectors.EVENT_READ, self._on_output)
        if config.get("telemetry"):
            self.sel.register(self.tel_r, selectors.EVENT_READ, self._on_telemetry)
        self.sel.register(self.sig_r, selectors.EVENT_READ, self._on_signal)
        self._send(channel.HELLO, {"port": self.port})
        if launch_error is not None:
            self._fail_init("Extension.LaunchError", launch_error)
        else:
            self._maybe_start_runtime()

    def _maybe_start_runtime(self) -> None:
        """The runtime starts once every external extension has registered (as on AWS)."""
        if self.runtime_started or self.init_failed or not self.ext_api.all_registered():
            return
        self.runtime_started = True
        data = json.dumps(self.config).encode()
        while data:
            data = data[os.write(self.cfg_w, data):]
        os.close(self.cfg_w)

    # --- external extensions --------------------------------------------------------
    def _launch_extensions(self, config: dict) -> str | None:
        """Start every file of /opt/extensions at once; returns a launch error message or None."""
        directory = config.get("extensions_dir")
        try:
            names = sorted(n for n in os.listdir(directory) if os.path.isfile(os.path.join(directory, n))) \
                if directory else []
        except OSError:
            names = []
        if not names:
            return None
        if len(names) > extensions_api.MAX_EXTENSIONS:
            return f"too many extensions: {len(names)} (the limit is {extensions_api.MAX_EXTENSIONS})"
        self.ext_r, ext_w = os.pipe()
        env = dict(config["env"])
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.port}"
        problem = None
        for name in names:
            path = os.path.join(directory, name)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            pid = os.fork()
            if pid == 0:
                self._extension_child(path, env, ext_w, err_w)
            os.close(err_w)
            failure = b""
            while True:  # the exec closes the pipe; a failed exec writes why
                chunk = os.read(err_r, 256)
                if not chunk:
                    break
                failure += chunk
            os.close(err_r)
            if failure:
                problem = problem or f"fork/exec {path}: {failure.decode(errors='replace')}"
                continue
            self.ext_api.launched(name, pid)
        os.close(ext_w)
        os.set_blocking(self.ext_r, False)
        self.sel.register(self.ext_r, selectors.EVENT_READ, self._on_ext_output)
        return problem

    def _extension_child(self, path: str, env: dict, out_w: int, err_w: int) -> None:
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.dup2(err_w, 3)
            os.set_inheritable(3, False)
            os.closerange(4, 65536)
            sandbox.enter_runtime_process(self.config)
            os.chdir(self.config.get("cwd") or "/")
            os.execve(path, [path], env)
        except OSError as e:
            reason = "permission denied" if e.errno in (errno.EACCES, errno.EPERM) else (e.strerror or str(e))
            try:
                os.write(3, reason.lower().encode())
            except OSError:
                pass
        except BaseException:
            pass
        os._exit(127)

    # --- the loop ----------------------------------------------------------------
    def run(self, chan: socket.socket, config: dict) -> None:
        self.activate(chan, config)
        select = self.sel.select
        tel = self.telemetry
        while True:
            timeout = tel.timeout() if tel.subs else None
            if self.shutting_down:  # extensions have until the deadline
                left = max(0.0, self.shutdown_deadline - time.time())
                timeout = left if timeout is None else min(timeout, left)
            ready = select(timeout)
            if len(ready) > 1:  # output first: what the runtime printed before its result precedes it
                ready.sort(key=self._output_first)
            for key, _ in ready:
                key.data(key.fileobj)
            if self.events:
                self._flush_logs()
            if tel.subs:
                tel.tick()
            if self.shutting_down:
                self._shutdown_progress()

    def _output_first(self, item) -> int:
        return 0 if item[0].fileobj in (self.out_r, self.tel_r) else 1

    def _send(self, kind: int, meta: dict | None = None, body: bytes = b"") -> None:
        try:
            self.chan.sendall(channel.encode(kind, meta, body))
        except OSError:
            self._die()

    def _flush_logs(self) -> None:
        events, self.events = self.events, []
        self._send(channel.LOGS, {"events": events})

    def _die(self, status: int = 0) -> None:
        """End the environment: kill the runtime's process group and leave."""
        try:
            if os.getpid() == 1:  # pid 1 of the environment's namespace: everything else in it
                os.kill(-1, signal.SIGKILL)
            else:
                os.killpg(os.getpgid(0), signal.SIGKILL)  # our group, ourselves included
        except OSError:
            pass
        os._exit(status)

    # --- platform channel ----------------------------------------------------------
    def _receive(self, sock: socket.socket) -> memoryview:
        """What ``sock`` holds now (empty at end of stream), in the agent's one receive buffer: a
        fresh large ``recv`` per call would map and unmap memory on every invoke. Valid until the
        next call."""
        return self.recv_view[: sock.recv_into(self.recv_buffer)]

    def _on_channel(self, sock: socket.socket) -> None:
        try:
            data = self._receive(sock)
        except OSError:
            data = b""
        if not data:
            self._die()
        for kind, meta, body in self.reader.feed(data):
            if kind == channel.INVOKE:
                self._start_invoke(meta, body)
            elif kind == channel.PLATFORM:
                for type_, record, ts_ms in meta.get("events", ()):
                    self.telemetry.platform(type_, record, ts_ms)
            elif kind == channel.SHUTDOWN:
                self._shutdown(meta.get("reason") or "spindown", meta.get("deadline_ms"))

    def _start_invoke(self, meta: dict, body: bytes) -> None:
        got = self.api.push_invoke(meta, body)
        if got is not None:
            self._write(got[0], got[1])
        if not self.ext_api.by_id and not self.telemetry.subs:
            return  # the common case: nothing else to tell
        now = time.time()
        self.invoke = {"id": meta["id"], "started": now, "responded": None}
        trace = meta.get("trace_id")
        if self.telemetry.wants_platform:
            record = {"requestId": meta["id"], "version": self.function.get("version", "$LATEST")}
            if trace:
                record["tracing"] = {"type": "X-Amzn-Trace-Id", "value": trace}
            self.telemetry.platform("platform.start", record, now * 1000)
        event = {"eventType": "INVOKE", "deadlineMs": meta["deadline_ms"], "requestId": meta["id"],
                 "invokedFunctionArn": meta["arn"],
                 "tracing": {"type": "X-Amzn-Trace-Id", "value": trace or ""}}
        for ext in self.ext_api.subscribers("INVOKE"):
            got = self.ext_api.deliver(ext, event)
            if got is not None:
                self._write(got[0], got[1])

    # --- shutdown ------------------------------------------------------------------------
    def _shutdown(self, reason: str, deadline_ms: int | None) -> None:
        """SHUTDOWN: the runtime is stopped first; extensions registered for SHUTDOWN get the
        event and until the deadline (2 s) to exit; then the environment ends."""
        self._drain_output()
        self._flush_partial()
        targets = [e for e in self.ext_api.subscribers("SHUTDOWN") if e.external and e.pid]
        if self.shutting_down:
            return
        if not targets:
            if self.events:
                self._flush_logs()
            self._finish_shutdown()
        self.shutting_down = True
        self.shutdown_deadline = (deadline_ms / 1000) if deadline_ms else time.time() + 2.0
        self.telemetry.flush()
        if self.runtime_pid:
            try:
                os.kill(self.runtime_pid, signal.SIGKILL)
            except OSError:
                pass
        event = {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": int(self.shutdown_deadline * 1000)}
        for ext in targets:
            got = self.ext_api.deliver(ext, event)
            if got is not None:
                self._write(got[0], got[1])
        self._shutdown_progress()

    def _shutdown_progress(self) -> None:
        remaining = [e for e in self.ext_api.registered() if e.external and e.pid and e.state != extensions_api.EXITED]
        if remaining and time.time() < self.shutdown_deadline:
            return
        self._finish_shutdown()

    def _finish_shutdown(self) -> None:
        self._drain_output()
        self._flush_partial()
        if self.events:
            self._flush_logs()
        self._die()

    # --- Runtime API connections -------------------------------------------------
    def _on_accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            if self.config.get("peer_check") and not peercheck.peer_is_local(sock):
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock)
            self.sel.register(sock, selectors.EVENT_READ, lambda s, c=conn: self._on_conn(c))

    def _on_conn(self, conn: _Conn) -> None:
        try:
            data = self._receive(conn.sock)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        conn.inbuf += data
        # Answers to pipelined requests go out in one write; when the last one is parked (a
        # runtime that sent its result and `next` together), the earlier answers (the 202)
        # wait for the event and go out with it: the runtime wakes once per invoke, not twice.
        out: list[bytes] = []
        parked = False
        while not conn.closed:
            try:
                req = http.parse(conn.inbuf, MAX_BODY)
            except http.BadRequest as e:
                if out:
                    self._write(conn, b"".join(out))
                self._bad_request(conn, str(e))
                return
            if req is None:
                break
            reply = self._route(conn, req)
            if reply is not None:
                out.append(reply)
                parked = False
                if req.close:
                    self._write(conn, b"".join(out))
                    out = []
                    self._close(conn, after_write=True)
            else:
                parked = True
                if req.close:
                    conn.close_after = True
        if out and not conn.closed:
            if parked:
                conn.held += b"".join(out)
            else:
                self._write(conn, b"".join(out))

    def _route(self, conn: _Conn, req: http.Request) -> bytes | None:
        """Dispatch on the API prefix: the Runtime API today; the Extensions API
        (/2020-01-01/extension/) and Telemetry API (/2022-07-01/telemetry) join here."""
        path = req.path
        if path.startswith(runtime_api.PREFIX):
            return self.api.handle(conn, req)
        if path.startswith(extensions_api.PREFIX):
            reply = self.ext_api.handle(conn, req)
            if self.shutting_down:
                self._shutdown_progress()
            return reply
        if path.startswith(telemetry.TELEMETRY_PATH) or path.startswith(telemetry.LOGS_PATH):
            ext = self.ext_api.by_id.get(req.headers.get(extensions_api.ID_HEADER, ""))
            return self.telemetry.handle(req, ext)
        return runtime_api.NOT_FOUND

    def _bad_request(self, conn: _Conn, why: str) -> None:
        if why == "too large":  # refused unread: fail the invoke if it was its response
            head = bytes(conn.inbuf[: conn.inbuf.find(b"\r\n\r\n")]).decode("latin-1")
            line = head.split("\r\n", 1)[0].split(" ")
            length = re.search(r"(?im)^content-length:\s*(\d+)", head)
            size = int(length.group(1)) if length else MAX_BODY + 1
            self._write(conn, self.api.refuse_oversized(line[1] if len(line) > 1 else "", size))
        else:
            self._write(conn, http.error_response(400, "InvalidRequest", "Bad request: " + why))
        self._close(conn, after_write=True)

    def _write(self, conn: _Conn, data: bytes) -> None:
        if conn.closed:
            return
        if conn.held:
            data = bytes(conn.held) + data
            conn.held = bytearray()
        if conn.close_after:
            conn.close_after = False
            self._write(conn, data)
            self._close(conn, after_write=True)
            return
        if not conn.outbuf:
            try:
                sent = conn.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._close(conn)
                return
            if sent == len(data):
                return
            data = data[sent:]
            self.sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE,
                            lambda s, c=conn: self._on_conn_event(c))
        conn.outbuf += data

    def _on_conn_event(self, conn: _Conn) -> None:
        if conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._close(conn)
                return
            del conn.outbuf[:sent]
            if not conn.outbuf:
                if conn.closed:
                    self._close(conn)
                    return
                self.sel.modify(conn.sock, selectors.EVENT_READ, lambda s, c=conn: self._on_conn(c))
        if not conn.closed:
            self._on_conn(conn)

    def _close(self, conn: _Conn, after_write: bool = False) -> None:
        conn.closed = True
        if after_write and conn.outbuf:
            return  # _on_conn_event closes once the buffer is flushed
        if self.api.waiter is conn:
            self.api.waiter = None
        self.ext_api.forget_connection(conn)
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    # --- RuntimeAPI -> platform ------------------------------------------------------
    def init_done(self) -> None:
        """The runtime asked for its first event; INIT ends once every extension is ready too."""
        self.runtime_ready = True
        if self.telemetry.wants_platform or self.telemetry.in_init:
            self.telemetry.platform("platform.initRuntimeDone", {
                "initializationType": self.function.get("initialization_type", "on-demand"), "phase": "init",
                "status": "success"})
        self._maybe_init_done()

    def _maybe_init_done(self) -> None:
        if self.init_sent or self.init_failed or not self.runtime_ready or not self.ext_api.all_ready():
            return
        self.init_sent = True
        self.ext_api.registration_open = False
        now = time.time()
        self.telemetry.platform("platform.initReport", {
            "initializationType": self.function.get("initialization_type", "on-demand"), "phase": "init",
            "status": "success", "metrics": {"durationMs": round((now - self.init_started) * 1000, 3)}}, now * 1000)
        self.telemetry.end_init()
        self._drain_output()
        if self.events:
            self._flush_logs()
        self._send(channel.INIT_DONE, self._state_meta() if self.ext_api.by_id or self.telemetry.subs else None)

    def _state_meta(self) -> dict:
        """What the platform must know about extensions and subscribers."""
        registered = self.ext_api.registered()
        return {"extensions": [e.name for e in registered],
                "shutdown": any("SHUTDOWN" in e.events for e in registered),
                "telemetry": self.telemetry.wants_platform, "telemetry_ms": self.telemetry.max_timeout_ms}

    def _fail_init(self, error_type: str, message: str) -> None:
        if self.init_sent or self.init_failed:
            return
        self.init_failed = True
        self._drain_output()
        self._flush_partial()
        if self.events:
            self._flush_logs()
        self._send(channel.INIT_ERROR, {"error_type": error_type, "message": message})

    def init_error(self, error_type: str, body: bytes) -> None:
        self._drain_output()
        if self.events:
            self._flush_logs()
        self.init_failed = True
        self._send(channel.INIT_ERROR, {"error_type": error_type}, body)

    def invoke_response(self, request_id: str, body: bytes) -> None:
        # No drain here: the runtime wrote its output before posting the result, so the
        # pipes were readable in this select batch (or an earlier one), and output is
        # handled before connections in a batch (see run).
        if self.events:
            self._flush_logs()
        meta = self._result_meta(request_id)
        if self.invoke is not None:
            self._runtime_done(meta, "success", None, len(body))
        self._send(channel.RESPONSE, meta, body)

    def invoke_error(self, request_id: str, error_type: str, body: bytes) -> None:
        if self.events:  # output already read (see invoke_response)
            self._flush_logs()
        meta = self._result_meta(request_id)
        meta["error_type"] = error_type
        if self.invoke is not None:
            self._runtime_done(meta, "error", error_type, len(body))
        self._send(channel.INVOKE_ERROR, meta, body)

    def _result_meta(self, request_id: str) -> dict:
        meta = {"id": request_id}
        if self.config.get("measure_rss"):
            meta["rss_kb"] = _tree_peak_rss_kb(self.runtime_pid)
        return meta

    def _runtime_done(self, meta: dict, status: str, error_type: str | None, size: int) -> None:
        invoke = self.invoke
        now = time.time()
        invoke["responded"] = now
        pending = bool(self.ext_api.subscribers("INVOKE"))
        if pending:
            meta["pending"] = True  # the environment stays busy until every extension is ready again
        if self.telemetry.wants_platform:
            duration = round((now - invoke["started"]) * 1000, 3)
            record = {"requestId": invoke["id"], "status": status, "metrics": {"durationMs": duration,
                                                                                "producedBytes": size},
                      "spans": [{"name": "responseLatency", "start": telemetry.iso(invoke["started"] * 1000),
                                 "durationMs": duration},
                                {"name": "responseDuration", "start": telemetry.iso(now * 1000), "durationMs": 0.0}]}
            if error_type:
                record["errorType"] = error_type
            self.telemetry.platform("platform.runtimeDone", record, now * 1000)
        if self.telemetry.subs:
            meta["telemetry"] = self.telemetry.wants_platform
            meta["telemetry_ms"] = self.telemetry.max_timeout_ms
        if not pending:
            self.invoke = None

    def runtime_next(self) -> None:
        """The runtime asked for its next event after a result."""
        if self.invoke is not None:
            self._maybe_invoke_done()

    def _maybe_invoke_done(self) -> None:
        invoke = self.invoke
        if invoke is None or invoke["responded"] is None or self.api.state != runtime_api.READY \
                or not self.ext_api.all_ready():
            return
        self.invoke = None
        now = time.time()
        self._drain_output()
        if self.events:
            self._flush_logs()
        self._send(channel.INVOKE_DONE, {"id": invoke["id"],
                                         "extensions_ms": round((now - invoke["responded"]) * 1000, 3)})

    # --- Extensions API -> agent ----------------------------------------------------------
    def extension_registered(self, ext) -> None:
        self.telemetry.platform("platform.extension", {"name": ext.name, "state": "Ready",
                                                        "events": list(ext.events)})
        self._maybe_start_runtime()

    def extension_ready(self, ext) -> None:
        if not self.init_sent:
            self._maybe_init_done()
        elif self.invoke is not None:
            self._maybe_invoke_done()

    def extension_failed(self, ext, error_type: str, phase_init: bool) -> None:
        if ext.external and ext.pid:  # reported when it exits (it should, after the 202), as AWS does
            return
        if not self.init_sent:
            self._fail_init(error_type, f"extension {ext.name} reported {ext.error_type}")
        else:
            self.reset_error = error_type

    # --- output capture ----------------------------------------------------------------
    def _drain_output(self) -> None:
        self._on_output(self.out_r)
        if self.tel_r >= 0:
            self._on_telemetry(self.tel_r)

    def _on_output(self, fd: int) -> None:
        for data in _available(fd):
            if not data:
                self._unregister_fd(fd)
                self._flush_partial()
                return
            now = int(time.time() * 1000)
            buf = self.out_partial
            buf += data
            start = 0
            first = len(self.events)
            while True:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    break
                self.events.append([now, buf[start : nl + 1].decode("utf-8", "replace")])
                start = nl + 1
            del buf[:start]
            if self.telemetry is not None and self.telemetry.wants_function:
                for ts, msg in self.events[first:]:
                    self.telemetry.log_line("function", ts, msg.rstrip("\n"))
            while len(buf) >= MAX_EVENT:
                self.events.append([now, buf[:MAX_EVENT].decode("utf-8", "replace") + "\n"])
                del buf[:MAX_EVENT]

    def _flush_partial(self) -> None:
        if self.out_partial:
            self.events.append([int(time.time() * 1000), self.out_partial.decode("utf-8", "replace") + "\n"])
            self.out_partial = bytearray()

    def _on_telemetry(self, fd: int) -> None:
        """AWS's framed log protocol: u32 type, u32 length, u64 timestamp (us), message."""
        buf = self.tel_buf
        for data in _available(fd):
            if not data:
                self._unregister_fd(fd)
                break
            buf += data
        pos = 0
        while len(buf) - pos >= 16:
            _, length, ts_us = _TELEMETRY_HEAD.unpack_from(buf, pos)
            if len(buf) - pos - 16 < length:
                break
            msg = buf[pos + 16 : pos + 16 + length].decode("utf-8", "replace")
            if self.telemetry is not None and self.telemetry.wants_function:
                self.telemetry.log_line("function", ts_us / 1000, msg.rstrip("\n"))
            if not msg.endswith("\n"):
                msg += "\n"
            self.events.append([ts_us // 1000, msg])
            pos += 16 + length
        del buf[:pos]

    def _on_ext_output(self, fd: int) -> None:
        """Extensions' stdout/stderr: lines into the function's log stream (and the extension stream)."""
        for data in _available(fd):
            if not data:
                self._unregister_fd(fd)
                if self.ext_partial:
                    data = b"\n"
                else:
                    return
            now = int(time.time() * 1000)
            buf = self.ext_partial
            buf += data
            start = 0
            while True:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    break
                line = buf[start:nl].decode("utf-8", "replace")
                self.events.append([now, line + "\n"])
                if self.telemetry.wants_extension:
                    self.telemetry.log_line("extension", now, line)
                start = nl + 1
            del buf[:start]
            if len(buf) >= MAX_EVENT:
                self.events.append([now, buf[:MAX_EVENT].decode("utf-8", "replace") + "\n"])
                del buf[:MAX_EVENT]

    def _drain_extensions_output(self) -> None:
        if self.ext_r >= 0:
            self._on_ext_output(self.ext_r)

    def _unregister_fd(self, fd: int) -> None:
        try:
            self.sel.unregister(fd)
        except (KeyError, ValueError):
            pass

    # --- children ------------------------------------------------------------------
    def _on_signal(self, fd: int) -> None:
        try:
            os.read(fd, 512)
        except OSError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.runtime_pid:
                if self.shutting_down:
                    continue
                self._drain_output()
                self._flush_partial()
                if self.events:
                    self._flush_logs()
                if not self.init_sent and self.ext_api.by_name:
                    phrase = exit_status(status)
                    phrase = ("Runtime exited without providing a reason" if phrase == "exit status 0"
                              else "Runtime exited with error: " + phrase)
                    self._fail_init("Runtime.ExitError", phrase)
                self._send(channel.EXITED, {"status": exit_status(status)})
                if self.ext_api.subscribers("SHUTDOWN"):
                    self._shutdown("failure", None)
                else:
                    self._die()
                continue
            ext = next((e for e in self.ext_api.by_name.values() if e.pid == pid), None)
            if ext is None:
                continue
            state = ext.state
            ext.state = extensions_api.EXITED
            if self.shutting_down:
                continue
            self._drain_extensions_output()
            if not self.init_sent:
                error_type = {extensions_api.INIT_ERROR: "Extension.InitError",
                              extensions_api.EXIT_ERROR: "Extension.ExitError"}.get(state, "Extension.Crash")
                self._fail_init(error_type, exit_status(status))
                continue
            error_type = "Extension.ExitError" if state == extensions_api.EXIT_ERROR else "Extension.Crash"
            self._drain_output()
            self._flush_partial()
            if self.events:
                self._flush_logs()
            self._send(channel.EXITED, {"status": exit_status(status), "error_type": error_type})
            self._shutdown("failure", None)


def _tree_peak_rss_kb(root_pid: int) -> int:
    """Sum of VmHWM over the runtime's process tree plus the agent (no cgroup available)."""
    total = 0
    todo = [root_pid, os.getpid()]
    seen = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            status = _read_proc(f"/proc/{pid}/status")
            found = status.find(b"\nVmHWM:")
            if found >= 0:
                total += int(status[found + 7 : status.index(b"kB", found)])
            todo.extend(int(p) for p in _read_proc(f"/proc/{pid}/task/{pid}/children").split())
        except (OSError, ValueError):
            continue
    return total


def _read_proc(path: str) -> bytes:
    """A small /proc file in one read (no buffered file object: this runs on every invoke)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def serve(agent: Agent, chan_fd: int, config: dict) -> None:
    """Entry point in the environment process, once the blank has its function (see cumulo.runtime.zygote)."""
    chan = socket.socket(fileno=chan_fd)
    chan.setblocking(True)
    try:
        agent.run(chan, config)
    except BaseException:
        import traceback

        traceback.print_exc(file=sys.stderr)
        os._exit(70)
