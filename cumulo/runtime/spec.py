"""The types the invoke path uses to talk to the execution-environment layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

LogSink = Callable[["EnvironmentSpec", str, list[tuple[int, str]]], None]
"""``log_sink(spec, log_stream, [(timestamp_ms, message), ...])``; messages end with a newline.

The spec says where the lines belong: ``spec.log_group_name`` in ``spec.account_id``/``spec.region``."""


@dataclass(frozen=True)
class EnvironmentSpec:
    """Everything that defines an environment.  Environments are reused only for the same ``key``.

    ``key`` is chosen by the caller and must change whenever anything below changes (for
    example ``"<function arn>:<version>:<code sha>:<config revision>"``); ``retire(prefix)``
    retires environments by key prefix.
    """

    key: str
    function_name: str
    function_arn: str  # unqualified
    runtime: str  # "python3.11", "nodejs20.x", "provided.al2023", ...
    handler: str
    code_dir: Path  # unzipped code, treated as read-only
    version: str = "$LATEST"
    layer_dirs: tuple[Path, ...] = ()  # merged at /opt in order, later layers winning
    memory_mb: int = 128
    timeout_s: float = 3.0
    ephemeral_storage_mb: int = 512
    environment: dict[str, str] = field(default_factory=dict)
    architecture: str = "x86_64"
    region: str = "us-east-1"
    account_id: str = "000000000000"
    log_group: str = ""  # default: /aws/lambda/<function_name>
    endpoint_url: str = ""  # AWS_ENDPOINT_URL inside the environment
    credentials: tuple[str, str, str] = ("test", "test", "")  # access key, secret key, session token
    initialization_type: str = "on-demand"

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def log_group_name(self) -> str:
        return self.log_group or "/aws/lambda/" + self.function_name


@dataclass
class RuntimeConfig:
    """Host-wide settings of the environment pool."""

    work_dir: Path
    isolation: Literal["auto", "strict", "off"] = "auto"
    keep_warm_s: float = 600.0  # idle environments are reaped after this (AWS: 5-15 minutes)
    max_lifetime_s: float = 4 * 3600.0  # no environment lives longer (AWS: a few hours)
    memory_budget_mb: int = 8192  # total MemorySize of live environments
    cpu_scaling: Literal["off", "aws"] = "off"  # "aws": CPU quota = memory / 1769 MB vCPUs
    log_sink: LogSink | None = None
    freeze_after_s: float = 0.05  # idle grace before an environment is frozen (None/negative: never)
    init_timeout_s: float = 10.0  # AWS's INIT phase limit for on-demand environments
    private_paths: tuple[Path, ...] = ()  # hidden from functions (e.g. the platform's data dir)
    runtimes_dir: Path | None = None  # runtimes installed by `cumulo runtimes install` (<data-dir>/runtimes)
    runtime_substitution: str = "nearest"  # or "strict": see cumulo.runtime.runtimes


@dataclass(frozen=True)
class InvokeRequest:
    request_id: str
    payload: bytes
    invoked_function_arn: str
    client_context: str | None = None  # JSON text, as the Runtime API header carries it
    cognito_identity: str | None = None  # JSON text
    trace_id: str | None = None  # X-Amzn-Trace-Id header value


@dataclass
class InvokeResult:
    payload: bytes
    function_error: Literal["Unhandled", "Handled"] | None
    error_type: str | None
    log_tail: str  # last 4 KB of this invoke's log, for X-Amz-Log-Type: Tail
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None
    cold_start: bool
    log_stream: str
    provisioned: bool = False  # ran on a provisioned-concurrency environment
    # Extensions still busy after the runtime answered: a task that ends with the invoke (the
    # duration, billing and memory fields are final then); None when the invoke is over.
    completion: Any = None


class CapacityError(Exception):
    """The host memory budget cannot fit another environment (turn into throttling)."""


class UnsupportedRuntimeError(Exception):
    """The runtime id is unknown or this host lacks what it needs; the message says what to install."""


class PoolClosedError(Exception):
    """The pool is closed or closing."""
