"""What a new environment is started with: its paths and mounts, environment variables,
agent configuration (:class:`~cumulo.runtime.agent.config.AgentConfig`) and resource limits.

:meth:`LaunchPlanner.spawn_request` builds the request a zygote turns into an environment.
With isolation the function's code, layers and runtime are mounted at AWS's paths
(``/var/task``, ``/opt``, ``/var/runtime``); without it they are used where they are, with
the layers merged into a symlink farm.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import stat
import tempfile
from pathlib import Path

from . import envvars, java_build, logfmt, runtimes, sandbox
from .agent.config import AgentConfig, FunctionInfo, RuntimeCommand
from .environment import PACKAGE_ROOT, Environment, Zygote
from .errors import error_json
from .spec import EnvironmentSpec, RuntimeConfig

_BOTO_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
_AWS_VCPU_MB = 1769  # AWS gives a function one vCPU at this MemorySize, proportionally less or more


class LaunchPlanner:
    """Spawn requests for the environments of one pool."""

    def __init__(self, config: RuntimeConfig, isolated: bool, cgroups: bool, pylib: Path,
                 network_isolated: bool = False) -> None:
        self.config = config
        self.isolated = isolated  # namespaces: mounts at AWS's paths
        self.network_isolated = network_isolated  # the endpoint is relayed at 127.0.0.1:<its port>
        self.cgroups = cgroups  # memory is limited and measured by a cgroup
        self.pylib = pylib  # see make_pylib
        self._reveal_cache: dict[tuple, dict[str, list[str]]] = {}
        self._readable: set[Path] = set()  # code and layer directories the sandbox user can read

    def spawn_request(self, env: Environment, zygote: Zygote) -> dict:
        """``{"agent": AgentConfig as JSON, "mounts": ... or None, "limits": ...}`` (blocking file work)."""
        spec, plan = env.spec, env.plan
        java = None
        if plan.kind == "java":
            java = self.java_runtime(plan)
            runtime_dir = str(java.folder)
        elif plan.kind == "ruby":
            runtime_dir = str(runtimes.RUBY_RUNTIME_DIR)
        else:
            runtime_dir = str(self._node_runtime_dir(plan) if plan.kind == "node" else self.pylib)
        if self.isolated:
            task, opt, rt_dir, tmp = "/var/task", "/opt", "/var/runtime", None
            code = [Path(spec.code_dir).resolve(), *(Path(p).resolve() for p in spec.layer_dirs)]
            for directory in code:
                if directory not in self._readable:
                    _make_readable_by_everyone(directory)
                    self._readable.add(directory)
            mounts = {"task": str(code[0]), "layers": [str(p) for p in code[1:]],
                      "tmp_mb": spec.ephemeral_storage_mb, "runtime_dir": runtime_dir,
                      "reveal": self._reveal(zygote, plan, runtime_dir),
                      "owner": [sandbox.SANDBOX_UID, sandbox.SANDBOX_GID],
                      "hide": [str(Path(p).resolve()) for p in (Path(self.config.work_dir),
                                                                *self.config.private_paths)]}
        else:
            task, rt_dir = str(Path(spec.code_dir).resolve()), runtime_dir
            opt = str(_merge_layers(spec.layer_dirs, env.work_dir / "opt"))
            tmp = str(env.work_dir / "tmp")
            os.makedirs(tmp)
            mounts = None
        variables = envvars.build(spec, plan, env.credentials, env.log_stream, task, rt_dir, opt, tmp)
        if self.network_isolated and spec.endpoint_url:  # the only address of the endpoint in there
            variables["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{self.config.endpoint_port}"
        agent = self._agent_config(spec, plan, zygote, variables, task, opt, rt_dir, java)
        vcpus = spec.memory_mb / _AWS_VCPU_MB if self.config.cpu_scaling == "aws" else None
        return {"agent": agent.to_json(), "mounts": mounts,
                "limits": {"memory_mb": spec.memory_mb, "cpu_vcpus": vcpus}}

    def java_runtime(self, plan: runtimes.RuntimePlan) -> java_build.JavaRuntime:
        """Cumulo's Java runtime for the plan's JDK (compiled and archived on first use: seconds, blocking)."""
        return java_build.prepare(Path(self.config.work_dir).resolve() / "java", plan.executable,
                                  self._hidden(plan.executable), "/var/runtime" if self.isolated else None)

    def _agent_config(self, spec: EnvironmentSpec, plan: runtimes.RuntimePlan, zygote: Zygote,
                      variables: dict[str, str], task: str, opt: str, rt_dir: str,
                      java: java_build.JavaRuntime | None) -> AgentConfig:
        label, arn = logfmt.runtime_version(plan.runs_as, spec.region)
        function = FunctionInfo(name=spec.function_name, version=spec.version, handler=spec.handler,
                                account=spec.account_id, initialization_type=spec.initialization_type,
                                runtime_version=label, runtime_version_arn=arn)
        if plan.kind == "python":
            py = plan.runs_as[len("python"):]  # a substituted runtime's layers are those of the version that runs
            drop = {PACKAGE_ROOT, "", "."}  # the platform's own code is not the function's
            sys_path = [task, f"{opt}/python/lib/python{py}/site-packages", f"{opt}/python"]
            sys_path += [p for p in zygote.sys_path if p not in drop and p != str(self.pylib)]
            sys_path.append(rt_dir)
            command = RuntimeCommand(python_handler=spec.handler, sys_path=sys_path)
        elif plan.kind == "node":
            node = f"{rt_dir}/bin/node" if self._hidden(plan.executable) else plan.executable
            command = RuntimeCommand(argv=[node, f"{rt_dir}/index.mjs"])
        elif plan.kind == "ruby":
            command = RuntimeCommand(argv=[plan.executable, f"{rt_dir}/index.rb"])
        elif java is not None:
            command = RuntimeCommand(argv=java_build.command(java, rt_dir, opt, spec.memory_mb,
                                                             variables.get("JAVA_TOOL_OPTIONS", "")))
        else:
            command = RuntimeCommand(argv=[_bootstrap_path(spec, task, opt)])
        wrapper = variables.get("AWS_LAMBDA_EXEC_WRAPPER")
        if wrapper and plan.kind in ("python", "node", "java", "ruby"):  # internal extensions: wrapper scripts
            command.wrapper = wrapper
            command.bootstrap = f"{rt_dir}/bootstrap.py"
        has_extensions = any(os.path.isdir(os.path.join(layer, "extensions")) for layer in spec.layer_dirs)
        return AgentConfig(
            variables, task, function, command, telemetry=plan.kind != "provided", peer_check=self.isolated,
            sandbox_user=[sandbox.SANDBOX_UID, sandbox.SANDBOX_GID] if self.isolated else None,
            oom_protect=self.cgroups, measure_rss=not self.cgroups,
            rlimit_nofile=1024,
            rlimit_data=None if self.cgroups or plan.kind in ("node", "java") else spec.memory_mb * 1024 * 1024,
            extensions_dir=f"{opt}/extensions" if has_extensions else None)

    def _hidden(self, path: str) -> bool:
        """Whether the sandbox covers ``path`` (it lies in the data directory, as installed runtimes do)."""
        hidden = (Path(self.config.work_dir), *self.config.private_paths)
        return self.isolated and any(Path(path).resolve().is_relative_to(Path(p).resolve()) for p in hidden)

    def _node_runtime_dir(self, plan: runtimes.RuntimePlan) -> Path:
        """Cumulo's Node runtime; with the node binary as ``bin/node`` (a hard link) when the binary lives
        where functions cannot see it (a runtime installed into the data directory): bound at
        /var/runtime before the data directory is covered, it stays reachable."""
        if not self._hidden(plan.executable):
            return runtimes.NODE_RUNTIME_DIR
        folder = self.pylib.parent / ("node-" + hashlib.sha256(plan.executable.encode()).hexdigest()[:16])
        if folder.is_dir():
            return folder
        staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        staging.chmod(0o755)
        (staging / "bin").mkdir(mode=0o755)
        (staging / "index.mjs").symlink_to(runtimes.NODE_RUNTIME_DIR / "index.mjs")
        try:
            os.link(plan.executable, staging / "bin" / "node")
        except OSError:  # another file system
            shutil.copy2(plan.executable, staging / "bin" / "node")
        try:
            staging.rename(folder)
        except OSError:  # built meanwhile by another cold start
            shutil.rmtree(staging, ignore_errors=True)
        return folder

    def _reveal(self, zygote: Zygote, plan: runtimes.RuntimePlan, runtime_dir: str) -> dict[str, list[str]]:
        """Host directories the runtime needs that the sandbox would hide: ``{cover: [dirs]}``."""
        key = (zygote.interpreter, plan.executable, runtime_dir)
        if key not in self._reveal_cache:
            self._reveal_cache[key] = _covered([
                *zygote.sys_path, *zygote.prefixes, plan.executable,
                *(str(p.resolve()) for p in Path(runtime_dir).iterdir() if p.is_symlink())])
        return self._reveal_cache[key]


def make_pylib(directory: Path) -> Path:
    """A directory offering the platform's boto3 to interpreters that lack it (as /var/runtime)."""
    pylib = directory / "pylib"
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


def bootstrap_problem(spec: EnvironmentSpec, request_id: str) -> bytes | None:
    """AWS's Runtime.InvalidEntrypoint errors for a missing or non-executable bootstrap."""
    candidates = [Path(spec.code_dir) / "bootstrap"] + [Path(p) / "bootstrap" for p in spec.layer_dirs]
    found = [p for p in candidates if p.is_file()]
    if not found:
        return error_json("Runtime.InvalidEntrypoint",
                          f"RequestId: {request_id} Error: Couldn't find valid bootstrap(s): "
                          "[/var/task/bootstrap /opt/bootstrap]")
    if not os.access(found[0], os.X_OK):
        where = "/var/task/bootstrap" if found[0].parent == Path(spec.code_dir) else "/opt/bootstrap"
        return error_json("Runtime.InvalidEntrypoint",
                          f"RequestId: {request_id} Error: fork/exec {where}: permission denied")
    return None


def _bootstrap_path(spec: EnvironmentSpec, task: str, opt: str) -> str:
    if (Path(spec.code_dir) / "bootstrap").exists() or not any(
            (Path(p) / "bootstrap").exists() for p in spec.layer_dirs):
        return task + "/bootstrap"
    return opt + "/bootstrap"


def _covered(paths: list[str]) -> dict[str, list[str]]:
    """Where ``paths`` (resolved) would be out of the function's reach, and what to bind back.

    Under /tmp (replaced by the private /tmp): their top-level directory of /tmp. Under a
    directory the sandbox user may not enter (pyenv's interpreters under a 0700 /root): that
    directory is covered with an empty tmpfs and its child holding the path is bound back,
    so the rest of it (root's home) stays out of sight.
    """
    reveal: dict[str, set[str]] = {"/tmp": set()}
    for path in paths:
        parts = Path(os.path.realpath(path)).parts if path else ()
        if len(parts) > 2 and parts[1] == "tmp":
            reveal["/tmp"].add(f"/tmp/{parts[2]}")
            continue
        for depth in range(2, len(parts)):
            ancestor = os.path.join(*parts[:depth])
            try:
                closed = not os.stat(ancestor).st_mode & stat.S_IXOTH
            except OSError:
                break
            if closed:
                reveal.setdefault(ancestor, set()).add(os.path.join(ancestor, parts[depth]))
                break
    return {cover: sorted(kept) for cover, kept in reveal.items()}


def _make_readable_by_everyone(root: Path) -> None:
    """Functions run as the sandbox user, not as the owner of their code (root). Packages
    often hold owner-only files (``zipfile.writestr`` makes them 0600; the artifact store
    unpacks into a ``mkdtemp`` directory, 0700) that worked before functions stopped running
    as root: grant read (and search or execute where the owner has it) to group and others,
    once per directory tree. Nothing gets writable."""
    for directory, _, files in os.walk(root):
        _grant_read(directory)
        for name in files:
            _grant_read(os.path.join(directory, name))


def _grant_read(path: str) -> None:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return
    mode = stat.S_IMODE(st.st_mode)
    wanted = mode | 0o044 | (0o011 if mode & stat.S_IXUSR else 0)
    if wanted != mode:
        os.chmod(path, wanted)


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
