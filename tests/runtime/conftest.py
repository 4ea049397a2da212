"""Fixtures: a real EnvironmentPool on a background event loop, and function code factories."""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from cumulo.runtime import EnvironmentPool, EnvironmentSpec, InvokeRequest, RuntimeConfig

ACCOUNT = "123456789012"


class Runtime:
    """Drives one pool from synchronous tests; records every log event the pool emits."""

    def __init__(self, tmp: Path, isolation: str, **config) -> None:
        self.tmp = tmp
        self.code_root = tmp / "code"
        self.code_root.mkdir(parents=True, exist_ok=True)
        self.logs: list[tuple[str, str, int, str]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.config = RuntimeConfig(work_dir=tmp / "work", isolation=isolation, log_sink=self._sink,
                                    private_paths=(self.code_root,), **config)
        self.pool = EnvironmentPool(self.config)
        self.run(self.pool.start())

    def _sink(self, spec: EnvironmentSpec, stream: str, events: list) -> None:
        self.logs.extend((spec.log_group_name, stream, ts, msg) for ts, msg in events)

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, *args):
        """Run a plain function on the loop thread (pool internals are not thread-safe)."""
        async def wrapper():
            return fn(*args)
        return self.run(wrapper())

    def function(self, files: dict[str, str], runtime: str = "python3.11", handler: str = "app.handler",
                 name: str | None = None, **kw) -> EnvironmentSpec:
        name = name or "fn-" + uuid.uuid4().hex[:8]
        code = self.code_root / name
        code.mkdir()
        for rel, text in files.items():
            path = code / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
            if rel == "bootstrap" or rel.endswith(".sh"):
                path.chmod(0o755)
        arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
        kw.setdefault("key", arn + ":" + uuid.uuid4().hex)
        return EnvironmentSpec(function_name=name, function_arn=arn, runtime=runtime, handler=handler,
                               code_dir=code, account_id=ACCOUNT, **kw)

    def invoke(self, spec: EnvironmentSpec, event=None, raw: bytes | None = None, **kw):
        payload = raw if raw is not None else json.dumps(event if event is not None else {}).encode()
        request = InvokeRequest(request_id=kw.pop("request_id", str(uuid.uuid4())), payload=payload,
                                invoked_function_arn=spec.function_arn, **kw)
        return self.run(self.pool.invoke(spec, request))

    def invoke_many(self, spec: EnvironmentSpec, n: int):
        async def many():
            return await asyncio.gather(*(self.pool.invoke(spec, InvokeRequest(
                str(uuid.uuid4()), b"{}", spec.function_arn)) for _ in range(n)))
        return self.run(many())

    def messages(self, stream: str | None = None) -> list[str]:
        return [m for _, s, _, m in self.logs if stream is None or s == stream]

    def close(self) -> None:
        self.run(self.pool.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout:.1f}s")


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    runtime = Runtime(tmp_path_factory.mktemp("rt"), "auto")
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def rt_off(tmp_path_factory):
    runtime = Runtime(tmp_path_factory.mktemp("rtoff"), "off")
    yield runtime
    runtime.close()


def payload(result) -> object:
    return json.loads(result.payload)
