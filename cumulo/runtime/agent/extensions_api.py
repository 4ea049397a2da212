"""The Lambda Extensions API (``/2020-01-01/extension/...``) as a state machine.

Status codes, error types and messages follow AWS's runtime interface emulator:

* ``POST register`` (``Lambda-Extension-Name``; body ``{"events": ["INVOKE", "SHUTDOWN"]}``):
  200, header ``Lambda-Extension-Identifier: <uuid>``, body ``{"functionName",
  "functionVersion", "handler"}`` (and ``"accountId"`` when asked for with
  ``Lambda-Extension-Accept-Feature: accountId``).  An extension whose name is the file name
  of an executable in ``/opt/extensions`` is *external*; any other name registers an
  *internal* extension (from the runtime process), which cannot take SHUTDOWN events.
  Registration closes at the end of INIT (403 ``Extension.RegistrationClosed``).
* ``GET event/next`` (``Lambda-Extension-Identifier``): the extension is ready; the
  connection is parked until its next event: ``{"eventType": "INVOKE", "deadlineMs",
  "requestId", "invokedFunctionArn", "tracing": {"type": "X-Amzn-Trace-Id", "value"}}``
  or ``{"eventType": "SHUTDOWN", "shutdownReason", "deadlineMs"}``, with header
  ``Lambda-Extension-Event-Identifier``.
* ``POST init/error`` / ``POST exit/error`` (``Lambda-Extension-Function-Error-Type``): 202;
  INIT fails (``Extension.InitError``) or the environment is reset (``Extension.ExitError``).
* a missing identifier: 403 ``Extension.MissingExtensionIdentifier``; not a UUID: 403
  ``Extension.InvalidExtensionIdentifier``; unknown: 403
  ``Extension.UnknownExtensionIdentifier``.

The class knows nothing about sockets or processes: the agent feeds it parsed requests and
lifecycle events (:class:`Host`) and writes what it returns.
"""

from __future__ import annotations

import json
import uuid

from . import http
from .config import FunctionInfo

PREFIX = "/2020-01-01/extension/"
MAX_EXTENSIONS = 10
ID_HEADER = "lambda-extension-identifier"
NAME_HEADER = "lambda-extension-name"
ERROR_TYPE_HEADER = "lambda-extension-function-error-type"
ACCEPTED = http.json_response(202, {"status": "OK"})

# states (the emulator's names)
LAUNCHED = "Launched"
REGISTERED = "Registered"
READY = "Ready"
RUNNING = "Running"
INIT_ERROR = "InitError"
EXIT_ERROR = "ExitError"
EXITED = "Exited"


def _forbidden(error_type: str, message: str) -> bytes:
    return http.error_response(403, error_type, message)


class Extension:
    __slots__ = ("busy", "error_type", "events", "external", "id", "name", "pending", "pid", "state", "waiter")

    def __init__(self, name: str, external: bool, pid: int = 0) -> None:
        self.id = ""
        self.name = name
        self.external = external
        self.pid = pid
        self.state = LAUNCHED
        self.events: tuple[str, ...] = ()
        self.waiter = None  # the connection parked on event/next
        self.pending: bytes | None = None  # an event (HTTP response) not yet taken
        self.busy = False  # processing an INVOKE/SHUTDOWN: its next call ends that
        self.error_type: str | None = None


class Host:
    """What the Extensions API needs from the agent."""

    function: FunctionInfo

    def extension_registered(self, ext: Extension) -> None: ...
    def extension_ready(self, ext: Extension) -> None: ...
    def extension_failed(self, ext: Extension, error_type: str, phase_init: bool) -> None: ...


class ExtensionsAPI:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.by_id: dict[str, Extension] = {}
        self.by_name: dict[str, Extension] = {}
        self.registration_open = True

    # --- queries ------------------------------------------------------------------
    def launched(self, name: str, pid: int) -> Extension:
        ext = Extension(name, True, pid)
        self.by_name[name] = ext
        return ext

    def registered(self) -> list[Extension]:
        return [e for e in self.by_name.values() if e.id]

    def all_registered(self) -> bool:
        """Every launched external extension has registered (the runtime may start)."""
        return all(e.id or e.state == EXITED for e in self.by_name.values() if e.external)

    def all_ready(self) -> bool:
        return all(e.state in (READY, EXITED) and not e.busy for e in self.registered())

    def subscribers(self, event: str) -> list[Extension]:
        return [e for e in self.registered() if event in e.events and e.state != EXITED]

    # --- requests -------------------------------------------------------------------
    def handle(self, conn, req: http.Request) -> bytes | None:
        path = req.path.split("?", 1)[0][len(PREFIX):]
        if path == "register":
            return self._register(req) if req.method == "POST" else _method_not_allowed()
        if path in ("event/next", "init/error", "exit/error"):
            expected = "GET" if path == "event/next" else "POST"
            if req.method != expected:
                return _method_not_allowed()
            ext, problem = self._identify(req)
            if problem is not None:
                return problem
            if path == "event/next":
                return self._next(conn, ext)
            return self._error(ext, req, path == "init/error")
        return http.response(404, b"404 page not found\n", content_type="text/plain; charset=utf-8")

    def _identify(self, req: http.Request):
        value = req.headers.get(ID_HEADER, "")
        if not value:
            return None, _forbidden("Extension.MissingExtensionIdentifier",
                                    "Missing Lambda-Extension-Identifier header")
        try:
            uuid.UUID(value)
        except ValueError:
            return None, _forbidden("Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier")
        ext = self.by_id.get(value)
        if ext is None:
            return None, _forbidden("Extension.UnknownExtensionIdentifier", f"Unknown extension {value}")
        return ext, None

    def _register(self, req: http.Request) -> bytes:
        name = req.headers.get(NAME_HEADER, "")
        if not name:
            return _forbidden("Extension.InvalidExtensionName", "Empty extension name")
        try:
            body = json.loads(req.body or b"{}")
            events = body.get("events") or []
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                raise ValueError("events must be a list of strings")
            if body.get("configurationKeys"):
                raise ValueError("configurationKeys are deprecated; use environment variables instead")
        except (ValueError, AttributeError) as e:
            return _forbidden("InvalidRequestFormat", str(e))
        ext = self.by_name.get(name)
        external = ext is not None and ext.external
        allowed = ("INVOKE", "SHUTDOWN") if external else ("INVOKE",)
        for event in events:
            if event not in allowed:
                why = "event type is not supported by internal extensions" if event == "SHUTDOWN" \
                    else "unknown event type"
                return _forbidden("Extension.InvalidEventType", f"{event}: {why}")
        if not external:
            if not self.registration_open:
                return _forbidden("Extension.RegistrationClosed", "Extension registration closed already")
            if ext is not None:
                return _forbidden("Extension.InvalidExtensionState", "Extension with this name already registered")
            if len(self.by_name) >= MAX_EXTENSIONS:
                return _forbidden("Extension.TooManyExtensions", f"Extension limit ({MAX_EXTENSIONS}) reached")
            ext = Extension(name, False)
            self.by_name[name] = ext
        elif ext.state != LAUNCHED:
            return _forbidden("Extension.InvalidExtensionState",
                              f"State transition from {ext.state} to {REGISTERED} failed for extension {name}. "
                              "Error: State transition is not allowed")
        ext.id = str(uuid.uuid4())
        ext.events = tuple(dict.fromkeys(events))
        ext.state = REGISTERED
        self.by_id[ext.id] = ext
        fn = self.host.function
        reply = {"functionName": fn.name, "functionVersion": fn.version, "handler": fn.handler}
        if "accountid" in req.headers.get("lambda-extension-accept-feature", "").lower():
            reply["accountId"] = fn.account
        self.host.extension_registered(ext)
        return http.response(200, json.dumps(reply, separators=(",", ":")).encode(),
                             {"Lambda-Extension-Identifier": ext.id})

    def _next(self, conn, ext: Extension) -> bytes | None:
        if ext.state in (INIT_ERROR, EXIT_ERROR, EXITED):
            return _forbidden("Extension.InvalidExtensionState",
                              f"State transition from {ext.state} to {READY} failed for extension {ext.id}. "
                              "Error: State transition is not allowed")
        if ext.pending is not None:  # an event came while it was not waiting: take it now
            event, ext.pending = ext.pending, None
            ext.state = RUNNING
            return event
        ext.state = READY
        ext.busy = False
        ext.waiter = conn
        self.host.extension_ready(ext)
        return None

    def _error(self, ext: Extension, req: http.Request, init: bool) -> bytes:
        error_type = req.headers.get(ERROR_TYPE_HEADER, "")
        if not error_type:
            return _forbidden("Extension.MissingHeader", "Lambda-Extension-Function-Error-Type not found")
        target = INIT_ERROR if init else EXIT_ERROR
        if init and not self.registration_open:
            return _forbidden("Extension.InvalidExtensionState",
                              f"State transition from {ext.state} to {target} failed for extension {ext.id}. "
                              "Error: State transition is not allowed")
        ext.state = target
        ext.error_type = error_type
        self.host.extension_failed(ext, "Extension.InitError" if init else "Extension.ExitError", init)
        return ACCEPTED

    # --- events from the agent ----------------------------------------------------------
    def deliver(self, ext: Extension, event: dict):
        """Send an event; returns (connection, response bytes) when the extension is waiting."""
        data = http.response(200, json.dumps(event, separators=(",", ":")).encode(),
                             {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})
        if ext.waiter is not None:
            conn, ext.waiter = ext.waiter, None
            ext.busy = True
            ext.state = RUNNING
            return conn, data
        ext.pending = data
        ext.busy = True  # its current next call (when it comes) takes this event
        return None

    def forget_connection(self, conn) -> None:
        for ext in self.by_name.values():
            if ext.waiter is conn:
                ext.waiter = None


def _method_not_allowed() -> bytes:
    return http.response(405, b"", content_type="")
