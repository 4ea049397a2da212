"""``cumulo status``: what runs on a server, read through the AWS APIs as any client would."""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import ClientError
from rich.markup import escape
from rich.table import Table

from cumulo.cli.client import check_server, client, console
from cumulo.cli.local import health

WINDOW = dt.timedelta(hours=24)  # invocations and errors are counted over this window


def show_status(endpoint_url: str, region: str | None) -> None:
    check_server(endpoint_url)
    info = health(endpoint_url)
    console.print(f"[bold]Server[/] {endpoint_url}: Cumulo {info.get('version')}, {info.get('status')}")
    if info.get("dataDir"):
        console.print(f"[bold]Data[/]   {escape(info['dataDir'])}")
    _print(_stacks(endpoint_url, region), "Stacks", ("Stack", "Status", "Updated"))
    _print(_functions(endpoint_url, region), f"Functions (invocations and errors in the last {_hours()} h)",
           ("Function", "Runtime", "Last invoke", "Invocations", "Errors"))
    _print(_queues(endpoint_url, region), "Queues", ("Queue", "Visible", "In flight", "Delayed"))


LISTINGS = {"stacks": "_stacks", "functions": "_functions", "queues": "_queues"}


def listing(kind: str, endpoint_url: str, region: str | None) -> list[tuple[str, ...]]:
    """The rows ``cumulo status`` shows for one kind of resource (for ``cumulo ls``)."""
    check_server(endpoint_url)
    return globals()[LISTINGS[kind]](endpoint_url, region)


def _hours() -> int:
    return int(WINDOW.total_seconds() // 3600)


def _print(rows: list[tuple[str, ...]], title: str, columns: tuple[str, ...]) -> None:
    if not rows:
        console.print(f"[bold]{title}[/]: none")
        return
    table = Table(title=title, title_justify="left", title_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape(value) for value in row))
    console.print(table)


def _when(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _stacks(url: str, region: str | None) -> list[tuple[str, ...]]:
    cloudformation = client("cloudformation", url, region)
    rows = []
    for page in cloudformation.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            rows.append((stack["StackName"], stack["StackStatus"],
                         _when(stack.get("LastUpdatedTime") or stack.get("CreationTime"))))
    return sorted(rows)


def _functions(url: str, region: str | None) -> list[tuple[str, ...]]:
    lambda_client, logs, cloudwatch = (client(name, url, region) for name in ("lambda", "logs", "cloudwatch"))
    end = dt.datetime.now(dt.UTC)
    rows = []
    for page in lambda_client.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            name = function["FunctionName"]
            rows.append((name, function.get("Runtime", "-"), _when(_last_log_event(logs, name)),
                         _metric_sum(cloudwatch, name, "Invocations", end),
                         _metric_sum(cloudwatch, name, "Errors", end)))
    return sorted(rows)


def _last_log_event(logs: Any, function: str) -> dt.datetime | None:
    """When the function last wrote to its log group (each invocation writes START/END/REPORT)."""
    try:
        streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{function}", orderBy="LastEventTime",
                                            descending=True, limit=1)["logStreams"]
    except ClientError:
        return None
    stamp = streams[0].get("lastEventTimestamp") if streams else None
    return dt.datetime.fromtimestamp(stamp / 1000, dt.UTC) if stamp else None


def _metric_sum(cloudwatch: Any, function: str, metric: str, end: dt.datetime) -> str:
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=end - WINDOW, EndTime=end, Period=int(WINDOW.total_seconds()), Statistics=["Sum"])["Datapoints"]
    return str(int(sum(point["Sum"] for point in points)))


def _queues(url: str, region: str | None) -> list[tuple[str, ...]]:
    sqs = client("sqs", url, region)
    rows = []
    for page in sqs.get_paginator("list_queues").paginate():
        for queue_url in page.get("QueueUrls", []):
            try:
                attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
                    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed"])["Attributes"]
            except ClientError:  # deleted meanwhile
                continue
            rows.append((queue_url.rsplit("/", 1)[-1], attributes.get("ApproximateNumberOfMessages", "0"),
                         attributes.get("ApproximateNumberOfMessagesNotVisible", "0"),
                         attributes.get("ApproximateNumberOfMessagesDelayed", "0")))
    return sorted(rows)


