"""Activities: tasks done by workers that poll for them (GetActivityTask) and answer with the token.

A Task state whose resource is an activity ARN puts ``{taskToken, input}`` on the activity's
durable queue (``store.enqueue``) and waits for SendTaskSuccess/Failure like any callback task.
GetActivityTask long-polls the queue for up to 60 seconds; a task whose execution is no longer
waiting for it (stopped, timed out) is skipped. The queue survives restarts, and so does the
wait: a task handed to a worker before a crash can still be answered after it.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.pagination import decode_token, encode_token
from cumulo.services.stepfunctions.names import check_name, parse_arn
from cumulo.services.tagging import tag_map

if TYPE_CHECKING:
    from cumulo.platform import Platform
    from cumulo.services.base import RequestContext

ACTIVITIES = "sfn.activities"
LONG_POLL_S = 60.0
_ARN = "arn:{partition}:states:{region}:{account}:activity:{name}"


def activity_queue(arn: str) -> str:
    return f"sfn.activity:{arn}"


def _not_found(arn: str) -> AwsError:
    return AwsError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")


class ActivityOperations:
    """CreateActivity ... GetActivityTask (mixed into the provider)."""

    platform: Platform
    runner: Any

    def now(self) -> float:  # provided by the provider
        raise NotImplementedError

    def _activity(self, text: str) -> dict[str, Any]:
        arn = parse_arn(text, "activity")
        record = self.platform.store.get(ACTIVITIES, arn.scope + arn.name)
        if record is None:
            raise _not_found(text)
        return record

    def activity_exists(self, text: str) -> bool:
        try:
            self._activity(text)
        except AwsError:
            return False
        return True

    def create_activity(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = check_name(params["name"])
        arn = _ARN.format(partition="aws", region=context.region, account=context.account_id, name=name)
        record = {"activityArn": arn, "name": name, "creationDate": self.now(),
                  "tags": tag_map(params.get("tags"), "key", "value")}
        store = self.platform.store
        if not store.insert(ACTIVITIES, f"{context.account_id}:{context.region}:{name}", record):
            record = store.get(ACTIVITIES, f"{context.account_id}:{context.region}:{name}") or record
        return {"activityArn": record["activityArn"], "creationDate": record["creationDate"]}

    def describe_activity(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._activity(params["activityArn"])
        return {k: record[k] for k in ("activityArn", "name", "creationDate")}

    def delete_activity(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = parse_arn(params["activityArn"], "activity")
        self.platform.store.delete(ACTIVITIES, arn.scope + arn.name)
        return {}

    def list_activities(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = f"{context.account_id}:{context.region}:"
        limit = params.get("maxResults") or 100
        after = decode_token(params.get("nextToken"), ACTIVITIES, "InvalidToken", "Invalid Token: 'Invalid token'")
        rows = self.platform.store.scan(ACTIVITIES, scope, start_after=scope + after if after else None,
                                        limit=limit + 1)
        out: dict[str, Any] = {"activities": [{k: r[k] for k in ("activityArn", "name", "creationDate")}
                                              for _, r in rows[:limit]]}
        if len(rows) > limit:
            out["nextToken"] = encode_token(ACTIVITIES, rows[limit - 1][1]["name"])
        return out

    async def get_activity_task(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["activityArn"]
        self._activity(arn)
        queue = activity_queue(arn)
        store, notifier = self.platform.store, self.platform.notifier
        deadline = time.monotonic() + LONG_POLL_S
        while True:
            for message in store.receive(queue, 1, 30.0):
                store.delete_message(queue, message.receipt or "")
                task = json.loads(message.body)
                if self.runner.token_pending(task["taskToken"]):
                    return {"taskToken": task["taskToken"], "input": task["input"]}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {}
            await notifier.wait(queue, min(remaining, 1.0))

    # -- the activity side of the task invoker -------------------------------------------------

    def schedule_activity(self, arn: str, token: str, task_input: str) -> None:
        if not self.activity_exists(arn):
            raise _not_found(arn)
        self.platform.store.enqueue(activity_queue(arn), json.dumps({"taskToken": token, "input": task_input}).encode(),
                                    message_id=str(uuid.uuid4()))
        self.platform.notifier.notify(activity_queue(arn))
