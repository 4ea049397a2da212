"""The seccomp filter of function processes: system calls functions never need fail with EPERM.

Built once per process with the host's libseccomp (through ctypes: no new dependency; it
resolves the names for the native architecture and adds the architecture check itself,
killing a process that switches to another ABI), exported as a BPF program, and loaded
in each runtime or extension process with one ``prctl`` (no compilation per environment).
Where libseccomp is missing or does not know the architecture, :func:`available` is False
and the reason is in :func:`problem`: the platform reports it (and ``isolation=strict``
refuses to start).

Standard library only: imported inside environments under any supported Python.
"""

from __future__ import annotations

import ctypes
import errno
import os

# What the filter refuses. Capabilities are gone already, so most of these would fail anyway;
# the filter is a second wall against kernel bugs reachable through them, and it stops what
# an unprivileged process may still do: create a user namespace (and get capabilities in
# it), trace or read the memory of its own processes, use keyrings, userfaultfd, bpf, perf,
# io_uring (a frequent source of kernel bugs; libuv and others fall back to threads).
BLOCKED = (
    "mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr", "unshare", "setns",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "iopl", "ioperm", "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "vhangup",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "uselib", "_sysctl", "nfsservctl",
    "settimeofday", "clock_settime", "stime", "sethostname", "setdomainname", "vm86", "vm86old",
)
CLONE_NEWUSER = 0x10000000

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_ACT_ERRNO = 0x00050000
_SCMP_CMP_MASKED_EQ = 7
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_program: bytes | None = None
_problem: str | None = None
_built = False
_libc = None
_prctl_args: tuple = ()  # prctl(PR_SET_SECCOMP, ...) arguments, and the buffers they point to


def _build() -> bytes:
    """The BPF program (raw ``sock_filter`` array) of the filter, for this architecture."""
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as e:
        raise RuntimeError("libseccomp.so.2 not found") from e
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        raise RuntimeError("libseccomp does not support this architecture")
    try:
        def deny(name: str, action: int, *conditions: _ArgCmp) -> None:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                return  # no such system call on this architecture
            array = (_ArgCmp * len(conditions))(*conditions) if conditions else None
            if lib.seccomp_rule_add_array(ctx, action, number, len(conditions), array) != 0:
                raise RuntimeError(f"seccomp rule for {name} refused")

        eperm = _SCMP_ACT_ERRNO | errno.EPERM
        for name in BLOCKED:
            deny(name, eperm)
        # New namespaces through clone(2) (flags are the first argument on every supported
        # architecture); clone3 passes them in memory a filter cannot read, so it reports
        # ENOSYS and the C library falls back to clone.
        deny("clone", eperm, _ArgCmp(0, _SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
        deny("clone3", _SCMP_ACT_ERRNO | errno.ENOSYS)
        fd = os.memfd_create("seccomp-bpf")
        try:
            if lib.seccomp_export_bpf(ctx, fd) != 0:
                raise RuntimeError("seccomp_export_bpf failed")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


def prepare() -> None:
    """Build the program once (the zygote does it before forking environments)."""
    global _program, _problem, _built, _libc
    if _built:
        return
    _built = True
    _libc = ctypes.CDLL(None, use_errno=True)
    try:
        _program = _build()
    except (RuntimeError, OSError, AttributeError) as e:
        _problem = str(e)
        return
    # What install() passes, made here once: each object a forked environment would otherwise
    # allocate dirties a private copy of a page of the zygote's memory, in every environment.
    global _prctl_args
    buf = ctypes.create_string_buffer(_program, len(_program))
    prog = _SockFprog(len(_program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _prctl_args = (_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0, buf, prog)


def available() -> bool:
    prepare()
    return _program is not None


def problem() -> str | None:
    """Why the filter is not available here (None if it is)."""
    prepare()
    return _problem


def install() -> None:
    """Load the filter into this process (needs no_new_privs or CAP_SYS_ADMIN); it is inherited
    by every child and cannot be removed. A no-op where the filter is not available."""
    prepare()
    if _program is None:
        return
    if _libc.prctl(*_prctl_args[:5]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {os.strerror(err)}")
