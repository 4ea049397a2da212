"""Control groups v1 and v2 behind one small interface.

Each environment gets one cgroup (v2) or one cgroup per controller (v1: memory, pids,
freezer and, when CPU scaling is asked for, cpu), named ``cumulo/<owner>.<env>`` where
``<owner>`` identifies the pool's process (pid and start time) so a later process can
tell a live pool's cgroups from the leftovers of one killed with ``kill -9``.

Limits: memory = the function's MemorySize (swap included where the kernel accounts it),
pids = 1024 (AWS's per-environment process/thread limit), optional CPU quota of
``memory / 1769`` vCPU.  The freezer stops every process of the environment between
invokes.  With v1's ``devices`` controller, every environment also joins one shared
``devices/cumulo`` cgroup that allows only the device nodes of an environment's private
/dev (v2 needs a BPF program for that: the private /dev alone keeps devices out there).
Peak memory comes from ``memory.max_usage_in_bytes`` (v1) or ``memory.peak``
(v2, Linux 5.19+).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PIDS_MAX = 1024
CPU_PERIOD_US = 100_000
MB_PER_VCPU = 1769
# null, zero, full, random, urandom, tty (the private /dev's nodes); everything else is denied.
ALLOWED_DEVICES = ("c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm")


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: Path) -> str:
    with open(path) as f:
        return f.read()


class Cgroup:
    """One environment's cgroup(s)."""

    def __init__(self, dirs: dict[str, Path], version: int) -> None:
        self.dirs = dirs  # controller (or "unified") -> directory
        self.version = version
        self._peak_fd: int | None = None

    @property
    def procs_files(self) -> list[str]:
        """Files a process writes its pid to in order to join (each once)."""
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    def _dir(self, controller: str) -> Path | None:
        return self.dirs.get("unified") or self.dirs.get(controller)

    def set_limits(self, memory_mb: int, cpu_vcpus: float | None) -> None:
        mem = self._dir("memory")
        limit = str(memory_mb * 1024 * 1024)
        if self.version == 2:
            _write(mem / "memory.max", limit)
            with contextlib.suppress(OSError):
                _write(mem / "memory.swap.max", "0")
            _write(mem / "pids.max", str(PIDS_MAX))
            if cpu_vcpus:
                _write(mem / "cpu.max", f"{max(1000, int(cpu_vcpus * CPU_PERIOD_US))} {CPU_PERIOD_US}")
            return
        _write(mem / "memory.limit_in_bytes", limit)
        with contextlib.suppress(OSError):
            _write(mem / "memory.memsw.limit_in_bytes", limit)
        with contextlib.suppress(OSError):
            _write(mem / "memory.swappiness", "0")
        _write(self.dirs["pids"] / "pids.max", str(PIDS_MAX))
        if cpu_vcpus and "cpu" in self.dirs:
            _write(self.dirs["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(self.dirs["cpu"] / "cpu.cfs_quota_us", str(max(1000, int(cpu_vcpus * CPU_PERIOD_US))))

    # --- freezer ---------------------------------------------------------------------
    @property
    def has_freezer(self) -> bool:
        return self.version == 2 or "freezer" in self.dirs

    def freeze(self) -> None:
        """Ask the kernel to freeze every process (takes effect asynchronously)."""
        if self.version == 2:
            _write(self.dirs["unified"] / "cgroup.freeze", "1")
        else:
            _write(self.dirs["freezer"] / "freezer.state", "FROZEN")

    def thaw(self) -> None:
        if self.version == 2:
            _write(self.dirs["unified"] / "cgroup.freeze", "0")
        else:
            _write(self.dirs["freezer"] / "freezer.state", "THAWED")

    def is_frozen(self) -> bool:
        if self.version == 2:
            return "frozen 1" in _read(self.dirs["unified"] / "cgroup.events")
        return _read(self.dirs["freezer"] / "freezer.state").strip() == "FROZEN"

    # --- accounting -------------------------------------------------------------------
    def peak_memory_bytes(self) -> int | None:
        """The cgroup's memory high-water mark (read on every invoke: the file stays open)."""
        if self._peak_fd is None:
            mem = self._dir("memory")
            names = ("memory.peak", "memory.current") if self.version == 2 else ("memory.max_usage_in_bytes",)
            for name in names:
                with contextlib.suppress(OSError):
                    self._peak_fd = os.open(mem / name, os.O_RDONLY)
                    break
            else:
                return None
        try:
            return int(os.pread(self._peak_fd, 64, 0))
        except (OSError, ValueError):
            return None

    # --- teardown --------------------------------------------------------------------
    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.procs_files:
            with contextlib.suppress(OSError):
                found.update(int(p) for p in _read(Path(path)).split())
        return sorted(found)

    def kill_all(self) -> None:
        """SIGKILL every process; thaws first, as frozen tasks do not die until thawed."""
        if self.has_freezer:
            with contextlib.suppress(OSError):
                self.thaw()
        if self.version == 2:
            with contextlib.suppress(OSError):
                _write(self.dirs["unified"] / "cgroup.kill", "1")
        for _ in range(3):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def remove(self, timeout_s: float = 2.0) -> bool:
        """Kill what is left and remove the directories; False if the kernel kept one."""
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None
        deadline = time.monotonic() + timeout_s
        remaining = list(self.dirs.values())
        while remaining:
            self.kill_all()
            for d in list(remaining):
                try:
                    d.rmdir()
                    remaining.remove(d)
                except FileNotFoundError:
                    remaining.remove(d)
                except OSError:
                    pass
            if remaining:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.002)
        return True


class CgroupHost:
    """What the host offers, and a factory for environment cgroups."""

    def __init__(self, version: int, bases: dict[str, Path], missing: list[str],
                 v2_controllers: tuple[str, ...] = (), devices: Path | None = None) -> None:
        self.version = version  # 0 = none
        self.bases = bases  # controller (or "unified") -> .../cumulo directory
        self.missing = missing
        self.v2_controllers = v2_controllers  # enabled in the v2 subtree
        self.devices = devices  # v1: the shared device allow-list cgroup every environment joins

    @property
    def controllers(self) -> list[str]:
        if self.version == 2:
            return sorted((*self.v2_controllers, "freezer"))
        return sorted((*self.bases, "devices") if self.devices else self.bases)

    @property
    def has_freezer(self) -> bool:
        return self.version == 2 or "freezer" in self.bases

    def adopt(self, name: str) -> Cgroup:
        """The cgroup ``name`` (created by a zygote for one of its blank environments)."""
        dirs = {controller: base / name for controller, base in self.bases.items()}
        return Cgroup({c: d for c, d in dirs.items() if d.is_dir()}, self.version)

    def existing(self) -> dict[str, Cgroup]:
        """All cumulo cgroups by name (for leftover cleanup)."""
        by_name: dict[str, dict[str, Path]] = {}
        for controller, base in self.bases.items():
            with contextlib.suppress(OSError):
                for d in base.iterdir():
                    if d.is_dir():
                        by_name.setdefault(d.name, {})[controller] = d
        return {name: Cgroup(dirs, self.version) for name, dirs in by_name.items()}


def detect(root: Path = ROOT) -> CgroupHost:
    """Find a usable cgroup hierarchy (v2 unified, else v1 per controller) we can write to."""
    missing: list[str] = []
    if not root.is_dir() or os.geteuid() != 0:
        return CgroupHost(0, {}, ["cgroups (needs root on Linux)"])
    if (root / "cgroup.controllers").exists():
        base = root / "cumulo"
        try:
            available = set(_read(root / "cgroup.controllers").split())
            wanted = [c for c in ("memory", "pids", "cpu") if c in available]
            _write(root / "cgroup.subtree_control", " ".join("+" + c for c in wanted))
            base.mkdir(exist_ok=True)
            _write(base / "cgroup.subtree_control", " ".join("+" + c for c in wanted))
        except OSError as e:
            return CgroupHost(0, {}, [f"cgroups v2 not writable ({e})"])
        missing += ["cgroup v2 controller " + c for c in ("memory", "pids", "cpu") if c not in wanted]
        if "memory" not in wanted or "pids" not in wanted:
            return CgroupHost(0, {}, missing)
        return CgroupHost(2, {"unified": base}, missing, tuple(wanted))
    bases: dict[str, Path] = {}
    for controller in ("memory", "pids", "freezer", "cpu"):
        mount = root / controller
        if not (mount / "cgroup.procs").exists():
            missing.append("cgroup v1 controller " + controller)
            continue
        try:
            (mount / "cumulo").mkdir(exist_ok=True)
        except OSError:
            missing.append(f"cgroup v1 controller {controller} (not writable)")
            continue
        bases[controller] = mount / "cumulo"
    if "memory" not in bases or "pids" not in bases:
        return CgroupHost(0, {}, missing)
    devices = _device_allow_list(root / "devices")
    return CgroupHost(1, bases, missing, devices=devices)


def _device_allow_list(mount: Path) -> Path | None:
    """v1: the ``cumulo`` cgroup of the devices controller, denying every device but
    :data:`ALLOWED_DEVICES`; None where it cannot be had. Not a requirement (the health
    report shows it): an environment's private /dev has no other node, and its processes
    cannot make one."""
    if not (mount / "cgroup.procs").exists():
        return None
    base = mount / "cumulo"
    try:
        base.mkdir(exist_ok=True)
        _write(base / "devices.deny", "a")
        for rule in ALLOWED_DEVICES:
            _write(base / "devices.allow", rule)
    except OSError:
        return None
    return base
