"""One settings object for the whole platform.

Values come from, in order of precedence: command-line flags (passed as overrides),
``CUMULO_<NAME>`` environment variables, an optional ``cumulo.toml`` (in the working
directory, or named by ``CUMULO_CONFIG``), and the defaults below. Every limit and
timing that AWS fixes defaults to AWS's value.

A small dataclass rather than pydantic-settings: the server must start in well under a
second, and pydantic's import alone costs a quarter of that.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
import re
import resource
import socket
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "CUMULO_"
CHOICES = {"isolation": ("auto", "strict", "off"), "cpu_scaling": ("off", "aws"), "http_api_endpoint": ("path", "host"),
           "function_url_endpoint": ("path", "host"),
           "sqlite_synchronous": ("NORMAL", "FULL"), "log_level": ("debug", "info", "warning", "error"),
           "runtime_substitution": ("nearest", "strict"), "function_network": ("host", "isolated")}
DEFAULT_CONFIG_FILE = "cumulo.toml"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = Path(".cumulo")
    account_id: str = "000000000000"
    default_region: str = "us-east-1"
    # Verify SigV4 signatures. Always on when listening beyond loopback.
    require_auth: bool = False
    # access-key-id -> secret-access-key pairs accepted when auth is required,
    # written as "AKID:SECRET,AKID2:SECRET2" in the environment.
    access_keys: dict[str, str] = field(default_factory=lambda: {"test": "test"})
    # Hold requests signed with role-session credentials (function environments, STS AssumeRole)
    # to their role's identity policies; implies signature verification. Operator keys are never
    # restricted. Off by default.
    enforce_iam: bool = False
    log_level: str = "info"
    # Fsync policy of the SQLite store: NORMAL survives kill -9, FULL survives power loss.
    sqlite_synchronous: str = "NORMAL"
    # Account-wide Lambda concurrency, as AWS's default quota.
    concurrent_executions: int = 1000
    # Execution environments: "auto" isolates with everything the host allows (namespaces,
    # sandbox user, seccomp, cgroups...) and says what is missing; "strict" refuses to start
    # unless all of it is there; "off" runs plain processes.
    isolation: str = "auto"
    # Functions' network: "host" shares the host's network namespace (functions reach its loopback
    # services); "isolated" gives each environment its own, reaching only the Cumulo endpoint
    # (relayed by its agent) and nothing else. Falls back to host (said once) where the kernel refuses;
    # isolation=strict then refuses to start.
    function_network: str = "host"
    # A function whose runtime's exact version (python3.14, nodejs22.x) is not installed: "nearest"
    # runs it on the nearest installed version of the language, with a warning at create time and in
    # its INIT_START line; "strict" refuses it at CreateFunction (`cumulo runtimes install ID` adds it).
    runtime_substitution: str = "nearest"
    # Idle environments are reaped after this many seconds (AWS keeps them 5-15 minutes).
    keep_warm_seconds: int = 600
    # No environment lives longer than this (AWS recycles them after a few hours).
    environment_max_lifetime_seconds: int = 14400
    # Total MemorySize of live environments; 0 means three quarters of the host's memory.
    memory_budget_mb: int = 0
    # "aws" limits CPU in proportion to memory (1,769 MB = one vCPU); "off" does not.
    cpu_scaling: str = "off"
    # Compresses the retry timeline of asynchronous invocations: the delays between retries
    # (AWS: about 1 and 2 minutes) and the maximum event age are multiplied by it; tests set it
    # small to see retries and expiries in seconds.
    retry_delay_scale: float = 1.0
    # Step Functions: how fast workflow time runs relative to real time. Every duration an
    # execution measures (Wait states, retry intervals, task timeouts and heartbeats, execution
    # timeouts) is multiplied by it: 0.001 makes a one-hour Wait take 3.6 s. 1 (real time) by default.
    states_clock_scale: float = 1.0
    # SQS: refuse to re-create a queue name within 60 s of deleting it (QueueDeletedRecently), as
    # AWS does. Off by default: a local `cumulo delete` then `cumulo deploy` must not wait a minute.
    sqs_queue_deleted_recently: bool = False
    # Multiplies every SNS delivery retry delay (AWS's policies by default; 0.01 makes a
    # 20-second HTTP retry take 0.2 s, 0 retries at once). Tests and local runs shorten it.
    sns_retry_delay_scale: float = 1.0
    # EventBridge and EventBridge Scheduler: multiplies the retry backoff delays and the
    # MaximumEventAgeInSeconds limit of target deliveries (0.001 makes a 1 s backoff 1 ms).
    events_retry_time_scale: float = 1.0
    # Kinesis: a provisioned shard refuses writes above 1 MiB/s or 1,000 records/s with
    # ProvisionedThroughputExceededException, as AWS. Off lets local bulk loads run unthrottled.
    kinesis_shard_limits: bool = True
    # Concurrent target deliveries per service (EventBridge, Scheduler); 0 accepts and stores
    # events without delivering them (maintenance, durability tests).
    events_delivery_workers: int = 32
    # S3 lifecycle rules count in days of this many seconds (60 expires "Days: 1" after a
    # minute), and run every 24th of such a day (at most hourly). For tests and demos.
    s3_lifecycle_day_seconds: float = 86400.0
    # EventBridge archives: the length of a retention day in seconds (tests and demos shorten it).
    events_archive_day_seconds: float = 86_400.0
    # Schedules (scheduled rules, EventBridge Scheduler) run on a clock this many times faster
    # than real time: 60 makes rate(1 minute) fire every second. For tests and demos.
    schedule_clock_speed: float = 1.0
    # The form of HTTP API invoke URLs (ApiEndpoint): "path" is {endpoint}/_api/{apiId} and works from
    # any client; "host" is http://{apiId}.{http_api_domain}:{port} for clients that resolve it. Both
    # forms are always served.
    http_api_endpoint: str = "path"
    # The domain under which host-style invoke URLs live (*.localhost resolves to loopback on most systems).
    http_api_domain: str = "execute-api.localhost"
    # The form of function URLs (FunctionUrl): "path" is {endpoint}/_lambda-url/{urlId}/ and works from
    # any client; "host" is http://{urlId}.lambda-url.{region}.localhost:{port}/. Both are always served.
    function_url_endpoint: str = "path"
    # Where REST API Cognito user pool authorizers find a pool's tokens' issuer: {base}/{userPoolId}
    # ({region} is the pool's region), whose OpenID configuration names the signing keys.
    cognito_issuer: str = "https://cognito-idp.{region}.amazonaws.com"
    # Multiplies Application Auto Scaling's rate() periods, target-tracking evaluation
    # periods and cooldowns (at() and cron() keep wall-clock time); tests set it small.
    autoscaling_time_scale: float = 1.0
    # A client must send a request's head (request line and headers) within this many seconds of
    # starting it (or of connecting): a partial head is answered 408, a silent connection closed.
    header_timeout_seconds: float = 30.0
    # CloudFormation custom resources: how long a stack operation waits for the response when the
    # resource sets no ServiceTimeout (AWS: one hour); lower it to fail forgotten responses sooner.
    custom_resource_timeout_seconds: int = 3600
    # Open client connections at most; beyond it a new connection is answered 503 and closed.
    # 0: half the process's open-file limit (the other half is left to environments and the store).
    max_connections: int = 0
    # Cluster mode: a postgresql:// URL puts the state of every node started with it (and the same
    # data_dir) in that database; empty runs one node on the embedded SQLite store (docs/cluster.md).
    cluster_url: str = ""
    # This node's name in the cluster (its scratch folder, its membership row); default host-port.
    node_name: str = ""

    @property
    def connection_limit(self) -> int:
        if self.max_connections > 0:
            return self.max_connections
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return max(64, soft // 2) if soft != resource.RLIM_INFINITY else 100_000

    @functools.cached_property
    def auth_required(self) -> bool:
        """Signatures are verified on request, with IAM enforcement, and always when not bound to loopback."""
        return self.require_auth or self.enforce_iam or not _is_loopback(self.host)

    @property
    def node(self) -> str:
        return self.node_name or f"{socket.gethostname()}-{self.port}"

    @property
    def scratch_dir(self) -> Path:
        """This node's own files (environments, sockets): the data directory itself, or in cluster
        mode a folder per node under it, so several nodes can share one data directory."""
        if not self.cluster_url:
            return self.data_dir
        return self.data_dir / "nodes" / self.node

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _convert(name: str, raw: Any, kind: Any) -> Any:
    """Convert a raw value (a string from the environment, or a TOML value) to ``kind``."""
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"expected true or false, got {raw!r}")
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is Path:
            return Path(str(raw)).expanduser()
        if typing.get_origin(kind) is dict:
            if isinstance(raw, dict):
                return {str(k): str(v) for k, v in raw.items()}
            pairs = [item.split(":", 1) for item in str(raw).split(",") if item.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("expected KEY:VALUE[,KEY:VALUE...]")
            return {k.strip(): v.strip() for k, v in pairs}
        return str(raw)
    except ValueError as exc:
        raise SettingsError(f"setting {name!r}: {exc}") from exc


class SettingsError(ValueError):
    """A configuration value could not be read; the message says which and why."""


def load_settings(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None,
                  config_file: Path | None = None) -> Settings:
    """Build the settings: overrides (flags) > environment > cumulo.toml > defaults.

    ``None`` values in ``overrides`` mean "not given on the command line".
    """
    environ = os.environ if environ is None else environ
    types = typing.get_type_hints(Settings)
    fields = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}

    path = config_file or Path(environ.get(f"{ENV_PREFIX}CONFIG", DEFAULT_CONFIG_FILE))
    if path.is_file():
        try:
            document = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: {exc}") from exc
        section = document.get("cumulo", document)
        for key, raw in section.items():
            name = key.replace("-", "_")
            if name not in fields:
                raise SettingsError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(fields))})")
            values[name] = _convert(name, raw, types[name])

    for name in fields:
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _convert(name, raw, types[name])

    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = _convert(name, raw, types[name])

    for name, allowed in CHOICES.items():
        if name in values:
            values[name] = values[name].upper() if allowed[0].isupper() else values[name].lower()
        if name in values and values[name] not in allowed:
            raise SettingsError(f"setting {name!r}: {values[name]!r} is not one of {', '.join(allowed)}")
    cluster_url = values.get("cluster_url", "")
    if cluster_url and not cluster_url.startswith(("postgresql://", "postgres://")):
        raise SettingsError("setting 'cluster_url': expected a postgresql:// URL")
    node_name = values.get("node_name", "")
    if node_name and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", node_name):
        raise SettingsError("setting 'node_name': letters, digits, '.', '_' and '-' only (at most 63)")
    return Settings(**values)
