"""What isolation this host supports, detected once per process, reported for health checks.

Anything missing is logged as one warning per process; environments then run with the
fallbacks described in :mod:`cumulo.runtime.sandbox` -- a missing mechanism never stops a
function from running.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from dataclasses import dataclass, field

from . import cgroups, landlock, network, sandbox, seccomp

log = logging.getLogger("cumulo.runtime")


@dataclass
class HostSupport:
    linux: bool
    root: bool
    namespaces: bool  # mount, pid and IPC namespaces via unshare(2)
    cgroups: cgroups.CgroupHost
    missing: list[str] = field(default_factory=list)
    seccomp: bool = False  # the function's system call filter can be built here
    landlock: bool = False  # abstract Unix sockets and signals scoped to the environment


def _can_unshare() -> bool:
    """Try unshare(NEWNS|NEWPID|NEWIPC) in a throw-away child."""
    pid = os.fork()
    if pid == 0:
        try:
            sandbox.unshare(sandbox.ENVIRONMENT_NAMESPACES)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@functools.lru_cache(maxsize=1)
def detect() -> HostSupport:
    linux = sys.platform.startswith("linux")
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    missing: list[str] = []
    if not linux:
        missing.append(f"Linux namespaces and cgroups (host is {sys.platform})")
        return HostSupport(False, root, False, cgroups.CgroupHost(0, {}, []), missing)
    namespaces = root and _can_unshare()
    if not namespaces:
        missing.append("mount/pid/IPC namespaces and the sandbox user (%s)"
                       % ("unshare refused" if root else "needs root"))
    filter_ok = seccomp.available()
    if not filter_ok:
        missing.append(f"seccomp filter ({seccomp.problem()})")
    scopes = landlock.supported()
    if namespaces and not scopes:
        missing.append("Landlock scopes for abstract Unix sockets and signals (Linux 6.12+)")
    cg = cgroups.detect()
    missing += cg.missing
    return HostSupport(linux, root, namespaces, cg, missing, filter_ok, scopes)


@functools.lru_cache(maxsize=1)
def _network_namespaces() -> bool:
    """A network namespace per environment can be made (tried only when the isolated network is asked for)."""
    return network.can_isolate()


def network_problem(network_mode: str, isolation: str) -> str | None:
    """Why the isolated function network asked for cannot be had here (None: it can, or was not asked)."""
    if network_mode != "isolated":
        return None
    if isolation == "off":
        return "isolated function network needs isolation (it is off)"
    support = detect()
    if not support.namespaces:
        return "isolated function network needs the environments' namespaces"
    return None if _network_namespaces() else "isolated function network: unshare(CLONE_NEWNET) refused"


_warned = False


def warn_once(isolation: str, network_mode: str = "host") -> None:
    """Say once per process what isolation is missing and what replaces it."""
    global _warned
    support = detect()
    if _warned:
        return
    _warned = True
    log.info("cumulo runtime: %s", summary(isolation, network_mode))
    problem = network_problem(network_mode, isolation)
    if problem:
        log.warning("cumulo runtime: %s; functions share the host's network (they reach its loopback "
                    "services)", problem)
    elif network_mode == "isolated" and not network.find_slirp():
        log.warning("cumulo runtime: isolated function network without outside network: functions reach "
                    "only the Cumulo endpoint (install slirp4netns to give them the outside network)")
    if isolation == "off":
        log.warning("cumulo runtime: isolation is off: environments run as plain processes with rlimits")
    elif support.missing:
        log.warning("cumulo runtime: running with reduced isolation; missing: %s. Fallback: plain "
                    "process groups, rlimits, per-environment temp dirs for what needs namespaces; "
                    "no system call filter without seccomp.", "; ".join(support.missing))


def strict_problem(network_mode: str = "host") -> str | None:
    """Why ``isolation=strict`` cannot be honoured on this host (None: everything is there)."""
    missing = list(detect().missing)
    problem = network_problem(network_mode, "strict")
    if problem:
        missing.append(problem)
    return "isolation=strict, but this host lacks: " + "; ".join(missing) if missing else None


def isolation_report(mode: str = "auto", network_mode: str = "host") -> dict:
    """What is in effect on this host, for the health endpoint."""
    s = detect()
    cg = s.cgroups
    sandboxed = s.namespaces and mode != "off"
    isolated_net = sandboxed and network_problem(network_mode, mode) is None and network_mode == "isolated"
    return {
        "mode": mode,
        "platform": sys.platform,
        "root": s.root,
        "namespaces": {"mount": sandboxed, "pid": sandboxed, "ipc": sandboxed, "network": isolated_net,
                       "user": False},
        "network": ("host" if not isolated_net else "isolated: endpoint and outside network (slirp4netns)"
                    if network.find_slirp() else "isolated: endpoint only (slirp4netns not installed)"),
        "function_user": sandbox.SANDBOX_UID if sandboxed else None,
        "capabilities": "none" if sandboxed else "as the server",
        "seccomp": s.seccomp and sandboxed,
        "landlock_scopes": s.landlock and sandboxed,
        "private_dev": sandboxed,
        "proc_hardened": sandboxed,
        "cgroups": {"version": cg.version or None, "controllers": cg.controllers, "freezer": cg.has_freezer,
                    "device_allow_list": cg.devices is not None},
        "freeze_mechanism": "cgroup" if cg.has_freezer else "SIGSTOP",
        "runtime_api_guard": "peer-process check" if s.namespaces else None,
        "user_namespace": USER_NAMESPACE_NOTE if sandboxed else None,
        "missing": list(s.missing),
    }


# Decided with evidence (cumulo/runtime/README.md, "Isolation"): a user namespace would hand the function
# every capability over it (to be dropped again), show the host's root-owned files as nobody, and cost
# about 0.5 ms per environment, for no privilege the function does not already lack.
USER_NAMESPACE_NOTE = "not used: functions run as host uid 993 with no capabilities in any namespace"


def summary(mode: str, network_mode: str) -> str:
    """One line of what isolation is in effect (the server's start-up line)."""
    if mode == "off":
        return "isolation off: plain processes with rlimits"
    report = isolation_report(mode, network_mode)
    if not report["namespaces"]["mount"]:
        return f"isolation {mode}: reduced (see the warning above and GET /_cumulo/health)"
    parts = [f"uid {report['function_user']}, no capabilities", "namespaces: " + "/".join(
        name for name, on in report["namespaces"].items() if on)]
    parts += [name for name in ("seccomp", "landlock_scopes", "private_dev", "proc_hardened") if report[name]]
    parts += [f"cgroups v{report['cgroups']['version']}"] if report["cgroups"]["version"] else []
    parts += [f"network: {report['network']}", "no user namespace (uid 993 holds no capability)"]
    return f"isolation {mode}: " + ", ".join(parts)
