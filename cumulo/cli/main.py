"""The ``cumulo`` command line."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from cumulo import __version__
from cumulo.cli.runtimes import app as runtimes_app

app = typer.Typer(
    name="cumulo",
    help="Cumulo: run serverless applications (Lambda, SQS, SNS, EventBridge, Step Functions, "
         "HTTP APIs) on your own machine, through the real AWS APIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(runtimes_app, name="runtimes")


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
    enforce_iam: Annotated[bool | None, typer.Option(
        "--enforce-iam/--no-enforce-iam",
        help="Hold requests signed with function (role session) credentials to their role's IAM "
             "policies; implies --require-auth. Operator keys are never restricted.")] = None,
    account_id: Annotated[str | None, typer.Option(help="Account id in ARNs [default: 000000000000].")] = None,
    region: Annotated[str | None, typer.Option(
        help="Region for unsigned requests [default: us-east-1].")] = None,
    log_level: Annotated[str | None, typer.Option(
        help="debug (one line per request), info, warning or error [default: info].")] = None,
    config: Annotated[Path | None, typer.Option(help="Settings file [default: ./cumulo.toml].")] = None,
    isolation: Annotated[str | None, typer.Option(
        help="Function sandbox: auto (everything the host offers, missing parts reported), strict "
             "(refuse to start unless all of it is there) or off [default: auto].")] = None,
    runtime_substitution: Annotated[str | None, typer.Option(
        help="A function whose runtime version is not installed: nearest (run it on the nearest installed "
             "version, with a warning) or strict (refuse it; `cumulo runtimes install ID` adds it) "
             "[default: nearest].")] = None,
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
             "enforce_iam": enforce_iam, "account_id": account_id, "default_region": region,
             "log_level": log_level, "isolation": isolation, "runtime_substitution": runtime_substitution},
            config_file=config)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if settings.isolation == "strict":
        from cumulo.runtime.host import strict_problem

        problem = strict_problem()
        if problem:
            typer.echo(f"error: {problem}", err=True)
            raise typer.Exit(2)
    run(settings)


EndpointOption = Annotated[str | None, typer.Option(
    "--endpoint-url", help="Cumulo server [default: $CUMULO_ENDPOINT_URL, else http://127.0.0.1:4566].")]
RegionOption = Annotated[str | None, typer.Option(help="Region [default: $AWS_REGION, else us-east-1].")]


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _parameters(pairs: list[str] | None) -> dict[str, str]:
    values = {}
    for pair in pairs or []:
        for item in pair.split():
            key, sep, value = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--parameter-overrides")
            values[key] = value
    return values


@app.command()
def deploy(
    template: Annotated[Path, typer.Option("--template", "-t", help="SAM or CloudFormation template.")] = Path(
        "template.yaml"),
    stack_name: Annotated[str, typer.Option(help="Stack to create or update.")] = "",
    parameter_overrides: Annotated[list[str] | None, typer.Option(
        help="Template parameters as KEY=VALUE (repeat, or space-separated).")] = None,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Deploy a SAM/CloudFormation template: package local code, create or update the stack, show progress."""
    from cumulo.cli.client import CliError, console, print_outputs
    from cumulo.cli.client import deploy as run_deploy
    from cumulo.packaging.build import deployable_template

    name = stack_name or _default_stack_name(template)
    try:
        stack = run_deploy(deployable_template(template) if template.is_file() else template, name,
                           _parameters(parameter_overrides), _endpoint(endpoint_url), region)
    except (CliError, OSError) as exc:  # OSError: a local path to package is missing or unreadable
        raise _fail(exc) from exc
    console.print(f"[green]Stack {name}: {stack['StackStatus']}[/]")
    print_outputs(stack)


def _default_stack_name(template: Path) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9-]", "-", template.resolve().parent.name).strip("-") or "cumulo-app"


STARTERS = {
    "http-api": "an HTTP API in front of one Python function",
    "queue-worker": "an SQS queue and a batch worker function with a dead-letter queue",
    "order-flow": "the shop: HTTP API -> EventBridge -> Step Functions (retries, compensation) -> SNS/SQS worker",
}


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
    template: Annotated[str | None, typer.Option(
        "--template", help=f"Starter to copy: {', '.join(STARTERS)} [asked when omitted].")] = None,
) -> None:
    """Create a new serverless project from a starter template."""
    import shutil
    from importlib.resources import files

    if template is None:
        if not sys.stdin.isatty():
            raise _fail(ValueError("choose a starter with --template " + " | ".join(STARTERS)))
        for index, (name, description) in enumerate(STARTERS.items(), start=1):
            typer.echo(f"  {index}. {name}: {description}")
        choice = typer.prompt("Starter", default="1")
        names = list(STARTERS)
        template = names[int(choice) - 1] if choice.isdigit() and 0 < int(choice) <= len(names) else choice
    if template not in STARTERS:
        raise _fail(ValueError(f"unknown starter {template!r}; choose one of {', '.join(STARTERS)}"))
    if directory.exists() and any(directory.iterdir()):
        raise _fail(FileExistsError(f"{directory} is not empty: choose a new folder"))
    source = Path(str(files("cumulo") / "starters" / template))
    shutil.copytree(source, directory, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".cumulo", ".cumulo-build", "__pycache__"))
    typer.echo(f"Created a {template} project in {directory}.\nNext: cumulo dev {directory}")


@app.command()
def build(
    template: Annotated[Path, typer.Option("--template", "-t", help="SAM or CloudFormation template.")] = Path(
        "template.yaml"),
) -> None:
    """Install functions' dependencies (requirements.txt, package.json) into .cumulo-build/, cached by hash."""
    from cumulo.packaging.build import BuildError
    from cumulo.packaging.build import build as run_build

    if not template.is_file():
        raise _fail(FileNotFoundError(f"Template {template} not found. Pass --template PATH."))
    try:
        built = run_build(template, progress=typer.echo)
    except BuildError as exc:
        raise _fail(exc) from exc
    typer.echo(f"Built template: {built} (cumulo deploy uses it while it is newer than {template})")


@app.command()
def dev(
    template: Annotated[Path, typer.Argument(help="Template or project folder.")] = Path("template.yaml"),
    stack_name: Annotated[str, typer.Option(help="Stack name [default: the project folder's name].")] = "",
    port: Annotated[int, typer.Option(help="Port of the server to use or start.")] = 4566,
    region: RegionOption = None,
) -> None:
    """Start a server if needed, deploy, then redeploy changed functions' code as you save."""
    from cumulo.cli.client import CliError, console, print_outputs
    from cumulo.cli.dev import deploy_project, start_server, watch

    if template.is_dir():
        template = template / "template.yaml"
    if not template.is_file():
        raise _fail(FileNotFoundError(f"Template {template} not found (try `cumulo init`)."))
    url = f"http://127.0.0.1:{port}"
    name = stack_name or _default_stack_name(template)
    server = None
    # SIGTERM ends `cumulo dev` like Ctrl-C does: through the clean-up below, stopping its server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        server = start_server(url, template.parent.resolve() / ".cumulo")
        stack = deploy_project(template, name, url, region)
        console.print(f"[green]Stack {name}: {stack['StackStatus']}[/]")
        print_outputs(stack)
        watch(template, name, url, region)
    except CliError as exc:
        raise _fail(exc) from exc
    finally:
        if server is not None:
            server.terminate()
            server.wait(15)


@app.command()
def delete(
    stack_name: Annotated[str, typer.Option(help="Stack to delete.")],
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Delete a stack and every resource it created."""
    from cumulo.cli.client import CliError, console
    from cumulo.cli.client import delete as run_delete

    try:
        run_delete(stack_name, _endpoint(endpoint_url), region)
    except CliError as exc:
        raise _fail(exc) from exc
    console.print(f"[green]Stack {stack_name} deleted[/]")


@app.command()
def invoke(
    function: Annotated[str, typer.Argument(help="Function name or ARN (or a logical id with --stack-name).")],
    event: Annotated[Path | None, typer.Option(help="JSON file with the event [default: {}]; - reads stdin.")] = None,
    stack_name: Annotated[str | None, typer.Option(help="Resolve FUNCTION as a logical id of this stack.")] = None,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Invoke a function and print its result (stdout) and its log tail (stderr)."""
    import base64

    from botocore.exceptions import ClientError

    from cumulo.cli.client import CliError, check_server, client

    url = _endpoint(endpoint_url)
    try:
        check_server(url)
        name = _function_name(function, stack_name, url, region)
        payload = sys.stdin.buffer.read() if event == Path("-") else (event.read_bytes() if event else b"{}")
        result = client("lambda", url, region).invoke(FunctionName=name, Payload=payload, LogType="Tail")
    except (CliError, ClientError, OSError) as exc:
        raise _fail(exc) from exc
    typer.echo(base64.b64decode(result.get("LogResult", "")).decode(), err=True)
    typer.echo(result["Payload"].read().decode())
    if result.get("FunctionError"):
        raise typer.Exit(1)


def _function_name(function: str, stack_name: str | None, url: str, region: str | None) -> str:
    if not stack_name:
        return function
    from cumulo.cli.client import CliError, client

    resources = client("cloudformation", url, region).describe_stack_resources(StackName=stack_name)
    for resource in resources["StackResources"]:
        if resource["LogicalResourceId"] == function and resource["ResourceType"] == "AWS::Lambda::Function":
            return resource["PhysicalResourceId"]
    raise CliError(f"Stack {stack_name} has no function with logical id {function}")


@app.command()
def logs(
    function: Annotated[str, typer.Argument(help="Function name (or a logical id with --stack-name).")],
    stack_name: Annotated[str | None, typer.Option(help="Resolve FUNCTION as a logical id of this stack.")] = None,
    tail: Annotated[bool, typer.Option("--tail", help="Keep printing new lines until interrupted.")] = False,
    since: Annotated[int, typer.Option(help="Start this many minutes ago.")] = 10,
    filter_pattern: Annotated[str | None, typer.Option(help="CloudWatch Logs filter pattern.")] = None,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Print a function's logs (from /aws/lambda/NAME), optionally following them."""
    import time

    from botocore.exceptions import ClientError

    from cumulo.cli.client import CliError, check_server, client

    url = _endpoint(endpoint_url)
    try:
        check_server(url)
        name = _function_name(function, stack_name, url, region)
        reader = client("logs", url, region)
        start = int((time.time() - since * 60) * 1000)
        seen: set[str] = set()
        while True:
            arguments = {"logGroupName": f"/aws/lambda/{name}", "startTime": start}
            if filter_pattern:
                arguments["filterPattern"] = filter_pattern
            for page in reader.get_paginator("filter_log_events").paginate(**arguments):
                for entry in page["events"]:
                    if entry["eventId"] not in seen:
                        seen.add(entry["eventId"])
                        stamp = time.strftime("%H:%M:%S", time.localtime(entry["timestamp"] / 1000))
                        typer.echo(f"{stamp} {entry['logStreamName'][-8:]} {entry['message']}")
                        start = max(start, entry["timestamp"])
            if not tail:
                return
            time.sleep(1)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException" and not tail:
            typer.echo(f"No logs yet for {function}.", err=True)
            return
        raise _fail(exc) from exc
    except CliError as exc:
        raise _fail(exc) from exc
    except KeyboardInterrupt:
        return


def _endpoint(explicit: str | None) -> str:
    from cumulo.cli.client import endpoint

    return endpoint(explicit)


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
