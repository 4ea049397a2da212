"""What a server secures before anything touches its state, and the one line a failed start says.

The port is bound first (a server that cannot listen exits without opening its data directory),
then the data directory is made private and locked (a second server on it exits at once), and
only then is the store opened and are services started. Every failure on that path is told to
the user as one line naming the cause and the way out; the traceback is logged at debug level.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
from pathlib import Path

from cumulo.store.data_dir import DataDirInUse
from cumulo.store.migrations import NewerSchemaError

LISTEN_BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    """The endpoint's socket, bound and listening (``OSError`` when the port is taken).

    An empty host listens on every IPv4 and IPv6 address; an IPv6 address on IPv6 only; a name
    on its first address.
    """
    if host == "" and socket.has_dualstack_ipv6():
        return socket.create_server(("", port), family=socket.AF_INET6, backlog=LISTEN_BACKLOG,
                                    dualstack_ipv6=True)
    family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def explain(error: BaseException, data_dir: Path) -> str:
    """One line for a failure to prepare, lock or open the data directory and its state."""
    if isinstance(error, (DataDirInUse, NewerSchemaError)):
        return str(error)
    if isinstance(error, sqlite3.DatabaseError):
        return _explain_database(error, data_dir)
    if isinstance(error, OSError):
        return _explain_os_error(error, data_dir)
    return f"start-up failed: {type(error).__name__}: {error}"


def _explain_os_error(error: OSError, data_dir: Path) -> str:
    where = f" ({error.filename})" if error.filename and str(error.filename) != str(data_dir) else ""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left for the data directory {data_dir}{where}: free some space or use --data-dir"
    if error.errno == errno.EROFS:
        return f"the data directory {data_dir} is on a read-only file system: use a writable --data-dir"
    if error.errno in (errno.EACCES, errno.EPERM):
        return (f"permission denied on the data directory {data_dir}{where}: run Cumulo as a user who can "
                "write it, or use --data-dir")
    if error.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"the data directory {data_dir} is a file, or lies under one: remove it or use --data-dir"
    return f"cannot use the data directory {data_dir}: {error.strerror or error}{where}"


def _explain_database(error: sqlite3.DatabaseError, data_dir: Path) -> str:
    database = data_dir / "state.db"
    text = str(error)
    if "disk is full" in text:
        return f"no space left for the data directory {data_dir} ({database}): free some space or use --data-dir"
    if "readonly" in text or "unable to open" in text:
        return (f"cannot write {database} ({text}): check the data directory's permissions and file system, "
                "or use --data-dir")
    return (f"{database} is not a usable Cumulo database ({text}): restore it from a backup, or use "
            "another --data-dir")
