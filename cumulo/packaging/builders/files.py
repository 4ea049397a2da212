"""Copying and hashing source trees: what a build reads, and what it leaves out."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Collection, Iterator
from pathlib import Path

from cumulo.packaging.package import IGNORED

# Left out of every copy: SAM's and Cumulo's own folders, VCS data, caches of tools.
COPY_EXCLUDED = frozenset(IGNORED | {".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox"})


def files_of(root: Path, excluded: Collection[str]) -> Iterator[Path]:
    """Every file under ``root`` (sorted, symlinks followed) whose path has no part named in ``excluded``."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and not excluded & set(path.relative_to(root).parts):
            yield path


def tree_hash(root: Path, excluded: Collection[str]) -> str:
    """The sha256 of the tree's relative paths, contents and executable bits."""
    digest = hashlib.sha256()
    for path in files_of(root, frozenset(excluded)):
        executable = b"x" if path.stat().st_mode & 0o100 else b"-"
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + executable + path.read_bytes() + b"\0")
    return digest.hexdigest()


def copy_tree(source: Path, target: Path, excluded: Collection[str] = COPY_EXCLUDED) -> None:
    """Copy ``source`` into ``target`` (created if needed), leaving out ``excluded`` names at any depth."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*excluded), dirs_exist_ok=True, symlinks=False)
