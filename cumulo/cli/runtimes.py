"""``cumulo runtimes``: which Lambda runtimes run here and on what; ``cumulo runtimes install ID``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# Imported by the ``cumulo`` entry point for every command: rich and the runtime modules load on use.
app = typer.Typer(help="The Lambda runtimes this host runs, and installing the missing ones.",
                  invoke_without_command=True, no_args_is_help=False)
STATUS_STYLE = {"exact": "green", "substituted": "yellow", "missing": "red"}
DataDir = Annotated[Path | None, typer.Option(
    help="The server's data directory; Cumulo's runtimes live in its runtimes/ [default: ./.cumulo].")]


def _data_dir(explicit: Path | None) -> Path:
    """The data directory as ``cumulo serve`` would pick it (flag, CUMULO_DATA_DIR, cumulo.toml, default)."""
    from cumulo.settings import SettingsError, load_settings

    try:
        return load_settings({"data_dir": explicit}).data_dir
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _how_to_get(runtime: str, language: str | None, folder: Path) -> str:
    """The short hint of the listing (CreateFunction's refusal gives the long one)."""
    if language in ("python", "node", "java"):
        return f"`cumulo runtimes install {runtime}`"
    if language == "ruby":
        return "install Ruby so that `ruby` is on PATH (OS package, rbenv or asdf)"
    return "not supported by Cumulo yet (a provided.al2023 'bootstrap' runs anything)"


@app.callback()
def list_runtimes(ctx: typer.Context, data_dir: DataDir = None) -> None:
    """List every AWS Lambda runtime id with what runs it here: exact, substituted or missing."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    from cumulo.runtime.catalog import AWS_RUNTIMES, parse
    from cumulo.runtime.installed import runtimes_dir
    from cumulo.runtime.runtimes import resolve

    folder = runtimes_dir(_data_dir(data_dir))
    table = Table(title=f"Lambda runtimes on this host (installed ones in {folder})", title_justify="left")
    for column in ("Runtime", "Status", "Runs on", "Details"):
        table.add_column(column, overflow="fold")
    for runtime in AWS_RUNTIMES:
        resolution = resolve(runtime, folder)
        found = resolution.installation
        runs_on = f"{found.language} {found.version_text}" if found else ""
        wanted = parse(runtime)
        hint = _how_to_get(runtime, wanted.language if wanted else None, folder)
        details = f"{found.path} ({found.source})" if found else resolution.note
        if resolution.status == "substituted":
            details = f"{details}; exact: {hint}"
        elif resolution.status == "missing":
            details = hint
        style = STATUS_STYLE[resolution.status]
        table.add_row(runtime, f"[{style}]{resolution.status}[/{style}]", runs_on, details)
    Console(highlight=False).print(table)


@app.command()
def install(
    runtime: Annotated[str, typer.Argument(help="A runtime id: nodejs22.x, python3.14, java21...")],
    data_dir: DataDir = None,
) -> None:
    """Install the exact version RUNTIME names into <data-dir>/runtimes/ (Node.js and Java from PyPI wheels,
    Python with uv). A running server uses it from the next environment it starts."""
    from rich.console import Console

    from cumulo.runtime.install import InstallError
    from cumulo.runtime.install import install as run_install
    from cumulo.runtime.installed import runtimes_dir

    console = Console(highlight=False)
    folder = runtimes_dir(_data_dir(data_dir))
    try:
        with console.status(f"Installing {runtime} into {folder}") as status:
            def progress(message: str) -> None:
                console.print(f"  {message}")
                status.update(message)
            found = run_install(runtime, folder, progress)
    except InstallError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]{runtime}[/green] runs on {found.language} {found.version_text} ({found.path})")
