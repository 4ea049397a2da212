"""Template parameters for ``cumulo deploy``, as ``sam deploy`` gathers them.

A parameter without a default that is neither given (``--parameter-overrides``, samconfig.toml)
nor kept from the stack's previous deployment is asked for when stdin is a terminal (NoEcho ones
without echo); otherwise (``--no-prompt``, CI, a pipe) the deploy stops with the list of what is
missing and exit status 2. ``--guided`` asks for the stack name and every parameter, then saves
the answers to samconfig.toml (``[default.deploy.parameters]``, sam's layout), which later deploys
read for their defaults.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any

import typer

CONFIG_FILE = "samconfig.toml"


class MissingParameters(Exception):
    """Parameters without defaults were not given and cannot be asked for."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"parameters without a default value were not given: {', '.join(names)}. Pass them with "
                         "--parameter-overrides " + " ".join(f"{n}=VALUE" for n in names) +
                         " (or run in a terminal to be asked, or use --guided).")
        self.names = names


def interactive() -> bool:
    """Whether questions can be asked: stdin is a terminal and this is not a CI run."""
    return sys.stdin.isatty() and not os.environ.get("CI")


def ask(names: list[str], declared: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """Prompt for ``names`` (``given`` values offered as defaults); returns the answers."""
    answers = {}
    for name in names:
        spec = declared.get(name) or {}
        hint = f" ({spec['Description']})" if spec.get("Description") else ""
        allowed = spec.get("AllowedValues")
        if allowed:
            hint += f" [{'/'.join(map(str, allowed))}]"
        default = given.get(name, spec.get("Default"))
        secret = str(spec.get("NoEcho", "false")).lower() == "true"
        while True:
            value = str(typer.prompt(f"Parameter {name}{hint}", default=None if default is None else str(default),
                                     hide_input=secret))
            if not allowed or value in map(str, allowed):
                break
            typer.echo(f"{name} must be one of: {', '.join(map(str, allowed))}")
        answers[name] = value
    return answers


def read_config(directory: Path) -> tuple[str | None, dict[str, str]]:
    """The stack name and parameter overrides samconfig.toml keeps for ``deploy``, if any."""
    path = directory / CONFIG_FILE
    if not path.is_file():
        return None, {}
    try:
        parameters = tomllib.loads(path.read_text()).get("default", {}).get("deploy", {}).get("parameters", {})
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from exc
    overrides = parameters.get("parameter_overrides") or ""
    items = shlex.split(overrides) if isinstance(overrides, str) else [str(o) for o in overrides]
    values = dict(item.split("=", 1) for item in items if "=" in item)
    return parameters.get("stack_name"), values


def save_config(directory: Path, stack_name: str, values: dict[str, str], secret: set[str]) -> Path:
    """Write the answers to samconfig.toml's ``[default.deploy.parameters]`` (NoEcho values are not saved);
    other sections of the file are kept."""
    path = directory / CONFIG_FILE
    document = tomllib.loads(path.read_text()) if path.is_file() else {}
    section = document.setdefault("default", {}).setdefault("deploy", {}).setdefault("parameters", {})
    section["stack_name"] = stack_name
    section["parameter_overrides"] = " ".join(f'{k}={shlex.quote(v)}' for k, v in values.items() if k not in secret)
    document.setdefault("version", 0.1)
    path.write_text(_dump(document))
    return path


def _dump(document: dict[str, Any]) -> str:
    """TOML for samconfig's shape: scalars and nested tables (strings, numbers, booleans, lists of them)."""
    lines: list[str] = []

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return str(item)
        if isinstance(item, list):
            return "[" + ", ".join(value(i) for i in item) + "]"
        return '"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def key(name: str) -> str:
        return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else value(name)

    def table(prefix: list[str], node: dict[str, Any]) -> None:
        scalars = {k: v for k, v in node.items() if not isinstance(v, dict)}
        if prefix and scalars:
            lines.append(f"\n[{'.'.join(key(p) for p in prefix)}]")
        lines.extend(f"{key(k)} = {value(v)}" for k, v in scalars.items())
        for name, child in node.items():
            if isinstance(child, dict):
                table([*prefix, name], child)

    table([], document)
    return "\n".join(lines).lstrip("\n") + "\n"
