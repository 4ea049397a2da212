"""Cumulo's Python runtime: a lean Lambda Runtime API client for ``python3.x`` functions.

It behaves like AWS's Python runtime (``awslambdaric``) as a function sees it: handler
``pkg/mod.func`` (slashes or dots), the context object, ``logging`` records formatted as
``[LEVEL]\\t<ISO time>Z\\t<request id>\\t<message>``, ``print`` output captured line by line,
the same error types, messages and error log lines.  It runs in the environment process
forked from the interpreter's zygote, so nothing here is imported per cold start: the
zygote has already paid for it.

Output goes to AWS's framed telemetry log fd (``_LAMBDA_TELEMETRY_LOG_FD``) that the agent
provides, so multi-line records stay one log event and print/logging keep their order.
"""

from __future__ import annotations

import decimal
import importlib
import io
import json
import logging
import math
import os
import socket
import struct
import sys
import time
import traceback
import types

_FRAME_TEXT = 0xA55A0003
_LEVEL_FRAMES = {"DEBUG": 0xA55A000B, "INFO": 0xA55A000F, "WARNING": 0xA55A0013,
                 "ERROR": 0xA55A0017, "CRITICAL": 0xA55A001B}
_FRAME_HEAD = struct.Struct("!IIQ")
_NBSP = "\u00a0"
UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. To determine if the runtime has been updated, check the runtime "
    "version in the INIT_START log entry. If this error correlates with a change in the runtime version, "
    "you may be able to mitigate this error by temporarily rolling back to the previous runtime version. "
    "For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)
_request_id = ""


class FaultError(Exception):
    """A runtime-level failure with an AWS error type (Runtime.ImportModuleError, ...)."""

    def __init__(self, error_type: str, message: str, trace: list | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


# --- log sink ---------------------------------------------------------------------------
class LogSink:
    """Writes log events framed to the telemetry fd the agent provides (AWS's protocol)."""

    def __init__(self) -> None:
        self.fd = int(os.environ.pop("_LAMBDA_TELEMETRY_LOG_FD"))

    def log(self, msg: str, frame_type: int = _FRAME_TEXT) -> None:
        data = msg.encode("utf-8", "replace")
        header = _FRAME_HEAD.pack(frame_type, len(data), time.time_ns() // 1000)
        os.write(self.fd, header + data)


class LineWriter(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` replacement: one log event per complete line."""

    def __init__(self, sink: LogSink, name: str) -> None:
        self.sink = sink
        self.partial = ""
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 1 if self._name == "<stdout>" else 2

    @property
    def buffer(self) -> _BinaryWriter:
        """``sys.stdout.buffer``, for code that writes bytes."""
        return _BinaryWriter(self)

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        text = self.partial + s
        lines = text.split("\n")
        self.partial = lines.pop()
        for line in lines:
            self.sink.log(line + "\n")
        return len(s)

    def flush(self) -> None:
        if self.partial:
            line, self.partial = self.partial, ""
            self.sink.log(line + "\n")


class _BinaryWriter(io.RawIOBase):
    def __init__(self, text: LineWriter) -> None:
        super().__init__()
        self.text = text

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.text.write(bytes(b).decode("utf-8", "replace"))
        return len(b)

    def flush(self) -> None:
        self.text.flush()


class _Formatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        record.aws_request_id = _request_id
        return super().format(record)


class _Handler(logging.Handler):
    def __init__(self, sink: LogSink) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.log(self.format(record), _LEVEL_FRAMES.get(record.levelname, _FRAME_TEXT))
        except Exception:
            self.handleError(record)


def _setup_logging(sink: LogSink) -> None:
    handler = _Handler(sink)
    handler.setFormatter(_Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging._nameToLevel:
        root.setLevel(level)


def _log_error(sink: LogSink, error: dict) -> None:
    """The ``[ERROR] Type: message`` + traceback event AWS's runtime logs for a failure."""
    head = "[ERROR]"
    if error.get("errorType"):
        head += " " + error["errorType"]
    if error.get("errorMessage"):
        head += (":" if error.get("errorType") else "") + " " + error["errorMessage"]
    lines = [head]
    if error.get("stackTrace") is not None:
        lines.append("Traceback (most recent call last):")
        for element in error["stackTrace"]:
            for line in element.splitlines() or [""]:
                stripped = line.lstrip(" ")
                lines.append(_NBSP * (len(line) - len(stripped)) + stripped)
    sink.log("\n".join(lines), _LEVEL_FRAMES["ERROR"])


# --- context ------------------------------------------------------------------------------
class _Obj:
    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name, None)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class CognitoIdentity(_Obj):
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")


class Client(_Obj):
    __slots__ = ("app_package_name", "app_title", "app_version_code", "app_version_name", "installation_id")


class ClientContext(_Obj):
    __slots__ = ("client", "custom", "env")


def _from_dict(cls, data: dict | None):
    if data is None:
        return None
    obj = cls()
    for key in cls.__slots__:
        setattr(obj, key, data.get(key))
    return obj


class LambdaContext:
    """The handler's ``context`` argument, with AWS's attribute names."""

    def __init__(self, request_id: str, deadline_ms: int, arn: str, client_context: dict | None,
                 cognito: dict | None) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = _from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _from_dict(Client, self.client_context.client)
        self.identity = CognitoIdentity()
        self.identity.cognito_identity_id = (cognito or {}).get("cognitoIdentityId")
        self.identity.cognito_identity_pool_id = (cognito or {}).get("cognitoIdentityPoolId")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def __repr__(self) -> str:
        return (f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
                f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
                f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
                f"identity={self.identity}])")


# --- handler loading ------------------------------------------------------------------------
def load_handler(handler: str):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}") from None
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultError("Runtime.BuiltInModuleConflict",
                             f"Cannot use built-in module {modname} as a handler module")
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultError("Runtime.ImportModuleError",
                         f"Unable to import module '{modname}': {e}") from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise FaultError("Runtime.UserCodeSyntaxError",
                         f"Syntax error in module '{modname}': {e}", trace) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultError("Runtime.HandlerNotFound",
                         f"Handler '{fname}' missing on module '{modname}'") from None


def _error_from_exception(exc: BaseException, request_id: str | None) -> dict:
    frames = traceback.extract_tb(exc.__traceback__)
    here = __file__.rsplit(".", 1)[0]
    frames = [f for f in frames if not f.filename.startswith(here)]
    return {"errorMessage": str(exc), "errorType": type(exc).__name__,
            "requestId": request_id if request_id is not None else "",
            "stackTrace": traceback.format_list(frames)}


def _fault(e: FaultError, request_id: str | None) -> dict:
    return {"errorMessage": e.message, "errorType": e.error_type,
            "requestId": request_id if request_id is not None else "", "stackTrace": e.trace or []}


class _Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, decimal.Decimal):
            if o.is_nan():
                return math.nan
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


# --- Runtime API client ----------------------------------------------------------------------
class RuntimeClient:
    """A minimal keep-alive HTTP/1.1 client for the Runtime API.

    http.client parses headers with the email package; this reads the status line, the
    headers and a Content-Length body straight off the socket.  After a result it sends the
    POST and the next GET in one write (HTTP pipelining), so the runtime does not wait for
    the 202 before asking for the next event.
    """

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> socket.socket:
        if self.sock is None:
            self.sock = socket.create_connection(self.address)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buf = b""
        return self.sock

    @staticmethod
    def _request(method: str, path: str, body: bytes = b"", headers: dict | None = None) -> bytes:
        head = (f"{method} /2018-06-01/runtime/{path} HTTP/1.1\r\n"
                f"Host: runtime\r\nContent-Length: {len(body)}\r\n")
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        return head.encode("latin-1") + b"\r\n" + body

    def _read_response(self) -> tuple[int, dict, bytes]:
        sock = self.sock
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("Runtime API closed the connection")
            self.buf += chunk
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        start = end + 4
        while len(self.buf) - start < length:
            chunk = sock.recv(max(65536, length - (len(self.buf) - start)))
            if not chunk:
                raise ConnectionError("Runtime API closed the connection")
            self.buf += chunk
        body = self.buf[start : start + length]
        self.buf = self.buf[start + length :]
        return int(lines[0].split(" ", 2)[1]), headers, body

    def _exchange(self, *requests: bytes) -> tuple[int, dict, bytes]:
        """Send the requests, return the last one's response (a dropped connection is retried once)."""
        for attempt in (0, 1):
            try:
                self._connect().sendall(b"".join(requests))
                for _ in requests[:-1]:
                    self._read_response()
                return self._read_response()
            except (ConnectionError, OSError):
                if self.sock is not None:
                    self.sock.close()
                self.sock = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def next(self) -> tuple[int, dict, bytes]:
        return self._exchange(self._request("GET", "invocation/next"))

    def post(self, path: str, body: bytes, headers: dict | None = None) -> None:
        self._exchange(self._request("POST", path, body, headers))

    def post_then_next(self, path: str, body: bytes, headers: dict) -> tuple[int, dict, bytes]:
        return self._exchange(self._request("POST", path, body, headers),
                              self._request("GET", "invocation/next"))


def main(handler: str, sys_path: list[str]) -> None:
    """Initialize the function and serve events forever (returns only by exiting)."""
    global _request_id
    sys.path[:] = sys_path
    sys.argv[:] = ["/var/runtime/bootstrap.py"]
    sys.modules["__main__"] = types.ModuleType("__main__")  # not the zygote's
    sink = LogSink()
    sys.stdout = LineWriter(sink, "<stdout>")
    sys.stderr = LineWriter(sink, "<stderr>")
    _setup_logging(sink)
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        fn = load_handler(handler)
        error = None
    except FaultError as e:
        error = _fault(e, None)
    except Exception as e:
        error = _error_from_exception(e, None)
    if error is not None:
        logging.warning(UNHANDLED_WARNING)
        _log_error(sink, error)
        sys.stdout.flush()
        client.post("init/error", json.dumps(error).encode(),
                    {"Lambda-Runtime-Function-Error-Type": error["errorType"],
                     "Content-Type": "application/json"})
        os._exit(1)
    result_request: tuple | None = None
    encoder = _Encoder(allow_nan=True, ensure_ascii=os.environ.get("AWS_EXECUTION_ENV") in (
        "AWS_Lambda_python3.8", "AWS_Lambda_python3.9", "AWS_Lambda_python3.10", "AWS_Lambda_python3.11"))
    while True:
        if result_request is None:
            _, headers, body = client.next()
        else:
            _, headers, body = client.post_then_next(*result_request)
        _request_id = request_id = headers["lambda-runtime-aws-request-id"]
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        error = None
        try:
            cc = headers.get("lambda-runtime-client-context")
            ci = headers.get("lambda-runtime-cognito-identity")
            try:
                cc = json.loads(cc) if cc else None
                ci = json.loads(ci) if ci else None
            except ValueError as e:
                raise FaultError("Runtime.LambdaContextUnmarshalError",
                                 f"Unable to parse Client Context JSON: {e}") from None
            context = LambdaContext(request_id, int(headers["lambda-runtime-deadline-ms"]),
                                    headers.get("lambda-runtime-invoked-function-arn", ""), cc, ci)
            try:
                event = json.loads(body) if body else None
            except ValueError as e:
                raise FaultError("Runtime.UnmarshalError", f"Unable to unmarshal input: {e}") from None
            result = fn(event, context)
            if isinstance(result, bytes):
                payload, content_type = result, "application/unknown"
            else:
                try:
                    payload, content_type = encoder.encode(result).encode(), "application/json"
                except Exception as e:
                    raise FaultError("Runtime.MarshalError", f"Unable to marshal response: {e}") from None
        except FaultError as e:
            error = _fault(e, request_id)
        except Exception as e:
            error = _error_from_exception(e, request_id)
        sys.stdout.flush()
        sys.stderr.flush()
        if error is None:
            result_request = (f"invocation/{request_id}/response", payload,
                              {"Content-Type": content_type})
        else:
            _log_error(sink, error)
            result_request = (f"invocation/{request_id}/error", json.dumps(error).encode(),
                              {"Lambda-Runtime-Function-Error-Type": error["errorType"],
                               "Content-Type": "application/json"})
