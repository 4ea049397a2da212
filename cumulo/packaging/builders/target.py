"""What one build is about: a function's or layer's source and how SAM's rules say to build it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Build methods (the ``method`` of a target) and the tool each runs.
METHODS = {
    "python": "pip",
    "nodejs": "npm",
    "esbuild": "esbuild",
    "makefile": "make",
    "java-maven": "Maven",
    "java-gradle": "Gradle",
    "java-javac": "javac",
    "go": "go build",
    "rust": "Cargo",
}


@dataclass(frozen=True)
class BuildTarget:
    logical_id: str
    resource_type: str
    code_property: str  # CodeUri, Code, ContentUri or Content: what the built template points at the artifact
    source: Path
    method: str  # a key of METHODS
    runtime: str = ""  # the function's runtime, or the runtime a layer's BuildMethod names
    handler: str = ""
    architecture: str = "x86_64"  # x86_64 | arm64
    properties: Mapping[str, Any] = field(default_factory=dict)  # Metadata.BuildProperties
    environment: Mapping[str, Any] = field(default_factory=dict)  # the function's Environment.Variables
    is_layer: bool = False

    @property
    def what(self) -> str:
        """How messages name this target: ``Fn (esbuild)``."""
        return f"{self.logical_id} ({METHODS[self.method]})"


@dataclass
class Outcome:
    """What a builder reports besides the artifact: environment variables the built template adds."""

    environment: dict[str, str] = field(default_factory=dict)


def flag(value: Any, default: bool) -> bool:
    """A BuildProperties boolean, which templates write as true, "true" or "True"."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def as_list(value: Any) -> list[str]:
    """A BuildProperties list, which templates also write as one comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [str(item) for item in value]
