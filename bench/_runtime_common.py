"""Shared set-up for the execution-environment benchmarks: hello-world functions and a pool."""

from __future__ import annotations

import tempfile
import types
import uuid
from pathlib import Path

from cumulo.iam.sessions import SessionStore
from cumulo.invoke.runner import EnvironmentCredentials
from cumulo.runtime import EnvironmentPool, EnvironmentSpec, InvokeRequest, RuntimeConfig
from cumulo.store.sqlite import SqliteStore

HELLO = {
    "python3.11": ("app.handler", {"app.py": "def handler(event, context):\n    return 'hello'\n"}),
    "nodejs20.x": ("index.handler", {"index.mjs": "export const handler = async () => 'hello';\n"}),
    "provided.al2023": ("unused", {"bootstrap": (
        "#!/bin/sh\nAPI=\"http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime\"\n"
        "while true; do\n  H=$(mktemp)\n  curl -sS -o /dev/null -D \"$H\" \"$API/invocation/next\"\n"
        "  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$H\" | tr -d '[:space:]' | cut -d: -f2)\n"
        "  curl -sS -o /dev/null -X POST \"$API/invocation/$ID/response\" -d '\"hello\"'\ndone\n")}),
}


def credentials_issuer(directory: Path) -> EnvironmentCredentials:
    """What the server gives each environment: its own role session (a store for the role lookup)."""
    store = SqliteStore(directory / "state.db")
    return EnvironmentCredentials(types.SimpleNamespace(store=store, sessions=SessionStore(store)))  # type: ignore[arg-type]


class Bench:
    def __init__(self, **config) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="cumulo-bench-"))
        config.setdefault("memory_budget_mb", 1 << 20)
        config.setdefault("credentials", credentials_issuer(self.tmp))
        self.pool = EnvironmentPool(RuntimeConfig(work_dir=self.tmp / "work", **config))

    def function(self, runtime: str, **kw) -> EnvironmentSpec:
        handler, files = HELLO[runtime]
        code = self.tmp / ("code-" + uuid.uuid4().hex[:8])
        code.mkdir()
        for name, text in files.items():
            (code / name).write_text(text)
            if name == "bootstrap":
                (code / name).chmod(0o755)
        arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"
        return EnvironmentSpec(key=uuid.uuid4().hex, function_name="bench", function_arn=arn, runtime=runtime,
                               handler=handler, code_dir=code, role_arn="arn:aws:iam::000000000000:role/bench", **kw)

    async def invoke(self, spec: EnvironmentSpec):
        return await self.pool.invoke(spec, InvokeRequest(uuid.uuid4().hex, b"{}", spec.function_arn))
