"""Framing for the private channel between the platform and an environment's init agent.

The channel is one end of a ``socketpair(AF_UNIX, SOCK_STREAM)`` inherited by the agent.
Every frame is::

    u32 length (big endian, of everything after this field)
    u8  kind
    u32 meta length
    meta: compact JSON object (headers, ids, numbers)
    body: raw bytes (event payload, response payload, error body) -- the rest of the frame

Payloads travel as raw bytes next to a small JSON header, so a 6 MB response is never
re-encoded.  This module runs on both sides, inside environments too, so it must stay
importable by every Python the platform supports as a runtime (3.8 and newer) and cheap
to import.
"""

from __future__ import annotations

import json
import struct

# platform -> agent
INVOKE = 1
SHUTDOWN = 2  # {"reason": "spindown" | "timeout" | "failure", "deadline_ms"}
PLATFORM = 3  # platform events for telemetry subscribers: {"events": [[type, record, timestamp_ms], ...]}
# agent -> platform
HELLO = 10  # agent is up: {"port", "pid"}
INIT_DONE = 11  # the runtime asked for its first event
INIT_ERROR = 12  # POST /runtime/init/error: {"error_type"} + body
LOGS = 13  # {"events": [[timestamp_ms, message], ...]}
RESPONSE = 14  # {"id"} + payload
INVOKE_ERROR = 15  # {"id", "error_type"} + body
EXITED = 16  # the runtime (or an extension) ended: {"status": "exit status 1" | "signal: killed", "error_type"?}
INVOKE_DONE = 17  # after a RESPONSE/INVOKE_ERROR with "pending": every extension is ready again
STREAM_START = 18  # the runtime streams its response: {"id", "content_type"}
STREAM_CHUNK = 19  # {"id"} + the next bytes of a streamed response
STREAM_END = 20  # the streamed response is complete: {"id", "error_type"?, "pending"?} + error body

_HEAD = struct.Struct("!IBI")
_LEN = struct.Struct("!I")
_compact_json = json.JSONEncoder(separators=(",", ":")).encode  # built once: json.dumps with options
# builds an encoder per call


def encode(kind: int, meta: dict | None = None, body: bytes = b"") -> bytes:
    """Encode one frame."""
    meta_bytes = _compact_json(meta).encode() if meta else b""
    return _HEAD.pack(5 + len(meta_bytes) + len(body), kind, len(meta_bytes)) + meta_bytes + body


class FrameReader:
    """Incremental decoder: feed bytes as they arrive, get whole frames back."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, dict, bytes]]:
        buf = self._buf
        buf += data
        frames = []
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            (length,) = _LEN.unpack_from(buf, pos)
            if end - pos - 4 < length:
                break
            _, kind, meta_len = _HEAD.unpack_from(buf, pos)
            start = pos + 9
            meta = json.loads(bytes(buf[start : start + meta_len])) if meta_len else {}
            body = bytes(buf[start + meta_len : pos + 4 + length])
            frames.append((kind, meta, body))
            pos += 4 + length
        if pos:
            del buf[:pos]
        return frames
