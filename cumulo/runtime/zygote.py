"""The zygote: a pre-initialized fork server, one per Python interpreter.

As in SOCK/OpenLambda, a process that has already imported the agent, the Cumulo Python
runtime and the standard-library modules functions commonly use forks each new
environment, so a Python cold start costs a ``fork`` instead of an interpreter start and
a few hundred imports.  Non-Python environments (Node, ``provided``) are forked from the
platform interpreter's zygote too: only their runtime process is ``exec``'d.

Started as ``python -m cumulo.runtime.zygote <fd> python|agent <options JSON>`` (options:
namespaces, hosts file, cgroup bases and version, cgroup name prefix).  Protocol on the
inherited ``SOCK_SEQPACKET`` socket, one message each way: the platform sends a JSON
request with the environment's channel fd attached (``SCM_RIGHTS``); the zygote replies
``{"pid": <host pid of the agent>, "cgroup": <cgroup name or null>}`` or ``{"error": ...}``.
Request keys: ``agent`` (the agent's config), ``mounts`` (see
:func:`cumulo.runtime.sandbox.setup_mounts`), ``limits`` (memory_mb, cpu_vcpus).

The zygote serves each request with a :class:`Blank` prepared in advance, sets the
cgroup limits, hands the request over and replies. The platform sends ``{"refill":
true}`` (no reply) once the new environment has initialized: preparing blanks costs
forks, which would otherwise compete for CPU with the environment that is starting. It
is a child subreaper with ``SIGCHLD`` ignored, so the agents reparented to it are reaped
by the kernel, and it dies with the platform (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import array
import json
import os
import signal
import socket
import sys
from pathlib import Path

from cumulo.runtime import cgroups, channel, sandbox  # noqa: F401  (preloaded for children)
from cumulo.runtime.agent import server

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


class Blank:
    """A pre-forked environment waiting for its function.

    Everything that does not depend on the function is done ahead of time, off the cold
    start's critical path: the fork, a new session, joining a fresh cgroup, with isolation
    new mount and pid namespaces with the host read-only and /proc and /etc/hosts mounted,
    and the agent's sockets, pipes and forked runtime process.  On this kind of host
    unshare(2) and cgroup migration each cost 1-20 ms (they wait for RCU grace periods), so
    the zygote keeps a few blanks ready and prepares more when the platform says a cold
    start is over.
    """

    def __init__(self, ctl: socket.socket, stock: list, options: dict, seq: int) -> None:
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid_r, pid_w = os.pipe()
        self.cgroup = None
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
                for other in stock:
                    other.sock.close()
                    os.close(other.pid_r)
                os.close(self.pid_r)
                os.setsid()
                for path in self.cgroup.procs_files if self.cgroup else ():
                    with open(path, "w") as f:
                        f.write("0")  # "0" = the writing process
                if options["namespaces"]:
                    sandbox.unshare(sandbox.CLONE_NEWNS | sandbox.CLONE_NEWPID)
                    pid = os.fork()
                    if pid:
                        os.write(pid_w, str(pid).encode())
                        os._exit(0)
                    os.setsid()  # its own process group, so the platform can stop/kill it as a group
                    sandbox.premount(options["hosts"])
                else:
                    os.write(pid_w, str(os.getpid()).encode())
                    sandbox.try_prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
                os.close(pid_w)
                agent = server.Agent()
                agent.prepare()
                self._wait(theirs, agent, options["namespaces"])
            except BaseException:
                import traceback

                traceback.print_exc()
            os._exit(71)
        os.close(pid_w)
        theirs.close()

    @staticmethod
    def _wait(sock: socket.socket, agent: server.Agent, namespaces: bool) -> None:
        """In the blank: receive the environment's request, become it."""
        req, fds = _recv(sock)
        if req is None:
            os._exit(0)
        sock.close()
        if namespaces:
            sandbox.setup_mounts(req["mounts"])
        server.serve(agent, fds[0], req["agent"])

    def hand_over(self, req: dict, chan_fd: int) -> int | None:
        """Give the blank its environment (limits first); returns its host pid, None if it died."""
        data = b""
        while True:
            chunk = os.read(self.pid_r, 64)
            if not chunk:
                break
            data += chunk
        os.close(self.pid_r)
        try:
            if not data:
                return None
            if self.cgroup is not None:
                self.cgroup.set_limits(req["limits"]["memory_mb"], req["limits"]["cpu_vcpus"])
            self.sock.sendmsg([json.dumps(req).encode()],
                              [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [chan_fd]))])
            return int(data)
        except OSError:
            return None
        finally:
            self.sock.close()

    @property
    def cgroup_name(self) -> str | None:
        return next(iter(self.cgroup.dirs.values())).name if self.cgroup else None

    def discard(self) -> None:
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


def serve(ctl: socket.socket, options: dict) -> None:
    stock: list[Blank] = []
    seq = 0
    while True:
        try:
            req, fds = _recv(ctl)
        except InterruptedError:
            continue
        if req is None:
            return
        if req.get("refill"):
            while len(stock) < STOCK:
                seq += 1
                stock.append(Blank(ctl, stock, options, seq))
            continue
        if not stock:
            seq += 1
            stock.append(Blank(ctl, stock, options, seq))
        try:
            for _ in range(3):  # a blank that died (killed, or its set-up failed) is replaced
                blank = stock.pop(0)
                pid = blank.hand_over(req, fds[0])
                if pid is not None:
                    break
                blank.discard()
                seq += 1
                stock.append(Blank(ctl, stock, options, seq))
            else:
                raise RuntimeError("blank environments keep failing to start (see stderr)")
            reply = {"pid": pid, "cgroup": blank.cgroup_name}
        except Exception as e:  # keep serving: one bad request must not kill the zygote
            reply = {"error": f"{type(e).__name__}: {e}"}
        finally:
            for fd in fds:
                os.close(fd)
        ctl.send(json.dumps(reply).encode())


def main() -> None:
    ctl_fd = int(sys.argv[1])
    python_runtime = sys.argv[2] == "python"
    options = json.loads(sys.argv[3])
    sandbox.try_prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    sandbox.try_prctl(sandbox.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    preload(python_runtime)
    ctl = socket.socket(fileno=ctl_fd)
    prefixes = [sys.prefix, sys.base_prefix, os.path.realpath(sys.executable)]
    ctl.send(json.dumps({"sys_path": [p for p in sys.path if p], "prefixes": prefixes}).encode())
    serve(ctl, options)


if __name__ == "__main__":
    main()
