"""The environment pool: the public face of :mod:`cumulo.runtime`, and environments' lifecycle.

* **INIT** (10 s limit, ``RuntimeConfig.init_timeout_s``): a new environment runs until its
  runtime asks for the first event.  If init fails or times out, AWS's behaviour follows: an
  ``INIT_REPORT ... Phase: init`` line, then init is retried once inside the invoke
  (``Phase: invoke``) with the function's timeout covering init and handler; if that fails
  too, the invoke fails with the init error.
* **INVOKE** (:mod:`.invocation`): one event at a time per environment; a timeout ends the
  invoke with ``Sandbox.Timedout`` and the environment is replaced, as is one whose runtime exited.
* **SHUTDOWN**: idle environments that are reaped, retired or closed are asked to shut down
  (the agent flushes the last output and ends; extensions' SHUTDOWN event will get its 2 s
  there), then killed; timed-out, crashed or evicted ones are killed at once.

Warm environments (:mod:`.warm`) are reused for the same ``spec.key``, one invoke at a time,
most recently used first.  Idle environments are frozen after ``freeze_after_s``, reaped after
``keep_warm_s``; none lives past ``max_lifetime_s``.  The live environments' MemorySize total
stays under ``memory_budget_mb``.  Provisioned concurrency is in :mod:`.provisioned`, what an
environment is started with in :mod:`.launch_plan`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import channel as ch
from . import host, invocation, logfmt, network, runtimes, sandbox
from .environment import Environment, Zygote
from .errors import InitFailure, error_json, exit_error, timeout_error
from .launch_plan import LaunchPlanner, bootstrap_problem, make_pylib
from .provisioned import ProvisionedConcurrency, ProvisioningFailed
from .spec import DEFAULT_CREDENTIALS, EnvironmentSpec, InvokeRequest, InvokeResult, PoolClosedError, RuntimeConfig
from .warm import IdleEnvironments, MemoryBudget

_LONGEST_INVOKE_S = 960.0  # AWS's 15-minute timeout and a shutdown: how long a busy environment outlives its lifetime
SHUTDOWN_GRACE_S = 2.0  # AWS gives extensions 2 s at SHUTDOWN; without extensions the agent ends at once


def _owner_id(pid: int) -> str | None:
    """``p<pid>-<start time>``: a process identity that survives pid reuse."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f"p{pid}-{f.read().rsplit(')', 1)[1].split()[19]}"
    except (OSError, IndexError):
        return f"p{pid}-0" if sys.platform != "linux" else None


def _owner_alive(name: str) -> bool:
    """Is the process that made ``p<pid>-<start>-<pool>...`` still running?"""
    try:
        pid = int(name[1:].split("-")[0])
    except ValueError:
        return False
    return _owner_id(pid) == "-".join(name.split("-")[:2])


_pool_ids = itertools.count(1)


class EnvironmentPool:
    """Creates, reuses, freezes, reaps and destroys execution environments (see module docstring)."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.support = host.detect()
        isolating = config.isolation in ("auto", "strict")
        self.isolated = isolating and self.support.namespaces
        # the isolated function network (cumulo.runtime.network), where the host allows it
        self.network_isolated = (config.network == "isolated"
                                 and host.network_problem(config.network, config.isolation) is None)
        self.slirp = network.find_slirp() if self.network_isolated else None  # their outside network
        use_cgroups = isolating and self.support.cgroups.version
        self.cgroups = self.support.cgroups if use_cgroups else None
        self.owner = f"{_owner_id(os.getpid()) or f'p{os.getpid()}-0'}-{next(_pool_ids)}"
        self.dir = Path(config.work_dir).resolve() / self.owner
        self._zygotes: dict[str, Zygote] = {}
        self._zygote_locks: dict[str, asyncio.Lock] = {}
        self._idle = IdleEnvironments()
        self._all: set[Environment] = set()
        self._ids = itertools.count(1)
        self._reaper: asyncio.Task | None = None
        self._closed = False
        self._budget = MemoryBudget(config.memory_budget_mb)
        self._releasing: set[asyncio.Task] = set()  # teardown work in the background
        self._provisioned = ProvisionedConcurrency(self._initialize_provisioned, self._release, self._destroy,
                                                   self._shut_down, self._track)
        self._planner: LaunchPlanner | None = None  # set by start()
        # Blocking work off the event loop: preparing a spawn (paths, layer farms) and tearing
        # environments down (cgroup removal waits for the kernel) each get their own threads,
        # so a pile of teardowns never delays a cold start.
        self._prep_executor = ThreadPoolExecutor(2, thread_name_prefix="cumulo-env-prep")
        self._teardown_executor = ThreadPoolExecutor(4, thread_name_prefix="cumulo-env-teardown")

    # --- start / close -----------------------------------------------------------------------
    async def start(self) -> None:
        problem = host.strict_problem(self.config.network) if self.config.isolation == "strict" else None
        if problem:
            raise RuntimeError(problem)
        host.warn_once(self.config.isolation, self.config.network)
        self.cleanup_leftovers()
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self._planner = LaunchPlanner(self.config, self.isolated, self.cgroups is not None, make_pylib(self.dir),
                                      self.network_isolated)
        self._hosts = self.dir / "hosts"
        self._hosts.write_text("127.0.0.1\tlocalhost localhost.localdomain sandbox.localdomain\n"
                               "::1\tlocalhost ip6-localhost ip6-loopback\n")
        self._resolv_conf = self.dir / "resolv.conf"
        self._resolv_conf.write_text(network.SLIRP_RESOLV_CONF)
        if self.isolated:
            for d in ("/var/task", "/var/runtime", "/opt"):
                os.makedirs(d, exist_ok=True)
        self._reaper = asyncio.create_task(self._reap_loop())

    async def close(self) -> None:
        """Destroy every environment and zygote; leaves no process, cgroup, mount or temp dir."""
        self._closed = True
        idle_provisioned = self._provisioned.close()
        await asyncio.gather(*[self._shut_down(env) for env in idle_provisioned])
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await asyncio.gather(*[self._shut_down(env) for env in self._idle.all()])
        for env in list(self._all):  # busy ones: their callers get Runtime.ExitError
            self._destroy(env)
        while self._releasing:
            await asyncio.gather(*self._releasing)
        for z in self._zygotes.values():
            z.close()
        self._zygotes.clear()
        if self.cgroups is not None:  # the zygotes' unused blanks
            for name, cg in self.cgroups.existing().items():
                if name.startswith(self.owner + "."):
                    cg.remove()
        shutil.rmtree(self.dir, ignore_errors=True)
        self._prep_executor.shutdown(wait=False)
        self._teardown_executor.shutdown(wait=False)

    def cleanup_leftovers(self) -> None:
        """Remove what a pool process killed with ``kill -9`` left behind (cgroups, dirs, processes)."""
        if self.cgroups is not None:
            for name, cg in self.cgroups.existing().items():
                if not _owner_alive(name.split(".")[0]):
                    cg.remove()
        work = Path(self.config.work_dir)
        with contextlib.suppress(OSError):
            for d in work.iterdir():
                if d.name.startswith("p") and d.is_dir() and not _owner_alive(d.name):
                    for pid_file in d.glob("e*/agent.pid"):
                        with contextlib.suppress(OSError, ValueError):
                            pid = int(pid_file.read_text())
                            os.killpg(pid, signal.SIGKILL)
                    shutil.rmtree(d, ignore_errors=True)

    # --- public API -----------------------------------------------------------------------------
    async def invoke(self, spec: EnvironmentSpec, request: InvokeRequest,
                     provisioned: str | None = None) -> InvokeResult:
        """Run one event on a warm environment of ``spec.key`` or a new one.

        ``provisioned`` names a provisioned-concurrency group (see :meth:`provision`): its
        initialized environments are used first; when all are busy the invoke spills over
        to on-demand environments (``result.provisioned`` says which it was).

        The result comes back as soon as the runtime has answered; when extensions are still
        working on the event, ``result.completion`` is a task that ends with the invoke (the
        environment stays busy until then, and the result's duration, billing and memory
        are final then).
        """
        if self._closed:
            raise PoolClosedError("the environment pool is closed")
        env = self._provisioned.take_idle(provisioned, spec.key) if provisioned else None
        if env is not None:
            result = await self._run(env, request, None)
            result.provisioned = True
            return result
        env = self._take_idle(spec.key)
        if env is not None:
            return await self._run(env, request, None)
        env, init_ms, early = await self._cold_start(spec, request)
        if early is not None:
            return early
        return await self._run(env, request, init_ms)

    async def _run(self, env: Environment, request: InvokeRequest, init_ms: float | None) -> InvokeResult:
        try:
            result, rest = await invocation.run_event(env, request, init_ms)
        except BaseException:
            self._release(env)
            raise
        if rest is None:
            self._release(env)
            return result

        async def finish() -> None:
            try:
                await rest
            finally:
                self._release(env)
        result.completion = asyncio.ensure_future(finish())
        return result

    async def provision(self, key: str, spec: EnvironmentSpec, count: int) -> None:
        """Keep ``count`` initialized environments of ``spec`` ready under ``key`` (0 removes
        the group).  They are initialized ahead of traffic, never reaped for idleness, and
        replaced when they reach their maximum lifetime or die."""
        self._provisioned.set(key, spec, count)

    def provisioned_status(self, key: str) -> dict | None:
        """``{"requested", "allocated", "busy", "failure"}`` of a provisioned group, or None."""
        return self._provisioned.status(key)

    async def retire(self, key_prefix: str) -> int:
        """Retire environments whose key starts with ``key_prefix``; busy ones finish their invoke first."""
        self._provisioned.retire(key_prefix)
        count = 0
        idle = []
        for env in list(self._all):
            if env.spec.key.startswith(key_prefix) and not env.retired:
                env.retired = True
                count += 1
                if not env.busy:
                    idle.append(env)
        await asyncio.gather(*[self._shut_down(env) for env in idle])
        return count

    def stats(self) -> dict:
        return {"environments": len(self._all), "idle": len(self._idle), "provisioned": len(self._provisioned),
                "memory_in_use_mb": self._budget.in_use_mb, "memory_budget_mb": self.config.memory_budget_mb}

    # --- pooling ----------------------------------------------------------------------------------
    def _take_idle(self, key: str) -> Environment | None:
        while (env := self._idle.pop(key)) is not None:
            if not env.dead:
                env.busy = True
                env.thaw()
                return env
            self._destroy(env)
        return None

    def _release(self, env: Environment) -> None:
        env.busy = False
        env.last_used = time.monotonic()
        if env.ending is not None and not env.agent_gone:  # extensions get their SHUTDOWN event
            self._track(self._graceful_end(env, env.ending))
            return
        too_old = env.last_used - env.created > self.config.max_lifetime_s
        group = env.provisioned
        if env.dead or env.retired or too_old or self._closed:
            self._destroy(env)
            return
        if group is not None:
            group.idle.append(env)
        else:
            self._idle.push(env)
        self._schedule_freeze(env)

    def _schedule_freeze(self, env: Environment) -> None:
        grace = self.config.freeze_after_s
        if grace is not None and grace >= 0:
            if env.telemetry:  # let buffered telemetry reach its subscriber before freezing
                grace = max(grace, env.telemetry_ms / 1000 + 0.1)
            env.freeze_handle = (env.loop or asyncio.get_running_loop()).call_later(grace, env.freeze)

    async def _graceful_end(self, env: Environment, reason: str) -> None:
        self._unidle(env)
        if reason == "failure":  # the agent is already shutting its extensions down
            await env.wait_gone(SHUTDOWN_GRACE_S + 0.2)
        else:
            await env.shutdown(SHUTDOWN_GRACE_S, reason)
        self._destroy(env)

    def _unidle(self, env: Environment) -> None:
        group = env.provisioned
        if group is not None and env in group.idle:
            group.idle.remove(env)
        self._idle.remove(env)

    def _destroy(self, env: Environment) -> None:
        """Kill now; the cgroup and files go in a thread (see Environment.release)."""
        if env not in self._all:
            return
        self._all.discard(env)
        self._unidle(env)
        self._provisioned.lost(env)  # replaced, if its group still wants it
        self._budget.give_back(env.spec.memory_mb)
        if self.config.credentials is not None and env.credentials is not DEFAULT_CREDENTIALS:
            self.config.credentials.revoke(env.credentials[0])
        env.destroy()
        self._track(asyncio.get_running_loop().run_in_executor(self._teardown_executor, env.release))

    async def _reap_loop(self) -> None:
        interval = max(0.05, min(30.0, self.config.keep_warm_s / 4, self.config.max_lifetime_s / 4))
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for env in self._idle.all():
                if (now - env.last_used > self.config.keep_warm_s
                        or now - env.created > self.config.max_lifetime_s or env.dead):
                    self._track(self._shut_down(env))
            for env in self._provisioned.idle():
                if now - env.created > self.config.max_lifetime_s or env.dead:
                    self._track(self._shut_down(env))

    def _shut_down(self, env: Environment) -> Coroutine[Any, Any, None]:
        """Graceful end of an idle environment: out of the idle list now (nobody may take it
        any more), then SHUTDOWN and destroy in the returned coroutine."""
        self._unidle(env)

        async def shutdown() -> None:
            await env.shutdown(SHUTDOWN_GRACE_S, "spindown")
            self._destroy(env)
        return shutdown()

    def _track(self, coro: Awaitable) -> None:
        """Run background teardown work that close() waits for."""
        task = asyncio.ensure_future(coro)
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    # --- cold start -------------------------------------------------------------------------------
    def _plan(self, spec: EnvironmentSpec) -> runtimes.RuntimePlan:
        """What runs ``spec.runtime``, looked up at each cold start so newly installed runtimes count."""
        return runtimes.plan(spec.runtime, self.config.runtimes_dir, self.config.runtime_substitution)

    async def _zygote(self, plan: runtimes.RuntimePlan) -> Zygote:
        interpreter = plan.executable if plan.kind == "python" else sys.executable
        key = interpreter + ("|py" if plan.kind == "python" else "|agent")
        lock = self._zygote_locks.setdefault(key, asyncio.Lock())
        async with lock:
            z = self._zygotes.get(key)
            if z is None or not z.alive:
                cg = self.cgroups
                bases = None
                if cg is not None:  # every v1 controller costs a mkdir, a join and a rmdir per environment
                    bases = {c: str(b) for c, b in cg.bases.items()
                             if c != "cpu" or self.config.cpu_scaling == "aws"}
                z = Zygote(interpreter, plan.kind == "python", {
                    "namespaces": self.isolated, "hosts": str(self._hosts),
                    "prefix": f"{self.owner}.z{next(self._ids)}", "cgroups": bases,
                    "cgroup_version": cg.version if cg is not None else 0,
                    "devices_cgroup": str(cg.devices / "cgroup.procs") if cg is not None and cg.devices else None,
                    "sandbox_user": [sandbox.SANDBOX_UID, sandbox.SANDBOX_GID] if self.isolated else None,
                    "network": {"port": self.config.endpoint_port, "work_dir": str(self.dir.parent),
                                "slirp": self.slirp, "resolv_conf": str(self._resolv_conf) if self.slirp else None}
                    if self.network_isolated else None})
                await z.start()
                self._zygotes[key] = z
            return z

    def _new_environment(self, spec: EnvironmentSpec, plan: runtimes.RuntimePlan) -> Environment:
        self._budget.reserve(spec.memory_mb, self._idle, self._destroy)
        env_id = f"e{next(self._ids)}"
        env_dir = self.dir / env_id
        env_dir.mkdir()
        env = Environment(env_id, spec, plan, env_dir, self.config.log_sink)
        env.busy = True  # created for an invoke: retire() must let it finish
        self._all.add(env)
        return env

    async def _cold_start(self, spec: EnvironmentSpec, request: InvokeRequest
                          ) -> tuple[Environment, float, None] | tuple[None, None, InvokeResult]:
        """A ready environment plus its init duration, or (None, None, failed InvokeResult).

        Clocks: INIT's own limit (10 s) and Init Duration start when the environment has
        been handed its function (waiting for the zygote is the platform's time, not the
        function's).  An init retried inside the invoke runs under the function's timeout,
        counted from the start of that retry, as on AWS.
        """
        plan = self._plan(spec)
        zygote = await self._zygote(plan)
        for phase in ("init", "invoke"):
            env = self._new_environment(spec, plan)
            if phase == "init":
                env.log(logfmt.init_start(plan.runs_as, spec.region))
                limit = self.config.init_timeout_s
            else:  # init re-run inside the invoke: its output belongs to the invoke's log tail
                env.capture()
                limit = spec.timeout_s
            try:
                started = await self._init(env, zygote, limit, request.request_id)
            except InitFailure as failure:
                zygote.refill()
                init_ms = (time.monotonic() - failure.started) * 1000
                env.log(logfmt.init_report(init_ms, phase, failure.status,
                                           failure.error_type if failure.status == "error" else None))
                if phase == "init":
                    self._destroy(env)
                    continue
                result = invocation.failed_init_result(env, spec, request, failure, init_ms, failure.started)
                self._destroy(env)
                return None, None, result
            except BaseException:
                self._destroy(env)
                raise
            zygote.refill()
            init_ms = (time.monotonic() - started) * 1000
            env.flush_logs()
            if phase == "invoke":
                env.init_in_invoke = init_ms
            return env, init_ms, None
        raise AssertionError("unreachable: the invoke phase always returns")

    async def _init(self, env: Environment, zygote: Zygote, limit: float, request_id: str) -> float:
        """Start ``env`` and wait for the end of its INIT; returns when INIT started (monotonic)."""
        spec = env.spec
        if env.plan.kind == "provided":
            problem = bootstrap_problem(spec, request_id)
            if problem:
                raise InitFailure("Runtime.InvalidEntrypoint", problem, "error", time.monotonic())
        issuer = self.config.credentials
        if issuer is not None:  # its own credentials, revoked by _destroy; valid for its longest possible life
            env.credentials = issuer.issue(spec, self.config.max_lifetime_s + _LONGEST_INVOKE_S)
        loop = asyncio.get_running_loop()
        if env.plan.kind == "java":  # a first build takes seconds: not on the spawn threads other cold starts need
            await loop.run_in_executor(None, self._planner.java_runtime, env.plan)
        request = await loop.run_in_executor(self._prep_executor, self._planner.spawn_request, env, zygote)
        cgroup = await env.spawn(zygote, request)
        started = time.monotonic()
        if cgroup is not None:
            env.cgroup = self.cgroups.adopt(cgroup)
        with contextlib.suppress(OSError):  # for cleanup_leftovers after a kill -9 (a tiny write)
            (env.work_dir / "agent.pid").write_text(str(env.agent_pid))
        frame = await env.wait_frame(limit)
        if frame is None:
            raise InitFailure("Sandbox.Timedout", timeout_error(request_id, spec.timeout_s), "timeout", started)
        kind, meta, body = frame
        if kind == ch.INIT_DONE:
            if meta:
                env.extensions = meta.get("extensions") or []
                env.shutdown_extensions = bool(meta.get("shutdown"))
                env.telemetry = bool(meta.get("telemetry"))
                env.telemetry_ms = meta.get("telemetry_ms") or 0
            return started
        if kind == ch.INIT_ERROR:
            error_type = meta.get("error_type") or "Runtime.Unknown"
            if not body and "message" in meta:
                body = error_json(error_type, f"RequestId: {request_id} Error: {meta['message']}")
            raise InitFailure(error_type, body, "error", started)
        status = meta.get("status") or env.exit_status or "signal: killed"
        raise InitFailure("Runtime.ExitError", exit_error(request_id, status), "error", started)

    async def _initialize_provisioned(self, spec: EnvironmentSpec) -> Environment:
        """An initialized environment for a provisioned-concurrency group (see ProvisionedConcurrency)."""
        try:
            plan = self._plan(spec)
            zygote = await self._zygote(plan)
            env = self._new_environment(spec, plan)
        except Exception as exc:  # unsupported runtime, no memory left, no zygote
            raise ProvisioningFailed(f"{type(exc).__name__}: {exc}") from exc
        env.log(logfmt.init_start(plan.runs_as, spec.region))
        try:
            started = await self._init(env, zygote, self.config.init_timeout_s, "")
        except InitFailure as failure:
            zygote.refill()
            init_ms = (time.monotonic() - failure.started) * 1000
            env.log(logfmt.init_report(init_ms, "init", failure.status,
                                       failure.error_type if failure.status == "error" else None))
            self._destroy(env)
            raise ProvisioningFailed(failure.error_type) from failure
        except BaseException:
            self._destroy(env)
            raise
        zygote.refill()
        env.log(logfmt.init_report((time.monotonic() - started) * 1000, "init", "success"))
        env.flush_logs()
        return env
