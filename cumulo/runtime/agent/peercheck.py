"""Who is on the other end of a loopback TCP connection?

Environments share the host network namespace (so function code reaches the platform
endpoint and the host network with no NAT or veth set-up), and each agent listens on its
own ephemeral port of 127.0.0.1.  A port number is no secret, so when isolation is on the
agent accepts a connection only if the client socket belongs to a process of its own
environment: it asks the kernel (NETLINK_SOCK_DIAG, one exact lookup) for the inode of the
peer socket, then looks for that inode among the open files of the processes it can see.
The agent is pid 1 of the environment's pid namespace with its own /proc, so it sees
exactly the environment's processes.  Cost: one netlink round trip plus a readlink per
open file of the environment, only once per connection (clients keep connections alive).
"""

from __future__ import annotations

import os
import socket
import struct

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NOCOOKIE = 0xFFFFFFFF
_REQ = struct.Struct("=IHHII BBBBI HH16s16sIII")
_INODE_OFFSET = 16 + 4 + 48 + 16


def _peer_inode(peer: tuple, local: tuple) -> int | None:
    family = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
    src = socket.inet_pton(family, peer[0]).ljust(16, b"\0")
    dst = socket.inet_pton(family, local[0]).ljust(16, b"\0")
    req = _REQ.pack(
        _REQ.size, _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0,
        family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF,
        socket.htons(peer[1]), socket.htons(local[1]), src, dst, 0, _NOCOOKIE, _NOCOOKIE,
    )
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as nl:
        nl.send(req)
        data = nl.recv(8192)
    if len(data) < _INODE_OFFSET + 4:
        return None
    (msg_type,) = struct.unpack_from("=H", data, 4)
    if msg_type == _NLMSG_ERROR:
        return None
    (inode,) = struct.unpack_from("=I", data, _INODE_OFFSET)
    return inode


def peer_is_local(conn: socket.socket) -> bool:
    """True if the client of ``conn`` is a process this agent can see in /proc."""
    try:
        inode = _peer_inode(conn.getpeername(), conn.getsockname())
    except OSError:
        return False
    if not inode:
        return False
    target = f"socket:[{inode}]"
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") == target:
                    return True
            except OSError:
                continue
    return False
