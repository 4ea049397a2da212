"""Sandbox behaviour: file system view, Runtime API guard, freezer, memory limit, fallback, cleanup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cumulo.runtime import isolation_report

from .conftest import Runtime, payload, wait_for

REPORT = isolation_report()
needs_ns = pytest.mark.skipif(not REPORT["namespaces"]["mount"], reason="needs mount/pid namespaces (root)")
needs_cg = pytest.mark.skipif(not REPORT["cgroups"]["version"], reason="needs writable cgroups (root)")

PROBE = {"app.py": """
    import os, socket, http.client
    def handler(event, context):
        out = {}
        try:
            open("/var/task/new-file", "w")
            out["task_writable"] = True
        except OSError as e:
            out["task_writable"] = e.__class__.__name__
        with open("/tmp/mine", "w") as f:
            f.write(context.aws_request_id)
        out["tmp"] = sorted(os.listdir("/tmp"))
        out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        out["hosts"] = socket.gethostbyname("sandbox.localdomain")
        out["api"] = os.environ["AWS_LAMBDA_RUNTIME_API"]
        target = event.get("read")
        if target:
            try:
                out["read"] = open(target).read()
            except OSError as e:
                out["read"] = e.__class__.__name__
        other = event.get("steal")
        if other:
            try:
                host, port = other.split(":")
                c = http.client.HTTPConnection(host, int(port), timeout=2)
                c.request("GET", "/2018-06-01/runtime/invocation/next")
                out["steal"] = c.getresponse().status
            except Exception as e:
                out["steal"] = e.__class__.__name__
        return out
"""}


def _kept_under_tmp() -> list[str]:
    """The host directories under /tmp a private /tmp keeps visible: where the interpreter and
    Cumulo live when installed there (a CI checkout in /tmp, say); none in the usual layout."""
    import cumulo

    names = set()
    for path in (*sys.path, sys.prefix, sys.base_prefix, cumulo.__file__):
        parts = Path(os.path.realpath(path)).parts if path else ()
        if len(parts) > 2 and parts[1] == "tmp":
            names.add(parts[2])
    return sorted(names)


@needs_ns
def test_filesystem_view(rt):
    spec = rt.function(PROBE)
    other = rt.function({"secret.py": "TOKEN = 'other function secret'\n"})
    body = payload(rt.invoke(spec, {"read": str(other.code_dir / "secret.py")}))
    assert body["task_writable"] == "OSError"  # read-only file system
    assert body["tmp"] == sorted(["mine", *_kept_under_tmp()])  # private /tmp
    assert body["pids"][0] == 1 and len(body["pids"]) <= 3  # own pid namespace: agent + runtime
    assert body["hosts"] == "127.0.0.1"
    assert body["read"] == "FileNotFoundError"  # another function's code is hidden
    second = rt.function(PROBE)
    assert payload(rt.invoke(second, {}))["tmp"] == sorted(["mine", *_kept_under_tmp()])  # not the first one's /tmp


@needs_ns
def test_other_environments_runtime_api_is_unreachable(rt):
    victim = rt.function(PROBE)
    victim_api = payload(rt.invoke(victim, {}))["api"]
    attacker = rt.function(PROBE)
    body = payload(rt.invoke(attacker, {"steal": victim_api}))
    assert body["steal"] in ("RemoteDisconnected", "ConnectionResetError", "BadStatusLine", "TimeoutError")
    assert payload(rt.invoke(victim, {}))["api"] == victim_api  # the victim still works


@needs_cg
def test_frozen_while_idle_and_thawed_to_serve(tmp_path):
    runtime = Runtime(tmp_path, "auto", freeze_after_s=0.0)
    try:
        spec = runtime.function({"app.py": "def handler(e, c):\n    return 'hi'\n"})
        assert payload(runtime.invoke(spec, {})) == "hi"
        env = runtime.call(lambda: next(iter(runtime.pool._all)))
        assert wait_for(lambda: env.cgroup.is_frozen())
        assert payload(runtime.invoke(spec, {})) == "hi"
        assert wait_for(lambda: env.cgroup.is_frozen())
    finally:
        runtime.close()


@needs_cg
def test_out_of_memory_is_runtime_exit_error(rt):
    spec = rt.function({"app.py": """
        def handler(event, context):
            blocks = []
            while True:
                blocks.append(bytearray(16 * 1024 * 1024))
    """}, memory_mb=128, timeout_s=20)
    result = rt.invoke(spec, {}, request_id="oom-1")
    assert result.error_type == "Runtime.ExitError"
    assert payload(result)["errorMessage"] == (
        "RequestId: oom-1 Error: Runtime exited with error: signal: killed")
    assert result.max_memory_used_mb >= 120


def test_fallback_runs_the_same_functions(rt_off):
    spec = rt_off.function({"app.py": """
        import os, tempfile
        n = 0
        def handler(event, context):
            global n
            n += 1
            return {"n": n, "root": os.environ["LAMBDA_TASK_ROOT"], "tmp": tempfile.gettempdir()}
    """})
    first, second = payload(rt_off.invoke(spec, {})), payload(rt_off.invoke(spec, {}))
    assert first["root"] == str(spec.code_dir) and second["n"] == 2
    assert first["tmp"].startswith(str(rt_off.config.work_dir))
    node = rt_off.function({"index.mjs": "export const handler = async () => 'node ok';"},
                           runtime="nodejs20.x", handler="index.handler")
    assert payload(rt_off.invoke(node, {})) == "node ok"
    crasher = rt_off.function({"app.py": "import sys\ndef handler(e, c):\n    sys.exit(4)\n"})
    crash = rt_off.invoke(crasher, {})
    assert crash.error_type == "Runtime.ExitError" and "exit status 4" in payload(crash)["errorMessage"]
    assert rt_off.invoke(spec, {}).max_memory_used_mb > 0


def _leftovers(work: Path, owner: str) -> list:
    found = [p for p in work.iterdir()] if work.exists() else []
    for base in Path("/sys/fs/cgroup").glob("*/cumulo"):
        found += [d for d in base.iterdir() if d.is_dir() and d.name.startswith(owner + ".")]
    return found


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_no_leftovers_after_close(tmp_path):
    runtime = Runtime(tmp_path, "auto")
    spec = runtime.function({"app.py": "import subprocess\ndef handler(e, c):\n"
                                       "    subprocess.Popen(['sleep', '60'])\n    return 1\n"})
    runtime.invoke(spec, {})
    pids = runtime.call(lambda: [e.agent_pid for e in runtime.pool._all])
    runtime.close()
    assert _leftovers(tmp_path / "work", runtime.pool.owner) == []
    for pid in pids:
        wait_for(lambda pid=pid: _gone(pid))


def test_leftovers_of_a_killed_pool_are_cleaned_on_start(tmp_path):
    work = tmp_path / "work"
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(e, c):\n    return 1\n")
    script = textwrap.dedent("""
        import asyncio, os, sys
        from pathlib import Path
        from cumulo.runtime import EnvironmentPool, EnvironmentSpec, InvokeRequest, RuntimeConfig
        async def main():
            pool = EnvironmentPool(RuntimeConfig(work_dir=Path(sys.argv[1]), freeze_after_s=0.0))
            await pool.start()
            spec = EnvironmentSpec(key="k", function_name="f",
                                   function_arn="arn:aws:lambda:us-east-1:1:function:f",
                                   runtime="python3.11", handler="app.handler", code_dir=Path(sys.argv[2]))
            await pool.invoke(spec, InvokeRequest("r", b"{}", spec.function_arn))
            print(" ".join(str(e.agent_pid) for e in pool._all), flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
    """)
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen([sys.executable, "-c", script, str(work), str(code)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": root})
    agent_pid = int(proc.stdout.readline().split()[0])
    proc.kill()
    proc.wait()
    assert any(work.iterdir())
    runtime = Runtime(tmp_path, "auto")
    try:
        leftover = [d for d in work.iterdir() if d.name != runtime.pool.owner]
        assert leftover == []
        wait_for(lambda: _gone(agent_pid))
    finally:
        runtime.close()


def test_isolation_report_shape():
    report = isolation_report()
    assert set(report) >= {"namespaces", "cgroups", "freeze_mechanism", "missing"}
    json.dumps(report)


LAYERED = {"app.py": """
    import os, shutil
    def handler(event, context):
        opt = "/opt" if os.path.isdir("/opt/python") else os.environ["PATH"].rsplit(":", 1)[1][:-4]
        found = {}
        for root, _, files in os.walk(opt):
            for f in files:
                rel = os.path.relpath(os.path.join(root, f), opt)
                found[rel] = open(os.path.join(root, f)).read()
        import shared
        return {"files": found, "shared": shared.WHO,
                "tmp_mb": shutil.disk_usage("/tmp").total // (1024 * 1024)}
"""}


def _layers(tmp: Path) -> tuple[Path, Path]:
    first, second = tmp / "layer1", tmp / "layer2"
    for layer, who in ((first, "first"), (second, "second")):
        (layer / "python").mkdir(parents=True)
        (layer / "python" / "shared.py").write_text(f"WHO = {who!r}\n")
        (layer / f"only-{who}.txt").write_text(who)
    return first, second


@needs_ns
def test_layers_merge_at_opt_later_ones_winning(rt):
    first, second = _layers(rt.tmp)
    spec = rt.function(LAYERED, layer_dirs=(first, second), ephemeral_storage_mb=1024)
    body = payload(rt.invoke(spec, {}))
    assert body["shared"] == "second"
    assert body["files"] == {"python/shared.py": "WHO = 'second'\n", "only-first.txt": "first",
                             "only-second.txt": "second"}
    assert body["tmp_mb"] == 1024


def test_layers_merge_without_isolation(rt_off):
    first, second = _layers(rt_off.tmp)
    spec = rt_off.function(LAYERED, layer_dirs=(first, second))
    body = payload(rt_off.invoke(spec, {}))
    assert body["shared"] == "second" and body["files"]["only-first.txt"] == "first"


@needs_cg
def test_cpu_quota_proportional_to_memory(tmp_path):
    runtime = Runtime(tmp_path, "auto", cpu_scaling="aws")
    try:
        spec = runtime.function({"app.py": "def handler(e, c):\n    return 1\n"}, memory_mb=3538)
        runtime.invoke(spec, {})
        env = runtime.call(lambda: next(iter(runtime.pool._all)))
        cpu = env.cgroup.dirs.get("cpu") or env.cgroup.dirs.get("unified")
        quota = (cpu / "cpu.cfs_quota_us").read_text().strip() if "cpu" in env.cgroup.dirs \
            else (cpu / "cpu.max").read_text().split()[0]
        assert quota == "200000"  # 3538 MB = 2 vCPUs of a 100 ms period
    finally:
        runtime.close()


def test_platform_endpoint_is_reachable(rt):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"platform says hi"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        spec = rt.function({"app.py": """
            import os, urllib.request
            def handler(event, context):
                return urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"], timeout=5).read().decode()
        """}, endpoint_url=endpoint)
        assert payload(rt.invoke(spec, {})) == "platform says hi"
    finally:
        server.shutdown()


def test_sigstop_freezer_without_cgroups(tmp_path):
    runtime = Runtime(tmp_path, "off", freeze_after_s=0.0)
    try:
        spec = runtime.function({"app.py": "def handler(e, c):\n    return 'hi'\n"})
        assert payload(runtime.invoke(spec, {})) == "hi"
        pid = runtime.call(lambda: next(iter(runtime.pool._all)).agent_pid)
        wait_for(lambda: Path(f"/proc/{pid}/stat").read_text().split()[2] == "T")
        assert payload(runtime.invoke(spec, {})) == "hi"
    finally:
        runtime.close()


def test_log_tail_is_the_last_4kb(rt):
    spec = rt.function({"app.py": """
        def handler(event, context):
            for i in range(200):
                print("line %03d " % i + "x" * 40)
            return "ok"
    """})
    result = rt.invoke(spec, {}, request_id="tail-1")
    assert len(result.log_tail.encode()) <= 4096
    assert result.log_tail.startswith("line") or result.log_tail[0] != "S"
    assert "line 199" in result.log_tail and "START RequestId" not in result.log_tail
    assert result.log_tail.endswith("\t\n") and "END RequestId: tail-1\n" in result.log_tail


@needs_ns
def test_function_cannot_write_the_host_or_undo_its_mounts(rt):
    other = rt.function({"secret.py": "TOKEN = 'other function secret'\n"})
    spec = rt.function({"app.py": """
        import ctypes, os, subprocess
        def attempt(fn):
            try:
                fn()
                return "allowed"
            except OSError as e:
                return e.__class__.__name__
        def handler(event, context):
            libc = ctypes.CDLL(None, use_errno=True)
            def umount():
                if libc.umount2(event["hidden"].encode(), 2) != 0:
                    raise OSError(ctypes.get_errno(), "umount2")
            caps = [line.split()[1] for line in open("/proc/self/status") if line.startswith("Cap")]
            return {
                "write_etc": attempt(lambda: open("/etc/cumulo-escape", "w")),
                "write_shm": attempt(lambda: open("/dev/shm/x", "w")),
                "umount": attempt(umount),
                "read_other": attempt(lambda: open(event["secret"]).read()),
                "devnull": subprocess.run(["true"], stdout=subprocess.DEVNULL).returncode,
                "caps": sorted(set(caps)),
                "tmp": attempt(lambda: open("/tmp/ok", "w").write("fine")),
            }
    """})
    event = {"hidden": "/var/task", "secret": str(other.code_dir / "secret.py")}
    body = payload(rt.invoke(spec, event))
    assert body["write_etc"] in ("OSError", "PermissionError")  # read-only file system
    assert body["write_shm"] in ("OSError", "PermissionError")
    assert body["umount"] in ("OSError", "PermissionError")
    assert body["read_other"] == "FileNotFoundError"
    assert body["devnull"] == 0 and body["tmp"] == "allowed"
    assert body["caps"] == ["0000000000000000"]
    assert not Path("/etc/cumulo-escape").exists()


def test_strict_isolation_refuses_to_start_when_a_mechanism_is_missing(tmp_path, monkeypatch):
    from cumulo.runtime import host

    lacking = host.HostSupport(True, True, True, host.detect().cgroups, ["seccomp filter (libseccomp.so.2 not found)"])
    monkeypatch.setattr(host, "detect", lambda: lacking)
    assert host.strict_problem() == "isolation=strict, but this host lacks: seccomp filter (libseccomp.so.2 not found)"
    with pytest.raises(RuntimeError, match="isolation=strict, but this host lacks: seccomp"):
        Runtime(tmp_path, "strict")


@needs_ns
def test_strict_isolation_starts_where_everything_is_there(tmp_path):
    if REPORT["missing"]:
        pytest.skip("this host lacks: " + "; ".join(REPORT["missing"]))
    runtime = Runtime(tmp_path, "strict")
    try:
        spec = runtime.function({"app.py": "import os\ndef handler(e, c):\n    return os.getuid()\n"})
        assert payload(runtime.invoke(spec)) == 993
    finally:
        runtime.close()


@needs_ns
def test_isolation_report_names_every_mechanism():
    assert REPORT["function_user"] == 993 and REPORT["capabilities"] == "none"
    assert REPORT["private_dev"] and REPORT["proc_hardened"] and REPORT["namespaces"]["ipc"]
    assert isinstance(REPORT["seccomp"], bool) and isinstance(REPORT["landlock_scopes"], bool)
