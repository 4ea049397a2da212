"""Namespaces, mounts, capabilities and rlimits: the parts of isolation that run inside the environment.

Isolation (``isolation="auto"`` on a Linux host where we are root and ``unshare`` works):

* a **mount namespace**: the code bind-mounted read-only at ``/var/task``, layers at
  ``/opt`` (one layer: a read-only bind; several: a read-only overlay, later layers
  winning; none: an empty read-only tmpfs hiding the host's /opt), a private ``/tmp``
  tmpfs of the configured ephemeral-storage size owned by the sandbox user, an
  ``/etc/hosts`` that names ``sandbox.localdomain``, the runtime's own files at
  ``/var/runtime``, every host mount read-only, empty read-only tmpfs mounts over the
  platform's private paths (its work dir, function code store) so no function can read
  another one's files, and over host directories the sandbox user could not enter anyway
  (a 0700 /root) with only the interpreter's directory bound back;
* a private read-only **/dev** with null, zero, full, random, urandom and tty only, and a
  **/proc** with its kernel knobs (``/proc/sys``...) read-only and kernel memory, keys,
  symbols and debugging files masked;
* **pid and IPC namespaces**: the agent is pid 1 with its own /proc, so the function sees
  only its own processes, and the environment dies as a whole when the agent exits;
* a **Landlock scope** (:mod:`cumulo.runtime.landlock`): abstract Unix sockets and signals
  only within the environment;
* the **sandbox user** (uid 993, as AWS's ``sbx_user1051``) for the runtime process, its
  children and the extensions, with no capabilities (bounding set emptied, no_new_privs)
  and the seccomp filter of :mod:`cumulo.runtime.seccomp`, so function code cannot undo any
  of the above, nor signal, trace or read the agent (root);
* the **host network namespace** by default, shared on purpose: function code reaches the
  platform endpoint and the host network directly; the agent admits Runtime API clients only
  from its own environment (see :mod:`cumulo.runtime.agent.peercheck`). Opt-in
  (``network="isolated"``): a network namespace per environment that reaches only the endpoint
  (:mod:`cumulo.runtime.network`).

Without isolation (not root, not Linux, ``unshare`` refused, or ``isolation="off"``) an
environment is a plain process group: code used in place as ``LAMBDA_TASK_ROOT``, a
per-environment temp dir as ``TMPDIR``, memory bounded with ``RLIMIT_DATA`` for Python and
``provided`` runtimes (V8 reserves address space up front, so Node gets no rlimit).

This module is imported inside environments (by the zygote and the agent), so it must stay
standard-library only and importable by every supported Python.
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import signal
import stat

from . import landlock, seccomp
from .network import bring_up_loopback

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWIPC = 0x08000000
ENVIRONMENT_NAMESPACES = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = None


def libc():
    """The C library through the process's own symbols (no ``find_library``, which runs
    ``ldconfig -p``: callers use this between fork and exec)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(libc().unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source or fstype} on {target}")


def prctl(option: int, arg: int) -> None:
    _check(libc().prctl(option, ctypes.c_ulong(arg), 0, 0, 0), "prctl")


def try_prctl(option: int, arg: int) -> None:
    """prctl where the platform has it (Linux); a no-op elsewhere."""
    try:
        prctl(option, arg)
    except (OSError, AttributeError):
        pass


def _bind_ro(source: str, target: str) -> None:
    mount(source, target, None, MS_BIND | MS_REC)
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def premount(hosts: str, network: bool = False, resolv_conf: str | None = None) -> None:
    """The spec-independent part of the file system view, done by a blank environment ahead of time.

    Called as pid 1 of fresh mount, pid and IPC namespaces: mounts stop propagating to the host,
    the host's file systems become read-only (the function can write /tmp only), /dev is a
    private minimal one, /proc shows only this namespace with its kernel knobs read-only and
    its sensitive files masked, and ``hosts`` (names sandbox.localdomain) is /etc/hosts. Last,
    the environment is scoped (Landlock, where the kernel has it) to its own abstract Unix
    sockets and signals. With ``network`` the process is in a new network namespace too: its
    loopback interface is brought up (see :mod:`cumulo.runtime.network`), and ``resolv_conf``
    (the outside network's DNS forwarder) becomes /etc/resolv.conf.

    The mounting is done by a short-lived child (it shares the namespaces): the garbage of
    parsing mountinfo and of a hundred mount calls would otherwise stay as private copies of
    the zygote's pages in the agent, for the environment's whole life (about 0.1 MB each).
    """
    sigchld = signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the zygote ignores it: waitpid needs it
    try:
        pid = os.fork()
        if pid == 0:
            try:
                _premount(hosts, network, resolv_conf)
                os._exit(0)
            except BaseException:
                import traceback

                traceback.print_exc()
                os._exit(1)
        _, status = os.waitpid(pid, 0)
    finally:
        signal.signal(signal.SIGCHLD, sigchld)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        raise OSError(f"premount failed (status {status}; see stderr)")
    landlock.scope_environment()


def _premount(hosts: str, network: bool, resolv_conf: str | None) -> None:
    if network:
        bring_up_loopback()
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    _host_read_only()
    _private_dev()
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _harden_proc()
    _bind_ro(hosts, "/etc/hosts")
    if resolv_conf:
        try:
            _bind_ro(resolv_conf, "/etc/resolv.conf")
        except OSError:  # a dangling symlink (systemd-resolved's stub not running): no DNS, all else works
            pass


# The device nodes a function may use (as AWS offers them); every other host device
# (kvm, loop*, console, fuse, disks...) does not exist in the environment.
_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}
_DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
              "stderr": "/proc/self/fd/2"}


def _private_dev() -> None:
    """A read-only tmpfs /dev with the harmless device nodes only, so nothing can be written
    into the host's /dev and no other device can be opened; /dev/shm is an empty read-only
    tmpfs (AWS has none; it would also be a channel between environments)."""
    mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for name, (major, minor) in _DEVICES.items():
        os.mknod(f"/dev/{name}", 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(f"/dev/{name}", 0o666)  # mknod applies the umask
    for name, target in _DEV_LINKS.items():
        os.symlink(target, f"/dev/{name}")
    os.mkdir("/dev/shm")
    mount("tmpfs", "/dev/shm", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k")
    mount(None, "/dev", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")


_PROC_READ_ONLY = ("/proc/sys", "/proc/irq", "/proc/bus", "/proc/fs")
_MASKED = ("/proc/kcore", "/proc/keys", "/proc/key-users", "/proc/timer_list", "/proc/timer_stats",
           "/proc/sched_debug", "/proc/kallsyms", "/proc/latency_stats", "/proc/kmsg", "/proc/kpagecount",
           "/proc/kpageflags", "/proc/kpagecgroup", "/proc/sysrq-trigger", "/proc/acpi", "/proc/scsi",
           "/proc/asound", "/sys/firmware")


def _harden_proc() -> None:
    """As container runtimes do: the kernel's knobs read-only (no core_pattern, no hostname),
    kernel memory, keys, symbols and debugging files masked (files: /dev/null bound over
    them; directories: an empty read-only tmpfs)."""
    for path in _PROC_READ_ONLY:
        if os.path.exists(path):
            _bind_ro(path, path)
    for path in _MASKED:
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")
        elif os.path.exists(path):
            mount("/dev/null", path, None, MS_BIND)
            mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC)


_KEEP_WRITABLE = ("/tmp",)  # replaced by the private /tmp
_MOUNT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}


def _host_read_only() -> None:
    """Remount every mount point read-only in this namespace (the host's stay as they are)."""
    with open("/proc/self/mountinfo") as f:
        entries = [line.split() for line in f]
    for fields in entries:
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # "\040" is " "
        if point in _KEEP_WRITABLE or point == "/proc" or point.startswith("/proc/"):
            continue
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        for option in fields[5].split(","):
            flags |= _MOUNT_FLAGS.get(option, 0)
        try:
            mount(None, point, None, flags)
        except OSError:
            pass  # shadowed by a later mount, or gone: nothing reachable stays writable through it


# AWS runs functions as sbx_user1051 (uid 993, gid 990).
SANDBOX_UID = 993
SANDBOX_GID = 990


_confine_ready: tuple = ()  # (prctl, capset, last capability, capset's header and data): see prepare_confine


def prepare_confine() -> None:
    """Look up, once in the zygote, what :func:`drop_privileges` needs. Every object a forked
    environment allocates or first touches costs it a private copy of a page of the zygote's
    memory: done here, these are shared by every environment instead."""
    global _confine_ready
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 40
    lib = libc()
    _confine_ready = (lib.prctl, lib.capset, last, (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0),
                      (ctypes.c_uint32 * 6)())


def drop_privileges(uid: int, gid: int) -> None:
    """Become the sandbox user with no capability at all (bounding set emptied, no_new_privs):
    the function cannot mount, unmount, trace or signal the agent (root), write what root
    owns, or regain privileges through exec."""
    if not _confine_ready:
        prepare_confine()
    c_prctl, c_capset, last, header, data = _confine_ready
    if c_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        _check(-1, "prctl")
    for cap in range(last + 1):
        c_prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # a capability this kernel lacks: nothing to drop
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _check(c_capset(header, data), "capset")


def setup_mounts(plan: dict) -> None:
    """The function's part of the view: ``plan`` keys task (code dir), layers (list), tmp_mb,
    runtime_dir, reveal (``{covered dir: [host dirs under it to keep visible]}``; "/tmp" is
    always there: it becomes the private /tmp), owner ([uid, gid] owning the private /tmp, or
    None), hide (paths covered with an empty read-only tmpfs).

    Every source is bound before /tmp and the hidden paths are covered, as sources may live
    under them (the platform keeps function code in one of the hidden paths).
    """
    _bind_ro(plan["task"], "/var/task")
    layers = plan["layers"]
    if not layers:
        mount("tmpfs", "/opt", "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=755")
    elif len(layers) == 1:
        _bind_ro(layers[0], "/opt")
    else:  # overlayfs: the leftmost lowerdir is on top, so the last layer goes first
        mount("overlay", "/opt", "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV,
              "lowerdir=" + ":".join(reversed(layers)))
    _bind_ro(plan["runtime_dir"], "/var/runtime")
    # Host directories the runtime needs that are covered (its interpreter or venv under /tmp,
    # or under a home the sandbox user may not enter, such as pyenv's under /root) stay
    # visible: held open across the covering tmpfs mount, then bound back from /proc/self/fd.
    reveal = {cover: [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in paths]
              for cover, paths in plan.get("reveal", {}).items()}
    owner = plan.get("owner")
    for cover, kept in reveal.items():
        if cover == "/tmp":
            ids = f",uid={owner[0]},gid={owner[1]},mode=700" if owner else ",mode=1777"
            mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={plan['tmp_mb']}m{ids}")
        else:
            mount("tmpfs", cover, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,mode=755")
        for path, fd in kept:
            os.makedirs(path, exist_ok=True)
            _bind_ro(f"/proc/self/fd/{fd}", path)
            os.close(fd)
        if cover != "/tmp":
            mount(None, cover, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=755")
    for path in plan["hide"]:
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=755")


def enter_runtime_process(*, sandbox_user: list[int] | None, rlimit_data: int | None,
                          rlimit_nofile: int | None) -> None:
    """Last steps in the runtime's (or an extension's) process before it runs: rlimits, then
    with isolation (``sandbox_user``) :func:`confine`; and die with the agent (set last: a
    change of credentials clears it)."""
    if rlimit_data:
        resource.setrlimit(resource.RLIMIT_DATA, (rlimit_data, rlimit_data))
    if rlimit_nofile:
        resource.setrlimit(resource.RLIMIT_NOFILE, (rlimit_nofile, rlimit_nofile))
    if sandbox_user:
        confine(sandbox_user)
    try_prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def confine(sandbox_user: list[int]) -> None:
    """The sandbox user ([uid, gid]) without capabilities, under the seccomp filter. The
    runtime process does it in a blank environment, ahead of time (about 1 ms)."""
    drop_privileges(*sandbox_user)
    seccomp.install()


def set_oom_score_adj(value: int) -> None:
    """The agent protects itself (-1000) so an OOM kill hits the runtime, which AWS reports."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError:
        pass
