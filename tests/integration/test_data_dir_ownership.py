"""One server per data directory, nothing touched before the port and the directory are secured,
one clear line for every start-up failure, and a data directory private to the server's user."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.server import PROJECT_ROOT, CumuloServer, free_port, subprocess_env

OLD = time.time() - 3600  # an hour ago: older than any write in flight


def serve_command(data_dir: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "cumulo.cli.main", "serve", "--port", str(port), "--data-dir", str(data_dir)]


def run_serve(command: list[str], timeout: float = 30.0) -> tuple[int, str]:
    """Run a server that is expected to exit by itself; its status and output."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=subprocess_env(),
                               cwd=PROJECT_ROOT)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"the server did not exit within {timeout}s; its output:\n{output.decode()}") from None
    return process.returncode, output.decode(errors="replace")


def assert_one_error_line(output: str, expected: str) -> None:
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in output, output
    assert len(errors) == 1, output
    assert expected in errors[0], output


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and directory under ``root``: size, modification time and mode."""
    result = {}
    for path in [root, *root.rglob("*")]:
        info = path.stat()
        result[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns, info.st_mode)
    return result


def plant_orphan_blob(data_dir: Path, name: str, modified: float) -> Path:
    orphan = data_dir / "s3" / name[:2] / name
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crash between write and commit")
    os.utime(orphan, (modified, modified))
    return orphan


def test_a_second_server_on_the_same_data_dir_exits_at_once_and_every_object_survives(tmp_path):
    data_dir = tmp_path / "data"
    first = CumuloServer(data_dir).start()
    bodies = {f"object-{number:03}": f"body {number} ".encode() * 100 for number in range(200)}
    keys = list(bodies)
    try:
        s3 = first.client("s3")
        s3.create_bucket(Bucket="kept")

        def put(batch: list[str]) -> None:
            for key in batch:
                s3.put_object(Bucket="kept", Key=key, Body=bodies[key])
        put(keys[:50])
        for attempt in range(3):
            writer = threading.Thread(target=put, args=(keys[50 + attempt * 50:100 + attempt * 50],))
            writer.start()
            began = time.monotonic()
            status, output = run_serve(serve_command(data_dir, free_port()))
            took = time.monotonic() - began
            writer.join()
            assert status != 0, output
            assert_one_error_line(output, f"error: the data directory {data_dir} is in use by another Cumulo "
                                          f"server (pid {first.process.pid}, {first.url}); stop it or use --data-dir")
            assert took < 20, f"the second server took {took:.1f}s to give up"
        assert all(s3.get_object(Bucket="kept", Key=key)["Body"].read() == bodies[key] for key in keys)
    finally:
        assert first.stop() == 0
    again = CumuloServer(data_dir).start()
    try:
        s3 = again.client("s3")
        assert all(s3.get_object(Bucket="kept", Key=key)["Body"].read() == bodies[key] for key in keys)
    finally:
        again.stop()


def test_a_server_whose_port_is_taken_touches_nothing(tmp_path):
    data_dir = tmp_path / "data"
    server = CumuloServer(data_dir).start()
    server.client("s3").create_bucket(Bucket="bucket")
    server.client("s3").put_object(Bucket="bucket", Key="k", Body=b"v")
    assert server.stop() == 0
    orphan = plant_orphan_blob(data_dir, "ab" + "0" * 30, OLD)
    before = snapshot(data_dir)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, output = run_serve(serve_command(data_dir, port))
    assert status != 0
    assert orphan.exists()
    assert snapshot(data_dir) == before
    assert_one_error_line(output, f"cannot listen on 127.0.0.1:{port}")


def test_start_up_clean_up_removes_old_orphans_only(tmp_path):
    data_dir = tmp_path / "data"
    server = CumuloServer(data_dir).start()
    s3 = server.client("s3")
    s3.create_bucket(Bucket="bucket")
    s3.put_object(Bucket="bucket", Key="kept", Body=b"committed")
    assert server.stop() == 0
    committed = next(path for path in (data_dir / "s3").glob("*/*"))
    os.utime(committed, (OLD, OLD))  # old, but a committed record references it
    old_orphan = plant_orphan_blob(data_dir, "cd" + "1" * 30, OLD)
    young_orphan = plant_orphan_blob(data_dir, "ef" + "2" * 30, time.time())
    server = CumuloServer(data_dir).start()
    try:
        assert server.client("s3").get_object(Bucket="bucket", Key="kept")["Body"].read() == b"committed"
        assert committed.exists()
        assert not old_orphan.exists()
        assert young_orphan.exists()
    finally:
        server.stop()


def _unshare_works() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True).returncode == 0


needs_mount_namespace = pytest.mark.skipif(not _unshare_works(), reason="needs root and unshare -m for a private mount")


def in_private_mount(setup: str, data_dir: Path, port: int) -> list[str]:
    """A server started inside a private mount namespace after the shell commands ``setup``."""
    serve = " ".join(f"'{part}'" for part in serve_command(data_dir, port))
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", f"set -e; {setup}; exec {serve}"]


@needs_mount_namespace
def test_a_read_only_data_dir_is_one_line(tmp_path):
    mount = tmp_path / "mnt"
    mount.mkdir()
    data_dir = mount / "data"
    status, output = run_serve(in_private_mount(
        f"mount -t tmpfs -o size=4m tmpfs {mount}; mkdir -m 700 {data_dir}; mount -o remount,ro {mount}",
        data_dir, free_port()))
    assert status != 0
    assert_one_error_line(output, f"the data directory {data_dir} is on a read-only file system")


@needs_mount_namespace
def test_a_full_disk_is_one_line(tmp_path):
    mount = tmp_path / "mnt"
    mount.mkdir()
    data_dir = mount / "data"
    status, output = run_serve(in_private_mount(
        f"mount -t tmpfs -o size=1m tmpfs {mount}; mkdir -m 700 {data_dir}; "
        f"dd if=/dev/zero of={mount}/filler bs=64k 2>/dev/null || true", data_dir, free_port()))
    assert status != 0
    assert_one_error_line(output, f"no space left for the data directory {data_dir}")


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.write_text("not a directory")
    status, output = run_serve(serve_command(data_dir, free_port()))
    assert status != 0
    assert_one_error_line(output, f"the data directory {data_dir} is a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not restrict root")
def test_a_data_dir_without_write_permission_is_one_line(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o500)
    try:
        status, output = run_serve(serve_command(data_dir, free_port()))
    finally:
        data_dir.chmod(0o700)
    assert status != 0
    assert_one_error_line(output, f"permission denied on the data directory {data_dir}")


def test_a_corrupt_state_db_is_one_line(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "state.db").write_bytes(b"this is not an SQLite database, it is a broken file " * 20)
    status, output = run_serve(serve_command(data_dir, free_port()))
    assert status != 0
    assert_one_error_line(output, f"{data_dir / 'state.db'} is not a usable Cumulo database")


def test_a_state_db_from_a_newer_cumulo_is_one_line(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    database = sqlite3.connect(data_dir / "state.db")
    database.execute("PRAGMA user_version = 999")
    database.close()
    status, output = run_serve(serve_command(data_dir, free_port()))
    assert status != 0
    assert_one_error_line(output, "written by a newer Cumulo (schema 999")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_and_its_files_are_private_to_the_servers_user(tmp_path):
    from tests.conftest import make_zip

    data_dir = tmp_path / "data"
    server = CumuloServer(data_dir).start()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="bucket")
        s3.put_object(Bucket="bucket", Key="k", Body=b"secret")
        server.client("lambda").create_function(
            FunctionName="f", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r", Handler="f.handler",
            Code={"ZipFile": make_zip({"f.py": "def handler(event, context):\n    return 1\n"})})
        assert mode(data_dir) == 0o700
        database_files = [data_dir / name for name in ("state.db", "state.db-wal", "state.db-shm")]
        assert all(mode(path) == 0o600 for path in database_files if path.exists())
        stored = [*(data_dir / "s3").glob("*/*"), *(data_dir / "artifacts").glob("*/*")]
        assert len(stored) == 2
        assert all(mode(path) == 0o600 for path in stored)
        assert mode(data_dir / "cumulo.lock") == 0o600
    finally:
        assert server.stop() == 0
    data_dir.chmod(0o755)
    again = CumuloServer(data_dir).start()
    again.stop()
    assert again.log().count(f"the data directory {data_dir} is accessible to other users (mode 755)") == 1
