"""The AWS event stream encoding (``application/vnd.amazon.eventstream``), server side: how
streamed operations (Lambda's InvokeWithResponseStream) frame each event for the SDKs' decoders.

A message is ``total length (u32) | headers length (u32) | CRC32 of those 8 bytes | headers |
payload | CRC32 of everything before``; a header is ``name length (u8) | name | type (u8, 7 =
string) | value length (u16) | value``. Events carry ``:message-type`` ``event``, the member name
as ``:event-type`` and the payload's ``:content-type``.
"""

from __future__ import annotations

import struct
import zlib

_PRELUDE = struct.Struct("!II")
_STRING = 7


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + struct.pack("!H", len(raw_value)) + raw_value


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    block = b"".join(_header(name, value) for name, value in headers.items())
    prelude = _PRELUDE.pack(16 + len(block) + len(payload), len(block))
    message = prelude + struct.pack("!I", zlib.crc32(prelude)) + block + payload
    return message + struct.pack("!I", zlib.crc32(message))


def encode_event(event_type: str, payload: bytes, content_type: str = "application/octet-stream") -> bytes:
    return encode_message({":event-type": event_type, ":content-type": content_type,
                           ":message-type": "event"}, payload)
