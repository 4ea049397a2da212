"""The layout of the runtimes Cumulo installs into ``<data-dir>/runtimes/``.

One folder per installation, named ``<language>-<version>`` (``node-22.20.0``, ``java-21.0.5``,
``python-3.14.0``), holding ``bin/<executable>`` (Python: uv's own layout one level deeper).
Installers build a folder under a temporary name and rename it into place when it is complete,
which is also what tells a running server (by the folder's mtime) to look again.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

RUNTIMES_FOLDER = "runtimes"
_FOLDER = re.compile(r"^(python|node|java)-(\d+(?:\.\d+)*)$")
_EXECUTABLE = {"node": "node", "java": "java"}


def runtimes_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / RUNTIMES_FOLDER


def folder_name(language: str, version: tuple[int, ...]) -> str:
    return f"{language}-{'.'.join(map(str, version))}"


def executables(root: Path, language: str) -> list[tuple[tuple[int, ...], Path]]:
    """(version, executable) of every complete installation of ``language`` under ``root``, newest first."""
    found = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    for entry in entries:
        m = _FOLDER.match(entry.name)
        if not m or m.group(1) != language:
            continue
        version = tuple(int(part) for part in m.group(2).split("."))
        binary = _executable(entry, language, version)
        if binary is not None:
            found.append((version, binary))
    return sorted(found, reverse=True)


def _executable(folder: Path, language: str, version: tuple[int, ...]) -> Path | None:
    if language == "python":
        name = f"python{version[0]}.{version[1]}"
        candidates = [folder / "bin" / name, *sorted(folder.glob(f"*/bin/{name}"))]
    else:
        candidates = [folder / "bin" / _EXECUTABLE[language]]
    return next((c for c in candidates if os.access(c, os.X_OK) and c.is_file()), None)
