"""Talking to a Cumulo server from the command line: clients, deployments, progress output."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape

from cumulo.packaging.package import package_template
from cumulo.template_loader import load_template

console = Console(highlight=False)
STATUS_STYLE = {"COMPLETE": "green", "FAILED": "red", "IN_PROGRESS": "yellow", "SKIPPED": "dim"}


class CliError(Exception):
    """A problem to report to the user (with what to do next) and exit non-zero."""


def endpoint(explicit: str | None) -> str:
    """The server commands talk to: the flag, ``CUMULO_ENDPOINT_URL``, ``AWS_ENDPOINT_URL`` (what
    ``cumulo env`` sets), then the local server on ``CUMULO_PORT`` (4566)."""
    return (explicit or os.environ.get("CUMULO_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
            or f"http://127.0.0.1:{os.environ.get('CUMULO_PORT') or 4566}")


def client(service: str, endpoint_url: str, region: str | None = None) -> Any:
    return boto3.client(service, endpoint_url=endpoint_url,
                        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                        or "us-east-1",
                        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
                        config=Config(retries={"max_attempts": 2}, read_timeout=900))


def check_server(endpoint_url: str) -> None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{endpoint_url}/_cumulo/health", timeout=3):
            return
    except (urllib.error.URLError, OSError) as exc:
        raise CliError(f"No Cumulo server answers at {endpoint_url} ({exc}). Start one with `cumulo serve`, "
                       "or pass --endpoint-url.") from exc


def _style(status: str) -> str:
    return next((style for suffix, style in STATUS_STYLE.items() if status.endswith(suffix)), "white")


def follow_events(cloudformation: Any, stack_id: str, since: dt.datetime, quiet: bool = False) -> dict:
    """Print the stack's events as they happen; return the stack once it reaches a final state."""
    seen: set[str] = set()
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
        events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
        for event in reversed(events):
            if event["EventId"] in seen or event["Timestamp"] < since:
                continue
            seen.add(event["EventId"])
            if not quiet:
                status = event["ResourceStatus"]
                reason = event.get("ResourceStatusReason", "")
                console.print(f"[{_style(status)}]{status:<28}[/] {event['ResourceType']:<36} "
                              f"{event['LogicalResourceId']}" + (f"  [dim]{reason}[/]" if reason else ""))
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        time.sleep(0.2)


def upload_artifacts(endpoint_url: str, region: str | None):
    s3 = client("s3", endpoint_url, region)
    account = client("sts", endpoint_url, region).get_caller_identity()["Account"]
    bucket = f"cumulo-deploy-{account}-{s3.meta.region_name}"
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        options = {} if s3.meta.region_name == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": s3.meta.region_name}}
        s3.create_bucket(Bucket=bucket, **options)

    def upload(data: bytes, file_name: str) -> str:
        key = f"artifacts/{file_name}"
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            s3.put_object(Bucket=bucket, Key=key, Body=data)
        return f"s3://{bucket}/{key}"

    return upload


def deploy(template: Path, stack_name: str, parameters: dict[str, str], endpoint_url: str,
           region: str | None = None, quiet: bool = False,
           complete: Callable[[list[str], dict[str, Any]], dict[str, str]] | None = None) -> dict[str, Any]:
    """Package, create or update the stack through a change set, follow it, and return the final stack.

    Parameters without a default that are not given keep the stack's previous values; the others are
    asked of ``complete`` (missing names, declared parameters -> values), which may raise."""
    check_server(endpoint_url)
    if not template.is_file():
        raise CliError(f"Template {template} not found. Pass --template PATH (or run `cumulo init`).")
    body = load_template(template.read_text())
    cloudformation = client("cloudformation", endpoint_url, region)
    previous: set[str] = set()
    try:
        current = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        kind = "CREATE" if current["StackStatus"] == "REVIEW_IN_PROGRESS" else "UPDATE"
        if current["StackStatus"] in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"):
            raise CliError(f"Stack {stack_name} is in state {current['StackStatus']}: delete it first with "
                           f"`cumulo delete --stack-name {stack_name}`.")
        if kind == "UPDATE":
            previous = {p["ParameterKey"] for p in current.get("Parameters") or []}
    except ClientError:
        kind = "CREATE"
    declared = {k: v for k, v in (body.get("Parameters") or {}).items() if isinstance(v, dict)}
    unset = [k for k, spec in declared.items() if "Default" not in spec and k not in parameters]
    missing = [k for k in unset if k not in previous]
    if missing and complete is not None:
        parameters = {**parameters, **complete(missing, declared)}
    kept = [{"ParameterKey": k, "UsePreviousValue": True} for k in unset if k in previous]
    packaged = package_template(body, template.parent.resolve(), upload_artifacts(endpoint_url, region))
    name = f"cumulo-{int(time.time() * 1000)}"
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    try:
        created = cloudformation.create_change_set(
            StackName=stack_name, ChangeSetName=name, ChangeSetType=kind, TemplateBody=json.dumps(packaged),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()] + kept,
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"])
    except ClientError as exc:
        raise CliError(exc.response["Error"]["Message"]) from exc
    change_set = cloudformation.describe_change_set(ChangeSetName=created["Id"])
    if change_set["Status"] == "FAILED":
        if not quiet:
            console.print("No changes to deploy: the stack is up to date.")
        return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if kind == "UPDATE" and not quiet:
        print_changes(change_set.get("Changes") or [])
    cloudformation.execute_change_set(ChangeSetName=created["Id"])
    stack = follow_events(cloudformation, created["StackId"], since=started, quiet=quiet)
    if stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise CliError(f"Deployment of {stack_name} failed: {stack['StackStatus']} "
                       f"({stack.get('StackStatusReason', 'see the events above')})")
    return stack


def print_changes(changes: list[dict[str, Any]]) -> None:
    """What an update changes, before it runs: ``+`` added, ``~`` modified, ``-`` removed resources."""
    symbols = {"Add": "[green]+[/]", "Modify": "[yellow]~[/]", "Remove": "[red]-[/]"}
    console.print("Changes:")
    for change in changes:
        resource = change.get("ResourceChange") or {}
        action = resource.get("Action", "Modify")
        replacement = " (replaced)" if resource.get("Replacement") == "True" else ""
        console.print(f"  {symbols.get(action, '~')} {escape(resource.get('LogicalResourceId', '?'))} "
                      f"({escape(resource.get('ResourceType', '?'))}){replacement}", soft_wrap=True)


def print_outputs(stack: dict[str, Any]) -> None:
    """The stack's outputs, one per line and never cut, so URLs and ARNs can be copied whole."""
    outputs = stack.get("Outputs") or []
    if not outputs:
        return
    console.print(f"[bold]Outputs of {stack['StackName']}[/]")
    width = max(len(output["OutputKey"]) for output in outputs)
    for output in outputs:
        description = f"  [dim]{escape(output['Description'])}[/]" if output.get("Description") else ""
        console.print(f"  {escape(output['OutputKey']):<{width}}  {escape(output['OutputValue'])}{description}",
                      soft_wrap=True)


def delete(stack_name: str, endpoint_url: str, region: str | None = None) -> None:
    check_server(endpoint_url)
    cloudformation = client("cloudformation", endpoint_url, region)
    try:
        stack_id = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
    except ClientError as exc:
        raise CliError(f"Stack {stack_name} does not exist.") from exc
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    cloudformation.delete_stack(StackName=stack_name)
    stack = follow_events(cloudformation, stack_id, since=started)
    if stack["StackStatus"] != "DELETE_COMPLETE":
        raise CliError(f"Deleting {stack_name} failed: {stack.get('StackStatusReason', stack['StackStatus'])}")
