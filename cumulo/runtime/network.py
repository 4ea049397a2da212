"""The opt-in isolated function network: each environment in its own network namespace.

With ``network="isolated"`` (``cumulo serve --function-network isolated``) a blank environment
unshares a network namespace of its own besides its mount, pid and IPC namespaces. Inside,
only a loopback interface exists: the host's loopback services (a database on 127.0.0.1:5432,
Redis on 6379, the platform's other ports) and every other environment's Runtime API are out of
reach, and so is the host's network. Two things stay reachable:

* the environment's own Runtime, Extensions and Telemetry APIs (the agent listens on the
  namespace's 127.0.0.1, as before);
* the Cumulo endpoint, at ``127.0.0.1:<endpoint port>`` inside the namespace
  (``AWS_ENDPOINT_URL``): the agent listens there and relays each connection
  (:mod:`cumulo.runtime.agent.endpoint_relay`) to a Unix socket the server listens on,
  :data:`ENDPOINT_SOCKET` in the environments' work directory. A path-named Unix socket is not
  tied to a network namespace; the agent (root) reaches it through a directory descriptor it
  opened before the work directory was covered, which the function (uid 993) cannot use.

* the outside network, where ``slirp4netns`` is installed (Debian/Ubuntu package
  ``slirp4netns``): a user-mode TCP/IP stack, one small process per environment, started with
  ``--disable-host-loopback`` (its gateway 10.0.2.2 does not lead to the host's 127.0.0.1), in
  its own sandbox and seccomp filter. DNS goes to its forwarder, 10.0.2.3 (the environment's
  /etc/resolv.conf). It is started by the zygote for each blank environment, ahead of time,
  and ends with it (its exit pipe is held by the agent). Without it, functions reach only
  the endpoint; the server says so once at start.

No veth, bridge, NAT or firewall rule is created on the host. The cost is made ahead of time in
the blank environment (see :mod:`cumulo.runtime.zygote`): the namespace, one listening socket
and the slirp4netns process (about 3 MB resident, ready in about 20 ms), none of it on a cold
start's critical path while blanks are in stock.

This module is imported inside environments too (by the zygote): standard library only.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import struct
from pathlib import Path

CLONE_NEWNET = 0x40000000
ENDPOINT_SOCKET = "endpoint.sock"
SLIRP_RESOLV_CONF = "nameserver 10.0.2.3\n"  # slirp4netns's DNS forwarder
_SIOCSIFFLAGS = 0x8914
_IFF_UP, _IFF_LOOPBACK, _IFF_RUNNING = 0x1, 0x8, 0x40


def bring_up_loopback() -> None:
    """``ip link set lo up`` in a fresh network namespace (its only interface starts down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", _IFF_UP | _IFF_LOOPBACK | _IFF_RUNNING))


def find_slirp() -> str | None:
    """The slirp4netns executable, if installed."""
    import shutil

    return shutil.which("slirp4netns")


def start_slirp(executable: str, pid: int, exit_r: int) -> int:
    """Start slirp4netns for the network namespace of ``pid``; returns the pipe on which it writes
    "1" once the interface is configured (end of file: it failed). It ends when every write end
    of ``exit_r``'s pipe is closed. Its chatter (a banner per start) is discarded."""
    ready_r, ready_w = os.pipe()
    try:
        os.set_inheritable(exit_r, True)
        os.set_inheritable(ready_w, True)
        os.posix_spawn(executable, [
            executable, "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox",
            "--enable-seccomp", "--exit-fd", str(exit_r), "--ready-fd", str(ready_w), str(pid), "tap0"],
            os.environ, setsid=True, setsigdef=(signal.SIGCHLD,),
            file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_DUP2, 1, 2)])
    except OSError:
        os.close(ready_r)
        raise
    finally:
        os.close(ready_w)
        os.set_inheritable(exit_r, False)
    os.set_blocking(ready_r, False)
    return ready_r


def can_isolate() -> bool:
    """Try unshare(NEWNET) and bringing up its loopback in a throw-away child."""
    from .sandbox import unshare

    pid = os.fork()
    if pid == 0:
        try:
            unshare(CLONE_NEWNET)
            bring_up_loopback()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def bind_endpoint_socket(work_dir: Path) -> socket.socket:
    """The server's listening Unix socket for isolated environments (``work_dir/endpoint.sock``).

    Bound through a directory descriptor so that a long data-dir path never exceeds a socket
    address's 107 bytes. Owner-only: the work directory is 0700 and the socket 0600.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(work_dir, 0o700)
    directory = os.open(work_dir, os.O_PATH | os.O_DIRECTORY)
    try:
        path = f"/proc/self/fd/{directory}/{ENDPOINT_SOCKET}"
        try:
            os.unlink(path)  # a stale one (the data dir is locked: nobody else serves it)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(1024)
        sock.setblocking(False)
        return sock
    finally:
        os.close(directory)
