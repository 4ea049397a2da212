"""The ``cumulo`` command line."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
import typer.core

from cumulo import __version__
from cumulo.cli.cluster import app as cluster_app
from cumulo.cli.runtimes import app as runtimes_app


def _flags_without_placeholder() -> None:
    """Typer's help shows a value placeholder (``<bool>``) after plain flags such as ``--tail``:
    show none, as a flag takes no value."""
    shown = typer.core.TyperOption.display_type_rich

    def display_type_rich(self: typer.core.TyperOption, ctx: typer.core.click.Context) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    typer.core.TyperOption.display_type_rich = display_type_rich


_flags_without_placeholder()

app = typer.Typer(
    name="cumulo",
    help="Cumulo: run serverless applications (Lambda, SQS, SNS, EventBridge, Step Functions, "
         "HTTP APIs) on your own machine, through the real AWS APIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(runtimes_app, name="runtimes")
app.add_typer(cluster_app, name="cluster")


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
    host: Annotated[str | None, typer.Option(help="Address to listen on.", show_default="127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.", show_default="4566")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where state is kept.", show_default="./.cumulo")] = None,
    require_auth: Annotated[bool | None, typer.Option(
        "--require-auth/--no-require-auth",
        help="Verify SigV4 signatures against the configured access keys (always on when "
             "listening beyond loopback).", show_default="off on loopback")] = None,
    enforce_iam: Annotated[bool | None, typer.Option(
        "--enforce-iam/--no-enforce-iam",
        help="Hold requests signed with function (role session) credentials to their role's IAM "
             "policies; implies --require-auth. Operator keys are never restricted.", show_default="off")] = None,
    account_id: Annotated[str | None, typer.Option(help="Account id in ARNs.", show_default="000000000000")] = None,
    region: Annotated[str | None, typer.Option(help="Region for unsigned requests.", show_default="us-east-1")] = None,
    log_level: Annotated[str | None, typer.Option(
        help="debug, info (one line per request), warning or error.", show_default="info")] = None,
    config: Annotated[Path | None, typer.Option(help="Settings file.", show_default="./cumulo.toml")] = None,
    isolation: Annotated[str | None, typer.Option(
        help="Function sandbox: auto (everything the host offers, missing parts reported), strict "
             "(refuse to start unless all of it is there) or off.", show_default="auto")] = None,
    function_network: Annotated[str | None, typer.Option(
        help="Functions' network: host (they share the host's, loopback services included) or "
             "isolated (a network namespace each: the Cumulo endpoint and, with slirp4netns installed, "
             "the outside network; not the host's loopback services).", show_default="host")] = None,
    runtime_substitution: Annotated[str | None, typer.Option(
        help="A function whose runtime version is not installed: nearest (run it on the nearest installed "
             "version, with a warning) or strict (refuse it; `cumulo runtimes install ID` adds it).",
        show_default="nearest")] = None,
    cluster: Annotated[str | None, typer.Option(
        help="Cluster mode: a postgresql:// URL shared by every node (each started with the same "
             "--data-dir); see docs/cluster.md.", show_default="off (SQLite)")] = None,
    node_name: Annotated[str | None, typer.Option(
        help="This node's name in a cluster.", show_default="host-port")] = None,
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
             "log_level": log_level, "isolation": isolation, "function_network": function_network,
             "runtime_substitution": runtime_substitution, "cluster_url": cluster, "node_name": node_name},
            config_file=config)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if settings.isolation == "strict":
        from cumulo.runtime.host import strict_problem

        problem = strict_problem(settings.function_network)
        if problem:
            typer.echo(f"error: {problem}", err=True)
            raise typer.Exit(2)
    run(settings)


EndpointOption = Annotated[str | None, typer.Option(
    "--endpoint-url", help="Cumulo server.",
    show_default="$CUMULO_ENDPOINT_URL, else $AWS_ENDPOINT_URL, else http://127.0.0.1:$CUMULO_PORT (4566)")]
RegionOption = Annotated[str | None, typer.Option(help="Region.", show_default="$AWS_REGION, else us-east-1")]


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
    guided: Annotated[bool, typer.Option(
        "--guided", help="Ask for the stack name and every parameter; save the answers to samconfig.toml.")] = False,
    no_prompt: Annotated[bool, typer.Option(
        "--no-prompt", help="Never ask: missing parameters are listed and the deploy exits with status 2.")] = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Deploy a SAM/CloudFormation template: package local code, create or update the stack, show progress.

    Parameters without defaults are asked for in a terminal; samconfig.toml next to the template gives
    the stack name and parameter overrides when they are not passed."""
    from cumulo.cli import guided as parameters
    from cumulo.cli.client import CliError, console, print_outputs
    from cumulo.cli.client import deploy as run_deploy
    from cumulo.packaging.build import deployable_template

    try:
        saved_name, saved = parameters.read_config(template.parent)
        name = stack_name or saved_name or _default_stack_name(template)
        given = {**saved, **_parameters(parameter_overrides)}
        if guided:
            if not parameters.interactive():
                raise ValueError("--guided needs a terminal to ask its questions")
            from cumulo.template_loader import load_template

            declared = {k: v for k, v in (load_template(template.read_text()).get("Parameters") or {}).items()
                        if isinstance(v, dict)}
            name = typer.prompt("Stack name", default=name)
            given = {**given, **parameters.ask(list(declared), declared, given)}
            secret = {k for k, v in declared.items() if str(v.get("NoEcho", "false")).lower() == "true"}
            typer.echo(f"Saved to {parameters.save_config(template.parent, name, given, secret)}")

        def complete(missing: list[str], declared: dict) -> dict[str, str]:
            if no_prompt or not parameters.interactive():
                raise parameters.MissingParameters(missing)
            return parameters.ask(missing, declared, given)

        stack = run_deploy(deployable_template(template) if template.is_file() else template, name, given,
                           _endpoint(endpoint_url), region, complete=complete)
    except parameters.MissingParameters as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    except (CliError, OSError, ValueError) as exc:  # OSError: a local path to package is missing or unreadable
        raise _fail(exc) from exc
    console.print(f"[green]Stack {name}: {stack['StackStatus']}[/]")
    print_outputs(stack)


def _default_stack_name(template: Path) -> str:
    """The project folder's name as the user wrote it (``examples/shop`` is ``shop`` even where it
    links to a folder of another name); for the working directory, the shell's ``$PWD``."""
    import os
    import re

    folder = Path(os.path.abspath(template)).parent
    logical = os.environ.get("PWD")
    if logical and folder == Path.cwd() and Path(logical).resolve() == folder.resolve():
        folder = Path(logical)
    return re.sub(r"[^A-Za-z0-9-]", "-", folder.name).strip("-") or "cumulo-app"


STARTERS = {
    "http-api": "an HTTP API in front of one Python function",
    "queue-worker": "an SQS queue and a batch worker function with a dead-letter queue",
    "order-flow": "the shop: HTTP API -> EventBridge -> Step Functions (retries, compensation) -> SNS/SQS worker",
}


# What a starter project keeps out of version control: build output and Python caches.
GITIGNORE = ".cumulo/\n.cumulo-build/\n__pycache__/\n*.pyc\n"


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
    (directory / ".gitignore").write_text(GITIGNORE)
    typer.echo(f"Created a {template} project in {directory} (see its README.md).\nNext: cumulo dev {directory}")


@app.command()
def build(
    template: Annotated[Path, typer.Option("--template", "-t", help="SAM or CloudFormation template.")] = Path(
        "template.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Rebuild everything, ignoring earlier builds.")] = False,
) -> None:
    """Build functions and layers as `sam build` does, into .aws-sam/build (cached by content hash).

    pip (requirements.txt, pyproject.toml), npm (package.json), Metadata BuildMethod esbuild and
    makefile, Java (Maven, Gradle, or javac alone), Go and Rust into a bootstrap, layers with a
    BuildMethod. `cumulo deploy` then deploys the built template.
    """
    import os

    from rich.console import Console

    from cumulo.packaging.build import BuildError
    from cumulo.packaging.build import build as run_build
    from cumulo.packaging.progress import BuildProgress

    if not template.is_file():
        raise _fail(FileNotFoundError(f"Template {template} not found. Pass --template PATH."))
    console = Console(highlight=False)  # not cli.client's: building needs no boto3
    progress = BuildProgress(console)
    try:
        built = run_build(template, progress=progress, force=force)
    except BuildError as exc:
        raise _fail(exc) from exc
    finally:
        progress.stop()
    console.print(progress.summary())
    console.print(f"Built template: {os.path.relpath(built)} (cumulo deploy uses it while it is newer than {template})")


@app.command()
def dev(
    template: Annotated[Path, typer.Argument(help="Template or project folder.")] = Path("template.yaml"),
    stack_name: Annotated[str, typer.Option(help="Stack name.", show_default="the project folder's name")] = "",
    port: Annotated[int | None, typer.Option(
        help="Port of the local server to use or start (shorthand for --endpoint-url http://127.0.0.1:PORT).")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="Data directory of a server this command starts.",
        show_default="$XDG_STATE_HOME/cumulo, else ~/.local/state/cumulo")] = None,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Start a server if none runs, deploy, then redeploy as you save; function logs stream here.

    A server this command starts keeps running after it (other `cumulo dev` sessions may share
    it): `cumulo stop` stops it.
    """
    from cumulo.cli.client import CliError, console, print_outputs
    from cumulo.cli.dev import deploy_project, watch
    from cumulo.cli.local import start_detached, state_dir

    if template.is_dir():
        template = template / "template.yaml"
    if not template.is_file():
        raise _fail(FileNotFoundError(f"Template {template} not found (try `cumulo init`)."))
    url = f"http://127.0.0.1:{port}" if port else _endpoint(endpoint_url)
    name = stack_name or _default_stack_name(template)
    # SIGTERM ends `cumulo dev` like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    started = False
    try:
        started = start_detached(url, (data_dir or state_dir()).absolute())
        stack = deploy_project(template, name, url, region)
        console.print(f"[green]Stack {name}: {stack['StackStatus']}[/]")
        print_outputs(stack)
        watch(template, name, url, region)
    except CliError as exc:
        raise _fail(exc) from exc
    finally:
        if started:
            console.print(f"The server on {url} keeps running (`cumulo stop` stops it).")


@app.command()
def env(
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Print the environment a shell needs to reach the server: eval "$(cumulo env)".

    AWS_ENDPOINT_URL, credentials and region for the AWS CLI and every SDK, and
    AWS_DISABLE_HOST_PREFIX_INJECTION so that StartSyncExecution and TestState work too.
    """
    import os
    import shlex

    from cumulo.cli.local import shell_environment
    from cumulo.settings import SettingsError, load_settings

    try:
        settings = load_settings({})
    except SettingsError as exc:
        raise _fail(exc) from exc
    access_key, secret_key = next(iter(settings.access_keys.items()))
    url = endpoint_url or os.environ.get("CUMULO_ENDPOINT_URL") or f"http://127.0.0.1:{settings.port}"
    for key, value in shell_environment(url, region or settings.default_region, access_key, secret_key).items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@app.command()
def stop(endpoint_url: EndpointOption = None) -> None:
    """Stop the local server (such as the one `cumulo dev` started), gracefully."""
    from cumulo.cli.client import CliError
    from cumulo.cli.local import stop as stop_server

    url = _endpoint(endpoint_url)
    try:
        pid = stop_server(url)
    except CliError as exc:
        raise _fail(exc) from exc
    typer.echo(f"Stopped the Cumulo server on {url} (pid {pid})")


@app.command()
def status(
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Show the server, its data directory, stacks, functions (last invoke, errors) and queues (depth)."""
    from botocore.exceptions import ClientError

    from cumulo.cli.client import CliError
    from cumulo.cli.status import show_status

    try:
        show_status(_endpoint(endpoint_url), region)
    except (CliError, ClientError) as exc:
        raise _fail(exc) from exc


@app.command(name="ls")
def list_resources(
    kind: Annotated[str, typer.Argument(help="stacks, functions or queues.")],
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """List stacks (name, status, updated), functions (name, runtime, last invoke, invocations, errors
    in 24 h) or queues (name, visible, in flight, delayed): one per line, tab-separated."""
    from botocore.exceptions import ClientError

    from cumulo.cli.client import CliError
    from cumulo.cli.status import LISTINGS, listing

    if kind not in LISTINGS:
        raise _fail(ValueError(f"unknown kind {kind!r}; choose one of {', '.join(LISTINGS)}"))
    try:
        rows = listing(kind, _endpoint(endpoint_url), region)
    except (CliError, ClientError) as exc:
        raise _fail(exc) from exc
    for row in rows:
        typer.echo("\t".join(row))


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
    payload: Annotated[str | None, typer.Argument(help="The event as inline JSON (or use --event).")] = None,
    event: Annotated[Path | None, typer.Option(
        help="JSON file with the event; - reads stdin.", show_default="{}")] = None,
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
        if payload is not None and event is not None:
            raise CliError("give the event inline or with --event, not both")
        body = payload.encode() if payload is not None else (
            sys.stdin.buffer.read() if event == Path("-") else (event.read_bytes() if event else b"{}"))
        result = client("lambda", url, region).invoke(FunctionName=name, Payload=body, LogType="Tail")
    except (CliError, ClientError, OSError) as exc:
        raise _fail(exc) from exc
    typer.echo(base64.b64decode(result.get("LogResult", "")).decode(), err=True)
    typer.echo(result["Payload"].read().decode())
    if result.get("FunctionError"):
        raise typer.Exit(1)


def _function_name(function: str, stack_name: str | None, url: str, region: str | None) -> str:
    if not stack_name:
        return function
    from botocore.exceptions import ClientError

    from cumulo.cli.client import CliError, client

    cloudformation = client("cloudformation", url, region)
    try:
        resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    except ClientError as exc:
        stacks = [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]]
        raise CliError(f"no stack {stack_name}; stacks: {', '.join(sorted(stacks)) or 'none'}") from exc
    functions = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources
                 if r["ResourceType"] == "AWS::Lambda::Function"}
    if function in functions:
        return functions[function]
    raise CliError(f"stack {stack_name} has no function {function}; its functions: "
                   f"{', '.join(sorted(functions)) or 'none'}")


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
        _check_function(name, url, region)
        reader = client("logs", url, region)
        start = int((time.time() - since * 60) * 1000)
        seen: set[str] = set()
        while True:
            arguments = {"logGroupName": f"/aws/lambda/{name}", "startTime": start}
            if filter_pattern:
                arguments["filterPattern"] = filter_pattern
            try:
                for page in reader.get_paginator("filter_log_events").paginate(**arguments):
                    for entry in page["events"]:
                        if entry["eventId"] not in seen:
                            seen.add(entry["eventId"])
                            stamp = time.strftime("%H:%M:%S", time.localtime(entry["timestamp"] / 1000))
                            typer.echo(f"{stamp} {entry['logStreamName'][-8:]} {entry['message']}")
                            start = max(start, entry["timestamp"])
            except reader.exceptions.ResourceNotFoundException:  # not invoked yet: no log group
                if not tail:
                    typer.echo(f"No logs yet for {function}.", err=True)
                    return
            if not tail:
                return
            time.sleep(1)
    except (CliError, ClientError) as exc:
        raise _fail(exc) from exc
    except KeyboardInterrupt:
        return


def _check_function(name: str, url: str, region: str | None) -> None:
    """A function that does not exist is an error naming the ones that do."""
    from cumulo.cli.client import CliError, client

    lambda_client = client("lambda", url, region)
    try:
        lambda_client.get_function(FunctionName=name)
    except lambda_client.exceptions.ResourceNotFoundException as exc:
        functions = [f["FunctionName"] for page in lambda_client.get_paginator("list_functions").paginate()
                     for f in page["Functions"]]
        raise CliError(f"no function {name}; functions: {', '.join(sorted(functions)) or 'none'}") from exc


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
