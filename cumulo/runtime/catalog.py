"""The AWS Lambda runtime ids Cumulo knows, and which language and version each one names."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Every runtime id AWS accepts for new functions, in the order ``cumulo runtimes`` lists them.
AWS_RUNTIMES = (
    "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
    "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x",
    "java11", "java17", "java21", "java25",
    "dotnet8",
    "ruby3.2", "ruby3.3", "ruby3.4",
    "provided", "provided.al2", "provided.al2023",
)
PROVIDED = ("provided", "provided.al2", "provided.al2023")
MIN_PYTHON = (3, 9)  # the oldest AWS still runs; current boto3 needs it too
# Languages Cumulo runs with an interpreter (or JDK) it finds or installs.
RUNNABLE_LANGUAGES = ("python", "node", "java", "ruby")
MINOR_PINNED = ("python", "ruby")  # runtime ids that name a minor version (python3.13, ruby3.3)

_PATTERNS = (
    ("python", re.compile(r"^python(3)\.(\d+)$")),
    ("node", re.compile(r"^nodejs(\d+)\.x$")),
    ("java", re.compile(r"^java(\d+)$")),
    ("dotnet", re.compile(r"^dotnet(\d+)$")),
    ("ruby", re.compile(r"^ruby(\d+)\.(\d+)$")),
)


@dataclass(frozen=True)
class RuntimeId:
    """``python3.13`` -> language "python", version (3, 13); ``nodejs22.x`` -> "node", (22,)."""

    name: str
    language: str
    version: tuple[int, ...]

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def parse(runtime: str) -> RuntimeId | None:
    """The language and version a runtime id names; None for ids that name neither (``provided``...)."""
    for language, pattern in _PATTERNS:
        m = pattern.match(runtime)
        if m:
            return RuntimeId(runtime, language, tuple(int(g) for g in m.groups()))
    return None


def runtime_name(language: str, version: tuple[int, ...]) -> str:
    """The runtime id for an installed version: (python, (3, 13, 1)) -> ``python3.13``."""
    if language in MINOR_PINNED:
        return f"{language}{version[0]}.{version[1]}"
    if language == "node":
        return f"nodejs{version[0]}.x"
    return f"{language}{version[0]}"
