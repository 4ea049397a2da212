"""The README and the example and starter READMEs run as written, in order, as a new user runs them.

Each document's fenced blocks run in document order against a real server that this test starts
on a free port, in a fresh temporary directory (with its own ``HOME`` and ``XDG_STATE_HOME``, and
a copy of ``examples/``). ``127.0.0.1:4566`` in a block becomes that server's address, and
``CUMULO_PORT`` is set, so ``cumulo env``, ``cumulo dev`` and the other commands find it.

Which blocks run:

* untagged, ``sh``, ``bash``, ``shell`` or ``console`` blocks are shell commands: bash runs each
  with ``set -eo pipefail`` (any failing command fails the test), variables carry over from block
  to block (``API=$(...)`` in one, ``$API`` in the next) and from one document to the next, and so
  does the working directory within a document;
* ``python`` / ``py`` blocks run in one namespace per document (later blocks use earlier names),
  with the environment the shell blocks set up so far;
* other tags (``text``, ``toml``, ``json``, ``yaml``...) are not run: tag diagrams and sample
  output ``text``.

Markers: an HTML comment on the line just before a block changes how it runs.

* ``<!-- docs-test: skip -->`` (any reason may follow ``skip``): not run, e.g. ``cumulo serve``
  (this test runs the server) or the full test suite.
* ``<!-- docs-test: background until "TEXT" -->``: a long-running command (``cumulo dev``) starts in
  the background; the next block runs once it has printed TEXT; it is interrupted (Ctrl-C) when the
  document ends.

Documents: README.md and examples/shop/README.md from the temporary directory; each starter's
README from a project ``cumulo init`` created (the order-flow starter is the shop example).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.server import PROJECT_ROOT, CumuloServer, subprocess_env, wait_for

SHELL_TAGS = {"", "sh", "bash", "shell", "console"}
PYTHON_TAGS = {"python", "py"}
MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<kind>skip|background)(?:\s+until\s+\"(?P<until>[^\"]+)\")?[^>]*-->")
FENCE = re.compile(r"^```(?P<tag>[\w+-]*)\s*$")
BLOCK_TIMEOUT = 240
STARTERS = ("http-api", "queue-worker")  # order-flow's README is examples/shop's


@dataclass
class Block:
    document: str
    line: int
    tag: str
    code: str
    marker: str | None = None
    until: str | None = None


def blocks(path: Path, name: str) -> list[Block]:
    """The fenced blocks of a Markdown file, each with the marker on the line before it, if any."""
    found, lines = [], path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = MARKER.search(previous)
        found.append(Block(name, index + 1, opening.group("tag").lower(), "\n".join(lines[index + 1:end]) + "\n",
                           marker.group("kind") if marker else None, marker.group("until") if marker else None))
        index = end + 1
    return found


@dataclass
class Session:
    """A user's shell session: exported variables (kept in a file bash sources), background commands."""

    root: Path
    server: CumuloServer
    state: Path = field(init=False)
    background: list[tuple[subprocess.Popen[str], list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = self.root / ".docs-test-state.sh"
        home = self.root / "home"
        home.mkdir()
        environment = {key: value for key, value in subprocess_env().items()
                       if not key.startswith(("AWS_", "CUMULO_", "BOTO_"))}
        environment.update(HOME=str(home), XDG_STATE_HOME=str(self.root / "state"), CUMULO_PORT=str(self.server.port),
                           PATH=os.pathsep.join([str(Path(sys.executable).parent), environment.get("PATH", "")]),
                           COLUMNS="200", NO_COLOR="1", PYTHONUNBUFFERED="1")
        self.environment = environment
        self.state.write_text("")

    def code(self, block: Block) -> str:
        return block.code.replace("127.0.0.1:4566", f"127.0.0.1:{self.server.port}").replace(
            "localhost:4566", f"localhost:{self.server.port}")

    def script(self, block: Block, cwd: Path, save: bool = True) -> str:
        # Every assignment is exported (set -a), so that the next block (a new bash) sees it.
        script = f"set -a\n. {self.state}\ncd {cwd}\nset -eo pipefail\n{self.code(block)}\n"
        if save:
            script += (f"set +e\nexport -p > {self.state}.next && mv {self.state}.next {self.state}\n"
                       f"pwd > {self.state}.cwd\n")
        return script

    def shell(self, block: Block, cwd: Path) -> Path:
        """Run a shell block; the working directory it ends in."""
        result = subprocess.run(["bash", "-c", self.script(block, cwd)], capture_output=True, text=True,
                                env=self.environment, timeout=BLOCK_TIMEOUT)
        if result.returncode != 0:
            pytest.fail(f"{block.document}:{block.line} failed ({result.returncode}):\n{block.code}\n"
                        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
                        f"{self.background_output()}", pytrace=False)
        return Path((self.root / f"{self.state.name}.cwd").read_text().strip())

    def start(self, block: Block, cwd: Path) -> None:
        """Start a long-running block in the background; return once it has printed its text."""
        process = subprocess.Popen(["bash", "-c", self.script(block, cwd, save=False)], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, env=self.environment, start_new_session=True)
        output: list[str] = []
        threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
        self.background.append((process, output))

        def printed() -> bool:
            if block.until in "".join(output):
                return True
            if process.poll() is not None:
                pytest.fail(f"{block.document}:{block.line} exited ({process.returncode}) before printing "
                            f"{block.until!r}:\n{''.join(output)[-3000:]}", pytrace=False)
            return False

        wait_for(printed, timeout=BLOCK_TIMEOUT, interval=0.1, message=f"{block.document}:{block.line}")

    def python_environment(self) -> dict[str, str]:
        """The variables the shell blocks exported so far (``eval "$(cumulo env)"``...)."""
        result = subprocess.run(["bash", "-c", f"set -a; . {self.state}; env -0"], capture_output=True, text=True,
                                env=self.environment, check=True)
        return dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)

    def background_output(self) -> str:
        return "".join(f"\n--- background command\n{''.join(output)[-2000:]}" for _, output in self.background)

    def stop_background(self) -> None:
        for process, _ in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process, _ in self.background:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.background.clear()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    root = tmp_path_factory.mktemp("new-user")
    server = CumuloServer(tmp_path_factory.mktemp("docs-server") / "data").start(timeout=60)
    shutil.copytree(PROJECT_ROOT / "examples", root / "examples", symlinks=False,
                    ignore=shutil.ignore_patterns(".cumulo", ".cumulo-build", "__pycache__"))
    user = Session(root, server)
    try:
        yield user
    finally:
        user.stop_background()
        server.stop()


def run_document(session: Session, path: Path, name: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    try:
        for block in blocks(path, name):
            started = time.monotonic()
            if block.marker == "skip" or block.tag not in SHELL_TAGS | PYTHON_TAGS:
                continue
            if block.marker == "background":
                session.start(block, cwd)
            elif block.tag in SHELL_TAGS:
                cwd = session.shell(block, cwd)
            else:
                with monkeypatch.context() as patch:
                    patch.chdir(cwd)
                    for key, value in session.python_environment().items():
                        patch.setenv(key, value)
                    try:
                        exec(compile(session.code(block), f"{name}:{block.line}", "exec"), namespace)
                    except Exception as error:
                        pytest.fail(f"{name}:{block.line} raised {error!r}:\n{block.code}"
                                    f"{session.background_output()}", pytrace=False)
            print(f"docs-test: {name}:{block.line} {time.monotonic() - started:.1f} s", file=sys.stderr)
    finally:
        session.stop_background()


@pytest.mark.timeout(900)
def test_the_readmes_run_as_written(session: Session, monkeypatch: pytest.MonkeyPatch):
    run_document(session, PROJECT_ROOT / "README.md", "README.md", session.root, monkeypatch)
    shop = session.root / "examples" / "shop"
    run_document(session, shop / "README.md", "examples/shop/README.md", session.root, monkeypatch)
    for starter in STARTERS:
        project = session.root / f"my-{starter}"
        created = subprocess.run(["cumulo", "init", str(project), "--template", starter], capture_output=True,
                                 text=True, env=session.environment, timeout=60)
        assert created.returncode == 0, created.stderr
        assert (project / ".gitignore").is_file() and (project / "tests").is_dir()
        run_document(session, project / "README.md", f"starters/{starter}/README.md", project, monkeypatch)
