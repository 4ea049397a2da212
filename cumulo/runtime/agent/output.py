"""Capture of what the environment's processes print, as timestamped log events.

Three sources: the runtime's stdout/stderr (lines), AWS's framed telemetry log fd for runtimes
that use it, and the external extensions' stdout/stderr.  Events wait in :attr:`events` until
the agent sends them to the platform; subscribers of the Telemetry API get a copy.
"""

from __future__ import annotations

import os
import selectors
import struct
import time
from collections.abc import Iterator

from . import telemetry as telemetry_api

MAX_EVENT = 256 * 1024  # CloudWatch's event size: a longer line is cut into several events
_TELEMETRY_HEAD = struct.Struct("!IIQ")


def _available(fd: int) -> Iterator[bytes]:
    """What a non-blocking pipe holds right now, chunk by chunk; an empty chunk, always the last,
    means the writer has closed it (or reading failed)."""
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        yield data
        if not data:
            return


class OutputCapture:
    """Log events read from the environment's output pipes (see the module docstring)."""

    def __init__(self, sel: selectors.BaseSelector, out_r: int, tel_r: int,
                 telemetry: telemetry_api.Telemetry) -> None:
        self.sel = sel
        self.out_r = out_r  # the runtime's stdout/stderr
        self.tel_r = tel_r  # the runtime's telemetry log fd
        self.ext_r = -1  # extensions' stdout/stderr
        self.telemetry = telemetry
        self.events: list = []  # log events not yet sent: [timestamp_ms, message]
        self.out_partial = bytearray()
        self.tel_buf = bytearray()
        self.ext_partial = bytearray()

    def take(self) -> list:
        """The events not yet sent, handed over."""
        events, self.events = self.events, []
        return events

    def drain(self) -> None:
        """Read whatever the runtime has written so far."""
        self.on_output(self.out_r)
        if self.tel_r >= 0:
            self.on_telemetry(self.tel_r)

    def drain_extensions(self) -> None:
        if self.ext_r >= 0:
            self.on_extension_output(self.ext_r)

    def on_output(self, fd: int) -> None:
        for data in _available(fd):
            if not data:
                self._unregister(fd)
                self.flush_partial()
                return
            now = int(time.time() * 1000)
            buf = self.out_partial
            buf += data
            start = 0
            first = len(self.events)
            while True:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    break
                self.events.append([now, buf[start : nl + 1].decode("utf-8", "replace")])
                start = nl + 1
            del buf[:start]
            if self.telemetry.wants_function:
                for ts, msg in self.events[first:]:
                    self.telemetry.log_line("function", ts, msg.rstrip("\n"))
            while len(buf) >= MAX_EVENT:
                self.events.append([now, buf[:MAX_EVENT].decode("utf-8", "replace") + "\n"])
                del buf[:MAX_EVENT]

    def flush_partial(self) -> None:
        """An unfinished last line becomes an event of its own."""
        if self.out_partial:
            self.events.append([int(time.time() * 1000), self.out_partial.decode("utf-8", "replace") + "\n"])
            self.out_partial = bytearray()

    def on_telemetry(self, fd: int) -> None:
        """AWS's framed log protocol: u32 type, u32 length, u64 timestamp (us), message."""
        buf = self.tel_buf
        for data in _available(fd):
            if not data:
                self._unregister(fd)
                break
            buf += data
        pos = 0
        while len(buf) - pos >= 16:
            _, length, ts_us = _TELEMETRY_HEAD.unpack_from(buf, pos)
            if len(buf) - pos - 16 < length:
                break
            msg = buf[pos + 16 : pos + 16 + length].decode("utf-8", "replace")
            if self.telemetry.wants_function:
                self.telemetry.log_line("function", ts_us / 1000, msg.rstrip("\n"))
            if not msg.endswith("\n"):
                msg += "\n"
            self.events.append([ts_us // 1000, msg])
            pos += 16 + length
        del buf[:pos]

    def on_extension_output(self, fd: int) -> None:
        """Extensions' stdout/stderr: lines into the function's log stream (and the extension stream)."""
        for data in _available(fd):
            if not data:
                self._unregister(fd)
                if self.ext_partial:
                    data = b"\n"
                else:
                    return
            now = int(time.time() * 1000)
            buf = self.ext_partial
            buf += data
            start = 0
            while True:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    break
                line = buf[start:nl].decode("utf-8", "replace")
                self.events.append([now, line + "\n"])
                if self.telemetry.wants_extension:
                    self.telemetry.log_line("extension", now, line)
                start = nl + 1
            del buf[:start]
            if len(buf) >= MAX_EVENT:
                self.events.append([now, buf[:MAX_EVENT].decode("utf-8", "replace") + "\n"])
                del buf[:MAX_EVENT]

    def _unregister(self, fd: int) -> None:
        try:
            self.sel.unregister(fd)
        except (KeyError, ValueError):
            pass
