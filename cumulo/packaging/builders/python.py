"""Python functions and layers: the code copied, ``requirements.txt`` or ``pyproject.toml`` dependencies
installed next to it (a layer's under ``python/``, where Lambda puts it on ``sys.path``).

pip runs for the interpreter that will run the function here (the runtime's exact version when
installed, else the one Cumulo substitutes), so compiled wheels match it.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from cumulo.packaging.builders.files import copy_tree
from cumulo.packaging.builders.target import BuildTarget, Outcome
from cumulo.packaging.builders.tools import BuildError, run


def _interpreter(runtime: str) -> str:
    """The Python that runs ``runtime`` on this host, or this one when none is found."""
    from cumulo.runtime.installed import runtimes_dir
    from cumulo.runtime.runtimes import resolve
    from cumulo.settings import SettingsError, load_settings

    try:
        folder = runtimes_dir(load_settings({}).data_dir)
    except SettingsError:
        folder = None
    found = resolve(runtime, folder).installation if runtime.startswith("python") else None
    return found.path if found is not None else sys.executable


def _pyproject_requirements(pyproject: Path, target: BuildTarget) -> list[str]:
    try:
        project = tomllib.loads(pyproject.read_text()).get("project") or {}
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"{target.what}: {pyproject} is not valid TOML ({exc})") from exc
    if "dependencies" not in project:
        raise BuildError(f"{target.what}: {pyproject} has no [project] dependencies list (PEP 621): list the "
                         "function's dependencies there, or in a requirements.txt")
    return [str(item) for item in project["dependencies"]]


def build_python(target: BuildTarget, artifacts: Path, scratch: Path) -> Outcome:
    root = artifacts / "python" if target.is_layer else artifacts
    copy_tree(target.source, root)
    requirements = target.source / "requirements.txt"
    pyproject = target.source / "pyproject.toml"
    if requirements.is_file():
        manifest, label = requirements, "-r requirements.txt"
    elif pyproject.is_file():
        manifest, label = scratch / "requirements.txt", "(the dependencies of pyproject.toml)"
        manifest.write_text("\n".join(_pyproject_requirements(pyproject, target)) + "\n")
    else:
        return Outcome()
    interpreter = _interpreter(target.runtime)
    choose = [] if Path(interpreter) == Path(sys.executable) else ["--python", interpreter]
    run([sys.executable, "-m", "pip", *choose, "install", "--quiet", "--disable-pip-version-check",
         "--no-warn-script-location", "-r", str(manifest), "-t", str(root)],
        cwd=target.source, what=f"{target.what}: pip install {label}")
    return Outcome()
