"""Running one invocation of a resolved function version in an execution environment.

Turns a function version into an ``EnvironmentSpec`` (code and layers unpacked from the
artifact store, environment variables, limits), takes a concurrency slot, runs the event
through the environment pool and sends the environment's log lines to CloudWatch Logs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cumulo.iam.roles import find_role
from cumulo.iam.sessions import SessionStore, random_id
from cumulo.invoke.concurrency import ACCOUNT_EXCEEDED, ConcurrencyLimiter, function_key, throttled
from cumulo.invoke.metrics import LambdaMetrics
from cumulo.protocol.errors import AwsError
from cumulo.runtime import (
    CapacityError,
    EnvironmentPool,
    EnvironmentSpec,
    InvokeRequest,
    InvokeResult,
    RuntimeConfig,
    UnsupportedRuntimeError,
)
from cumulo.runtime.installed import runtimes_dir

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.invoke")


@dataclass(frozen=True)
class Target:
    """A function version resolved for one invocation."""

    account: str
    region: str
    name: str
    version: str  # "$LATEST" or a number: what X-Amz-Executed-Version reports
    config: dict[str, Any]
    code_sha: str
    layer_shas: tuple[str, ...]
    reserved_concurrency: int | None
    reserved_total: int

    @property
    def unqualified_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"

    @functools.cached_property
    def key(self) -> str:
        """Environments are reused only for the same key; every update changes the RevisionId."""
        return f"{self.account}:{self.region}:{self.name}:{self.version}:{self.config['RevisionId']}"


def _host_memory_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return 8192


class FunctionRunner:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        settings = platform.settings
        budget = settings.memory_budget_mb or _host_memory_mb() * 3 // 4
        self.limiter = ConcurrencyLimiter(settings.concurrent_executions)
        self.pool = EnvironmentPool(RuntimeConfig(
            work_dir=settings.scratch_dir.resolve() / "environments",
            isolation=settings.isolation,  # type: ignore[arg-type]
            keep_warm_s=float(settings.keep_warm_seconds),
            max_lifetime_s=float(settings.environment_max_lifetime_seconds),
            memory_budget_mb=budget,
            cpu_scaling=settings.cpu_scaling,  # type: ignore[arg-type]
            log_sink=self._write_logs,
            private_paths=(settings.data_dir.resolve(),),
            runtimes_dir=runtimes_dir(settings.data_dir),
            runtime_substitution=settings.runtime_substitution,
            credentials=EnvironmentCredentials(platform),
            network=settings.function_network,  # type: ignore[arg-type]
            endpoint_port=settings.port,
        ))
        self._specs: dict[str, EnvironmentSpec] = {}
        self.metrics = LambdaMetrics(platform)
        self._provisioned: dict[str, Target] = {}  # provisioned-concurrency key -> its version
        self._pc_peaks: dict[str, float] = {}  # highest utilization since Application Auto Scaling last looked
        self._rechecking: set[str] = set()
        # (account, region, name, qualifier) -> re-apply a qualifier's provisioned concurrency (set by Lambda)
        self.recheck_provisioned = None
        self._dimension_sets: dict[str, tuple] = {}

    async def start(self) -> None:
        await self.pool.start()

    async def stop(self) -> None:
        await self.pool.close()
        self.metrics.flush()

    # ------------------------------------------------------------------ specs
    async def spec(self, target: Target) -> EnvironmentSpec:
        """The environment spec of a function version (built once: unpacking code and layers
        the first time is file work, done in a thread)."""
        spec = self._specs.get(target.key)
        if spec is None:
            spec = await asyncio.get_running_loop().run_in_executor(None, self._build_spec, target)
            self._specs[target.key] = spec
        return spec

    def _build_spec(self, target: Target) -> EnvironmentSpec:
        config = target.config
        artifacts = self.platform.artifacts
        settings = self.platform.settings
        return EnvironmentSpec(
            key=target.key,
            function_name=target.name,
            function_arn=target.unqualified_arn,
            version=target.version,
            runtime=config.get("Runtime", ""),
            handler=config.get("Handler", ""),
            code_dir=artifacts.unpacked(target.code_sha),
            layer_dirs=tuple(artifacts.unpacked(sha) for sha in target.layer_shas),
            memory_mb=config.get("MemorySize", 128),
            timeout_s=float(config.get("Timeout", 3)),
            ephemeral_storage_mb=config.get("EphemeralStorage", {}).get("Size", 512),
            environment=dict((config.get("Environment") or {}).get("Variables") or {}),
            architecture=(config.get("Architectures") or ["x86_64"])[0],
            region=target.region,
            account_id=target.account,
            log_group=(config.get("LoggingConfig") or {}).get("LogGroup", ""),
            endpoint_url=settings.endpoint_url,
            role_arn=config.get("Role") or f"arn:aws:iam::{target.account}:role/{target.name}",
        )

    # ------------------------------------------------------------------ running
    async def run(self, target: Target, payload: bytes, *, request_id: str | None = None,
                  invoked_arn: str | None = None, client_context: str | None = None,
                  trace_id: str | None = None, qualifier: str | None = None,
                  streaming: bool = False) -> InvokeResult:
        """Run one event; raises TooManyRequestsException when no concurrency is left.

        ``qualifier`` is the version or alias the caller named: its provisioned concurrency
        (if any) serves the event first.  The result comes back as soon as the runtime has
        answered; the concurrency slot is held until extensions are done too.  A caller that
        can relay a streamed response (``streaming``) gets it as ``result.stream`` as soon as it
        starts; any other caller gets the whole of it as the payload.
        """
        request = InvokeRequest(
            request_id=request_id or str(uuid.uuid4()),
            payload=payload,
            invoked_function_arn=invoked_arn or target.unqualified_arn,
            client_context=client_context,
            trace_id=trace_id or _trace_id(),
        )
        counted_as = function_key(target.account, target.region, target.name)
        pc_key = self._pc_key(target, qualifier) if qualifier is not None and self._provisioned else None
        if pc_key is not None:
            provisioned_target = self._provisioned.get(pc_key)
            if provisioned_target is None:
                pc_key = None
            elif provisioned_target.key != target.key and self.recheck_provisioned is not None:
                self._recheck(pc_key, target, qualifier)
        limiter = self.limiter
        reserved = target.reserved_concurrency
        acquired = False
        try:
            limiter.acquire(target.account, counted_as, reserved, target.reserved_total)
            acquired = True
            self._metric(target, "ConcurrentExecutions", self.limiter.running(counted_as))
            self._metric(target, "ConcurrentExecutions", self.limiter.total_running(), account_wide=True)
            try:
                result = await self.pool.invoke(await self.spec(target), request, pc_key)
            except CapacityError as exc:
                log.warning("throttling %s: %s", target.name, exc)
                raise throttled(ACCOUNT_EXCEEDED) from exc
            except UnsupportedRuntimeError as exc:
                raise AwsError("InvalidRuntimeException", str(exc), status=502,
                               fields={"Type": "User"}) from exc
        except BaseException as error:
            if acquired:
                limiter.release(target.account, counted_as, reserved)
            if isinstance(error, AwsError) and error.code == "TooManyRequestsException":
                self._metric(target, "Throttles", 1)
            raise
        if pc_key is not None:
            self._provisioned_metrics(target, qualifier, pc_key, result.provisioned)
        if result.stream is not None and not streaming:
            stream = result.stream
            result.payload = await stream.collect()
            if stream.error_type:
                result.payload = stream.error_body
            result.stream = None
        if result.completion is None:
            limiter.release(target.account, counted_as, reserved)
            self._finished(target, result)
        else:  # extensions still busy: the environment (and its concurrency) is taken until they are done
            def done(_task) -> None:
                limiter.release(target.account, counted_as, reserved)
                self._finished(target, result)
            result.completion.add_done_callback(done)
        return result

    def _finished(self, target: Target, result: InvokeResult) -> None:
        self._metric(target, "Invocations", 1)
        self._metric(target, "Errors", 1 if result.function_error else 0)
        self._metric(target, "Duration", result.duration_ms, unit="Milliseconds")

    # ------------------------------------------------------------------ provisioned concurrency
    def _recheck(self, key: str, target: Target, qualifier: str) -> None:
        """An alias with provisioned concurrency now runs another version (or the version's
        configuration changed): let the provider apply the configuration to it again."""
        if key in self._rechecking:
            return
        self._rechecking.add(key)

        async def recheck() -> None:
            try:
                await self.recheck_provisioned(target.account, target.region, target.name, qualifier)
            finally:
                self._rechecking.discard(key)
        self.platform.spawn(recheck(), "provisioned-concurrency-recheck")

    @staticmethod
    def _pc_key(target: Target, qualifier: str) -> str:
        return f"{target.account}:{target.region}:{target.name}:{qualifier}"

    async def provision(self, target: Target, qualifier: str, count: int) -> None:
        """Keep ``count`` environments of ``target`` initialized for invocations through ``qualifier``."""
        key = self._pc_key(target, qualifier)
        if count:
            self._provisioned[key] = target
        else:
            self._provisioned.pop(key, None)
        await self.pool.provision(key, await self.spec(target), count)

    def provisioned_status(self, target: Target, qualifier: str) -> dict | None:
        return self.pool.provisioned_status(self._pc_key(target, qualifier))

    def provisioned_utilization(self, account: str, region: str, name: str, qualifier: str) -> float | None:
        """Busy / allocated provisioned environments of a qualifier right now (None: no allocation)."""
        status = self.pool.provisioned_status(f"{account}:{region}:{name}:{qualifier}")
        if not status or not status["allocated"]:
            return None
        return status["busy"] / status["allocated"]

    def take_peak_utilization(self, account: str, region: str, name: str, qualifier: str) -> float | None:
        """The highest provisioned-concurrency utilization seen by invokes since the last call."""
        return self._pc_peaks.pop(f"{account}:{region}:{name}:{qualifier}", None)

    def _provisioned_metrics(self, target: Target, qualifier: str, key: str, provisioned: bool) -> None:
        """AWS's provisioned-concurrency metrics, per function, per Resource (function:qualifier)
        and, for aliases, per executed version."""
        status = self.pool.provisioned_status(key) or {"allocated": 0, "busy": 0}
        resource = f"{target.name}:{qualifier}"
        dimension_sets = [(("FunctionName", target.name),),
                          (("FunctionName", target.name), ("Resource", resource))]
        if qualifier != target.version:
            dimension_sets.append((("FunctionName", target.name), ("Resource", resource),
                                   ("ExecutedVersion", target.version)))
        # measured as the invoke ended: it was running on one of them, or spilled over because all were busy
        allocated = status["allocated"]
        busy = min(allocated, status["busy"] + 1) if provisioned else allocated
        utilization = busy / allocated if allocated else 0.0
        self._pc_peaks[key] = max(utilization, self._pc_peaks.get(key, 0.0))
        metrics = self.metrics
        for dims in dimension_sets:
            add = functools.partial(metrics.add, target.account, target.region, dimensions=dims)
            if provisioned:
                add("ProvisionedConcurrencyInvocations", 1)
            else:
                add("ProvisionedConcurrencySpilloverInvocations", 1)
            add("ProvisionedConcurrentExecutions", busy)
            if len(dims) > 1:
                add("ProvisionedConcurrencyUtilization", round(utilization, 4), unit="None")

    # ------------------------------------------------------------------ metrics
    def _metric(self, target: Target, name: str, value: float, unit: str = "Count",
                account_wide: bool = False) -> None:
        """An ``AWS/Lambda`` metric, per function (and per version/alias when one was invoked)."""
        metrics = self.metrics
        if account_wide:
            metrics.add(target.account, target.region, name, value, (), unit)
            return
        for dimensions in self._dimensions(target):
            metrics.add(target.account, target.region, name, value, dimensions, unit)

    def _dimensions(self, target: Target) -> tuple:
        found = self._dimension_sets.get(target.key)
        if found is None:
            found = (("FunctionName", target.name),),
            if target.version != "$LATEST":
                found += (("FunctionName", target.name), ("Resource", f"{target.name}:{target.version}")),
            if len(self._dimension_sets) > 10000:
                self._dimension_sets.clear()
            self._dimension_sets[target.key] = found
        return found

    def retire(self, account: str, region: str, name: str, version: str | None = None) -> None:
        """Retire warm environments of a function (of one version, or all) after a change."""
        prefix = f"{account}:{region}:{name}:" + (f"{version}:" if version else "")
        for key in [k for k in self._specs if k.startswith(prefix)]:
            del self._specs[key]
        self.platform.spawn(self.pool.retire(prefix))

    def _write_logs(self, spec: EnvironmentSpec, stream: str, events: list[tuple[int, str]]) -> None:
        lines = [(timestamp, message.rstrip("\n")) for timestamp, message in events]
        self.platform.logs.append(spec.account_id, spec.region, spec.log_group_name, stream, lines)


class EnvironmentCredentials:
    """Each execution environment's own temporary credentials of its function's role (never the
    operator's keys): the function acts as ``assumed-role/ROLE/FUNCTION``; the session is minted
    as the environment starts and revoked when it ends (see :mod:`cumulo.iam.sessions`)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.sessions: SessionStore = platform.sessions

    def issue(self, spec: EnvironmentSpec, lifetime_s: float) -> tuple[str, str, str]:
        role = find_role(self.platform.store, spec.role_arn)
        session = self.sessions.mint(
            account=spec.account_id, role_arn=spec.role_arn,
            role_id=role["RoleId"] if role else random_id("AROA", 17), session_name=spec.function_name,
            duration_s=lifetime_s, function_arn=spec.function_arn, ephemeral=True)
        return session.access_key, session.secret_key, session.token

    def revoke(self, access_key: str) -> None:
        self.sessions.revoke(access_key)


def _trace_id() -> str:
    """An X-Ray trace header for invocations that arrive without one, as Lambda generates."""
    bits = f"{random.getrandbits(160):040x}"  # not a secret: a trace id
    return f"Root=1-{int(time.time()):08x}-{bits[:24]};Parent={bits[24:]};Sampled=0;Lineage=1:0:0"
