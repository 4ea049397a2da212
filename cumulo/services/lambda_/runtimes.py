"""CreateFunction's runtime check: refuse what the host cannot run, warn about what it substitutes.

A runtime the host cannot run is refused here rather than failing at invoke time, with a message
naming what to install; one run on a nearby version instead (see :mod:`cumulo.runtime.runtimes`)
is accepted with a warning the caller logs.
"""

from __future__ import annotations

from cumulo.runtime import runtimes
from cumulo.runtime.installed import runtimes_dir
from cumulo.settings import Settings

# Runtimes AWS no longer accepts for new functions, with the successor AWS recommends.
DEPRECATED = {
    "python2.7": "python3.12", "python3.6": "python3.12", "python3.7": "python3.12",
    "python3.8": "python3.12",
    "nodejs": "nodejs20.x", "nodejs4.3": "nodejs20.x", "nodejs4.3-edge": "nodejs20.x",
    "nodejs6.10": "nodejs20.x", "nodejs8.10": "nodejs20.x", "nodejs10.x": "nodejs20.x",
    "nodejs12.x": "nodejs20.x", "nodejs14.x": "nodejs20.x", "nodejs16.x": "nodejs20.x",
    "dotnetcore1.0": "dotnet8", "dotnetcore2.0": "dotnet8", "dotnetcore2.1": "dotnet8",
    "dotnetcore3.1": "dotnet8", "dotnet6": "dotnet8", "ruby2.5": "ruby3.3", "ruby2.7": "ruby3.3",
    "java8": "java21",
}
# Deprecated runtimes whose refusal names no successor (AWS's wording for go1.x: its functions move
# to an OS-only runtime, provided.al2023, with the code built into a ``bootstrap``).
DEPRECATED_WITHOUT_SUCCESSOR = frozenset({"go1.x"})


def unsupported_reason(runtime: str, settings: Settings) -> str | None:
    """None when the host can run ``runtime`` (exactly or substituted); otherwise the message for the caller."""
    if runtime in DEPRECATED_WITHOUT_SUCCESSOR:
        return (f"The runtime parameter of {runtime} is no longer supported for creating or updating "
                "AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.")
    if runtime in DEPRECATED:
        return (f"The runtime parameter of {runtime} is no longer supported for creating or updating "
                f"AWS Lambda functions. We recommend you use the new runtime ({DEPRECATED[runtime]}) "
                "while creating or updating functions.")
    resolution = runtimes.resolve(runtime, runtimes_dir(settings.data_dir))
    return runtimes.refusal(resolution, settings.runtime_substitution)


def substitution_warning(runtime: str, settings: Settings) -> str | None:
    """The warning for a function whose runtime runs on another version here (None: runs exactly)."""
    resolution = runtimes.resolve(runtime, runtimes_dir(settings.data_dir))
    return resolution.note if resolution.status == "substituted" else None
