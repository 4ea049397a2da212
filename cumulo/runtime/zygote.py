"""The zygote: a pre-initialized fork server, one per Python interpreter.

As in SOCK/OpenLambda, a process that has already imported the agent, the Cumulo Python
runtime and the standard-library modules functions commonly use forks each new
environment, so a Python cold start costs a ``fork`` instead of an interpreter start and
a few hundred imports.  Non-Python environments (Node, ``provided``) are forked from the
platform interpreter's zygote too: only their runtime process is ``exec``'d.

Protocol (``SOCK_SEQPACKET``, one message each way): the platform sends a JSON request
with the environment's channel fd attached (``SCM_RIGHTS``); the zygote replies
``{"pid": <host pid of the agent>}`` or ``{"error": ...}``.  Request keys:
``agent`` (agent config), ``cgroup_procs`` (files to join), ``namespaces`` (bool),
``mounts`` (see :func:`cumulo.runtime.sandbox.setup_mounts`).

In the child: new session, join the cgroups (so everything forked later is accounted),
then either ``unshare(NEWNS|NEWPID)`` and fork pid 1 of the new namespaces, which builds
the mounts and becomes the agent, or (no isolation) become the agent directly.  The zygote
is a child subreaper with ``SIGCHLD`` ignored, so agents reparented to it are reaped by
the kernel; it dies with the platform (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import array
import json
import os
import signal
import socket
import sys

from cumulo.runtime import channel, sandbox  # noqa: F401  (preloaded for children)
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


def _child(ctl: socket.socket, chan_fd: int, req: dict, pid_w: int) -> None:
    ctl.close()
    os.setsid()
    for path in req.get("cgroup_procs", ()):
        with open(path, "w") as f:
            f.write(str(os.getpid()))
    if req.get("namespaces"):
        sandbox.unshare(sandbox.CLONE_NEWNS | sandbox.CLONE_NEWPID)
        pid = os.fork()
        if pid:
            os.write(pid_w, str(pid).encode())
            os._exit(0)
        os.close(pid_w)
        os.setsid()  # its own process group, so the platform can SIGSTOP/SIGKILL it as a group
        sandbox.setup_mounts(req["mounts"])
    else:
        os.write(pid_w, str(os.getpid()).encode())
        os.close(pid_w)
        sandbox.try_prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    server.main(chan_fd, req["agent"])


def spawn(ctl: socket.socket, req: dict, chan_fd: int) -> dict:
    pid_r, pid_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(pid_r)
            _child(ctl, chan_fd, req, pid_w)
        except BaseException:
            import traceback

            traceback.print_exc()
        os._exit(71)
    os.close(pid_w)
    os.close(chan_fd)
    data = b""
    while True:
        chunk = os.read(pid_r, 64)
        if not chunk:
            break
        data += chunk
    os.close(pid_r)
    if not data:
        return {"error": "environment process failed to start (see stderr)"}
    return {"pid": int(data)}


def serve(ctl: socket.socket) -> None:
    while True:
        fds = array.array("i")
        try:
            msg, ancdata, _, _ = ctl.recvmsg(MAX_REQUEST, socket.CMSG_LEN(4 * fds.itemsize))
        except InterruptedError:
            continue
        if not msg:
            return
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        try:
            reply = spawn(ctl, json.loads(msg), fds[0])
        except Exception as e:  # keep serving: one bad request must not kill the zygote
            reply = {"error": f"{type(e).__name__}: {e}"}
        ctl.send(json.dumps(reply).encode())


def main() -> None:
    ctl_fd = int(sys.argv[1])
    python_runtime = sys.argv[2] == "python"
    sandbox.try_prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    sandbox.try_prctl(sandbox.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    preload(python_runtime)
    ctl = socket.socket(fileno=ctl_fd)
    import importlib.util

    ctl.send(json.dumps({"sys_path": [p for p in sys.path if p],
                         "has_boto3": importlib.util.find_spec("boto3") is not None}).encode())
    serve(ctl)


if __name__ == "__main__":
    main()
