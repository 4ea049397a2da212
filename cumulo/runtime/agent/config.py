"""The init agent's configuration: what the platform decided about one environment.

Built on the platform side (:mod:`cumulo.runtime.launch_plan`), it crosses into the
environment as JSON (:meth:`AgentConfig.to_json` / :meth:`AgentConfig.from_json`) and is read
by the agent and by the runtime process it forks.

These are plain classes with explicit ``__slots__`` fields rather than ``dataclasses``: the
agent is imported by every zygote, also under the function's own interpreter (Python 3.8 and
newer), and ``import dataclasses`` pulls in ``inspect`` (tens of milliseconds), which would
lengthen every zygote start.
"""

from __future__ import annotations


class _Record:
    """Fields are the ``__slots__``; JSON is a flat object of them (nested records excepted)."""

    __slots__ = ()

    def _fields(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def to_json(self) -> dict:
        return self._fields()

    @classmethod
    def from_json(cls, data: dict):  # -> the class it is called on
        return cls(**data)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._fields().items())})"


class FunctionInfo(_Record):
    """The function as extensions and telemetry see it (register reply, platform events)."""

    __slots__ = ("account", "handler", "initialization_type", "name", "runtime_version", "runtime_version_arn",
                 "version")

    def __init__(self, name: str, version: str, handler: str, account: str, initialization_type: str,
                 runtime_version: str, runtime_version_arn: str) -> None:
        self.name = name
        self.version = version
        self.handler = handler
        self.account = account
        self.initialization_type = initialization_type  # "on-demand" | "provisioned-concurrency"
        self.runtime_version = runtime_version
        self.runtime_version_arn = runtime_version_arn


class RuntimeCommand(_Record):
    """How the runtime process starts: Cumulo's Python runtime in-process (``python_handler``),
    or a command (``argv``); either one behind an ``AWS_LAMBDA_EXEC_WRAPPER`` script."""

    __slots__ = ("argv", "bootstrap", "python_handler", "sys_path", "wrapper")

    def __init__(self, argv: list[str] | None = None, python_handler: str | None = None,
                 sys_path: list[str] | None = None, wrapper: str | None = None,
                 bootstrap: str | None = None) -> None:
        self.argv = argv or []
        self.python_handler = python_handler
        self.sys_path = sys_path or []
        self.wrapper = wrapper
        self.bootstrap = bootstrap  # the Python runtime as a script, for a wrapper to exec


class AgentConfig(_Record):
    """Everything the agent needs to run one environment."""

    __slots__ = ("cwd", "env", "extensions_dir", "function", "measure_rss", "oom_protect", "peer_check",
                 "rlimit_data", "rlimit_nofile", "runtime", "sandbox_user", "telemetry")

    def __init__(self, env: dict[str, str], cwd: str, function: FunctionInfo, runtime: RuntimeCommand, *,
                 telemetry: bool, peer_check: bool, sandbox_user: list[int] | None, oom_protect: bool,
                 measure_rss: bool, rlimit_nofile: int | None, rlimit_data: int | None = None,
                 extensions_dir: str | None = None) -> None:
        self.env = env  # the function's environment variables (AWS_LAMBDA_RUNTIME_API is added inside)
        self.cwd = cwd
        self.function = function
        self.runtime = runtime
        self.telemetry = telemetry  # give the runtime AWS's framed telemetry log fd
        self.peer_check = peer_check  # accept Runtime API connections from this environment only
        self.sandbox_user = sandbox_user  # [uid, gid] the function runs as, without capabilities; None: as is
        self.oom_protect = oom_protect  # the agent is never the OOM killer's choice
        self.measure_rss = measure_rss  # report peak RSS with each result (no cgroup to ask)
        self.rlimit_nofile = rlimit_nofile
        self.rlimit_data = rlimit_data  # memory limit without a cgroup, in bytes
        self.extensions_dir = extensions_dir  # where external extensions are (when a layer has any)

    def to_json(self) -> dict:
        data = self._fields()
        data["function"] = self.function.to_json()
        data["runtime"] = self.runtime.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict) -> AgentConfig:
        data = dict(data)
        function = FunctionInfo.from_json(data.pop("function"))
        runtime = RuntimeCommand.from_json(data.pop("runtime"))
        return cls(data.pop("env"), data.pop("cwd"), function, runtime, **data)
