"""The init agent: the first process of an execution environment, and its lifecycle.

It owns the environment from the inside: it starts the runtime process and the external
extensions (:mod:`.launch`), serves them the Runtime, Extensions and Telemetry APIs on
127.0.0.1:<ephemeral port> (:mod:`.connection`), captures their output with timestamps
(:mod:`.output`), and relays events, responses, errors and logs to the platform over the
inherited channel (:mod:`cumulo.runtime.channel`).  This module is the state machine:
INIT (extensions register, the runtime starts and asks for its first event), INVOKE (one
event at a time, extensions' INVOKE events) and SHUTDOWN.  One thread, one ``selectors``
loop; nothing here allocates per invoke beyond the payload itself.

When the runtime exits the agent reports ``EXITED`` and ends; when the platform goes away
(channel EOF) or asks for ``SHUTDOWN`` the agent kills the runtime and ends.  With a pid
namespace the agent is pid 1, so its exit takes every process of the environment with it;
without one it kills its process group.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import sys
import time

from .. import channel, sandbox
from . import extensions_api, http, runtime_api, telemetry
from .config import AgentConfig, FunctionInfo
from .connection import Conn, Connections
from .launch import Launcher
from .output import OutputCapture
from .processes import end_environment, exit_phrase, exit_status, tree_peak_rss_kb


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
        self.launcher = Launcher()
        self.api = runtime_api.RuntimeAPI(self)
        self.ext_api = extensions_api.ExtensionsAPI(self)
        self.conns = Connections(self.sel, self._route, self.api.refuse_oversized, self._forget)
        self.conns.streams = self.api
        self.reader = channel.FrameReader()
        self.config: AgentConfig | None = None
        self.function: FunctionInfo | None = None  # as extensions see it (see extensions_api.Host)
        self.telemetry: telemetry.Telemetry | None = None
        self.output: OutputCapture | None = None
        self.runtime_started = False
        self.runtime_ready = False  # the runtime asked for its first event
        self.init_sent = False
        self.init_failed = False
        self.init_started = 0.0
        self.invoke: dict | None = None  # the event in flight: id, started, response time...
        self.shutting_down = False
        self.shutdown_deadline = 0.0
        self.reset_error: str | None = None  # an extension reported exit/error: reset after this invoke
        self.relay = None  # the endpoint inside an isolated network namespace (endpoint_relay.EndpointRelay)

    # --- set-up ------------------------------------------------------------------
    def prepare(self, sandbox_user: list[int] | None, agent_only: tuple[int, ...] = ()) -> None:
        """``agent_only``: descriptors the agent holds for the environment's life that the runtime
        process must not inherit (the outside network helper's exit pipe)."""
        self.launcher.agent_only = agent_only
        self.launcher.prepare(sandbox_user)

    def activate(self, chan: socket.socket, config: AgentConfig) -> None:
        self.chan = chan
        self.config = config
        self.function = config.function
        self.init_started = time.time()
        self.telemetry = telemetry.Telemetry(self.sel, self.function)
        launcher = self.launcher
        self.output = OutputCapture(self.sel, launcher.out_r, launcher.tel_r, self.telemetry)
        self.conns.peer_check = config.peer_check
        if config.oom_protect:
            sandbox.set_oom_score_adj(-1000)
        fn = config.function
        self.telemetry.platform("platform.initStart", {
            "initializationType": fn.initialization_type, "phase": "init",
            "runtimeVersion": fn.runtime_version, "runtimeVersionArn": fn.runtime_version_arn,
            "functionName": fn.name, "functionVersion": fn.version}, self.init_started * 1000)
        launch_error = self._launch_extensions(config)
        self._output_fds = (launcher.out_r, launcher.tel_r)
        self.sel.register(self.chan, selectors.EVENT_READ, self._on_channel)
        self.sel.register(launcher.listener, selectors.EVENT_READ, self.conns.on_accept)
        self.sel.register(launcher.out_r, selectors.EVENT_READ, self.output.on_output)
        if config.telemetry:
            self.sel.register(launcher.tel_r, selectors.EVENT_READ, self.output.on_telemetry)
        self.sel.register(launcher.sig_r, selectors.EVENT_READ, self._on_signal)
        if self.relay is not None:
            self.relay.activate(self.sel)
        self._send(channel.HELLO, {"port": launcher.port})
        if launch_error is not None:
            self._fail_init("Extension.LaunchError", launch_error)
        else:
            self._maybe_start_runtime()

    def _launch_extensions(self, config: AgentConfig) -> str | None:
        """Start the external extensions; returns a launch error message or None."""
        launched, problem = self.launcher.launch_extensions(config)
        for name, pid in launched:
            self.ext_api.launched(name, pid)
        ext_r = self.launcher.ext_r
        if ext_r >= 0:
            self.output.ext_r = ext_r
            self.sel.register(ext_r, selectors.EVENT_READ, self.output.on_extension_output)
        return problem

    def _maybe_start_runtime(self) -> None:
        """The runtime starts once every external extension has registered (as on AWS)."""
        if self.runtime_started or self.init_failed or not self.ext_api.all_registered():
            return
        self.runtime_started = True
        self.launcher.start_runtime(self.config)

    # --- the loop ----------------------------------------------------------------
    def run(self, chan: socket.socket, config: AgentConfig) -> None:
        self.activate(chan, config)
        select = self.sel.select
        tel = self.telemetry
        output = self.output
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
            if output.events:
                self._flush_logs()
            if tel.subs:
                tel.tick()
            if self.shutting_down:
                self._shutdown_progress()

    def _output_first(self, item) -> int:
        return 0 if item[0].fileobj in self._output_fds else 1

    def _send(self, kind: int, meta: dict | None = None, body: bytes = b"") -> None:
        try:
            self.chan.sendall(channel.encode(kind, meta, body))
        except OSError:
            end_environment()

    def _flush_logs(self) -> None:
        self._send(channel.LOGS, {"events": self.output.take()})

    def _flush_output(self) -> None:
        """Everything the runtime has printed so far, unfinished last line included, to the platform."""
        self.output.drain()
        self.output.flush_partial()
        if self.output.events:
            self._flush_logs()

    # --- platform channel ----------------------------------------------------------
    def _on_channel(self, sock: socket.socket) -> None:
        try:
            data = self.conns.receive(sock)
        except OSError:
            data = b""
        if not data:
            end_environment()
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
            self.conns.write(got[0], got[1])
        if not self.ext_api.by_id and not self.telemetry.subs:
            return  # the common case: nothing else to tell
        now = time.time()
        self.invoke = {"id": meta["id"], "started": now, "responded": None}
        trace = meta.get("trace_id")
        if self.telemetry.wants_platform:
            record = {"requestId": meta["id"], "version": self.config.function.version}
            if trace:
                record["tracing"] = {"type": "X-Amzn-Trace-Id", "value": trace}
            self.telemetry.platform("platform.start", record, now * 1000)
        event = {"eventType": "INVOKE", "deadlineMs": meta["deadline_ms"], "requestId": meta["id"],
                 "invokedFunctionArn": meta["arn"],
                 "tracing": {"type": "X-Amzn-Trace-Id", "value": trace or ""}}
        for ext in self.ext_api.subscribers("INVOKE"):
            got = self.ext_api.deliver(ext, event)
            if got is not None:
                self.conns.write(got[0], got[1])

    # --- shutdown ------------------------------------------------------------------------
    def _shutdown(self, reason: str, deadline_ms: int | None) -> None:
        """SHUTDOWN: the runtime is stopped first; extensions registered for SHUTDOWN get the
        event and until the deadline (2 s) to exit; then the environment ends."""
        self.output.drain()
        self.output.flush_partial()
        targets = [e for e in self.ext_api.subscribers("SHUTDOWN") if e.external and e.pid]
        if self.shutting_down:
            return
        if not targets:
            if self.output.events:
                self._flush_logs()
            self._finish_shutdown()
        self.shutting_down = True
        self.shutdown_deadline = (deadline_ms / 1000) if deadline_ms else time.time() + 2.0
        self.telemetry.flush()
        if self.launcher.runtime_pid:
            try:
                os.kill(self.launcher.runtime_pid, signal.SIGKILL)
            except OSError:
                pass
        event = {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": int(self.shutdown_deadline * 1000)}
        for ext in targets:
            got = self.ext_api.deliver(ext, event)
            if got is not None:
                self.conns.write(got[0], got[1])
        self._shutdown_progress()

    def _shutdown_progress(self) -> None:
        remaining = [e for e in self.ext_api.registered() if e.external and e.pid and e.state != extensions_api.EXITED]
        if remaining and time.time() < self.shutdown_deadline:
            return
        self._finish_shutdown()

    def _finish_shutdown(self) -> None:
        self._flush_output()
        end_environment()

    # --- requests on the agent's port -------------------------------------------------
    def _route(self, conn: Conn, req: http.Request) -> bytes | None:
        """Dispatch on the API prefix: the Runtime, Extensions and Telemetry APIs."""
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

    def _forget(self, conn: Conn) -> None:
        """A connection closed: nothing may be answered on it any more."""
        if self.api.waiter is conn:
            self.api.waiter = None
        self.ext_api.forget_connection(conn)

    # --- RuntimeAPI -> platform ------------------------------------------------------
    def init_done(self) -> None:
        """The runtime asked for its first event; INIT ends once every extension is ready too."""
        self.runtime_ready = True
        if self.telemetry.wants_platform or self.telemetry.in_init:
            self.telemetry.platform("platform.initRuntimeDone", {
                "initializationType": self.config.function.initialization_type, "phase": "init",
                "status": "success"})
        self._maybe_init_done()

    def _maybe_init_done(self) -> None:
        if self.init_sent or self.init_failed or not self.runtime_ready or not self.ext_api.all_ready():
            return
        self.init_sent = True
        self.ext_api.registration_open = False
        now = time.time()
        self.telemetry.platform("platform.initReport", {
            "initializationType": self.config.function.initialization_type, "phase": "init",
            "status": "success", "metrics": {"durationMs": round((now - self.init_started) * 1000, 3)}}, now * 1000)
        self.telemetry.end_init()
        self.output.drain()
        if self.output.events:
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
        self._flush_output()
        self._send(channel.INIT_ERROR, {"error_type": error_type, "message": message})

    def init_error(self, error_type: str, body: bytes) -> None:
        self.output.drain()
        if self.output.events:
            self._flush_logs()
        self.init_failed = True
        self._send(channel.INIT_ERROR, {"error_type": error_type}, body)

    def invoke_response(self, request_id: str, body: bytes) -> None:
        # No drain here: the runtime wrote its output before posting the result, so the
        # pipes were readable in this select batch (or an earlier one), and output is
        # handled before connections in a batch (see run).
        if self.output.events:
            self._flush_logs()
        meta = self._result_meta(request_id)
        if self.invoke is not None:
            self._runtime_done(meta, "success", None, len(body))
        self._send(channel.RESPONSE, meta, body)

    def invoke_error(self, request_id: str, error_type: str, body: bytes) -> None:
        if self.output.events:  # output already read (see invoke_response)
            self._flush_logs()
        meta = self._result_meta(request_id)
        meta["error_type"] = error_type
        if self.invoke is not None:
            self._runtime_done(meta, "error", error_type, len(body))
        self._send(channel.INVOKE_ERROR, meta, body)

    def stream_start(self, request_id: str, content_type: str) -> None:
        if self.output.events:  # output already read (see invoke_response)
            self._flush_logs()
        self._send(channel.STREAM_START, {"id": request_id, "content_type": content_type})

    def stream_chunk(self, request_id: str, data: bytes) -> None:
        if self.output.events:  # what the function printed before these bytes comes first
            self._flush_logs()
        self._send(channel.STREAM_CHUNK, {"id": request_id}, data)

    def stream_end(self, request_id: str, error_type: str | None, body: bytes) -> None:
        if self.output.events:
            self._flush_logs()
        meta = self._result_meta(request_id)
        if error_type:
            meta["error_type"] = error_type
        if self.invoke is not None:
            self._runtime_done(meta, "error" if error_type else "success", error_type, self.api.streamed)
        self._send(channel.STREAM_END, meta, body)

    def _result_meta(self, request_id: str) -> dict:
        meta = {"id": request_id}
        if self.config.measure_rss:
            meta["rss_kb"] = tree_peak_rss_kb(self.launcher.runtime_pid)
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
        self.output.drain()
        if self.output.events:
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
            if pid == self.launcher.runtime_pid:
                if self.shutting_down:
                    continue
                self._flush_output()
                if not self.init_sent and self.ext_api.by_name:
                    self._fail_init("Runtime.ExitError", exit_phrase(exit_status(status)))
                self._send(channel.EXITED, {"status": exit_status(status)})
                if self.ext_api.subscribers("SHUTDOWN"):
                    self._shutdown("failure", None)
                else:
                    end_environment()
                continue
            ext = next((e for e in self.ext_api.by_name.values() if e.pid == pid), None)
            if ext is None:
                continue
            state = ext.state
            ext.state = extensions_api.EXITED
            if self.shutting_down:
                continue
            self.output.drain_extensions()
            if not self.init_sent:
                error_type = {extensions_api.INIT_ERROR: "Extension.InitError",
                              extensions_api.EXIT_ERROR: "Extension.ExitError"}.get(state, "Extension.Crash")
                self._fail_init(error_type, exit_status(status))
                continue
            error_type = "Extension.ExitError" if state == extensions_api.EXIT_ERROR else "Extension.Crash"
            self._flush_output()
            self._send(channel.EXITED, {"status": exit_status(status), "error_type": error_type})
            self._shutdown("failure", None)


def serve(agent: Agent, chan_fd: int, config: dict) -> None:
    """Entry point in the environment process, once the blank has its function (see cumulo.runtime.zygote);
    ``config`` is an :class:`AgentConfig` as JSON."""
    chan = socket.socket(fileno=chan_fd)
    chan.setblocking(True)
    try:
        agent.run(chan, AgentConfig.from_json(config))
    except BaseException:
        import traceback

        traceback.print_exc(file=sys.stderr)
        os._exit(70)
