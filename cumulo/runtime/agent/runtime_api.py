"""The Lambda Runtime API (``/2018-06-01/runtime/...``) as a state machine.

Status codes, error types and messages follow AWS's runtime interface emulator:

* 202 ``{"status":"OK"}`` for an accepted response, error or init error;
* 400 ``InvalidRequestID`` "Invalid request ID" for a response/error naming another request;
* 403 ``InvalidStateTransition`` "State transition from X to Y failed for runtime. Error:
  State transition is not allowed" for calls out of order (a repeated response, an init
  error after init, ``next`` while an event is being processed);
* 413 ``RequestEntityTooLarge`` for a response over 6 MB; the invoke then fails with
  ``Function.ResponseSizeTooLarge``;
* 404 "404 page not found" for unknown paths, 405 for a known path with the wrong method.

A response posted in streaming mode (``Lambda-Runtime-Function-Response-Mode: streaming``, chunked)
goes to the platform piece by piece as it arrives (``stream_start``/``stream_chunk``/``stream_end``);
an error after the first bytes travels in the trailers ``Lambda-Runtime-Function-Error-Type`` and
``Lambda-Runtime-Function-Error-Body`` (base64), as AWS's runtime clients send it. Streamed
responses may be up to 200 MB; beyond that the invoke fails with ``Function.ResponseSizeTooLarge``.

The class knows nothing about sockets: the agent (:mod:`cumulo.runtime.agent.lifecycle`) feeds it parsed
requests and events from the platform and sends what it returns.  The Extensions and
Telemetry APIs are meant to sit next to it as siblings dispatched on the path prefix.
"""

from __future__ import annotations

import base64
import binascii

from . import http

PREFIX = "/2018-06-01/runtime/"
MAX_RESPONSE = 6 * 1024 * 1024
MAX_STREAMED_RESPONSE = 200 * 1024 * 1024
ERROR_TYPE_HEADER = "lambda-runtime-function-error-type"
ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"

STARTED = "Started"
READY = "Ready"
RUNNING = "Running"
INIT_ERROR = "InitError"
RESPONSE_SENT = "RuntimeResponseSentState"
_TARGET_NAMES = {"next": READY, "response": "InvocationResponse", "error": "InvocationErrorResponse",
                 "init": INIT_ERROR}

ACCEPTED = http.json_response(202, {"status": "OK"})
NOT_FOUND = http.response(404, b"404 page not found\n", content_type="text/plain; charset=utf-8")
METHOD_NOT_ALLOWED = http.response(405, b"", content_type="")


def _forbidden(state: str, target: str) -> bytes:
    return http.error_response(
        403, "InvalidStateTransition",
        f"State transition from {state} to {target} failed for runtime. "
        "Error: State transition is not allowed")


INVALID_REQUEST_ID = http.error_response(400, "InvalidRequestID", "Invalid request ID")
TOO_LARGE = http.error_response(413, "RequestEntityTooLarge",
                                f"Exceeded maximum allowed payload size ({MAX_RESPONSE} bytes).")


class Platform:
    """What the Runtime API needs from the agent (implemented by the agent's lifecycle)."""

    def init_done(self) -> None: ...
    def init_error(self, error_type: str, body: bytes) -> None: ...
    def invoke_response(self, request_id: str, body: bytes) -> None: ...
    def invoke_error(self, request_id: str, error_type: str, body: bytes) -> None: ...
    def runtime_next(self) -> None: ...
    def stream_start(self, request_id: str, content_type: str) -> None: ...
    def stream_chunk(self, request_id: str, data: bytes) -> None: ...
    def stream_end(self, request_id: str, error_type: str | None, body: bytes) -> None: ...


class RuntimeAPI:
    """One environment's Runtime API state: at most one event in flight."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.state = STARTED
        self.pending: tuple[dict, bytes] | None = None  # invoke not yet handed to the runtime
        self.current_id: str | None = None
        self.waiter = None  # the connection parked on GET next
        self.streaming_id: str | None = None  # the invocation whose response is being streamed
        self.streamed = 0  # bytes of it so far

    # --- events from the platform -------------------------------------------------
    def push_invoke(self, meta: dict, payload: bytes):
        """Queue an event; returns (connection, response bytes) if a runtime is waiting."""
        self.pending = (meta, payload)
        if self.waiter is not None:
            conn, self.waiter = self.waiter, None
            return conn, self._deliver()
        return None

    def _deliver(self) -> bytes:
        meta, payload = self.pending
        self.pending = None
        self.state = RUNNING
        self.current_id = meta["id"]
        headers = {
            "Lambda-Runtime-Aws-Request-Id": meta["id"],
            "Lambda-Runtime-Deadline-Ms": str(meta["deadline_ms"]),
            "Lambda-Runtime-Invoked-Function-Arn": meta["arn"],
        }
        for key, name in (("trace_id", "Lambda-Runtime-Trace-Id"),
                          ("client_context", "Lambda-Runtime-Client-Context"),
                          ("cognito_identity", "Lambda-Runtime-Cognito-Identity")):
            if meta.get(key):
                headers[name] = meta[key]
        return http.response(200, payload, headers)

    # --- requests from the runtime --------------------------------------------------
    def handle(self, conn, req: http.Request) -> bytes | None:
        """Serve one request under PREFIX; None means the connection is parked (long poll)."""
        parts = req.path.split("?", 1)[0][len(PREFIX):].split("/")
        if parts == ["invocation", "next"]:
            if req.method != "GET":
                return METHOD_NOT_ALLOWED
            return self._next(conn)
        if parts == ["init", "error"]:
            if req.method != "POST":
                return METHOD_NOT_ALLOWED
            return self._init_error(req)
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error") and parts[1]:
            if req.method != "POST":
                return METHOD_NOT_ALLOWED
            return self._result(parts[1], parts[2], req)
        return NOT_FOUND

    def _next(self, conn) -> bytes | None:
        if self.state == STARTED:
            self.state = READY
            self.platform.init_done()
        elif self.state == RESPONSE_SENT:
            self.state = READY
            self.platform.runtime_next()
        elif self.state != READY:
            return _forbidden(self.state, READY)
        if self.pending is not None:
            return self._deliver()
        self.waiter = conn  # a newer poller replaces a stale one (its client gave up)
        return None

    def _init_error(self, req: http.Request) -> bytes:
        if self.state != STARTED:
            return _forbidden(self.state, INIT_ERROR)
        self.state = INIT_ERROR
        self.platform.init_error(req.headers.get(ERROR_TYPE_HEADER, ""), req.body)
        return ACCEPTED

    def _result(self, request_id: str, kind: str, req: http.Request) -> bytes:
        if self.state != RUNNING:
            return _forbidden(self.state, _TARGET_NAMES[kind])
        if request_id != self.current_id:
            return INVALID_REQUEST_ID
        self.state = RESPONSE_SENT
        self.current_id = None
        if kind == "error":
            self.platform.invoke_error(request_id, req.headers.get(ERROR_TYPE_HEADER, ""), req.body)
            return ACCEPTED
        if len(req.body) > MAX_RESPONSE:
            self.response_too_large(request_id, len(req.body))
            return TOO_LARGE
        self.platform.invoke_response(request_id, req.body)
        return ACCEPTED

    # --- streamed responses (the agent's connections call these) --------------------------
    def open_stream(self, conn, req: http.Request) -> bytes | None:
        parts = req.path.split("?", 1)[0][len(PREFIX):].split("/") if req.path.startswith(PREFIX) else []
        if not (len(parts) == 3 and parts[0] == "invocation" and parts[2] == "response" and parts[1]):
            return NOT_FOUND
        if self.state != RUNNING:
            return _forbidden(self.state, _TARGET_NAMES["response"])
        if parts[1] != self.current_id:
            return INVALID_REQUEST_ID
        self.streaming_id = parts[1]
        self.streamed = 0
        self.platform.stream_start(parts[1], req.headers.get("content-type") or "application/octet-stream")
        return None

    def stream_chunk(self, data: bytes) -> None:
        if self.streamed <= MAX_STREAMED_RESPONSE:
            self.streamed += len(data)
            if self.streamed <= MAX_STREAMED_RESPONSE:
                self.platform.stream_chunk(self.streaming_id, data)

    def close_stream(self, trailers: dict[str, str]) -> bytes:
        request_id, self.streaming_id = self.streaming_id, None
        self.state = RESPONSE_SENT
        self.current_id = None
        error_type = trailers.get(ERROR_TYPE_HEADER) or None
        body = b""
        if self.streamed > MAX_STREAMED_RESPONSE:
            error_type = "Function.ResponseSizeTooLarge"
            body = (f'{{"errorMessage":"Response payload size exceeded maximum allowed payload size '
                    f'({MAX_STREAMED_RESPONSE} bytes).","errorType":"{error_type}"}}').encode()
        elif error_type:
            try:
                body = base64.b64decode(trailers.get(ERROR_BODY_TRAILER, ""), validate=True)
            except (binascii.Error, ValueError):
                body = trailers.get(ERROR_BODY_TRAILER, "").encode()
        self.platform.stream_end(request_id, error_type, body)
        return ACCEPTED

    def abort_stream(self) -> None:
        """The runtime hung up in the middle of a streamed response: the invoke fails."""
        self.close_stream({ERROR_TYPE_HEADER: "Runtime.TruncatedResponse",
                           ERROR_BODY_TRAILER: base64.b64encode(
                               b'{"errorMessage":"The runtime closed the connection before the end of the '
                               b'streamed response.","errorType":"Runtime.TruncatedResponse"}').decode()})

    def refuse_oversized(self, path: str, size: int) -> bytes:
        """A request whose body was too large to read at all: 413, and if it was the current
        invocation's response, the invoke fails as for any response over 6 MB."""
        parts = path.split("?", 1)[0][len(PREFIX):].split("/") if path.startswith(PREFIX) else []
        if (len(parts) == 3 and parts[0] == "invocation" and parts[2] == "response"
                and self.state == RUNNING and parts[1] == self.current_id):
            self.state = RESPONSE_SENT
            self.current_id = None
            self.response_too_large(parts[1], size)
        return TOO_LARGE

    def response_too_large(self, request_id: str, size: int) -> None:
        """Fail the invoke the way AWS does when the runtime's response exceeds 6 MB."""
        message = (f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
                   f"({MAX_RESPONSE} bytes).")
        body = (f'{{"errorMessage":"{message}","errorType":"Function.ResponseSizeTooLarge"}}').encode()
        self.platform.invoke_error(request_id, "Function.ResponseSizeTooLarge", body)
