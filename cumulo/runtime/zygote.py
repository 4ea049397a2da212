"""The zygote: a pre-initialized fork server, one per Python interpreter.

As in SOCK/OpenLambda, a process that has already imported the agent, the Cumulo Python
runtime and the standard-library modules functions commonly use forks each new
environment, so a Python cold start costs a ``fork`` instead of an interpreter start and
a few hundred imports.  Non-Python environments (Node, ``provided``) are forked from the
platform interpreter's zygote too: only their runtime process is ``exec``'d.

Started as ``python -m cumulo.runtime.zygote <fd> python|agent <options JSON>`` (options:
namespaces, hosts file, cgroup bases and version, cgroup name prefix, the v1 device
allow-list cgroup, the sandbox user the runtime process becomes ahead of time, and for an
isolated function network the endpoint's port and the work directory holding its socket).  Protocol on the
inherited ``SOCK_SEQPACKET`` socket, one message each way: the platform sends a JSON
request with the environment's channel fd attached (``SCM_RIGHTS``); the zygote replies
``{"pid": <host pid of the agent>, "cgroup": <cgroup name or null>}`` or ``{"error": ...}``.
Request keys: ``agent`` (the agent's config), ``mounts`` (see
:func:`cumulo.runtime.sandbox.setup_mounts`), ``limits`` (memory_mb, cpu_vcpus).

The zygote serves each request with a :class:`Blank` prepared in advance, sets the
cgroup limits, hands the request over and replies (with the request's ``id``: the
platform sends requests without waiting for replies). When requests arrive faster than
blanks are ready (a burst of cold starts) it prepares one blank per waiting request at
once, so that they get ready in parallel, and serves requests in order as blanks become
ready. The platform sends ``{"refill": true}`` (no reply) once a new environment has
initialized, to restock ``STOCK`` blanks: preparing blanks costs forks, which would
otherwise compete for CPU with the environment that is starting. It
is a child subreaper with ``SIGCHLD`` ignored, so the agents reparented to it are reaped
by the kernel, and it dies with the platform (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import array
import collections
import json
import os
import selectors
import signal
import socket
import sys
from pathlib import Path

from cumulo.runtime import cgroups, channel, network, sandbox, seccomp  # noqa: F401  (preloaded for children)
from cumulo.runtime.agent import endpoint_relay, lifecycle

MAX_REQUEST = 1 << 20


def preload(python_runtime: bool) -> None:
    """Import what environments forked from here will need, once, before any fork."""
    import base64  # noqa: F401
    import datetime  # noqa: F401
    import decimal  # noqa: F401
    import hashlib  # noqa: F401
    import http.client  # noqa: F401
    import importlib  # noqa: F401
    import logging  # noqa: F401
    import traceback  # noqa: F401
    import urllib.parse  # noqa: F401
    import uuid  # noqa: F401

    from cumulo.runtime.agent import peercheck  # noqa: F401

    if python_runtime:
        import cumulo.runtime.python_runtime  # noqa: F401


STOCK = 2  # blank environments kept ready per zygote
MAX_FAILURES = 3  # blanks in a row that die before being ready: the request fails


class Blank:
    """A pre-forked environment waiting for its function.

    Everything that does not depend on the function is done ahead of time, off the cold
    start's critical path: the fork, a new session, joining a fresh cgroup, with isolation
    new mount and pid namespaces with the host read-only and /proc and /etc/hosts mounted,
    and the agent's sockets, pipes and forked runtime process.  On this kind of host
    unshare(2) and cgroup migration each cost 1-20 ms (they wait for RCU grace periods), so
    the zygote keeps a few blanks ready, and prepares as many at once as there are requests
    waiting (they get ready in parallel on every core).

    A blank is *ready* once ``pid_r`` reaches end of file: it then holds the host pid of
    the process that will become the agent (nothing if the blank died on the way).
    """

    def __init__(self, ctl: socket.socket, others: list, options: dict, seq: int,
                 close_in_child: tuple = ()) -> None:
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid_r, pid_w = os.pipe()
        self.pid_data = b""
        self.ready = False
        self.cgroup = None
        net = options.get("network") if options["namespaces"] else None
        self.slirp = net.get("slirp") if net else None  # the outside network's helper (network.start_slirp)
        # slirp4netns ends when every copy of exit_w (the agent's) is closed; it says "ready" on ready_r
        self.exit_r, exit_w = os.pipe() if self.slirp else (-1, -1)
        self.ready_r = -1
        bases = options.get("cgroups")
        if bases:
            name = f"{options['prefix']}-b{seq}"
            dirs = {c: Path(b) / name for c, b in bases.items()}
            self.cgroup = cgroups.Cgroup(dirs, options["cgroup_version"])
            for d in self.cgroup.dirs.values():
                d.mkdir()
        if os.fork() == 0:
            try:
                ctl.close()
                self.sock.close()
                for other in others:  # nothing of another environment may leak into this one
                    other.sock.close()
                    for fd in (other.pid_r, other.exit_r, other.ready_r):
                        if fd >= 0:
                            os.close(fd)
                if self.exit_r >= 0:
                    os.close(self.exit_r)
                for fd in close_in_child:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                os.close(self.pid_r)
                os.setsid()
                joins = [*(self.cgroup.procs_files if self.cgroup else ()), options.get("devices_cgroup")]
                for path in filter(None, joins):
                    with open(path, "w") as f:
                        f.write("0")  # "0" = the writing process
                relay = options.get("network")  # {"port", "work_dir"}: an isolated network namespace
                if options["namespaces"]:
                    sandbox.unshare(sandbox.ENVIRONMENT_NAMESPACES | (network.CLONE_NEWNET if relay else 0))
                    pid = os.fork()
                    if pid:
                        os.write(pid_w, str(pid).encode())
                        os._exit(0)
                    os.setsid()  # its own process group, so the platform can stop/kill it as a group
                    sandbox.premount(options["hosts"], network=bool(relay),
                                     resolv_conf=relay.get("resolv_conf") if relay else None)
                else:
                    os.write(pid_w, str(os.getpid()).encode())
                    sandbox.try_prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
                os.close(pid_w)
                agent = lifecycle.Agent()
                agent.prepare(options.get("sandbox_user"), (exit_w,) if exit_w >= 0 else ())
                if relay and options["namespaces"]:  # after the runtime process was forked: not its to hold
                    agent.relay = endpoint_relay.EndpointRelay(relay["port"], relay["work_dir"])
                self._wait(theirs, agent, options["namespaces"])
            except BaseException:
                import traceback

                traceback.print_exc()
            os._exit(71)
        os.close(pid_w)
        if exit_w >= 0:
            os.close(exit_w)
        os.set_blocking(self.pid_r, False)
        theirs.close()

    @staticmethod
    def _wait(sock: socket.socket, agent: lifecycle.Agent, namespaces: bool) -> None:
        """In the blank: receive the environment's request, become it."""
        req, fds = _recv(sock)
        if req is None:
            os._exit(0)
        sock.close()
        if namespaces:
            sandbox.setup_mounts(req["mounts"])
        lifecycle.serve(agent, fds[0], req["agent"])

    def on_readable(self) -> bool:
        """Read what the blank wrote; True once it is ready (end of file: the caller stops watching
        ``pid_r``, then calls ``close_pid_pipe``)."""
        while True:
            try:
                chunk = os.read(self.pid_r, 64)
            except BlockingIOError:
                return False
            except InterruptedError:
                continue
            if not chunk:
                self.ready = not (self.slirp and self.pid_data)  # else once its outside network is up
                return True
            self.pid_data += chunk

    def close_pid_pipe(self) -> None:
        if self.pid_r >= 0:
            os.close(self.pid_r)
            self.pid_r = -1

    def start_slirp(self) -> None:
        """The pid is known: give the blank's network namespace its outside network (slirp4netns),
        ready once it says so on ``ready_r``."""
        try:
            self.ready_r = network.start_slirp(self.slirp, int(self.pid_data), self.exit_r)
        except OSError:
            self.pid_data = b""  # not alive: replaced
        os.close(self.exit_r)
        self.exit_r = -1

    def on_slirp(self) -> bool:
        """slirp4netns wrote its ready byte (True) or ended without (False: the blank is not alive)."""
        try:
            self.ready = os.read(self.ready_r, 1) == b"1"
        except OSError:
            self.ready = False
        if not self.ready:
            self.pid_data = b""
        os.close(self.ready_r)
        self.ready_r = -1
        return self.ready

    @property
    def alive(self) -> bool:
        return bool(self.pid_data)

    def hand_over(self, req: dict, chan_fd: int) -> int | None:
        """Give the ready blank its environment (limits first); returns its host pid, None if it died."""
        try:
            if not self.pid_data:
                return None
            if self.cgroup is not None:
                self.cgroup.set_limits(req["limits"]["memory_mb"], req["limits"]["cpu_vcpus"])
            self.sock.sendmsg([json.dumps(req).encode()],
                              [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [chan_fd]))])
            return int(self.pid_data)
        except OSError:
            return None
        finally:
            self.sock.close()

    @property
    def cgroup_name(self) -> str | None:
        return next(iter(self.cgroup.dirs.values())).name if self.cgroup else None

    def discard(self) -> None:
        self.sock.close()
        self.close_pid_pipe()
        for fd in (self.exit_r, self.ready_r):
            if fd >= 0:
                os.close(fd)
        self.exit_r = self.ready_r = -1
        if self.cgroup is not None:
            self.cgroup.remove()


def _recv(sock: socket.socket):
    fds = array.array("i")
    msg, ancdata, _, _ = sock.recvmsg(MAX_REQUEST, socket.CMSG_LEN(4 * fds.itemsize))
    if not msg:
        return None, []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return json.loads(msg), list(fds)


class Server:
    """The zygote's loop: requests are queued, blanks prepared in parallel, served in order.

    Replies carry the request's ``id`` (the platform pipelines its requests).
    """

    def __init__(self, ctl: socket.socket, options: dict) -> None:
        self.ctl = ctl
        self.options = options
        self.sel = selectors.DefaultSelector()
        self.blanks: list[Blank] = []  # ready ones and ones being prepared, oldest first
        self.queue: collections.deque = collections.deque()  # (request, fds) waiting for a blank
        self.seq = 0
        self.failures = 0
        self.stock = 0  # blanks to keep ready: 0 until the first refill

    def _new_blank(self) -> None:
        self.seq += 1
        held = [fd for _, fds in self.queue for fd in fds]
        blank = Blank(self.ctl, self.blanks, self.options, self.seq, (self.sel.fileno(), *held))
        self.blanks.append(blank)
        self.sel.register(blank.pid_r, selectors.EVENT_READ, blank)

    def _provision(self) -> None:
        """Prepare blanks so that every waiting request and the stock have one."""
        while len(self.blanks) < len(self.queue) + self.stock:
            self._new_blank()

    def _dispatch(self) -> None:
        while self.queue:
            blank = next((b for b in self.blanks if b.ready), None)
            if blank is None:
                break
            self.blanks.remove(blank)
            req, fds = self.queue[0]
            pid = blank.hand_over(req, fds[0]) if fds else None
            if pid is None:
                blank.discard()
                self.failures += 1
                if self.failures < MAX_FAILURES and fds:
                    continue
                self.failures = 0
                self.queue.popleft()
                why = "blank environments keep failing to start (see stderr)" if fds else "no channel fd"
                self._reply(req, {"error": f"RuntimeError: {why}"}, fds)
                continue
            self.failures = 0
            self.queue.popleft()
            self._reply(req, {"pid": pid, "cgroup": blank.cgroup_name}, fds)
        self._provision()

    def _reply(self, req: dict, reply: dict, fds: list[int]) -> None:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        reply["id"] = req.get("id")
        self.ctl.send(json.dumps(reply).encode())

    def _on_ctl(self) -> bool:
        try:
            req, fds = _recv(self.ctl)
        except (InterruptedError, BlockingIOError):
            return True
        if req is None:
            return False
        if req.get("refill"):
            self.stock = STOCK
            self._provision()
        else:
            self.queue.append((req, fds))
            self._dispatch()
        return True

    def run(self) -> None:
        self.ctl.setblocking(False)
        self.sel.register(self.ctl, selectors.EVENT_READ, None)
        while True:
            try:
                events = self.sel.select()
            except InterruptedError:
                continue
            for key, _ in events:
                if key.data is None:
                    if not self._on_ctl():
                        return
                    continue
                blank = key.data
                if key.fd == blank.ready_r:  # its outside network is up, or its helper failed
                    self.sel.unregister(key.fd)
                    blank.on_slirp()
                    self._settled(blank)
                elif blank.on_readable():
                    # Unregister while the pipe is still open: a blank forked meanwhile holds a copy of
                    # it for a moment, and epoll would keep the registration of a closed fd, reporting
                    # it later under the number's next owner.
                    self.sel.unregister(key.fd)
                    blank.close_pid_pipe()
                    if blank.alive and not blank.ready:
                        blank.start_slirp()
                        if blank.ready_r >= 0:
                            self.sel.register(blank.ready_r, selectors.EVENT_READ, blank)
                            continue
                    self._settled(blank)

    def _settled(self, blank: Blank) -> None:
        """A blank is ready or dead."""
        if not blank.alive:  # died while preparing: replaced on demand
            self.blanks.remove(blank)
            blank.discard()
            self.failures += 1
            if self.failures >= MAX_FAILURES and self.queue:
                self.failures = 0
                req, fds = self.queue.popleft()
                self._reply(req, {"error": "RuntimeError: blank environments keep failing "
                                           "to start (see stderr)"}, fds)
        self._dispatch()


def serve(ctl: socket.socket, options: dict) -> None:
    Server(ctl, options).run()


def main() -> None:
    ctl_fd = int(sys.argv[1])
    python_runtime = sys.argv[2] == "python"
    options = json.loads(sys.argv[3])
    sandbox.try_prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    sandbox.try_prctl(sandbox.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    preload(python_runtime)
    if options["namespaces"]:
        seccomp.prepare()  # once here, not in every environment
        sandbox.prepare_confine()
    os.set_inheritable(ctl_fd, False)  # helpers it starts (slirp4netns) must not hold the platform's line
    ctl = socket.socket(fileno=ctl_fd)
    prefixes = [sys.prefix, sys.base_prefix, os.path.realpath(sys.executable)]
    ctl.send(json.dumps({"sys_path": [p for p in sys.path if p], "prefixes": prefixes}).encode())
    serve(ctl, options)


if __name__ == "__main__":
    main()
