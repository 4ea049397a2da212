"""The Cumulo endpoint inside an isolated network namespace (see :mod:`cumulo.runtime.network`).

The agent listens on the namespace's ``127.0.0.1:<endpoint port>`` and joins each accepted
connection to a new connection to the server's Unix socket, copying bytes both ways on the
agent's ``selectors`` loop until both sides have closed. At most ``_BUFFER`` bytes wait per
direction: a side that is not read from stops being read (back-pressure).
"""

from __future__ import annotations

import os
import selectors
import socket

from ..network import ENDPOINT_SOCKET

_BUFFER = 1 << 16


class _Leg:
    """One direction: bytes read from ``src`` waiting to be written to ``dst``."""

    def __init__(self, src: socket.socket, dst: socket.socket) -> None:
        self.src = src
        self.dst = dst
        self.pending = b""
        self.eof = False  # src is done; dst gets SHUT_WR once pending is written
        self.shut = False


class _Pair:
    def __init__(self, relay: EndpointRelay, client: socket.socket, server: socket.socket) -> None:
        self.relay = relay
        self.legs = (_Leg(client, server), _Leg(server, client))
        self.closed = False
        self.watching: dict[socket.socket, int] = {}
        for sock in (client, server):
            relay.sel.register(sock, selectors.EVENT_READ, self._on_event)
            self.watching[sock] = selectors.EVENT_READ

    def _on_event(self, sock: socket.socket) -> None:
        for leg in self.legs:
            if self.closed:
                return
            self._pump(leg)
        self._update()

    def _pump(self, leg: _Leg) -> None:
        """Move what can move now from ``leg.src`` to ``leg.dst``; pass an end on once all is written."""
        try:
            while True:
                if leg.pending:
                    leg.pending = leg.pending[leg.dst.send(leg.pending):]
                    if leg.pending:
                        break
                if leg.eof:
                    break
                leg.pending = leg.src.recv(_BUFFER)
                if not leg.pending:
                    leg.eof = True
            if leg.eof and not leg.pending and not leg.shut:
                leg.shut = True
                leg.dst.shutdown(socket.SHUT_WR)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:  # a side reset: the whole pair ends
            self.close()

    def _update(self) -> None:
        """Watch each socket for what its legs need now: reading its own direction (unless it is at
        its end or waiting to be written out), writing what waits for it."""
        if self.closed:
            return
        if all(leg.eof and not leg.pending for leg in self.legs):
            self.close()
            return
        sel = self.relay.sel
        for out, into in (self.legs, self.legs[::-1]):
            sock = out.src
            events = (0 if out.eof or out.pending else selectors.EVENT_READ) | (
                selectors.EVENT_WRITE if into.pending else 0)
            if events == self.watching.get(sock, 0):
                continue
            if not events:
                sel.unregister(sock)
            elif sock in self.watching:
                sel.modify(sock, events, self._on_event)
            else:
                sel.register(sock, events, self._on_event)
            self.watching[sock] = events
            if not events:
                del self.watching[sock]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in self.watching:
            self.relay.sel.unregister(sock)
        self.watching.clear()
        for leg in self.legs:
            leg.src.close()


class EndpointRelay:
    """Relays ``127.0.0.1:port`` in the environment's namespace to the server's Unix socket.

    Made in the blank environment before the function's mounts cover the work directory:
    ``work_dir`` is held open as a directory descriptor (close-on-exec, and the runtime process
    was forked before), so the socket stays reachable to the agent only.
    """

    def __init__(self, port: int, work_dir: str) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(256)
        self.listener.setblocking(False)
        self.directory = os.open(work_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.sel: selectors.BaseSelector | None = None

    def activate(self, sel: selectors.BaseSelector) -> None:
        self.sel = sel
        sel.register(self.listener, selectors.EVENT_READ, self._on_accept)

    def _on_accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                server.connect(f"/proc/self/fd/{self.directory}/{ENDPOINT_SOCKET}")
            except OSError:  # the server is gone or stopping: the client sees a refused connection
                server.close()
                client.close()
                continue
            client.setblocking(False)
            server.setblocking(False)
            _Pair(self, client, server)
