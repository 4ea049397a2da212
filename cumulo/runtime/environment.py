"""The platform's side of one execution environment, and the zygote client that creates it.

An :class:`Environment` owns the channel to its agent (an asyncio protocol decoding
:mod:`cumulo.runtime.channel` frames), its cgroup, its work directory and its log stream.
It runs one invoke at a time; the pool decides which environment serves what.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import channel, logfmt
from .cgroups import Cgroup
from .spec import DEFAULT_CREDENTIALS
from .streaming import ResponseStream

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the directory holding the cumulo package


def _resolve(fut: asyncio.Future, value) -> None:
    if not fut.done():
        fut.set_result(value)


# --- zygote client ---------------------------------------------------------------------------
class Zygote:
    """A running zygote (see :mod:`cumulo.runtime.zygote`) for one interpreter."""

    def __init__(self, interpreter: str, python_runtime: bool, options: dict) -> None:
        """``options``: namespaces (bool), hosts (file), cgroups (controller -> base dir, or None),
        cgroup_version, prefix (names of the blanks' cgroups), devices_cgroup (the v1 device
        allow-list's ``cgroup.procs``, or None), sandbox_user ([uid, gid] or None)."""
        self.interpreter = interpreter
        self.python_runtime = python_runtime
        self.options = json.dumps(options)
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.sys_path: list[str] = []
        self.prefixes: list[str] = []  # where the interpreter lives (sys.prefix, ...)
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = 0
        self._reading = False

    async def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        env["PYTHONPATH"] = PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        loop = asyncio.get_running_loop()
        try:  # fork+exec of a big process: not on the event loop
            self.proc = await loop.run_in_executor(None, functools.partial(
                subprocess.Popen,
                [self.interpreter, "-m", "cumulo.runtime.zygote", str(theirs.fileno()),
                 "python" if self.python_runtime else "agent", self.options],
                pass_fds=(theirs.fileno(),), env=env, cwd="/", stdin=subprocess.DEVNULL))
        finally:
            theirs.close()
        ours.setblocking(False)
        self.sock = ours
        try:
            hello = await asyncio.wait_for(loop.sock_recv(ours, 1 << 20), 30)
        except TimeoutError:
            hello = b""
        if not hello:
            self.close()
            raise RuntimeError(f"zygote for {self.interpreter} failed to start")
        info = json.loads(hello)
        self.sys_path = info["sys_path"]
        self.prefixes = info["prefixes"]
        loop.add_reader(ours.fileno(), self._on_reply)
        self._reading = True
        self.refill()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.sock is not None

    def _on_reply(self) -> None:
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:  # the zygote died: every waiting request fails, a new zygote is made
                self._stop_reading()
                for fut in self._pending.values():
                    if not fut.done():
                        fut.set_result({"error": "zygote died"})
                self._pending.clear()
                if self.sock is not None:
                    self.sock.close()
                    self.sock = None
                return
            reply = json.loads(data)
            fut = self._pending.pop(reply.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(reply)

    def _stop_reading(self) -> None:
        if self._reading and self.sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self._reading = False

    async def spawn(self, request: dict, chan_fd: int) -> dict:
        """Start an environment: ``{"pid": agent host pid, "cgroup": its cgroup's name or None}``.

        Requests are pipelined: many cold starts can wait for the zygote at once, which
        prepares their blank environments in parallel.
        """
        if self.sock is None:
            raise RuntimeError("zygote died")
        loop = asyncio.get_running_loop()
        self._ids += 1
        request_id = self._ids
        fut = loop.create_future()
        self._pending[request_id] = fut
        data = json.dumps({**request, "id": request_id}).encode()
        fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, chan_fd.to_bytes(4, sys.byteorder))]
        while True:
            try:
                self.sock.sendmsg([data], fds)
                break
            except BlockingIOError:  # the zygote's queue is full: it is busy forking
                await asyncio.sleep(0.001)
            except OSError:
                self._pending.pop(request_id, None)
                raise RuntimeError("zygote died") from None
        reply = await fut
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def refill(self) -> None:
        """Let the zygote prepare blank environments now (after a cold start is over)."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.send(b'{"refill":true}')

    def close(self) -> None:
        if self.sock is not None:
            self._stop_reading()
            self.sock.close()
            self.sock = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --- the channel protocol ----------------------------------------------------------------------
class _Channel(asyncio.Protocol):
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.reader = channel.FrameReader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        for kind, meta, body in self.reader.feed(data):
            self.env._on_frame(kind, meta, body)

    def connection_lost(self, exc) -> None:
        self.env.agent_gone = True
        if self.env._gone is not None and not self.env._gone.done():
            self.env._gone.set_result(None)
        self.env._on_frame(channel.EXITED, {"status": None}, b"")


class Environment:
    """One execution environment (see the module docstring)."""

    def __init__(self, env_id: str, spec, plan, work_dir: Path, log_sink) -> None:
        self.id = env_id
        self.spec = spec
        self.plan = plan
        self.work_dir = work_dir
        self.cgroup: Cgroup | None = None  # set once the environment runs
        self.log_sink = log_sink
        self.log_stream = logfmt.log_stream_name(spec.version)
        self.agent_pid = 0
        self.port = 0
        self.created = time.monotonic()
        self.last_used = self.created
        self.busy = False
        self.retired = False
        self.dead = False
        self.exit_status: str | None = None
        self.frozen = False
        self.freeze_handle: asyncio.TimerHandle | None = None
        self.proto: _Channel | None = None
        self._waiter: asyncio.Future | None = None
        self.stream: ResponseStream | None = None  # the response being streamed by the invoke in flight
        self._frames: collections.deque = collections.deque()  # arrived while nobody waited
        self._pending_logs: list[tuple[int, str]] = []
        self._capture: list[str] | None = None
        self.rss_kb = 0
        self.init_in_invoke: float | None = None  # init re-run inside the first invoke (ms)
        # what the agent reported at the end of INIT (extensions and telemetry subscribers)
        self.extensions: list[str] = []
        self.shutdown_extensions = False  # some extension takes the SHUTDOWN event
        self.telemetry = False  # some extension subscribed to platform events
        self.telemetry_ms = 0  # the longest buffering timeout of a subscriber
        self.ending: str | None = None  # shut down gracefully after this invoke: "timeout" | "failure"
        self.agent_gone = False
        self._gone: asyncio.Future | None = None
        self.provisioned = None  # the provisioned-concurrency group it belongs to
        self.credentials = DEFAULT_CREDENTIALS  # its own session's, when the pool has an issuer
        # the loop it runs on, kept: asyncio.get_running_loop() makes a getpid() system call
        self.loop: asyncio.AbstractEventLoop | None = None

    # --- frames from the agent ---------------------------------------------------------
    def _on_frame(self, kind: int, meta: dict, body: bytes) -> None:
        if kind == channel.STREAM_CHUNK:
            if self.stream is not None:
                self.stream.put(body)
            return
        if kind == channel.STREAM_START:  # created now: its first bytes may follow in this same read
            self.stream = ResponseStream(meta.get("content_type") or "application/octet-stream")
        if kind == channel.LOGS:
            events = meta["events"]
            self._pending_logs.extend((ts, msg) for ts, msg in events)
            if self._capture is not None:
                self._capture.extend(msg for _, msg in events)
            elif not self.busy:
                self.flush_logs()  # output between invokes (background work) goes out at once
            return
        if kind == channel.HELLO:
            self.port = meta["port"]
            return
        if kind == channel.EXITED:
            if self.dead:
                return
            self.dead = True
            self.exit_status = meta.get("status") or self.exit_status
        if meta.get("rss_kb"):
            self.rss_kb = max(self.rss_kb, meta["rss_kb"])
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_result((kind, meta, body))
        else:  # e.g. INIT_DONE before the pool got round to waiting: never lose a frame
            self._frames.append((kind, meta, body))

    def log(self, message: str, ts_ms: int | None = None) -> None:
        """A platform line (START, REPORT, ...) into this environment's stream."""
        self._pending_logs.append((ts_ms if ts_ms is not None else int(time.time() * 1000), message))
        if self._capture is not None:
            self._capture.append(message)

    def flush_logs(self) -> None:
        if self._pending_logs:
            events, self._pending_logs = self._pending_logs, []
            if self.log_sink is not None:
                self.log_sink(self.spec, self.log_stream, events)

    def capture(self) -> list[str]:
        """Start collecting this invoke's log messages (for the 4 KB tail)."""
        self._capture = []
        return self._capture

    @property
    def captured(self) -> list[str] | None:
        """This invoke's log messages so far (None when not capturing)."""
        return self._capture

    def stop_capture(self) -> None:
        self._capture = None

    # --- lifecycle ----------------------------------------------------------------------
    async def spawn(self, zygote: Zygote, request: dict) -> str | None:
        """Start the environment from a zygote; returns the name of the cgroup it runs in."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        loop = asyncio.get_running_loop()
        try:
            reply = await zygote.spawn(request, theirs.fileno())
        finally:
            theirs.close()
        self.agent_pid = reply["pid"]
        ours.setblocking(False)
        self.loop = loop
        _, self.proto = await loop.connect_accepted_socket(lambda: _Channel(self), sock=ours)
        return reply.get("cgroup")

    async def wait_frame(self, timeout: float | None) -> tuple[int, dict, bytes] | None:
        """The next state-changing frame (init done, response, exit, ...), or None on timeout.

        Frames that arrived while nobody was waiting are returned first, in order: an agent
        can answer before the platform has finished its own side of a step.
        """
        if self._frames:
            return self._frames.popleft()
        if self.dead:
            return channel.EXITED, {"status": self.exit_status}, b""
        loop = self.loop or asyncio.get_running_loop()
        fut = loop.create_future()
        self._waiter = fut
        handle = loop.call_later(timeout, _resolve, fut, None) if timeout is not None else None
        try:
            return await fut
        finally:
            if handle is not None:
                handle.cancel()
            self._waiter = None

    def send_invoke(self, meta: dict, payload: bytes) -> None:
        self.proto.transport.write(channel.encode(channel.INVOKE, meta, payload))

    def send_platform(self, events: list) -> None:
        """Platform events (platform.report...) for the environment's telemetry subscribers."""
        if not self.dead and self.proto is not None and self.proto.transport is not None:
            self.proto.transport.write(channel.encode(channel.PLATFORM, {"events": events}))

    async def shutdown(self, grace_s: float, reason: str = "spindown") -> None:
        """SHUTDOWN: the runtime is stopped, extensions registered for SHUTDOWN get the event
        with ``reason`` and ``grace_s`` (AWS: 2 s) to exit, then the agent ends the environment.
        Whatever is still alive after the grace is killed."""
        if not self.agent_gone and self.proto is not None and self.proto.transport is not None:
            self.thaw()
            if not self.proto.transport.is_closing():
                deadline = int((time.time() + grace_s) * 1000)
                self.proto.transport.write(channel.encode(channel.SHUTDOWN, {"reason": reason,
                                                                             "deadline_ms": deadline}))
            await self.wait_gone(grace_s + 0.2)
        self.kill()

    async def wait_gone(self, timeout: float) -> None:
        """Wait until the agent has closed its channel (it ended the environment)."""
        if self.agent_gone:
            return
        self._gone = asyncio.get_running_loop().create_future()
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._gone), timeout)

    def peak_memory_mb(self) -> int:
        peak = self.cgroup.peak_memory_bytes() if self.cgroup is not None else None
        if peak is None:
            peak = self.rss_kb * 1024
        return round(peak / (1024 * 1024))

    # --- freezer ------------------------------------------------------------------------
    def freeze(self) -> None:
        self.freeze_handle = None
        if self.dead or self.busy or self.frozen:
            return
        try:
            if self.cgroup is not None and self.cgroup.has_freezer:
                self.cgroup.freeze()
            else:  # no cgroup freezer: stop the environment's process group
                os.killpg(self.agent_pid, signal.SIGSTOP)
            self.frozen = True
        except OSError:
            pass

    def thaw(self) -> None:
        if self.freeze_handle is not None:
            self.freeze_handle.cancel()
            self.freeze_handle = None
        if not self.frozen:
            return
        self.frozen = False
        try:
            if self.cgroup is not None and self.cgroup.has_freezer:
                self.cgroup.thaw()
            else:
                os.killpg(self.agent_pid, signal.SIGCONT)
        except OSError:
            pass

    # --- teardown --------------------------------------------------------------------------
    def kill(self) -> None:
        """Kill the environment now.

        Killing the agent is enough: with a pid namespace it is pid 1, whose death ends every
        process in it; without one it leads the process group.  Stragglers (processes that
        left the group) die in :meth:`release`, which kills whatever the cgroup still holds.
        """
        self.dead = True
        self.thaw()  # frozen processes would not die until thawed
        if self.agent_pid:
            with contextlib.suppress(OSError):
                os.killpg(self.agent_pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(self.agent_pid, signal.SIGKILL)

    def destroy(self) -> None:
        """Kill the environment and close its channel now (cheap; see :meth:`release`)."""
        self.kill()
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()
        self.flush_logs()

    def release(self) -> None:
        """Remove the cgroup and the work directory: blocking (the kernel takes a few ms to
        let go of a cgroup whose processes were just killed), so the pool runs it in a thread."""
        if self.cgroup is not None:
            self.cgroup.remove()
        shutil.rmtree(self.work_dir, ignore_errors=True)
