"""Landlock scoping of an environment: no abstract Unix socket or signal beyond it.

Environments share the host's network namespace (see :mod:`cumulo.runtime.sandbox`), and
abstract Unix sockets belong to the network namespace, not to the file system: without
this, function code could connect to any abstract socket of the host (a desktop bus, a
container runtime's shim). Landlock's scopes (ABI 6, Linux 6.12) confine the agent, and so
every process of the environment, to abstract sockets created inside the environment and
to signals between its own processes. Where the kernel lacks them, :func:`supported` is
False and the platform reports it.

Standard library only: imported inside environments under any supported Python.
"""

from __future__ import annotations

import ctypes
import functools
import os

# The system call numbers are the same on these architectures (allocated after their tables
# merged); elsewhere (alpha, mips...) they differ, and Landlock is not used.
_UNIFIED_SYSCALL_MACHINES = ("x86_64", "aarch64", "armv7l", "armv8l", "riscv64", "ppc64le", "s390x", "loongarch64")
_LANDLOCK_CREATE_RULESET = 444
_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1
_SCOPE_SIGNAL = 2
_SCOPES_ABI = 6


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


@functools.lru_cache(maxsize=1)
def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 without Landlock."""
    if os.uname().machine not in _UNIFIED_SYSCALL_MACHINES:
        return 0
    try:
        version = _libc().syscall(_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                                  ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    except (AttributeError, OSError):
        return 0
    return max(version, 0)


def supported() -> bool:
    return abi_version() >= _SCOPES_ABI


def scope_environment() -> None:
    """Confine this process and its future children (the whole environment, when the agent
    calls it before forking) to their own abstract sockets and signals. A no-op where the
    kernel has no Landlock scopes."""
    if not supported():
        return
    attr = _RulesetAttr(0, 0, _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL)
    libc = _libc()
    fd = libc.syscall(_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
                      ctypes.c_uint32(0))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    try:
        if libc.syscall(_LANDLOCK_RESTRICT_SELF, fd, ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")
    finally:
        os.close(fd)
