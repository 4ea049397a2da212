"""Which Lambda runtimes this host can run, and with what.

* ``python3.X``: an interpreter of that minor version (see :mod:`cumulo.runtime.discovery`),
  running Cumulo's Python runtime in a process forked from that interpreter's zygote.
* ``nodejsN.x``: a ``node`` of major version N, running Cumulo's Node runtime (``node/index.mjs``).
* ``javaN``: a JDK of major version N, running Cumulo's Java runtime (``java/*.java``, compiled
  here on first use, see :mod:`cumulo.runtime.java_build`).
* ``ruby3.X``: a ``ruby`` of that minor version (PATH, rbenv, asdf), running Cumulo's Ruby runtime
  (``ruby/index.rb``); Cumulo does not install Ruby.
* ``provided``, ``provided.al2``, ``provided.al2023``: the function's own executable
  ``bootstrap`` in the code root, run on the host OS.

A runtime id AWS offers whose exact version is not installed is *substituted* by the nearest
installed version of the same language under ``substitution="nearest"`` (the default), and
refused under ``"strict"``; either way the message names ``cumulo runtimes install <id>``.
``dotnetN`` is known but not run (always *missing*, saying what to install or that a
``provided.al2023`` bootstrap runs a self-contained .NET build).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .catalog import AWS_RUNTIMES, MINOR_PINNED, PROVIDED, RUNNABLE_LANGUAGES, RuntimeId, parse, runtime_name
from .discovery import Installation, installations
from .spec import UnsupportedRuntimeError

NODE_RUNTIME_DIR = Path(__file__).parent / "node"
RUBY_RUNTIME_DIR = Path(__file__).parent / "ruby"
SUBSTITUTION_MODES = ("nearest", "strict")
Status = Literal["exact", "substituted", "missing"]


@dataclass(frozen=True)
class RuntimePlan:
    kind: str  # "python" | "node" | "java" | "ruby" | "provided"
    runtime: str  # the function's runtime id
    executable: str  # interpreter path; node path; "" for provided
    execution_env: str | None  # AWS_EXECUTION_ENV
    runs_as: str = ""  # the runtime id actually run (differs from ``runtime`` when substituted)


@dataclass(frozen=True)
class Resolution:
    """What runs ``runtime`` here: ``installation`` (None for provided and missing ones) and a note:
    for a substitution, the warning to show; for a missing runtime, how to get it."""

    runtime: str
    status: Status
    installation: Installation | None = None
    note: str = ""


def _key(runtime: RuntimeId | Installation) -> tuple[int, ...]:
    """The part of a version a runtime id pins: (3, 13) for Python and Ruby, (22,) for Node and Java."""
    return runtime.version[:2] if runtime.language in MINOR_PINNED else runtime.version[:1]


def _distance(wanted: RuntimeId, candidate: Installation) -> tuple[int, int]:
    """Nearest first; between two equally near versions, the newer."""
    a, b = _key(wanted)[-1], _key(candidate)[-1]
    return abs(a - b), -b


def install_command(runtime: str) -> str:
    return f"cumulo runtimes install {runtime}"


def _get_exact(runtime: str) -> str:
    """How to get the exact version of ``runtime``, for the middle of a sentence."""
    wanted = parse(runtime)
    if wanted is not None and wanted.language == "ruby":
        return f"installing Ruby {wanted.version_text} (rbenv, asdf or the OS package) runs it exactly"
    return f"`{install_command(runtime)}` installs the exact one"


def _missing_note(wanted: RuntimeId, found: list[Installation]) -> str:
    runtime = wanted.name
    if wanted.language == "python":
        minor = wanted.version_text
        return (f"The runtime {runtime} needs a Python {minor} interpreter: run `{install_command(runtime)}` "
                f"(uses uv), `pyenv install {minor}`, or install your OS package python{minor} so that it is on PATH.")
    if wanted.language == "node":
        return f"The runtime {runtime} needs Node.js {wanted.version_text}: run `{install_command(runtime)}`."
    if wanted.language == "java":
        return (f"The runtime {runtime} needs a Java {wanted.version_text} runtime (no JDK found here): run "
                f"`{install_command(runtime)}`, or install a JDK {wanted.version_text} so that `java` is on PATH "
                "(Cumulo compiles its Java runtime with the javac of any JDK of the host).")
    if wanted.language == "ruby":
        minor = wanted.version_text
        return (f"The runtime {runtime} needs a Ruby {minor} interpreter: install it (`rbenv install {minor}`, "
                "`asdf install ruby`, or your OS package ruby) so that `ruby` is on PATH; Cumulo does not "
                "install Ruby.")
    if wanted.language == "dotnet":
        return _dotnet_note(wanted, found)
    return (f"The runtime {runtime} is not supported by Cumulo yet: use a python3.x, nodejs*.x, java*, ruby3.x or "
            "provided.al2023 runtime (a provided runtime runs any executable 'bootstrap').")


def _dotnet_note(wanted: RuntimeId, found: list[Installation]) -> str:
    runtime, major = wanted.name, wanted.version[0]
    if not found:
        return (f"The runtime {runtime} needs the .NET {major} runtime (Microsoft.NETCore.App {major}.x), and no "
                f"`dotnet` is on PATH: install it (the OS package dotnet-runtime-{major}.0, or the dotnet-install "
                "script from https://dot.net). Meanwhile a self-contained .NET build named 'bootstrap' runs on "
                "provided.al2023.")
    versions = ", ".join(i.version_text for i in found)
    return (f"The runtime {runtime} is not run by Cumulo yet (.NET runtimes here: {versions}): publish the function "
            "self-contained as an executable 'bootstrap' (Amazon.Lambda.RuntimeSupport) and use provided.al2023.")


def resolve(runtime: str, runtimes_dir: Path | None = None) -> Resolution:
    """What would run ``runtime`` here (never raises; unknown ids are *missing*)."""
    if runtime in PROVIDED:
        return Resolution(runtime, "exact", None, "executable 'bootstrap' in the code root, run on the host")
    wanted = parse(runtime)
    if wanted is None:
        return Resolution(runtime, "missing", None, "Unknown runtime {!r}. Known: {}".format(
            runtime, ", ".join(AWS_RUNTIMES)))
    found = installations(wanted.language, runtimes_dir)
    if wanted.language not in RUNNABLE_LANGUAGES:
        return Resolution(runtime, "missing", None, _missing_note(wanted, found))
    exact = next((i for i in found if _key(i) == _key(wanted)), None)
    if exact is not None:
        return Resolution(runtime, "exact", exact)
    if found and runtime in AWS_RUNTIMES:  # ids AWS does not offer (python3.99) are never substituted
        nearest = min(found, key=lambda i: _distance(wanted, i))
        substitute = runtime_name(nearest.language, nearest.version)
        return Resolution(runtime, "substituted", nearest, (
            f"runtime {runtime} is not installed here: functions with it run on {substitute} "
            f"({nearest.version_text}, {nearest.path}); {_get_exact(runtime)}, "
            "CUMULO_RUNTIME_SUBSTITUTION=strict refuses such functions instead"))
    return Resolution(runtime, "missing", None, _missing_note(wanted, found))


def refusal(resolution: Resolution, substitution: str) -> str | None:
    """Why a function with this runtime cannot be created or run (None: it can)."""
    if resolution.status == "missing":
        return resolution.note
    found = resolution.installation
    if resolution.status == "substituted" and substitution == "strict" and found is not None:
        return (f"The runtime {resolution.runtime} is not installed on this host and runtime substitution is "
                f"strict ({_get_exact(resolution.runtime)}), or set CUMULO_RUNTIME_SUBSTITUTION=nearest "
                f"to run it on {runtime_name(found.language, found.version)}.")
    return None


def plan(runtime: str, runtimes_dir: Path | None = None, substitution: str = "nearest") -> RuntimePlan:
    """How to run ``runtime`` here; raises UnsupportedRuntimeError saying what to install."""
    resolution = resolve(runtime, runtimes_dir)
    problem = refusal(resolution, substitution)
    if problem:
        raise UnsupportedRuntimeError(problem)
    if runtime in PROVIDED:
        return RuntimePlan("provided", runtime, "", None, runtime)
    found = resolution.installation
    assert found is not None  # exact and substituted resolutions carry their installation
    return RuntimePlan(found.language, runtime, found.path, "AWS_Lambda_" + runtime,
                       runtime_name(found.language, found.version))


def supported_runtimes(runtimes_dir: Path | None = None) -> dict[str, str]:
    """Runtime id -> what runs it exactly on this host, oldest version first per language
    (substituted and missing ids left out)."""
    out: dict[str, str] = {}
    for language in RUNNABLE_LANGUAGES:
        chosen: dict[tuple[int, ...], Installation] = {}
        for found in installations(language, runtimes_dir):
            chosen.setdefault(_key(found), found)
        for _, found in sorted(chosen.items()):
            out[runtime_name(language, found.version)] = f"{found.path} ({found.version_text})"
    for name in PROVIDED:
        out[name] = resolve(name).note
    return out


def install_hint(runtime: str, runtimes_dir: Path | None = None) -> str | None:
    """None if ``runtime`` runs here exactly, else what to install."""
    resolution = resolve(runtime, runtimes_dir)
    return None if resolution.status == "exact" else resolution.note
