"""The error payloads an invoke reports, shaped as AWS shapes them, and the failure of an INIT."""

from __future__ import annotations

import contextlib
import json

from .agent.processes import exit_phrase


class InitFailure(Exception):
    """An environment could not be initialized; carries what the invoke reports."""

    def __init__(self, error_type: str, payload: bytes, status: str, started: float) -> None:
        super().__init__(error_type)
        self.error_type = error_type
        self.payload = payload
        self.status = status  # "error" | "timeout"
        self.started = started  # when INIT started (monotonic)


def error_json(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}, separators=(",", ":")).encode()


def error_type_of(payload: bytes) -> str:
    """The ``errorType`` of a function error's payload ("Unhandled" when it names none)."""
    with contextlib.suppress(ValueError, AttributeError):
        return json.loads(payload).get("errorType") or "Unhandled"
    return "Unhandled"


def timeout_error(request_id: str, timeout_s: float) -> bytes:
    return error_json("Sandbox.Timedout",
                      f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds")


def exit_error(request_id: str, status: str) -> bytes:
    """A runtime that exited (``status`` as :func:`cumulo.runtime.agent.processes.exit_status` words it)."""
    return error_json("Runtime.ExitError", f"RequestId: {request_id} Error: {exit_phrase(status)}")
