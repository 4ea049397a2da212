"""The data directory: private to the server's user, and owned by one server at a time.

Two servers on one data directory would each believe they own its state, and the second one's
start-up clean-up would delete object bodies the first had just written. ``DataDirLock`` is an
exclusive ``flock`` on ``<data-dir>/cumulo.lock``, held for the life of the process (the kernel
releases it when the process ends, however it ends); the file names its holder so that the
server turned away can say who has the directory.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("cumulo")

LOCK_FILE = "cumulo.lock"
PRIVATE_DIR_MODE = 0o700
OTHERS_ACCESS = 0o077  # group and world permission bits


class DataDirInUse(Exception):
    """Another live Cumulo server holds the data directory."""

    def __init__(self, data_dir: Path, holder: dict) -> None:
        pid = holder.get("pid", "unknown")
        endpoint = holder.get("endpoint", "endpoint unknown")
        super().__init__(f"the data directory {data_dir} is in use by another Cumulo server (pid {pid}, "
                         f"{endpoint}); stop it or use --data-dir")


def prepare_data_dir(path: Path) -> None:
    """Create the directory readable by this user only; warn when an existing one is open to others.

    Raises ``NotADirectoryError`` when something else (a file) has the name.
    """
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True)
    except FileExistsError:
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path)) from None
        mode = path.stat().st_mode & 0o777
        if mode & OTHERS_ACCESS:
            log.warning("the data directory %s is accessible to other users (mode %o): `chmod 700 %s` keeps "
                        "its state private", path, mode, path)
        return
    path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode passes through the umask


class DataDirLock:
    """An exclusive, non-blocking lock on a data directory, held until ``release`` or process exit."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, endpoint_url: str) -> None:
        """Take the lock and record this process as its holder; ``DataDirInUse`` when another has it."""
        if fcntl is None:
            log.warning("file locking is not available on this system: nothing stops a second server from "
                        "using the data directory %s at the same time", self.data_dir)
            return
        # Not inherited by child processes (os.open's default): a function's runtime must not
        # keep the lock alive after the server is gone.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DataDirInUse(self.data_dir, holder) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "endpoint": endpoint_url}).encode() + b"\n", 0)

    def release(self) -> None:
        """Let the lock go. The file stays: removing it would let two servers lock two different files."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> dict:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
