"""Starting a real ``cumulo serve`` process on a free port for tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for child processes: this checkout's ``cumulo`` first on the path."""
    environment = {**os.environ, **(extra or {})}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), environment.get("PYTHONPATH")]))
    return environment


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01,
             message: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class CumuloServer:
    """A ``cumulo serve`` subprocess with its own data directory."""

    def __init__(self, data_dir: Path, port: int | None = None, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra_args = extra_args or []
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> CumuloServer:
        environment = subprocess_env(self.env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cumulo.cli.main", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir), *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=PROJECT_ROOT)
        log.close()
        try:
            wait_for(self._healthy, timeout, message=f"cumulo serve on port {self.port}")
        except AssertionError as error:
            if self.process.poll() is None:  # too slow to start: do not leave it running behind the test
                self.process.kill()
                self.process.wait()
            raise AssertionError(f"{error}; its log ends:\n{self.log()[-4000:]}") from None
        return self

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"cumulo serve exited with {self.process.returncode}")
        try:
            return self.health()["status"] == "running"
        except OSError:
            return False

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_cumulo/health", timeout=2) as response:
            return json.loads(response.read())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def client(self, service: str, region: str = "us-east-1", **config: Any) -> Any:
        return boto3.client(
            service, endpoint_url=self.url, region_name=region, aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config))
