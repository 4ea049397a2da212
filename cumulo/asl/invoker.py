"""The task boundary: what a Task state asks of the outside world, and what comes back.

The engine builds a `TaskRequest` and awaits ``TaskInvoker.invoke``. The Step Functions service
implements `TaskInvoker` by routing on the resource: a Lambda function ARN (legacy) or an
optimized/SDK integration ``arn:aws:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]``,
or an activity ARN. A failure is reported by raising `TaskFailure(error, cause)`.

For ``.waitForTaskToken`` and activities, ``invoke`` only *submits* the work (sends the message,
enqueues the activity task) and returns; the engine then waits for ``send_task_success`` /
``send_task_failure`` / ``send_task_heartbeat`` on the `Execution` with the request's token.
For ``.sync`` patterns ``invoke`` returns when the job finished, with its final result.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any, Protocol

REQUEST_RESPONSE = "REQUEST_RESPONSE"
RUN_JOB = "RUN_JOB"  # .sync
RUN_JOB_V2 = "RUN_JOB_V2"  # .sync:2 (JSON output rather than a string)
WAIT_FOR_TASK_TOKEN = "WAIT_FOR_TASK_TOKEN"

_SERVICE = re.compile(
    r"arn:aws[\w-]*:states:[^:]*:[^:]*:([\w-]+):([^.]+)(\.sync:2|\.sync|\.waitForTaskToken)?$")
_LAMBDA = re.compile(r"arn:aws[\w-]*:lambda:[^:]+:\d+:function:.+")
_ACTIVITY = re.compile(r"arn:aws[\w-]*:states:[^:]+:\d+:activity:.+")


@dataclass(frozen=True, slots=True)
class Resource:
    """A parsed Task ``Resource``."""

    arn: str
    kind: str  # "service" (optimized or aws-sdk integration), "lambda" (function ARN) or "activity"
    service: str | None = None  # e.g. "lambda", "sqs", "states", "aws-sdk"
    action: str | None = None  # e.g. "invoke", "sendMessage", "startExecution", "s3:getObject"
    pattern: str = REQUEST_RESPONSE

    @property
    def waits_for_callback(self) -> bool:
        return self.kind == "activity" or self.pattern == WAIT_FOR_TASK_TOKEN

    @property
    def resource_type(self) -> str:
        """``resourceType`` of the Task* history events (``lambda``, ``sqs``, ``aws-sdk:s3``...)."""
        if self.service == "aws-sdk" and self.action and ":" in self.action:
            return "aws-sdk:" + self.action.split(":", 1)[0]
        return self.service or self.kind

    @property
    def resource_name(self) -> str:
        """``resource`` of the Task* history events (``invoke``, ``sendMessage.waitForTaskToken``)."""
        action = (self.action or "").split(":", 1)[-1]
        suffix = {RUN_JOB: ".sync", RUN_JOB_V2: ".sync:2", WAIT_FOR_TASK_TOKEN: ".waitForTaskToken"}
        return action + suffix.get(self.pattern, "")


def parse_resource(arn: str) -> Resource:
    if _LAMBDA.fullmatch(arn):
        return Resource(arn, "lambda")
    if _ACTIVITY.fullmatch(arn):
        return Resource(arn, "activity")
    m = _SERVICE.fullmatch(arn)
    if m:
        service, action, suffix = m.groups()
        if service == "aws-sdk":
            sdk_service, _, sdk_action = action.partition(":")
            action = f"{sdk_service}:{sdk_action}"
        pattern = {".sync": RUN_JOB, ".sync:2": RUN_JOB_V2, ".waitForTaskToken": WAIT_FOR_TASK_TOKEN}.get(
            suffix or "", REQUEST_RESPONSE)
        return Resource(arn, "service", service, action, pattern)
    return Resource(arn, "service")


@dataclass(frozen=True, slots=True)
class TaskRequest:
    resource: Resource
    parameters: Any  # the resolved Parameters / Arguments (or the effective input)
    task_token: str | None
    timeout_seconds: int
    heartbeat_seconds: int | None
    credentials: Any
    execution_arn: str
    state_name: str
    attempt: int  # 0 for the first attempt, then one more per retry
    region: str
    #: the deterministic key of this attempt in the execution log (the same on every replay): a
    #: stable idempotency key for side effects, e.g. the name of a child execution
    site: str = ""


class TaskFailure(Exception):
    """Raised by a TaskInvoker (or delivered through send_task_failure) when the task failed."""

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class TaskInvoker(Protocol):
    async def invoke(self, request: TaskRequest) -> Any: ...


def make_task_token(execution_arn: str, site: str, nonce: str) -> str:
    """An opaque token that still tells the service which execution it belongs to."""
    raw = f"{execution_arn}\x1f{site}\x1f{nonce}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def execution_of_token(token: str) -> str | None:
    """The execution ARN a token was issued for (None if it is not one of ours)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except ValueError:
        return None
    parts = raw.split("\x1f")
    return parts[0] if len(parts) == 3 else None
