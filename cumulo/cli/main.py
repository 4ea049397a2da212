"""The ``cumulo`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cumulo import __version__

app = typer.Typer(
    name="cumulo",
    help="Cumulo: run serverless applications (Lambda, SQS, SNS, EventBridge, Step Functions, "
         "HTTP APIs) on your own machine, through the real AWS APIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cumulo {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Cumulo command line."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: 4566].")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where state is kept [default: ./.cumulo].")] = None,
    require_auth: Annotated[bool | None, typer.Option(
        "--require-auth/--no-require-auth",
        help="Verify SigV4 signatures against the configured access keys (always on when "
             "listening beyond loopback).")] = None,
    account_id: Annotated[str | None, typer.Option(help="Account id in ARNs [default: 000000000000].")] = None,
    region: Annotated[str | None, typer.Option(
        help="Region for unsigned requests [default: us-east-1].")] = None,
    log_level: Annotated[str | None, typer.Option(
        help="debug (one line per request), info, warning or error [default: info].")] = None,
    config: Annotated[Path | None, typer.Option(help="Settings file [default: ./cumulo.toml].")] = None,
) -> None:
    """Start the Cumulo server: every service on one endpoint, state in the data directory.

    Settings come from these flags, then CUMULO_* environment variables (CUMULO_PORT,
    CUMULO_DATA_DIR, ...), then cumulo.toml, then the defaults.
    """
    from cumulo.server import serve as run
    from cumulo.settings import SettingsError, load_settings

    try:
        settings = load_settings(
            {"host": host, "port": port, "data_dir": data_dir, "require_auth": require_auth,
             "account_id": account_id, "default_region": region, "log_level": log_level},
            config_file=config)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    run(settings)


@app.command()
def bench(
    names: Annotated[list[str] | None, typer.Argument(help="Benchmarks to run (default: all).")] = None,
    quick: Annotated[bool, typer.Option(help="Fewer iterations, for a smoke run.")] = False,
) -> None:
    """Run the benchmarks in bench/ (from a source checkout) and print figures as a table and JSON."""
    try:
        from bench.__main__ import main as bench_main
    except ImportError as exc:
        typer.echo("error: the bench/ folder is not importable; run this from a Cumulo source "
                   "checkout (git clone, then pip install -e .)", err=True)
        raise typer.Exit(2) from exc
    bench_main([*(names or []), *(["--quick"] if quick else [])])


if __name__ == "__main__":
    app()
