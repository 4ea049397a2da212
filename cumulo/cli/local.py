"""The local server a developer's commands share: where it keeps its data, how a shell reaches it,
starting it detached (``cumulo dev``) and stopping it (``cumulo stop``).

A server that ``cumulo dev`` starts runs in its own session and outlives the command, so
several ``cumulo dev`` sessions can share it and stopping one never pulls it from under the
others; ``cumulo stop`` ends it. Its data lives in a per-user state directory, never in the
project or in the installed package. (``cumulo.cli.client``, which loads boto3 and the SAM
translator, is imported inside the functions that need it, so that ``cumulo env`` stays quick.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

SERVER_LOG = "server.log"


def state_dir() -> Path:
    """The data directory of servers that ``cumulo dev`` starts: ``$XDG_STATE_HOME/cumulo``, else
    ``~/.local/state/cumulo`` (the XDG base directory specification's place for such state)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cumulo"


def shell_environment(endpoint_url: str, region: str, access_key: str, secret_key: str) -> dict[str, str]:
    """What a shell needs so that the AWS CLI and every SDK reach the server as they are.

    ``AWS_DISABLE_HOST_PREFIX_INJECTION`` keeps SDKs from calling ``sync-127.0.0.1`` for
    StartSyncExecution and TestState (a host name that does not resolve).
    """
    return {"AWS_ENDPOINT_URL": endpoint_url, "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key, "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}


def health(endpoint_url: str) -> dict:
    with urllib.request.urlopen(f"{endpoint_url}/_cumulo/health", timeout=3) as response:
        return json.loads(response.read())


def local_port(endpoint_url: str) -> int | None:
    """The port of an endpoint this machine can start a server for (a loopback URL), else None."""
    parsed = urllib.parse.urlsplit(endpoint_url)
    if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    return parsed.port or 80


def start_detached(endpoint_url: str, data_dir: Path, timeout: float = 60.0) -> bool:
    """Start ``cumulo serve`` for the endpoint unless one answers there; True when this call started it.

    The server gets its own session (Ctrl-C in the terminal of ``cumulo dev`` does not reach it)
    and writes its log to ``<data-dir>/server.log``.
    """
    from cumulo.cli.client import CliError, check_server, console

    try:
        check_server(endpoint_url)
        return False
    except CliError:
        pass
    port = local_port(endpoint_url)
    if port is None:
        raise CliError(f"No Cumulo server answers at {endpoint_url}, and it is not on this machine: "
                       "start one there, or use a local endpoint.")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(data_dir / SERVER_LOG, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cumulo.cli.main", "serve", "--port", str(port), "--data-dir", str(data_dir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            check_server(endpoint_url)
            console.print(f"Started a Cumulo server on {endpoint_url} (data in {data_dir}; it keeps running "
                          "after this command: `cumulo stop` stops it)")
            return True
        except CliError:
            if process.poll() is not None:
                tail = (data_dir / SERVER_LOG).read_text(errors="replace")[-2000:]
                raise CliError(f"cumulo serve exited ({process.returncode}):\n{tail}") from None
            time.sleep(0.05)
    raise CliError(f"cumulo serve did not answer on {endpoint_url} within {timeout:.0f} s; "
                   f"see {data_dir / SERVER_LOG}")


def server_pid(endpoint_url: str) -> int:
    """The process id of the local server at the endpoint, from its data directory's lock file."""
    from cumulo.cli.client import CliError

    try:
        data_dir = health(endpoint_url).get("dataDir")
    except (urllib.error.URLError, OSError) as exc:
        raise CliError(f"No Cumulo server answers at {endpoint_url}.") from exc
    if not data_dir:
        raise CliError(f"The server at {endpoint_url} does not say where its data is: is it on this machine?")
    try:
        holder = json.loads((Path(data_dir) / "cumulo.lock").read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"Cannot read {Path(data_dir) / 'cumulo.lock'}: {exc}") from exc
    if local_port(holder.get("endpoint", "")) != local_port(endpoint_url):
        raise CliError(f"{data_dir} is held by the server at {holder.get('endpoint')}, not {endpoint_url}")
    return int(holder["pid"])


def stop(endpoint_url: str, timeout: float = 30.0) -> int:
    """SIGTERM the local server at the endpoint (a graceful stop) and wait until it is gone."""
    from cumulo.cli.client import CliError

    pid = server_pid(endpoint_url)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return pid
        time.sleep(0.05)
    raise CliError(f"The server (pid {pid}) did not stop within {timeout:.0f} s")


def _alive(pid: int) -> bool:
    """Whether the process runs (an exited child that ``cumulo dev`` has not reaped yet counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
