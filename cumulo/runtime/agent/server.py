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
import os
import re
import selectors
import signal
import socket
import struct
import sys
import time

from .. import channel, sandbox
from . import http, peercheck, runtime_api

MAX_BODY = 16 * 1024 * 1024  # bodies are buffered up to this; larger ones are refused unread
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


def exit_status(status: int) -> str:
    """A wait status the way AWS words it: 'exit status 1', 'signal: killed'."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return "signal: " + _SIGNAL_NAMES.get(sig, f"signal {sig}")
    return f"exit status {os.WEXITSTATUS(status)}"


class _Conn:
    __slots__ = ("closed", "inbuf", "outbuf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.closed = False


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
        self.api = runtime_api.RuntimeAPI(self)
        self.events: list = []  # log events not yet sent: [timestamp_ms, message]
        self.out_partial = bytearray()
        self.tel_buf = bytearray()
        self.runtime_pid = 0
        self.reader = channel.FrameReader()
        self.config: dict = {}

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
        if config.get("oom_protect"):
            sandbox.set_oom_score_adj(-1000)
        data = json.dumps(config).encode()
        while data:
            data = data[os.write(self.cfg_w, data):]
        os.close(self.cfg_w)
        self.sel.register(self.chan, selectors.EVENT_READ, self._on_channel)
        self.sel.register(self.listener, selectors.EVENT_READ, self._on_accept)
        self.sel.register(self.out_r, selectors.EVENT_READ, self._on_output)
        if config.get("telemetry"):
            self.sel.register(self.tel_r, selectors.EVENT_READ, self._on_telemetry)
        self.sel.register(self.sig_r, selectors.EVENT_READ, self._on_signal)
        self._send(channel.HELLO, {"port": self.port})

    # --- the loop ----------------------------------------------------------------
    def run(self, chan: socket.socket, config: dict) -> None:
        self.activate(chan, config)
        select = self.sel.select
        while True:
            for key, _ in select():
                key.data(key.fileobj)
            if self.events:
                self._flush_logs()

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
    def _on_channel(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(1 << 20)
        except OSError:
            data = b""
        if not data:
            self._die()
        for kind, meta, body in self.reader.feed(data):
            if kind == channel.INVOKE:
                got = self.api.push_invoke(meta, body)
                if got is not None:
                    self._write(got[0], got[1])
            elif kind == channel.SHUTDOWN:
                self._drain_output()
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
            data = conn.sock.recv(1 << 18)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        conn.inbuf += data
        while not conn.closed:
            try:
                req = http.parse(conn.inbuf, MAX_BODY)
            except http.BadRequest as e:
                self._bad_request(conn, str(e))
                return
            if req is None:
                return
            reply = self._route(conn, req)
            if reply is not None:
                self._write(conn, reply)
            if req.close:
                self._close(conn, after_write=True)

    def _route(self, conn: _Conn, req: http.Request) -> bytes | None:
        """Dispatch on the API prefix: the Runtime API today; the Extensions API
        (/2020-01-01/extension/) and Telemetry API (/2022-07-01/telemetry) join here."""
        if req.path.startswith(runtime_api.PREFIX):
            return self.api.handle(conn, req)
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
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    # --- RuntimeAPI -> platform ------------------------------------------------------
    def init_done(self) -> None:
        self._drain_output()
        if self.events:
            self._flush_logs()
        self._send(channel.INIT_DONE)

    def init_error(self, error_type: str, body: bytes) -> None:
        self._drain_output()
        if self.events:
            self._flush_logs()
        self._send(channel.INIT_ERROR, {"error_type": error_type}, body)

    def invoke_response(self, request_id: str, body: bytes) -> None:
        self._drain_output()
        if self.events:
            self._flush_logs()
        self._send(channel.RESPONSE, self._result_meta(request_id), body)

    def invoke_error(self, request_id: str, error_type: str, body: bytes) -> None:
        self._drain_output()
        if self.events:
            self._flush_logs()
        meta = self._result_meta(request_id)
        meta["error_type"] = error_type
        self._send(channel.INVOKE_ERROR, meta, body)

    def _result_meta(self, request_id: str) -> dict:
        meta = {"id": request_id}
        if self.config.get("measure_rss"):
            meta["rss_kb"] = _tree_peak_rss_kb(self.runtime_pid)
        return meta

    # --- output capture ----------------------------------------------------------------
    def _drain_output(self) -> None:
        self._on_output(self.out_r)
        if self.tel_r >= 0:
            self._on_telemetry(self.tel_r)

    def _on_output(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                data = b""
            if not data:
                self._unregister_fd(fd)
                self._flush_partial()
                return
            now = int(time.time() * 1000)
            buf = self.out_partial
            buf += data
            start = 0
            while True:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    break
                self.events.append([now, buf[start : nl + 1].decode("utf-8", "replace")])
                start = nl + 1
            del buf[:start]
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
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                data = b""
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
            if not msg.endswith("\n"):
                msg += "\n"
            self.events.append([ts_us // 1000, msg])
            pos += 16 + length
        del buf[:pos]

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
                self._drain_output()
                self._flush_partial()
                if self.events:
                    self._flush_logs()
                self._send(channel.EXITED, {"status": exit_status(status)})
                self._die()


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
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmHWM:"):
                        total += int(line.split()[1])
                        break
            with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
                todo.extend(int(p) for p in f.read().split())
        except (OSError, ValueError):
            continue
    return total


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
