"""cgroups v1 and v2 behind one interface: detection and limits on a model tree, and the
freezer / kill / removal on the real hierarchies this host mounts (v1 controllers, and the
v2 unified hierarchy, whose cgroups have cgroup.freeze and cgroup.kill even without controllers)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from cumulo.runtime import cgroups

from .conftest import wait_for

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@root_only
def test_detect_v2_model_tree(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    host = cgroups.detect(tmp_path)
    assert host.version == 2 and host.bases == {"unified": tmp_path / "cumulo"}
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (tmp_path / "cumulo" / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert host.has_freezer and host.controllers == ["cpu", "freezer", "memory", "pids"]


@root_only
def test_detect_v2_without_memory_controller_falls_back(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu io pids\n")
    host = cgroups.detect(tmp_path)
    assert host.version == 0 and "cgroup v2 controller memory" in host.missing


@root_only
def test_detect_v1_model_tree(tmp_path):
    for controller in ("memory", "pids", "freezer"):
        (tmp_path / controller).mkdir()
        (tmp_path / controller / "cgroup.procs").write_text("")
    host = cgroups.detect(tmp_path)
    assert host.version == 1 and sorted(host.bases) == ["freezer", "memory", "pids"]
    assert host.missing == ["cgroup v1 controller cpu"]


def test_limits_v1_and_v2(tmp_path):
    v2 = cgroups.Cgroup({"unified": tmp_path / "v2"}, 2)
    (tmp_path / "v2").mkdir()
    v2.set_limits(1769 * 2, 2.0)
    assert (tmp_path / "v2" / "memory.max").read_text() == str(3538 * 1024 * 1024)
    assert (tmp_path / "v2" / "pids.max").read_text() == "1024"
    assert (tmp_path / "v2" / "cpu.max").read_text() == "200000 100000"
    dirs = {c: tmp_path / c for c in ("memory", "pids", "cpu")}
    for d in dirs.values():
        d.mkdir()
    v1 = cgroups.Cgroup(dirs, 1)
    v1.set_limits(128, 128 / 1769)
    assert (tmp_path / "memory" / "memory.limit_in_bytes").read_text() == str(128 * 1024 * 1024)
    assert (tmp_path / "cpu" / "cpu.cfs_quota_us").read_text() == "7235"
    assert (tmp_path / "pids" / "pids.max").read_text() == "1024"


def _exercise(cg: cgroups.Cgroup) -> None:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        for path in cg.procs_files:
            Path(path).write_text(str(proc.pid))
        assert cg.pids() == [proc.pid]
        cg.freeze()
        wait_for(cg.is_frozen)
        assert Path(f"/proc/{proc.pid}/stat").read_text().split()[2] in ("S", "D", "T")
        cg.thaw()
        wait_for(lambda: not cg.is_frozen())
        cg.freeze()
        wait_for(cg.is_frozen)
        assert cg.remove()  # kills (thawing first) and removes
        assert proc.wait(5) == -9
        assert all(not d.exists() for d in cg.dirs.values())
    finally:
        proc.kill()


@root_only
@pytest.mark.skipif(not Path("/sys/fs/cgroup/unified/cgroup.procs").exists(), reason="no v2 hierarchy")
def test_v2_freeze_thaw_kill_remove():
    d = Path("/sys/fs/cgroup/unified") / ("cumulo-test-" + uuid.uuid4().hex[:8])
    d.mkdir()
    _exercise(cgroups.Cgroup({"unified": d}, 2))


@root_only
@pytest.mark.skipif(not Path("/sys/fs/cgroup/freezer/cgroup.procs").exists(), reason="no v1 freezer")
def test_v1_freeze_thaw_kill_remove():
    name = "cumulo-test-" + uuid.uuid4().hex[:8]
    dirs = {c: Path("/sys/fs/cgroup") / c / name for c in ("memory", "pids", "freezer")}
    for d in dirs.values():
        d.mkdir()
    cg = cgroups.Cgroup(dirs, 1)
    cg.set_limits(256, None)
    assert cg.peak_memory_bytes() == 0
    _exercise(cg)
