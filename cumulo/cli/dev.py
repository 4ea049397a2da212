"""``cumulo dev``: deploy a template, then keep it live while you edit.

Starts a server if none is running (``cumulo.cli.local``), deploys the template, prints the outputs, then watches
the project folder: a change to a function's code is zipped and sent with UpdateFunctionCode
(the rest of the stack, and warm environments of other functions, are untouched), and a
change to the template redeploys the stack.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape

from cumulo.cli.client import CliError, client, console, deploy, print_outputs
from cumulo.packaging.build import BUILD_DIR, FUNCTION_TYPES, build
from cumulo.packaging.build_plan import default_code_uris, plan
from cumulo.packaging.package import zip_directory
from cumulo.template_loader import load_template

MANIFESTS = ("requirements.txt", "package.json", "pyproject.toml")
PLAIN_METHODS = ("python", "nodejs")  # source that runs as it is when it has no dependencies
IGNORED_PARTS = {BUILD_DIR, ".cumulo", "__pycache__", ".git", "node_modules"}


def function_sources(template: Path) -> dict[str, Path]:
    """Logical id -> local code directory of every function in the template."""
    body = load_template(template.read_text())
    base = template.parent.resolve()
    globals_function = (body.get("Globals") or {}).get("Function") or {}
    sources = {}
    for logical_id, resource in (body.get("Resources") or {}).items():
        prop = FUNCTION_TYPES.get(resource.get("Type"))
        if prop is None:
            continue
        code = (resource.get("Properties") or {}).get(prop, globals_function.get("CodeUri", "."))
        if isinstance(code, str) and (base / code).is_dir():
            sources[logical_id] = (base / code).resolve()
    return sources


def built_functions(template: Path) -> set[str]:
    """Logical ids of the resources whose code must be built before it runs: a build method of its
    own (esbuild, makefile, Java, Go, Rust ...) or dependencies to install; plain Python and Node.js
    source runs as it is."""
    body = copy.deepcopy(load_template(template.read_text()))
    default_code_uris(body)
    return {target.logical_id for target in plan(body, template.parent.resolve())
            if target.method not in PLAIN_METHODS or any((target.source / m).is_file() for m in MANIFESTS)}


def deploy_project(template: Path, stack_name: str, endpoint_url: str, region: str | None) -> dict[str, Any]:
    deployable = build(template, progress=lambda line: console.print(f"[dim]build: {line}[/]")) \
        if built_functions(template) else template
    return deploy(deployable, stack_name, {}, endpoint_url, region)


def update_function(template: Path, logical_id: str, source: Path, stack_name: str, endpoint_url: str,
                    region: str | None) -> float:
    """Send a function's current code; returns the seconds it took to be live."""
    started = time.perf_counter()
    if logical_id in built_functions(template):
        built = build(template, progress=lambda line: None)
        resource = load_template(built.read_text())["Resources"][logical_id]
        code_dir = (built.parent / resource["Properties"][FUNCTION_TYPES[resource["Type"]]]).resolve()
    else:
        code_dir = source
    resources = client("cloudformation", endpoint_url, region).describe_stack_resources(
        StackName=stack_name, LogicalResourceId=logical_id)["StackResources"]
    if not resources:
        raise CliError(f"{logical_id} is not deployed in {stack_name}")
    lambda_client = client("lambda", endpoint_url, region)
    name = resources[0]["PhysicalResourceId"]
    lambda_client.update_function_code(FunctionName=name, ZipFile=zip_directory(code_dir))
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.02,
                                                                                         "MaxAttempts": 1500})
    return time.perf_counter() - started


LOOK_BACK_MS = 5000
COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green")
_REPORT = re.compile(r"Duration: ([\d.]+) ms.*?Memory Size: (\d+) MB\s+Max Memory Used: (\d+) MB"
                     r"(?:\s+Init Duration: ([\d.]+) ms)?")
_ERROR = re.compile(r"\[ERROR\]|Traceback|\"errorType\"|Task timed out|Runtime\.\w+|Error:")


class LogStream:
    """Streams the stack's function logs into the console: one colour per function, START and END
    left out, REPORT condensed to one short line, errors in red."""

    def __init__(self, stack_name: str, endpoint_url: str, region: str | None) -> None:
        self.stack_name = stack_name
        self.logs = client("logs", endpoint_url, region)
        self.cloudformation = client("cloudformation", endpoint_url, region)
        self.functions: dict[str, str] = {}
        self.started = int(time.time() * 1000)
        self.latest: dict[str, int] = {}  # function -> newest event time printed
        self.seen: set[str] = set()
        self.stopped = threading.Event()

    def refresh(self) -> None:
        """Learn the stack's functions again (after a deployment)."""
        resources = self.cloudformation.describe_stack_resources(StackName=self.stack_name)["StackResources"]
        self.functions = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources
                          if r["ResourceType"] == "AWS::Lambda::Function" and r.get("PhysicalResourceId")}

    def start(self) -> None:
        threading.Thread(target=self._run, name="cumulo-dev-logs", daemon=True).start()

    def _run(self) -> None:
        while not self.stopped.wait(0.5):
            try:
                self.poll()
            except (ClientError, BotoCoreError):  # the server restarting, a function being replaced: next time
                continue

    def poll(self) -> None:
        for index, (logical_id, name) in enumerate(sorted(self.functions.items())):
            colour = COLOURS[index % len(COLOURS)]
            # Lines are stored in batches, so one may arrive after a later one: look a little back.
            since = max(self.started, self.latest.get(name, 0) - LOOK_BACK_MS)
            try:
                pages = self.logs.get_paginator("filter_log_events").paginate(
                    logGroupName=f"/aws/lambda/{name}", startTime=since)
                events = [event for page in pages for event in page["events"]]
            except self.logs.exceptions.ResourceNotFoundException:
                continue
            for event in sorted(events, key=lambda e: (e["timestamp"], e["eventId"])):
                if event["eventId"] not in self.seen:
                    self.seen.add(event["eventId"])
                    self.latest[name] = max(self.latest.get(name, 0), event["timestamp"])
                    self._print(logical_id, colour, event["message"].rstrip())

    def _print(self, logical_id: str, colour: str, message: str) -> None:
        if message.startswith(("START RequestId", "END RequestId", "INIT_START")):
            return
        if message.startswith("REPORT RequestId"):
            found = _REPORT.search(message)
            if found:
                duration, size, used, init = found.groups()
                message = f"REPORT {duration} ms" + (f" (cold start, init {init} ms)" if init else "") + \
                    f", {used}/{size} MB"
        style = "red" if _ERROR.search(message) else ""
        text = escape(message)
        console.print(f"[{colour}]{escape(logical_id)}:[/] " + (f"[{style}]{text}[/]" if style else text),
                      soft_wrap=True)


def watch(template: Path, stack_name: str, endpoint_url: str, region: str | None,
          stop: Any = None) -> None:
    """Apply changes until interrupted (or until ``stop`` is set), streaming the functions' logs."""
    import watchfiles

    base = template.parent.resolve()
    stream = LogStream(stack_name, endpoint_url, region)
    stream.refresh()
    stream.start()
    console.print(f"Watching {base} for changes; function logs follow (Ctrl+C to stop)")
    try:
        for changes in watchfiles.watch(base, stop_event=stop, debounce=50, step=20, raise_interrupt=False):
            paths = {Path(path).resolve() for _, path in changes}
            paths = {p for p in paths if not IGNORED_PARTS & set(p.relative_to(base).parts)}
            if not paths:
                continue
            try:
                if template.resolve() in paths:
                    console.print("Template changed: redeploying the stack")
                    print_outputs(deploy_project(template, stack_name, endpoint_url, region))
                    stream.refresh()
                    continue
                for logical_id, source in function_sources(template).items():
                    if any(source in p.parents or p == source for p in paths):
                        seconds = update_function(template, logical_id, source, stack_name, endpoint_url, region)
                        console.print(f"[green]{logical_id} updated[/] in {seconds * 1000:.0f} ms")
            except CliError as exc:
                console.print(f"[red]error:[/] {exc}")
            except Exception as exc:  # keep watching: the next save may fix it
                console.print(f"[red]error:[/] {exc}")
    finally:
        stream.stopped.set()
