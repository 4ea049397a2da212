"""The environment's processes as the agent sees them: exit statuses worded as AWS words
them, the peak memory of the runtime's process tree, and ending the whole environment."""

from __future__ import annotations

import os
import signal

_SIGNAL_NAMES = {  # as Go's os.ProcessState prints them (AWS reports these)
    signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGTERM: "terminated",
    signal.SIGABRT: "aborted", signal.SIGINT: "interrupt", signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception", signal.SIGILL: "illegal instruction",
    signal.SIGPIPE: "broken pipe", signal.SIGHUP: "hangup", signal.SIGQUIT: "quit",
    signal.SIGUSR1: "user defined signal 1", signal.SIGUSR2: "user defined signal 2",
    signal.SIGALRM: "alarm clock", signal.SIGTRAP: "trace/breakpoint trap",
}


def exit_status(status: int) -> str:
    """A wait status the way AWS words it: 'exit status 1', 'signal: killed'."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return "signal: " + _SIGNAL_NAMES.get(sig, f"signal {sig}")
    return f"exit status {os.WEXITSTATUS(status)}"


def exit_phrase(status: str) -> str:
    """The error message of a runtime that exited with ``status`` (an :func:`exit_status`)."""
    if status == "exit status 0":
        return "Runtime exited without providing a reason"
    return "Runtime exited with error: " + status


def end_environment(status: int = 0) -> None:
    """End the environment: kill every process in it, the agent included."""
    try:
        if os.getpid() == 1:  # pid 1 of the environment's namespace: everything else in it
            os.kill(-1, signal.SIGKILL)
        else:
            os.killpg(os.getpgid(0), signal.SIGKILL)  # our group, ourselves included
    except OSError:
        pass
    os._exit(status)


def tree_peak_rss_kb(root_pid: int) -> int:
    """Sum of VmHWM over the runtime's process tree plus the agent (no cgroup available)."""
    total = 0
    todo = [root_pid, os.getpid()]
    seen = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            status = _read_proc(f"/proc/{pid}/status")
            found = status.find(b"\nVmHWM:")
            if found >= 0:
                total += int(status[found + 7 : status.index(b"kB", found)])
            todo.extend(int(p) for p in _read_proc(f"/proc/{pid}/task/{pid}/children").split())
        except (OSError, ValueError):
            continue
    return total


def _read_proc(path: str) -> bytes:
    """A small /proc file in one read (no buffered file object: this runs on every invoke)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)
