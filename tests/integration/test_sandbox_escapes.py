"""Hostile function code against the sandbox: every escape a security review tried must fail.

A Python function deployed through the real server tries each escape and reports what
succeeded (harmlessly: a writable kernel knob gets its own value back, a file it could create
is removed at once); isolation is on (the server's default, ``auto``) and the host is Linux as root.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import sys
import uuid
import zipfile

import pytest

from tests.integration.test_invoke import deploy, invoke
from tests.server import CumuloServer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0,
                                reason="the sandbox needs Linux and root")

ESCAPES = r'''
import ctypes, errno, os, platform, signal

libc = ctypes.CDLL(None, use_errno=True)
KEYCTL = {"x86_64": 250, "aarch64": 219}.get(platform.machine())
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000


def attempt(action):
    """What happened: "escaped" if the action succeeded, else why it failed."""
    try:
        result = action()
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    return "escaped" if result is not False else "refused"


def write(path, data="x"):
    with open(path, "w") as f:
        f.write(data)


def rewrite(path):
    """Write a file's own value back: proves the write is possible without changing the host."""
    with open(path) as f:
        value = f.read()
    write(path, value)


def create(path):
    write(path)
    os.unlink(path)  # had it worked, leave nothing behind


def open_rw(path):
    os.close(os.open(path, os.O_RDWR))


def read_some(path):
    with open(path, "rb") as f:
        return bool(f.read(16)) or False  # an empty read (masked by /dev/null) is no escape


def call(result):
    if result != 0:
        raise OSError(ctypes.get_errno(), "failed")


def listing(path):
    return bool(os.listdir(path)) or False


def handler(event, context):
    os.makedirs("/tmp/mnt", exist_ok=True)
    with open("/proc/self/status") as f:
        caps = {k: v.strip() for k, v in (line.split(":", 1) for line in f) if k.startswith("Cap")}
    tries = {
        "write core_pattern": lambda: rewrite("/proc/sys/kernel/core_pattern"),
        "write hostname": lambda: rewrite("/proc/sys/kernel/hostname"),
        "open sysrq-trigger": lambda: os.close(os.open("/proc/sysrq-trigger", os.O_WRONLY)),
        "write into /dev": lambda: create("/dev/cumulo-escape-" + event["token"]),
        "open /dev/kvm": lambda: open_rw("/dev/kvm"),
        "open /dev/loop0": lambda: open_rw("/dev/loop0"),
        "open /dev/loop-control": lambda: open_rw("/dev/loop-control"),
        "open /dev/console": lambda: open_rw("/dev/console"),
        "open /dev/fuse": lambda: open_rw("/dev/fuse"),
        "open /dev/mem": lambda: open_rw("/dev/mem"),
        "mount tmpfs": lambda: call(libc.mount(b"tmpfs", b"/tmp/mnt", b"tmpfs", 0, None)),
        "read /proc/kcore": lambda: read_some("/proc/kcore"),
        "read /proc/kallsyms": lambda: read_some("/proc/kallsyms"),
        "read /proc/keys": lambda: read_some("/proc/keys"),
        "keyctl": lambda: call(libc.syscall(KEYCTL, 0, -3, 1) < 0) if KEYCTL else False,
        "unshare -U": lambda: call(libc.unshare(CLONE_NEWUSER)),
        "unshare -m": lambda: call(libc.unshare(CLONE_NEWNS)),
        "ptrace the agent": lambda: call(libc.ptrace(16, 1, 0, 0)),
        "signal the agent": lambda: os.kill(1, 0),
        "read the agent's memory": lambda: read_some("/proc/1/environ"),
        "read the data dir": lambda: listing(event["data_dir"]),
        "read state.db": lambda: read_some(os.path.join(event["data_dir"], "state.db")),
        "see the host's /tmp": lambda: os.path.exists(event["host_file"]) or False,
        "see another environment's /tmp": lambda: os.path.exists("/tmp/" + event["other"]) or False,
        "write /var/task": lambda: create("/var/task/evil"),
        "write /opt": lambda: create("/opt/evil"),
    }
    report = {name: attempt(action) for name, action in tries.items()}
    open("/tmp/" + event["mine"], "w").close()
    report["uid"] = os.getuid()
    report["caps"] = caps
    return report
'''

WORKS = '''
import os, boto3

def handler(event, context):
    with open("/tmp/scratch", "w") as f:
        f.write("ok")
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    return {"tmp": open("/tmp/scratch").read(), "functions": len(names), "uid": os.getuid(),
            "home_ok": os.access("/tmp", os.W_OK)}
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("sandbox") / "data").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def client(server):
    return server.client("lambda", read_timeout=70)


def test_every_escape_fails(server: CumuloServer, client, tmp_path) -> None:
    isolation = server.health()["isolation"]
    assert isolation["namespaces"]["mount"], "the host offers no isolation"
    assert isolation["mode"] == "auto" and isolation["function_user"] == 993 and isolation["capabilities"] == "none"
    # no user namespace, on purpose (README: Security and isolation); health and the start-up line say so
    assert isolation["namespaces"]["user"] is False and isolation["user_namespace"].startswith("not used")
    assert "isolation auto: uid 993, no capabilities, namespaces: mount/pid/ipc," in server.log()
    assert "no user namespace" in server.log()
    host_file = f"/tmp/cumulo-host-{uuid.uuid4().hex}"
    open(host_file, "w").close()
    token = uuid.uuid4().hex
    first, second = deploy(client, {"app.py": ESCAPES}), deploy(client, {"app.py": ESCAPES})
    event = {"token": token, "data_dir": str(server.data_dir), "host_file": host_file}
    try:
        _, one = invoke(client, first, {**event, "mine": "first-" + token, "other": "second-" + token})
        _, two = invoke(client, second, {**event, "mine": "second-" + token, "other": "first-" + token})
    finally:
        os.unlink(host_file)
    for report in (one, two):
        assert isinstance(report, dict), report
        escaped = sorted(name for name, outcome in report.items() if outcome == "escaped")
        assert escaped == [], json.dumps(report, indent=1)
        assert report["uid"] != 0
        assert report["caps"]["CapEff"] == "0000000000000000", report["caps"]
        assert report["caps"]["CapPrm"] == "0000000000000000", report["caps"]
        assert report["caps"]["CapBnd"] == "0000000000000000", report["caps"]
    assert not [name for name in os.listdir("/dev") if token in name]


def test_functions_still_reach_the_endpoint_and_write_tmp(client) -> None:
    _, result = invoke(client, deploy(client, {"app.py": WORKS}))
    assert result["tmp"] == "ok" and result["functions"] >= 1 and result["home_ok"], result
    assert result["uid"] == 993


def test_owner_only_files_of_a_package_still_run(client) -> None:
    """``zipfile.writestr`` stores files as 0600: the function (not their owner) still reads them."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "import helper\ndef handler(event, context):\n    return helper.VALUE\n")
        archive.writestr("helper.py", "VALUE = 'read'\n")
    name = f"fn-{uuid.uuid4().hex[:10]}"
    client.create_function(FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/r",
                           Handler="app.handler", Code={"ZipFile": code.getvalue()})
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    _, result = invoke(client, name)
    assert result == "read"


PROBE_NETWORK = r'''
import os
import socket

import boto3


def reach(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return "reached"
    except OSError as e:
        return type(e).__name__


def handler(event, context):
    return {"ports": {str(port): reach(port) for port in event["ports"]},
            "outside": {f"{host}:{port}": reach(port, host) for host, port in event.get("outside", [])},
            "endpoint": os.environ["AWS_ENDPOINT_URL"],
            "functions": len(boto3.client("lambda").list_functions()["Functions"]),
            "bucket": boto3.client("s3").create_bucket(Bucket=event["bucket"])["Location"]}
'''


@pytest.fixture(scope="module")
def isolated_network(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("netns") / "data",
                            extra_args=["--function-network", "isolated"]).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def host_service():
    """A loopback service of the host (like PostgreSQL on 127.0.0.1:5432): its port."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.fixture(scope="module")
def outside_service():
    """A service on the host's outward address, as another machine of the network would offer it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outward interface
        except OSError:
            pytest.skip("this host has no route outwards")
        address = probe.getsockname()[0]
    with socket.socket() as listener:
        listener.bind((address, 0))
        listener.listen(16)
        yield listener.getsockname()


def test_an_isolated_network_reaches_the_endpoint_but_not_the_hosts_loopback_services(
        isolated_network: CumuloServer, host_service: int, outside_service: tuple[str, int]) -> None:
    isolation = isolated_network.health()["isolation"]
    assert isolation["network"].startswith("isolated: endpoint") and isolation["namespaces"]["network"], isolation
    assert "namespaces: mount/pid/ipc/network," in isolated_network.log()
    lam = isolated_network.client("lambda", read_timeout=70)
    ports = [host_service, 5432, 6379]
    event = {"ports": ports, "bucket": "netns-ok", "outside": [outside_service]}
    _, result = invoke(lam, deploy(lam, {"app.py": PROBE_NETWORK}), event)
    assert result["ports"] == {str(port): "ConnectionRefusedError" for port in ports}, result
    outside = result["outside"]["{}:{}".format(*outside_service)]
    if shutil.which("slirp4netns"):  # the outside network: through slirp4netns, which is installed
        assert outside == "reached" and "slirp4netns)" in isolation["network"], result
    else:
        assert outside != "reached" and isolation["network"].endswith("(slirp4netns not installed)"), result
    assert result["endpoint"] == f"http://127.0.0.1:{isolated_network.port}"
    assert result["functions"] == 1 and result["bucket"] == "/netns-ok"
    isolated_network.client("s3").head_bucket(Bucket="netns-ok")  # the function's request reached this server


def test_the_host_network_reaches_the_hosts_loopback_services(server: CumuloServer, client, host_service) -> None:
    """The default (and the control for the test above): functions share the host's network."""
    assert server.health()["isolation"]["network"] == "host"
    event = {"ports": [host_service], "bucket": "hostnet"}
    _, result = invoke(client, deploy(client, {"app.py": PROBE_NETWORK}), event)
    assert result["ports"] == {str(host_service): "reached"}, result
