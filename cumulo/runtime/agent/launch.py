"""Starting the environment's processes: the runtime and the external extensions.

The runtime process is forked ahead of time (:meth:`Launcher.prepare`, in a blank
environment, before the function is known) and waits on a pipe for its configuration;
:meth:`Launcher.start_runtime` sends it.  External extensions (the files of
``/opt/extensions``) are forked and exec'd at once when the environment gets its function.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys

from .. import sandbox
from . import extensions_api
from .config import AgentConfig


class Launcher:
    """The Runtime API socket, the output pipes and the processes writing to them."""

    def __init__(self) -> None:
        self.runtime_pid = 0
        self.ext_r = -1  # extensions' stdout/stderr
        self.agent_only: tuple[int, ...] = ()  # descriptors the runtime process must not hold

    def prepare(self, sandbox_user: list[int] | None) -> None:
        """Open the Runtime API socket and the output pipes; fork the runtime process, which
        becomes ``sandbox_user`` (see :func:`cumulo.runtime.sandbox.confine`) while it waits."""
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]

        self.out_r, out_w = os.pipe()
        self.tel_r, tel_w = os.pipe()
        cfg_r, self.cfg_w = os.pipe()
        self.sig_r, sig_w = os.pipe()
        os.set_blocking(self.sig_r, False)
        os.set_blocking(sig_w, False)
        signal.set_wakeup_fd(sig_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # not SIG_IGN: the runtime's exit must be seen

        pid = os.fork()
        if pid == 0:
            self._runtime_child(cfg_r, out_w, tel_w, sig_w, sandbox_user)
        self.runtime_pid = pid
        for fd in (out_w, tel_w, cfg_r):
            os.close(fd)
        os.set_blocking(self.out_r, False)
        os.set_blocking(self.tel_r, False)

    def start_runtime(self, config: AgentConfig) -> None:
        """Let the waiting runtime process go: hand it its configuration."""
        data = json.dumps(config.to_json()).encode()
        while data:
            data = data[os.write(self.cfg_w, data):]
        os.close(self.cfg_w)

    def _runtime_child(self, cfg_r: int, out_w: int, tel_w: int, sig_w: int, sandbox_user: list[int] | None) -> None:
        """The runtime process: wait for the config, wire fds, environment and limits, run."""
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (self.out_r, self.tel_r, self.sig_r, sig_w, self.cfg_w, self.listener.fileno(),
                       *self.agent_only):
                os.close(fd)
            if sandbox_user:
                sandbox.confine(sandbox_user)
            data = b""
            while True:
                chunk = os.read(cfg_r, 1 << 16)
                if not chunk:
                    break
                data += chunk
            os.close(cfg_r)
            if not data:
                os._exit(0)
            config = AgentConfig.from_json(json.loads(data))
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.close(out_w)
            env = dict(config.env)
            env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.port}"
            if config.telemetry:
                env["_LAMBDA_TELEMETRY_LOG_FD"] = str(tel_w)
                os.set_inheritable(tel_w, True)
            else:
                os.close(tel_w)
            sandbox.enter_runtime_process(sandbox_user=None, rlimit_data=config.rlimit_data,  # confined already
                                          rlimit_nofile=config.rlimit_nofile)
            os.chdir(config.cwd)
            rt = config.runtime
            if rt.wrapper and rt.python_handler is not None:  # AWS_LAMBDA_EXEC_WRAPPER: a real exec
                env["_CUMULO_PY_HANDLER"] = rt.python_handler
                env["_CUMULO_PY_SYS_PATH"] = json.dumps(rt.sys_path)
                os.execve(rt.wrapper, [rt.wrapper, sys.executable, rt.bootstrap], env)
            if rt.wrapper:
                os.execve(rt.wrapper, [rt.wrapper, *rt.argv], env)
            if rt.python_handler is not None:
                os.environ.clear()
                os.environ.update(env)
                from .. import python_runtime

                python_runtime.main(rt.python_handler, rt.sys_path)
                os._exit(0)
            os.execvpe(rt.argv[0], rt.argv, env)
        except BaseException as e:  # exec failures end up as a Runtime.* init error
            code = 127
            if isinstance(e, SystemExit):
                code = e.code if isinstance(e.code, int) else 1
            else:
                try:
                    os.write(2, (f"{type(e).__name__}: {e}\n").encode())
                except OSError:
                    pass
            os._exit(code)

    def launch_extensions(self, config: AgentConfig) -> tuple[list[tuple[str, int]], str | None]:
        """Start every file of the extensions directory at once: ``([(name, pid)...], launch error or None)``.

        Their stdout/stderr go to one pipe, :attr:`ext_r` (-1 when there are none)."""
        directory = config.extensions_dir
        try:
            names = sorted(n for n in os.listdir(directory) if os.path.isfile(os.path.join(directory, n))) \
                if directory else []
        except OSError:
            names = []
        if not names:
            return [], None
        if len(names) > extensions_api.MAX_EXTENSIONS:
            return [], f"too many extensions: {len(names)} (the limit is {extensions_api.MAX_EXTENSIONS})"
        self.ext_r, ext_w = os.pipe()
        env = dict(config.env)
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.port}"
        launched = []
        problem = None
        for name in names:
            path = os.path.join(directory, name)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            pid = os.fork()
            if pid == 0:
                _extension_child(config, path, env, ext_w, err_w)
            os.close(err_w)
            failure = b""
            while True:  # the exec closes the pipe; a failed exec writes why
                chunk = os.read(err_r, 256)
                if not chunk:
                    break
                failure += chunk
            os.close(err_r)
            if failure:
                problem = problem or f"fork/exec {path}: {failure.decode(errors='replace')}"
                continue
            launched.append((name, pid))
        os.close(ext_w)
        os.set_blocking(self.ext_r, False)
        return launched, problem


def _extension_child(config: AgentConfig, path: str, env: dict, out_w: int, err_w: int) -> None:
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.dup2(err_w, 3)
        os.set_inheritable(3, False)
        os.closerange(4, 65536)
        _enter_runtime_process(config)
        os.chdir(config.cwd or "/")
        os.execve(path, [path], env)
    except OSError as e:
        reason = "permission denied" if e.errno in (errno.EACCES, errno.EPERM) else (e.strerror or str(e))
        try:
            os.write(3, reason.lower().encode())
        except OSError:
            pass
    except BaseException:
        pass
    os._exit(127)


def _enter_runtime_process(config: AgentConfig) -> None:
    sandbox.enter_runtime_process(sandbox_user=config.sandbox_user, rlimit_data=config.rlimit_data,
                                  rlimit_nofile=config.rlimit_nofile)
