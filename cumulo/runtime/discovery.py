"""Finding the language runtimes on this host: Python interpreters, Node.js and JDKs.

Places looked at, in order (the first installation of a version wins): the platform's own
interpreter (Python), PATH, pyenv (``~/.pyenv/versions``), nvm, asdf, uv's Python directory, and
the runtimes Cumulo installed under ``<data-dir>/runtimes/`` (see :mod:`cumulo.runtime.installed`).

Host places are read once per process.  Installed runtimes are re-read whenever the
``runtimes`` folder changes (its mtime): an installer renames each finished runtime into it, so
a running server sees a new runtime at the next environment it starts, without a restart.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import installed
from .catalog import MIN_PYTHON

_PYTHON_NAME = re.compile(r"^python3\.(\d+)$")
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Installation:
    """One runtime found on the host: ``Installation("node", (22, 20, 0), "/.../bin/node", "cumulo")``."""

    language: str  # "python" | "node" | "java" | "ruby" | "dotnet"
    version: tuple[int, ...]  # as precise as known: (3, 13) from a name, (3, 13, 0) from a folder
    path: str  # the interpreter or executable
    source: str  # where it was found: "platform", "PATH", "pyenv", "nvm", "asdf", "uv", "cumulo"

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def installations(language: str, runtimes_dir: Path | None) -> list[Installation]:
    """Every installation of ``language`` found here, host ones first, then Cumulo's own."""
    return [*_host(language), *_installed(language, runtimes_dir, _stamp(runtimes_dir))]


def _stamp(runtimes_dir: Path | None) -> int | None:
    try:
        return runtimes_dir.stat().st_mtime_ns if runtimes_dir is not None else None
    except OSError:
        return None


@functools.lru_cache(maxsize=16)
def _installed(language: str, runtimes_dir: Path | None, stamp: int | None) -> tuple[Installation, ...]:
    """Cumulo's installations of ``language``; ``stamp`` (the folder's mtime) invalidates the cache."""
    if runtimes_dir is None or stamp is None:
        return ()
    found = [Installation(language, version, str(path), "cumulo")
             for version, path in installed.executables(runtimes_dir, language)]
    return tuple(found)


@functools.lru_cache(maxsize=4)
def _host(language: str) -> tuple[Installation, ...]:
    if language == "python":
        return tuple(_host_pythons())
    if language == "node":
        return tuple(_host_nodes())
    if language == "java":
        return tuple(_host_javas())
    if language == "ruby":
        return tuple(_host_rubies())
    if language == "dotnet":
        return tuple(_host_dotnets())
    return ()


def _folder_version(path: Path) -> tuple[int, ...] | None:
    """``3.13.0``, ``v22.1.0`` or ``cpython-3.13.0-linux-x86_64-gnu`` -> (3, 13, 0)."""
    m = _VERSION.search(path.name)
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


def _subdirs(root: Path) -> list[Path]:
    try:
        return sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: _folder_version(p) or (), reverse=True)
    except OSError:
        return []


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _asdf_installs(plugin: str) -> list[Path]:
    return _subdirs(Path(os.environ.get("ASDF_DATA_DIR", Path.home() / ".asdf")) / "installs" / plugin)


def _python_dirs() -> Iterator[tuple[str, str, tuple[int, ...] | None]]:
    """(directory, source, version of the folder if it names one) to look for ``python3.X`` in."""
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if d and not d.endswith("shims"):
            yield d, "PATH", None
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for folder in _subdirs(pyenv):
        yield str(folder / "bin"), "pyenv", _folder_version(folder)
    for folder in _asdf_installs("python"):
        yield str(folder / "bin"), "asdf", _folder_version(folder)
    for folder in _subdirs(Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or _data_home() / "uv" / "python")):
        yield str(folder / "bin"), "uv", _folder_version(folder)


def _host_pythons() -> Iterator[Installation]:
    yield Installation("python", tuple(sys.version_info[:3]), sys.executable, "platform")
    for directory, source, folder_version in _python_dirs():
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            m = _PYTHON_NAME.match(name)
            if not m or (3, int(m.group(1))) < MIN_PYTHON:
                continue
            path = os.path.join(directory, name)
            if os.access(path, os.X_OK) and os.path.isfile(path):
                version = (3, int(m.group(1)))
                if folder_version and folder_version[:2] == version:
                    version = folder_version
                yield Installation("python", version, path, source)


def _probe(argv: list[str], stream: str = "stdout") -> tuple[int, ...] | None:
    """The first version number an executable prints for ``argv`` (``node --version``, ``java -version``)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    m = _VERSION.search(getattr(done, stream))
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


def _executables_in(folders: Iterable[Path], name: str) -> Iterator[tuple[Path, tuple[int, ...]]]:
    for folder in folders:
        binary, version = folder / "bin" / name, _folder_version(folder)
        if version and os.access(binary, os.X_OK):
            yield binary, version


def _host_nodes() -> Iterator[Installation]:
    on_path = shutil.which("node")
    if on_path:
        version = _probe([on_path, "--version"])
        if version:
            yield Installation("node", version, on_path, "PATH")
    nvm = Path(os.environ.get("NVM_DIR", Path.home() / ".nvm")) / "versions" / "node"
    for binary, version in _executables_in(_subdirs(nvm), "node"):
        yield Installation("node", version, str(binary), "nvm")
    for binary, version in _executables_in(_asdf_installs("nodejs"), "node"):
        yield Installation("node", version, str(binary), "asdf")


def _jdk_version(home: Path) -> tuple[int, ...] | None:
    """A JDK's version from its ``release`` file (``JAVA_VERSION="21.0.5"``)."""
    try:
        text = (home / "release").read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r'^JAVA_VERSION="(\d+(?:\.\d+)*)', text, re.MULTILINE)
    return tuple(int(part) for part in m.group(1).split(".")) if m else None


def _host_javas() -> Iterator[Installation]:
    """PATH's java, JAVA_HOME, the OS packages' JDKs (``/usr/lib/jvm``) and asdf's; one per JDK."""
    seen: set[str] = set()

    def found(binary: str, version: tuple[int, ...] | None, source: str) -> Iterator[Installation]:
        real = os.path.realpath(binary)
        if version and real not in seen and os.access(real, os.X_OK):
            seen.add(real)
            yield Installation("java", version, binary, source)

    on_path = shutil.which("java")
    if on_path:
        yield from found(on_path, _jdk_version(Path(os.path.realpath(on_path)).parent.parent)
                         or _probe([on_path, "-version"], "stderr"), "PATH")
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        yield from found(os.path.join(java_home, "bin", "java"), _jdk_version(Path(java_home)), "JAVA_HOME")
    for home in _subdirs(Path("/usr/lib/jvm")):
        if not home.is_symlink():
            yield from found(str(home / "bin" / "java"), _jdk_version(home), "/usr/lib/jvm")
    for binary, version in _executables_in(_asdf_installs("java"), "java"):
        yield from found(str(binary), version, "asdf")


def _host_rubies() -> Iterator[Installation]:
    on_path = shutil.which("ruby")
    if on_path:
        version = _probe([on_path, "--version"])
        if version:
            yield Installation("ruby", version, on_path, "PATH")
    rbenv = Path(os.environ.get("RBENV_ROOT", Path.home() / ".rbenv")) / "versions"
    for binary, version in _executables_in(_subdirs(rbenv), "ruby"):
        yield Installation("ruby", version, str(binary), "rbenv")
    for binary, version in _executables_in(_asdf_installs("ruby"), "ruby"):
        yield Installation("ruby", version, str(binary), "asdf")


def _host_dotnets() -> Iterator[Installation]:
    """The .NET runtimes ``dotnet --list-runtimes`` names (``Microsoft.NETCore.App 8.0.11 [/usr/...]``)."""
    dotnet = shutil.which("dotnet")
    if not dotnet:
        return
    try:
        listing = subprocess.run([dotnet, "--list-runtimes"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return
    for m in re.finditer(r"^Microsoft\.NETCore\.App (\d+)\.(\d+)\.(\d+)", listing, re.MULTILINE):
        yield Installation("dotnet", tuple(int(g) for g in m.groups()), dotnet, "PATH")
