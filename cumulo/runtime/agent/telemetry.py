"""The Telemetry API (``PUT /2022-07-01/telemetry``) and the older Logs API (``PUT /2020-08-15/logs``).

Extensions subscribe to the ``platform``, ``function`` and ``extension`` streams; events
are buffered per subscriber and POSTed as a JSON array to the subscriber's HTTP listener
inside the environment (``sandbox.localdomain`` is 127.0.0.1) when ``maxItems`` events or
``maxBytes`` bytes are waiting, or ``timeoutMs`` after the oldest one.  Limits and defaults
are AWS's:

==========  =========================  =========================
            Telemetry API              Logs API
==========  =========================  =========================
maxItems    25 - 10,000 (1,000)        1,000 - 10,000 (10,000)
maxBytes    262,144 - 1,048,576 (262,144)  same
timeoutMs   25 - 30,000 (1,000)        25 - 30,000 (1,000)
==========  =========================  =========================

A subscriber that does not keep up loses events (more than four buffers' worth waiting);
it then gets a ``platform.logsDropped`` record.  Platform events of INIT that happened
before a subscription made during INIT are delivered to it too, as on AWS.

Record shapes follow the Telemetry API schema reference for schema versions
``2022-12-13`` (and ``2025-01-29``, compatible) and ``2022-07-01`` (init events without
the runtime version, function name/version and spans); the Logs API gets its own shapes
(``platform.start``/``platform.end``/``platform.report`` with the request id and metrics,
``platform.logsSubscription``).
"""

from __future__ import annotations

import errno
import json
import selectors
import socket
import time
from urllib.parse import urlsplit

from . import http
from .config import FunctionInfo

TELEMETRY_PATH = "/2022-07-01/telemetry"
LOGS_PATH = "/2020-08-15/logs"
SCHEMAS = ("2022-07-01", "2022-12-13", "2025-01-29")
TYPES = ("platform", "function", "extension")
LIMITS = {  # name: (minimum, maximum, default)
    "telemetry": {"maxItems": (25, 10000, 1000), "maxBytes": (262144, 1048576, 262144),
                  "timeoutMs": (25, 30000, 1000)},
    "logs": {"maxItems": (1000, 10000, 10000), "maxBytes": (262144, 1048576, 262144),
             "timeoutMs": (25, 30000, 1000)},
}
BACKLOG_BUFFERS = 4  # a subscriber may fall this many buffers behind before events are dropped
LOCAL_NAMES = ("sandbox.localdomain", "sandbox", "localhost", "127.0.0.1")
_INIT_ONLY_12_13 = {"platform.initStart": ("runtimeVersion", "runtimeVersionArn", "functionName", "functionVersion"),
                    "platform.initRuntimeDone": ("spans",),
                    "platform.initReport": ("spans", "status", "errorType")}
OK = http.response(200, b"OK", content_type="text/plain; charset=utf-8")


def iso(ts_ms: float) -> str:
    seconds = int(ts_ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(ts_ms) % 1000:03d}Z"


def _validation(message: str) -> bytes:
    return http.error_response(400, "ValidationError", message)


class Subscriber:
    __slots__ = ("address", "api", "dropped_bytes", "dropped_records", "due", "inflight", "max_bytes",
                 "max_items", "name", "path", "queue", "queued_bytes", "schema", "timeout_ms", "types")

    def __init__(self, name: str, api: str, schema: str, types: tuple, buffering: dict,
                 address: tuple[str, int], path: str) -> None:
        self.name = name
        self.api = api
        self.schema = schema
        self.types = types
        self.max_items = buffering["maxItems"]
        self.max_bytes = buffering["maxBytes"]
        self.timeout_ms = buffering["timeoutMs"]
        self.address = address
        self.path = path
        self.queue: list[bytes] = []
        self.queued_bytes = 0
        self.due: float | None = None  # monotonic time the current buffer must go out
        self.inflight: _Delivery | None = None
        self.dropped_records = 0
        self.dropped_bytes = 0


class _Delivery:
    """One HTTP POST of a batch to a subscriber (non-blocking, one at a time per subscriber)."""

    def __init__(self, owner: Telemetry, sub: Subscriber, body: bytes, count: int) -> None:
        self.owner = owner
        self.sub = sub
        self.count = count
        self.body = body
        host = "sandbox.localdomain"
        self.out = (f"POST {sub.path} HTTP/1.1\r\nHost: {host}:{sub.address[1]}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n").encode("latin-1") + body
        self.inbuf = bytearray()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        code = self.sock.connect_ex(sub.address)
        if code not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self.sock.close()
            raise OSError(code, "connect")
        owner.sel.register(self.sock, selectors.EVENT_WRITE, lambda s: self._on_event())

    def _on_event(self) -> None:
        try:
            if self.out:
                sent = self.sock.send(self.out)
                self.out = self.out[sent:]
                if not self.out:
                    self.owner.sel.modify(self.sock, selectors.EVENT_READ, lambda s: self._on_event())
                return
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self._finish(False)
            return
        if data:
            self.inbuf += data
            head_end = self.inbuf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(self.inbuf[:head_end]).decode("latin-1").lower()
            length = None
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip() == "content-length":
                    length = int(value.strip() or 0)
            if length is None or len(self.inbuf) - head_end - 4 < length:
                return
        status = self.inbuf[9:12] if len(self.inbuf) >= 12 else b""
        self._finish(status.startswith(b"2") or status.startswith(b"3") or bool(status))

    def _finish(self, delivered: bool) -> None:
        try:
            self.owner.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()
        self.owner._delivered(self.sub, self, delivered)


class Telemetry:
    """Subscriptions, buffers and deliveries of one environment."""

    def __init__(self, sel: selectors.BaseSelector, function: FunctionInfo) -> None:
        self.sel = sel
        self.function = function
        self.subs: list[Subscriber] = []
        self.in_init = True
        self.init_events: list[tuple[float, str, dict]] = []  # replayed to INIT-time subscribers
        self.wants_function = False
        self.wants_extension = False
        self.wants_platform = False

    # --- subscriptions ------------------------------------------------------------------
    def handle(self, req: http.Request, extension) -> bytes:
        api = "telemetry" if req.path.split("?", 1)[0].rstrip("/") == TELEMETRY_PATH else "logs"
        if req.method != "PUT":
            return http.response(405, b"", content_type="")
        if extension is None:
            return http.error_response(403, "Extension.UnknownExtensionIdentifier",
                                       "Unknown Lambda-Extension-Identifier")
        try:
            body = json.loads(req.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return _validation("Could not parse the request body as JSON")
        schema = body.get("schemaVersion", "2020-08-15" if api == "logs" else None)
        if api == "telemetry" and schema not in SCHEMAS:
            return _validation(f"schemaVersion must be one of {', '.join(SCHEMAS)}")
        destination = body.get("destination")
        if not isinstance(destination, dict) or not destination.get("URI"):
            return _validation("destination.URI is required")
        protocol = destination.get("protocol", "HTTP")
        if protocol != "HTTP":
            if protocol == "TCP":
                return _validation("destination.protocol TCP is not supported by Cumulo; use HTTP")
            return _validation("destination.protocol must be HTTP or TCP")
        uri = urlsplit(destination["URI"])
        if uri.scheme != "http" or not uri.port or uri.hostname not in LOCAL_NAMES:
            return _validation("destination.URI must be http://sandbox.localdomain:<port>[/path] "
                               "(a listener inside the execution environment)")
        types = body.get("types") or []
        if not isinstance(types, list) or not types or any(t not in TYPES for t in types):
            return _validation("types must be a non-empty list of platform, function, extension")
        buffering = {}
        given = body.get("buffering") or {}
        for name, (low, high, default) in LIMITS[api].items():
            value = given.get(name, default)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                return _validation(f"buffering.{name} must be between {low} and {high}")
            buffering[name] = value
        self.subs = [s for s in self.subs if not (s.name == extension.name and s.api == api)]
        sub = Subscriber(extension.name, api, schema, tuple(dict.fromkeys(types)), buffering,
                         ("127.0.0.1", uri.port), (uri.path or "/") + (f"?{uri.query}" if uri.query else ""))
        self.subs.append(sub)
        self._refresh()
        now = time.time() * 1000
        if "platform" in sub.types and self.in_init:
            for ts, type_, record in self.init_events:
                self._enqueue(sub, ts, type_, record)
        self.platform("platform.telemetrySubscription",
                      {"name": extension.name, "state": "Subscribed", "types": list(sub.types)}, now)
        return OK

    def _refresh(self) -> None:
        self.wants_platform = any("platform" in s.types for s in self.subs)
        self.wants_function = any("function" in s.types for s in self.subs)
        self.wants_extension = any("extension" in s.types for s in self.subs)

    @property
    def max_timeout_ms(self) -> int:
        return max((s.timeout_ms for s in self.subs), default=0)

    def end_init(self) -> None:
        self.in_init = False
        self.init_events = []

    # --- events ---------------------------------------------------------------------------
    def platform(self, type_: str, record: dict, ts_ms: float | None = None) -> None:
        ts_ms = time.time() * 1000 if ts_ms is None else ts_ms
        if self.in_init:
            self.init_events.append((ts_ms, type_, record))
        if not self.wants_platform:
            return
        for sub in self.subs:
            if "platform" in sub.types:
                self._enqueue(sub, ts_ms, type_, record)

    def log_line(self, category: str, ts_ms: float, message: str) -> None:
        """A function or extension log line (without its newline)."""
        for sub in self.subs:
            if category in sub.types:
                self._enqueue(sub, ts_ms, category, message)

    def _adapt(self, sub: Subscriber, type_: str, record):
        if sub.api == "logs":
            if type_.startswith("platform.init"):
                return None
            if type_ == "platform.telemetrySubscription":
                return "platform.logsSubscription", record
            if type_ == "platform.start":
                return type_, {"requestId": record["requestId"], "version": record.get("version", "$LATEST")}
            if type_ == "platform.runtimeDone":
                return type_, {"requestId": record["requestId"], "status": record["status"]}
            if type_ == "platform.report":
                return type_, {"requestId": record["requestId"], "metrics": record["metrics"]}
            return type_, record
        if sub.schema == "2022-07-01" and type_ in _INIT_ONLY_12_13:
            return type_, {k: v for k, v in record.items() if k not in _INIT_ONLY_12_13[type_]}
        return type_, record

    def _enqueue(self, sub: Subscriber, ts_ms: float, type_: str, record) -> None:
        adapted = self._adapt(sub, type_, record)
        if adapted is None:
            return
        items = [adapted]
        if sub.api == "logs" and type_ == "platform.report":  # the Logs API's END of an invoke
            items.insert(0, ("platform.end", {"requestId": record["requestId"]}))
        for kind, rec in items:
            data = json.dumps({"time": iso(ts_ms), "type": kind, "record": rec}, separators=(",", ":")).encode()
            if (len(sub.queue) >= sub.max_items * BACKLOG_BUFFERS
                    or sub.queued_bytes + len(data) > sub.max_bytes * BACKLOG_BUFFERS):
                sub.dropped_records += 1
                sub.dropped_bytes += len(data)
                continue
            sub.queue.append(data)
            sub.queued_bytes += len(data)
            if sub.due is None:
                sub.due = time.monotonic() + sub.timeout_ms / 1000
        if len(sub.queue) >= sub.max_items or sub.queued_bytes >= sub.max_bytes:
            self._send(sub)

    # --- delivery --------------------------------------------------------------------------
    def timeout(self) -> float | None:
        """Seconds until the next buffer is due (for the agent's select), None if none is."""
        dues = [s.due for s in self.subs if s.due is not None and s.inflight is None]
        if not dues:
            return None
        return max(0.0, min(dues) - time.monotonic())

    def tick(self) -> None:
        now = time.monotonic()
        for sub in self.subs:
            if sub.due is not None and sub.due <= now and sub.inflight is None:
                self._send(sub)

    def flush(self) -> None:
        """Send whatever is buffered now (the environment is about to stop)."""
        for sub in self.subs:
            if sub.queue and sub.inflight is None:
                self._send(sub)

    def busy(self) -> bool:
        return any(s.inflight is not None or s.queue for s in self.subs)

    def _send(self, sub: Subscriber) -> None:
        if sub.inflight is not None or not sub.queue:
            return
        batch, size = [], 0
        for data in sub.queue:
            if batch and (len(batch) >= sub.max_items or size + len(data) > sub.max_bytes):
                break
            batch.append(data)
            size += len(data)
        body = b"[" + b",".join(batch) + b"]"
        try:
            sub.inflight = _Delivery(self, sub, body, len(batch))
        except OSError:
            sub.due = time.monotonic() + max(sub.timeout_ms, 100) / 1000  # listener not up yet: retry
            return
        sub.due = None

    def _delivered(self, sub: Subscriber, delivery: _Delivery, ok: bool) -> None:
        sub.inflight = None
        if ok:
            del sub.queue[:delivery.count]
            sub.queued_bytes -= len(delivery.body) - 1 - delivery.count
            if sub.dropped_records:
                record = {"reason": "Consumer seems to have fallen behind as it has not acknowledged receipt of "
                                    "logs.", "droppedRecords": sub.dropped_records, "droppedBytes": sub.dropped_bytes}
                sub.dropped_records = sub.dropped_bytes = 0
                self._enqueue(sub, time.time() * 1000, "platform.logsDropped", record)
        if sub.queue:
            if ok and (len(sub.queue) >= sub.max_items or sub.queued_bytes >= sub.max_bytes):
                self._send(sub)
            elif sub.due is None:
                sub.due = time.monotonic() + (sub.timeout_ms if ok else max(sub.timeout_ms, 100)) / 1000
