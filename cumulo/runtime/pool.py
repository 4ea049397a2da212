"""Environment lifecycle and the warm pool.

* **INIT** (10 s limit, ``RuntimeConfig.init_timeout_s``): a new environment runs until its
  runtime asks for the first event.  If init fails or times out, AWS's behaviour follows: an
  ``INIT_REPORT ... Phase: init`` line, then init is retried once inside the invoke
  (``Phase: invoke``) with the function's timeout covering init and handler; if that fails
  too, the invoke fails with the init error.
* **INVOKE**: one event at a time per environment; a timeout ends the invoke with
  ``Sandbox.Timedout`` and the environment is replaced, as is one whose runtime exited.
* **SHUTDOWN**: idle environments that are reaped, retired or closed are asked to shut down
  (the agent flushes the last output and ends; extensions' SHUTDOWN event will get its 2 s
  there), then killed; timed-out, crashed or evicted ones are killed at once.

Warm environments are reused for the same ``spec.key``, one invoke at a time, most recently
used first.  Idle environments are frozen after ``freeze_after_s``, reaped after
``keep_warm_s``; none lives past ``max_lifetime_s``.  The live environments' MemorySize
total stays under ``memory_budget_mb``: idle environments (least recently used first) are
evicted to make room, else :class:`CapacityError` is raised for the caller to throttle.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import itertools
import json
import os
import shutil
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import channel as ch
from . import envvars, host, logfmt, runtimes
from .agent.config import AgentConfig, FunctionInfo, RuntimeCommand
from .environment import PACKAGE_ROOT, Environment, Zygote
from .spec import (
    CapacityError,
    EnvironmentSpec,
    InvokeRequest,
    InvokeResult,
    PoolClosedError,
    RuntimeConfig,
)

SHUTDOWN_GRACE_S = 2.0  # AWS gives extensions 2 s at SHUTDOWN; without extensions the agent ends at once
_BOTO_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


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


class _Failure(Exception):
    """An environment could not be initialized; carries what the invoke reports."""

    def __init__(self, error_type: str, payload: bytes, status: str, started: float) -> None:
        super().__init__(error_type)
        self.error_type = error_type
        self.payload = payload
        self.status = status  # "error" | "timeout"
        self.started = started  # when INIT started (monotonic)


class _Provisioned:
    """A provisioned-concurrency group: ``target`` environments of ``spec`` initialized ahead."""

    def __init__(self, key: str, spec: EnvironmentSpec) -> None:
        self.key = key
        self.spec = spec
        self.target = 0
        self.envs: set[Environment] = set()  # initialized (idle or busy)
        self.idle: list[Environment] = []
        self.starting = 0
        self.failure: str | None = None  # why initialization failed (the group stops trying)
        self.task: asyncio.Task | None = None


PROVISION_PARALLELISM = 4  # environments of one group initialized at once


class EnvironmentPool:
    """Creates, reuses, freezes, reaps and destroys execution environments (see module docstring)."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.support = host.detect()
        self.isolated = config.isolation == "auto" and self.support.namespaces
        use_cgroups = config.isolation == "auto" and self.support.cgroups.version
        self.cgroups = self.support.cgroups if use_cgroups else None
        self.owner = f"{_owner_id(os.getpid()) or f'p{os.getpid()}-0'}-{next(_pool_ids)}"
        self.dir = Path(config.work_dir).resolve() / self.owner
        self._zygotes: dict[str, Zygote] = {}
        self._zygote_locks: dict[str, asyncio.Lock] = {}
        self._idle: dict[str, list[Environment]] = {}
        self._all: set[Environment] = set()
        self._ids = itertools.count(1)
        self._reaper: asyncio.Task | None = None
        self._closed = False
        self._memory_in_use = 0
        self._releasing: set[asyncio.Task] = set()  # teardown work in the background
        self._keep_tmp_cache: dict[tuple, list[str]] = {}
        self._provisioned: dict[str, _Provisioned] = {}
        # Blocking work off the event loop: preparing a spawn (paths, layer farms) and tearing
        # environments down (cgroup removal waits for the kernel) each get their own threads,
        # so a pile of teardowns never delays a cold start.
        self._prep_executor = ThreadPoolExecutor(2, thread_name_prefix="cumulo-env-prep")
        self._teardown_executor = ThreadPoolExecutor(4, thread_name_prefix="cumulo-env-teardown")

    # --- start / close -----------------------------------------------------------------------
    async def start(self) -> None:
        host.warn_once(self.config.isolation)
        self.cleanup_leftovers()
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self._pylib = self._make_pylib()
        self._hosts = self.dir / "hosts"
        self._hosts.write_text("127.0.0.1\tlocalhost localhost.localdomain sandbox.localdomain\n"
                               "::1\tlocalhost ip6-localhost ip6-loopback\n")
        if self.isolated:
            for d in ("/var/task", "/var/runtime", "/opt"):
                os.makedirs(d, exist_ok=True)
        self._reaper = asyncio.create_task(self._reap_loop())

    async def close(self) -> None:
        """Destroy every environment and zygote; leaves no process, cgroup, mount or temp dir."""
        self._closed = True
        for group in self._provisioned.values():
            if group.task is not None:
                group.task.cancel()
        idle_provisioned = [env for g in self._provisioned.values() for env in g.idle]
        self._provisioned.clear()
        await asyncio.gather(*[self._shut_down(env) for env in idle_provisioned])
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        idle = [env for stack in self._idle.values() for env in stack]
        await asyncio.gather(*[self._shut_down(env) for env in idle])
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

    def _make_pylib(self) -> Path:
        """A directory offering the platform's boto3 to interpreters that lack it (as /var/runtime)."""
        pylib = self.dir / "pylib"
        pylib.mkdir(exist_ok=True)
        for name in _BOTO_PACKAGES:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                continue
            src = Path(spec.origin)
            src = src.parent if src.name == "__init__.py" else src
            with contextlib.suppress(FileExistsError):
                (pylib / src.name).symlink_to(src)
        # ``python /var/runtime/bootstrap.py``: Cumulo's Python runtime as a command, for
        # AWS_LAMBDA_EXEC_WRAPPER scripts that end with ``exec "$@"``.
        (pylib / "bootstrap.py").write_text(
            "import json, os, sys\n"
            f"sys.path.insert(0, {PACKAGE_ROOT!r})\n"
            "from cumulo.runtime import python_runtime\n"
            "python_runtime.main(os.environ.pop('_CUMULO_PY_HANDLER'),"
            " json.loads(os.environ.pop('_CUMULO_PY_SYS_PATH')))\n")
        return pylib

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
        group = self._provisioned.get(provisioned) if provisioned else None
        if group is not None and group.idle and group.spec.key == spec.key:
            env = group.idle.pop()
            env.busy = True
            env.thaw()
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
            result, rest = await self._invoke(env, request, init_ms)
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
        group = self._provisioned.get(key)
        if group is not None and (count == 0 or group.spec.key != spec.key):
            del self._provisioned[key]
            group.target = 0
            if group.task is not None:
                group.task.cancel()
            for env in list(group.envs):
                env.provisioned = None
                if not env.busy:
                    group.idle.remove(env) if env in group.idle else None
                    self._track(self._shut_down(env))
                else:
                    env.retired = True
            group = None
        if count == 0:
            return
        if group is None:
            spec = dataclasses.replace(spec, initialization_type="provisioned-concurrency")
            group = self._provisioned[key] = _Provisioned(key, spec)
        group.target = count
        group.failure = None
        self._kick(group)

    def provisioned_status(self, key: str) -> dict | None:
        """``{"requested", "allocated", "busy", "failure"}`` of a provisioned group, or None."""
        group = self._provisioned.get(key)
        if group is None:
            return None
        return {"requested": group.target, "allocated": len(group.envs),
                "busy": len(group.envs) - len(group.idle), "failure": group.failure}

    async def retire(self, key_prefix: str) -> int:
        """Retire environments whose key starts with ``key_prefix``; busy ones finish their invoke first."""
        for name, group in list(self._provisioned.items()):
            if group.spec.key.startswith(key_prefix):
                await self.provision(name, group.spec, 0)
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
        return {"environments": len(self._all), "idle": sum(len(v) for v in self._idle.values()),
                "provisioned": sum(len(g.envs) for g in self._provisioned.values()),
                "memory_in_use_mb": self._memory_in_use, "memory_budget_mb": self.config.memory_budget_mb}

    # --- pooling ----------------------------------------------------------------------------------
    def _take_idle(self, key: str) -> Environment | None:
        stack = self._idle.get(key)
        while stack:
            env = stack.pop()
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
            self._idle.setdefault(env.spec.key, []).append(env)
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

    def _reserve(self, memory_mb: int) -> None:
        budget = self.config.memory_budget_mb
        if self._memory_in_use + memory_mb > budget:
            idle = sorted((e for stack in self._idle.values() for e in stack), key=lambda e: e.last_used)
            for env in idle:
                if self._memory_in_use + memory_mb <= budget:
                    break
                self._destroy(env)
        if self._memory_in_use + memory_mb > budget:
            raise CapacityError(f"host memory budget exhausted: {self._memory_in_use} MB in use "
                                f"of {budget} MB, {memory_mb} MB requested")
        self._memory_in_use += memory_mb

    def _unidle(self, env: Environment) -> None:
        group = env.provisioned
        if group is not None and env in group.idle:
            group.idle.remove(env)
        stack = self._idle.get(env.spec.key)
        if stack and env in stack:
            stack.remove(env)
            if not stack:
                del self._idle[env.spec.key]

    def _destroy(self, env: Environment) -> None:
        """Kill now; the cgroup and files go in a thread (see Environment.release)."""
        if env not in self._all:
            return
        self._all.discard(env)
        self._unidle(env)
        group = env.provisioned
        if group is not None:
            group.envs.discard(env)
            env.provisioned = None
            if self._provisioned.get(group.key) is group and not self._closed:
                self._kick(group)  # replace it
        self._memory_in_use -= env.spec.memory_mb
        env.destroy()
        self._track(asyncio.get_running_loop().run_in_executor(self._teardown_executor, env.release))

    async def _reap_loop(self) -> None:
        interval = max(0.05, min(30.0, self.config.keep_warm_s / 4, self.config.max_lifetime_s / 4))
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for stack in list(self._idle.values()):
                for env in list(stack):
                    if (now - env.last_used > self.config.keep_warm_s
                            or now - env.created > self.config.max_lifetime_s or env.dead):
                        self._track(self._shut_down(env))
            for group in list(self._provisioned.values()):
                for env in list(group.idle):
                    if now - env.created > self.config.max_lifetime_s or env.dead:
                        self._track(self._shut_down(env))

    def _shut_down(self, env: Environment):
        """Graceful end of an idle environment: out of the idle list now (nobody may take it
        any more), then SHUTDOWN and destroy in the returned coroutine."""
        self._unidle(env)

        async def shutdown() -> None:
            await env.shutdown(SHUTDOWN_GRACE_S, "spindown")
            self._destroy(env)
        return shutdown()

    def _track(self, coro) -> None:
        """Run background teardown work that close() waits for."""
        task = asyncio.ensure_future(coro)
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    # --- provisioned concurrency ----------------------------------------------------------------------
    def _kick(self, group: _Provisioned) -> None:
        if group.task is None or group.task.done():
            group.task = asyncio.get_running_loop().create_task(self._maintain(group))

    async def _maintain(self, group: _Provisioned) -> None:
        """Initialize environments until the group has its target (or initialization fails)."""
        while self._provisioned.get(group.key) is group and group.failure is None:
            missing = group.target - len(group.envs) - group.starting
            if missing <= 0:
                excess = len(group.envs) - group.target
                for env in group.idle[:max(0, excess)]:  # scaled down: idle ones go first
                    group.idle.remove(env)
                    group.envs.discard(env)
                    env.provisioned = None
                    self._track(self._shut_down(env))
                for env in [e for e in group.envs if e.busy][:max(0, len(group.envs) - group.target)]:
                    env.provisioned = None  # busy ones leave the group after their invoke
                    group.envs.discard(env)
                return
            batch = min(missing, PROVISION_PARALLELISM)
            group.starting += batch
            try:
                await asyncio.gather(*(self._provision_one(group) for _ in range(batch)))
            finally:
                group.starting -= batch

    async def _provision_one(self, group: _Provisioned) -> None:
        spec = group.spec
        try:
            plan = runtimes.plan(spec.runtime)
            zygote = await self._zygote(plan)
            env = self._new_environment(spec, plan)
        except Exception as exc:  # unsupported runtime, no memory left, no zygote
            group.failure = f"{type(exc).__name__}: {exc}"
            return
        env.log(logfmt.init_start(spec.runtime, spec.region))
        try:
            started = await self._init(env, zygote, self.config.init_timeout_s, "")
        except _Failure as failure:
            zygote.refill()
            init_ms = (time.monotonic() - failure.started) * 1000
            env.log(logfmt.init_report(init_ms, "init", failure.status,
                                       failure.error_type if failure.status == "error" else None))
            group.failure = failure.error_type
            self._destroy(env)
            return
        except BaseException:
            self._destroy(env)
            raise
        zygote.refill()
        env.log(logfmt.init_report((time.monotonic() - started) * 1000, "init", "success"))
        env.flush_logs()
        if self._provisioned.get(group.key) is not group or len(group.envs) >= group.target:
            self._destroy(env)
            return
        env.provisioned = group
        group.envs.add(env)
        self._release(env)

    # --- cold start -------------------------------------------------------------------------------
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
                    "cgroup_version": cg.version if cg is not None else 0})
                await z.start()
                self._zygotes[key] = z
            return z

    def _new_environment(self, spec: EnvironmentSpec, plan: runtimes.RuntimePlan) -> Environment:
        self._reserve(spec.memory_mb)
        env_id = f"e{next(self._ids)}"
        env_dir = self.dir / env_id
        env_dir.mkdir()
        env = Environment(env_id, spec, plan, env_dir, self.config.log_sink)
        env.busy = True  # created for an invoke: retire() must let it finish
        self._all.add(env)
        return env

    def _spawn_request(self, env: Environment, zygote: Zygote) -> dict:
        spec, plan = env.spec, env.plan
        runtime_dir = str(runtimes.NODE_RUNTIME_DIR if plan.kind == "node" else self._pylib)
        if self.isolated:
            task, opt, rt_dir, tmp = "/var/task", "/opt", "/var/runtime", None
            mounts = {"task": str(Path(spec.code_dir).resolve()),
                      "layers": [str(Path(p).resolve()) for p in spec.layer_dirs],
                      "tmp_mb": spec.ephemeral_storage_mb, "runtime_dir": runtime_dir,
                      "keep_tmp": self._keep_tmp(zygote, plan, runtime_dir),
                      "hide": [str(Path(p).resolve()) for p in (Path(self.config.work_dir),
                                                                *self.config.private_paths)]}
        else:
            task, rt_dir = str(Path(spec.code_dir).resolve()), runtime_dir
            opt = str(_merge_layers(spec.layer_dirs, env.work_dir / "opt"))
            tmp = str(env.work_dir / "tmp")
            os.makedirs(tmp)
            mounts = None
        variables = envvars.build(spec, plan, env.log_stream, task, rt_dir, opt, tmp)
        cgroups = self.cgroups is not None
        label, arn = logfmt.runtime_version(spec.runtime, spec.region)
        function = FunctionInfo(name=spec.function_name, version=spec.version, handler=spec.handler,
                                account=spec.account_id, initialization_type=spec.initialization_type,
                                runtime_version=label, runtime_version_arn=arn)
        if plan.kind == "python":
            py = plan.runtime[len("python"):]
            drop = {PACKAGE_ROOT, "", "."}  # the platform's own code is not the function's
            sys_path = [task, f"{opt}/python/lib/python{py}/site-packages", f"{opt}/python"]
            sys_path += [p for p in zygote.sys_path if p not in drop and p != str(self._pylib)]
            sys_path.append(rt_dir)
            command = RuntimeCommand(python_handler=spec.handler, sys_path=sys_path)
        elif plan.kind == "node":
            command = RuntimeCommand(argv=[plan.executable, f"{rt_dir}/index.mjs"])
        else:
            command = RuntimeCommand(argv=[_bootstrap_path(spec, task, opt)])
        wrapper = variables.get("AWS_LAMBDA_EXEC_WRAPPER")
        if wrapper and plan.kind in ("python", "node"):  # internal extensions: wrapper scripts
            command.wrapper = wrapper
            command.bootstrap = f"{rt_dir}/bootstrap.py"
        has_extensions = any(os.path.isdir(os.path.join(layer, "extensions")) for layer in spec.layer_dirs)
        agent = AgentConfig(
            variables, task, function, command, telemetry=plan.kind != "provided", peer_check=self.isolated,
            drop_capabilities=self.isolated, oom_protect=cgroups, measure_rss=not cgroups, rlimit_nofile=1024,
            rlimit_data=spec.memory_mb * 1024 * 1024 if not cgroups and plan.kind != "node" else None,
            extensions_dir=f"{opt}/extensions" if has_extensions else None)
        vcpus = spec.memory_mb / 1769 if self.config.cpu_scaling == "aws" else None
        return {"agent": agent.to_json(), "mounts": mounts, "limits": {"memory_mb": spec.memory_mb, "cpu_vcpus": vcpus}}

    def _keep_tmp(self, zygote: Zygote, plan: runtimes.RuntimePlan, runtime_dir: str) -> list[str]:
        """Host directories under /tmp that the runtime needs to see through its private /tmp."""
        key = (zygote.interpreter, plan.executable, runtime_dir)
        if key not in self._keep_tmp_cache:
            self._keep_tmp_cache[key] = _under_tmp([
                *zygote.sys_path, *zygote.prefixes, plan.executable,
                *(str(p.resolve()) for p in Path(runtime_dir).iterdir() if p.is_symlink())])
        return self._keep_tmp_cache[key]

    async def _cold_start(self, spec: EnvironmentSpec, request: InvokeRequest):
        """A ready environment plus its init duration, or (None, None, failed InvokeResult).

        Clocks: INIT's own limit (10 s) and Init Duration start when the environment has
        been handed its function (waiting for the zygote is the platform's time, not the
        function's).  An init retried inside the invoke runs under the function's timeout,
        counted from the start of that retry, as on AWS.
        """
        plan = runtimes.plan(spec.runtime)
        zygote = await self._zygote(plan)
        for phase in ("init", "invoke"):
            env = self._new_environment(spec, plan)
            if phase == "init":
                env.log(logfmt.init_start(spec.runtime, spec.region))
                limit = self.config.init_timeout_s
            else:  # init re-run inside the invoke: its output belongs to the invoke's log tail
                env.capture()
                limit = spec.timeout_s
            try:
                started = await self._init(env, zygote, limit, request.request_id)
            except _Failure as failure:
                zygote.refill()
                init_ms = (time.monotonic() - failure.started) * 1000
                env.log(logfmt.init_report(init_ms, phase, failure.status,
                                           failure.error_type if failure.status == "error" else None))
                if phase == "init":
                    self._destroy(env)
                    continue
                return None, None, self._init_failed(env, spec, request, failure, init_ms, failure.started)
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
            problem = _bootstrap_problem(spec, request_id)
            if problem:
                raise _Failure("Runtime.InvalidEntrypoint", problem, "error", time.monotonic())
        loop = asyncio.get_running_loop()
        request = await loop.run_in_executor(self._prep_executor, self._spawn_request, env, zygote)
        cgroup = await env.spawn(zygote, request)
        started = time.monotonic()
        if cgroup is not None:
            env.cgroup = self.cgroups.adopt(cgroup)
        with contextlib.suppress(OSError):  # for cleanup_leftovers after a kill -9 (a tiny write)
            (env.work_dir / "agent.pid").write_text(str(env.agent_pid))
        frame = await env.wait_frame(limit)
        if frame is None:
            raise _Failure("Sandbox.Timedout", _timeout_error(request_id, spec.timeout_s), "timeout", started)
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
                body = _error_json(error_type, f"RequestId: {request_id} Error: {meta['message']}")
            raise _Failure(error_type, body, "error", started)
        status = meta.get("status") or env.exit_status or "signal: killed"
        raise _Failure("Runtime.ExitError", _error_json(
            "Runtime.ExitError", f"RequestId: {request_id} Error: {_exit_phrase(status)}"), "error", started)

    def _init_failed(self, env: Environment, spec: EnvironmentSpec, request: InvokeRequest,
                     failure: _Failure, init_ms: float, invoke_started: float) -> InvokeResult:
        captured = env.captured if env.captured is not None else env.capture()
        env.log(logfmt.start(request.request_id, spec.version))
        if failure.status == "timeout":
            env.log(logfmt.timed_out(request.request_id, time.monotonic() - invoke_started))
        duration = (time.monotonic() - invoke_started) * 1000
        env.log(logfmt.end(request.request_id))
        error_type = failure.error_type if failure.status == "error" else None
        env.log(logfmt.report(request.request_id, duration, spec.memory_mb, env.peak_memory_mb(),
                              None, failure.status, error_type))
        result = InvokeResult(
            payload=failure.payload, function_error="Unhandled", error_type=failure.error_type,
            log_tail=logfmt.tail(captured), duration_ms=round(duration, 2),
            billed_duration_ms=logfmt.billed(duration), memory_size_mb=spec.memory_mb,
            max_memory_used_mb=env.peak_memory_mb(), init_duration_ms=round(init_ms, 2), cold_start=True,
            log_stream=env.log_stream)
        env.stop_capture()
        self._destroy(env)
        return result

    # --- invoke -----------------------------------------------------------------------------------
    async def _invoke(self, env: Environment, request: InvokeRequest, init_ms: float | None):
        """Run the event; returns (result, None), or (result, rest) when extensions are still
        busy after the runtime's answer: ``rest`` is a coroutine that ends the invoke."""
        spec = env.spec
        env.busy = True
        captured = env.capture()
        rid = request.request_id
        env.log(logfmt.start(rid, spec.version))
        suppressed = env.init_in_invoke
        budget = spec.timeout_s - (suppressed / 1000 if suppressed else 0.0)
        now = time.time()
        meta = {"id": rid, "deadline_ms": int((now + budget) * 1000), "arn": request.invoked_function_arn}
        if request.trace_id:
            meta["trace_id"] = request.trace_id
        if request.client_context:
            meta["client_context"] = request.client_context
        if request.cognito_identity:
            meta["cognito_identity"] = request.cognito_identity
        started = time.perf_counter()
        env.send_invoke(meta, request.payload)
        try:
            frame = await env.wait_frame(max(budget, 0.0))
        except BaseException:  # the caller went away (cancelled): the event is still running
            env.kill()
            raise
        duration = (time.perf_counter() - started) * 1000
        if suppressed:
            duration += suppressed
        status = error_type = function_error = None
        pending = False
        report_meta: dict = {}
        if frame is None:
            self._timed_out(env)
            env.log(logfmt.timed_out(rid, duration / 1000))
            payload = _timeout_error(rid, spec.timeout_s)
            status, error_type, function_error = "timeout", "Sandbox.Timedout", "Unhandled"
        else:
            kind, fmeta, payload = frame
            report_meta = fmeta
            if kind == ch.RESPONSE:
                pending = bool(fmeta.get("pending"))
            elif kind == ch.INVOKE_ERROR:
                function_error = "Unhandled"
                error_type = fmeta.get("error_type") or _error_type_of(payload)
                pending = bool(fmeta.get("pending"))
            else:  # the runtime (or an extension) exited mid-invoke
                status, error_type, function_error, payload = self._exited(env, rid, fmeta)
        result = InvokeResult(
            payload=payload, function_error=function_error, error_type=error_type,
            log_tail="", duration_ms=round(duration, 2),
            billed_duration_ms=logfmt.billed(duration), memory_size_mb=spec.memory_mb,
            max_memory_used_mb=0, init_duration_ms=round(init_ms, 2) if init_ms is not None else None,
            cold_start=init_ms is not None, log_stream=env.log_stream)
        if pending:  # the caller has its answer; the invoke ends when every extension is ready
            result.log_tail = logfmt.tail(captured)
            return result, self._after_runtime(env, request, result, started, budget, suppressed, init_ms,
                                               report_meta)
        self._end_invoke(env, request, result, duration, status, init_ms if not suppressed else None, captured,
                         report_meta)
        return result, None

    def _timed_out(self, env: Environment) -> None:
        if env.shutdown_extensions:
            env.ending = "timeout"  # SHUTDOWN (reason timeout) for extensions, then the end
        else:
            env.kill()

    def _exited(self, env: Environment, rid: str, fmeta: dict):
        exit_status = fmeta.get("status") or env.exit_status or "signal: killed"
        error_type = fmeta.get("error_type") or "Runtime.ExitError"
        if error_type == "Runtime.ExitError":
            env.log(logfmt.exit_error(rid, exit_status))
            payload = _exit_error(rid, exit_status)
        else:  # an extension crashed or reported exit/error
            payload = _error_json(error_type, f"RequestId: {rid} Error: {exit_status}")
        if env.shutdown_extensions:
            env.ending = "failure"
        return "error", error_type, "Unhandled", payload

    async def _after_runtime(self, env: Environment, request: InvokeRequest, result: InvokeResult,
                             started: float, budget: float, suppressed: float | None, init_ms: float | None,
                             report_meta: dict) -> None:
        rid = request.request_id
        remaining = budget - (time.perf_counter() - started)
        frame = await env.wait_frame(max(remaining, 0.0))
        duration = (time.perf_counter() - started) * 1000 + (suppressed or 0.0)
        status = None
        if frame is None:
            self._timed_out(env)
            env.log(logfmt.timed_out(rid, duration / 1000))
            status = "timeout"
        elif frame[0] == ch.EXITED:
            status, error_type, _, _ = self._exited(env, rid, frame[1])
            result.error_type = result.error_type or error_type
        else:
            report_meta = {**report_meta, **frame[1]}
        captured = env.captured if env.captured is not None else []
        self._end_invoke(env, request, result, duration, status, init_ms if not suppressed else None, captured,
                         report_meta)

    def _end_invoke(self, env: Environment, request: InvokeRequest, result: InvokeResult, duration: float,
                    status: str | None, init_ms: float | None, captured: list[str], report_meta: dict) -> None:
        spec = env.spec
        rid = request.request_id
        max_used = env.peak_memory_mb()
        error_type = result.error_type
        env.log(logfmt.end(rid))
        env.log(logfmt.report(rid, duration, spec.memory_mb, max_used, init_ms, status,
                              error_type if status == "error" else None))
        env.stop_capture()
        env.flush_logs()
        env.init_in_invoke = None
        result.duration_ms = round(duration, 2)
        result.billed_duration_ms = logfmt.billed(duration)
        result.max_memory_used_mb = max_used
        if not result.log_tail:
            result.log_tail = logfmt.tail(captured)
        if report_meta.get("telemetry"):
            env.telemetry = True
            env.telemetry_ms = report_meta.get("telemetry_ms") or env.telemetry_ms
        if env.telemetry and not env.dead:
            metrics = {"durationMs": round(duration, 3), "billedDurationMs": result.billed_duration_ms,
                       "memorySizeMB": spec.memory_mb, "maxMemoryUsedMB": max_used}
            if init_ms is not None:
                metrics["initDurationMs"] = round(init_ms, 3)
            record = {"requestId": rid,
                      "status": status or ("error" if result.function_error else "success"),
                      "metrics": metrics}
            if result.error_type:
                record["errorType"] = result.error_type
            if request.trace_id:
                record["tracing"] = {"type": "X-Amzn-Trace-Id", "value": request.trace_id}
            if "extensions_ms" in report_meta:
                record["spans"] = [{"name": "extensionOverhead",
                                    "start": _iso(time.time() * 1000 - report_meta["extensions_ms"]),
                                    "durationMs": report_meta["extensions_ms"]}]
            env.send_platform([["platform.report", record, time.time() * 1000]])


def _iso(ts_ms: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + f".{int(ts_ms) % 1000:03d}Z"


def _under_tmp(paths: list[str]) -> list[str]:
    """The top-level directories of /tmp that hold any of ``paths`` (resolved)."""
    keep = set()
    for path in paths:
        parts = Path(os.path.realpath(path)).parts if path else ()
        if len(parts) > 2 and parts[1] == "tmp":
            keep.add(f"/tmp/{parts[2]}")
    return sorted(keep)


def _error_json(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}, separators=(",", ":")).encode()


def _error_type_of(payload: bytes) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        return json.loads(payload).get("errorType") or "Unhandled"
    return "Unhandled"


def _timeout_error(request_id: str, timeout_s: float) -> bytes:
    return _error_json("Sandbox.Timedout",
                       f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds")


def _exit_error(request_id: str, status: str) -> bytes:
    return _error_json("Runtime.ExitError", f"RequestId: {request_id} Error: {_exit_phrase(status)}")


def _exit_phrase(status: str) -> str:
    if status == "exit status 0":
        return "Runtime exited without providing a reason"
    return "Runtime exited with error: " + status


def _bootstrap_path(spec: EnvironmentSpec, task: str, opt: str) -> str:
    if (Path(spec.code_dir) / "bootstrap").exists() or not any(
            (Path(p) / "bootstrap").exists() for p in spec.layer_dirs):
        return task + "/bootstrap"
    return opt + "/bootstrap"


def _bootstrap_problem(spec: EnvironmentSpec, request_id: str) -> bytes | None:
    """AWS's Runtime.InvalidEntrypoint errors for a missing or non-executable bootstrap."""
    candidates = [Path(spec.code_dir) / "bootstrap"] + [Path(p) / "bootstrap" for p in spec.layer_dirs]
    found = [p for p in candidates if p.is_file()]
    if not found:
        return _error_json("Runtime.InvalidEntrypoint",
                           f"RequestId: {request_id} Error: Couldn't find valid bootstrap(s): "
                           "[/var/task/bootstrap /opt/bootstrap]")
    if not os.access(found[0], os.X_OK):
        where = "/var/task/bootstrap" if found[0].parent == Path(spec.code_dir) else "/opt/bootstrap"
        return _error_json("Runtime.InvalidEntrypoint",
                           f"RequestId: {request_id} Error: fork/exec {where}: permission denied")
    return None


def _merge_layers(layers, target: Path) -> Path:
    """Without a mount namespace: a symlink farm merging the layers, later ones winning."""
    target.mkdir()
    for layer in layers:
        layer = Path(layer).resolve()
        for root, dirs, files in os.walk(layer):
            rel = Path(root).relative_to(layer)
            for d in dirs:
                dest = target / rel / d
                if dest.is_symlink():
                    dest.unlink()
                dest.mkdir(exist_ok=True)
            for f in files:
                dest = target / rel / f
                if dest.is_symlink() or dest.exists():
                    dest.unlink()
                dest.symlink_to(Path(root) / f)
    return target
