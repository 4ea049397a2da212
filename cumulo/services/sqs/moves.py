"""Message move tasks: StartMessageMoveTask moves messages out of a dead-letter queue.

A task moves the messages visible in the source (a queue some other queue dead-letters into)
to one destination, or back to each message's original source queue (recorded when it was
dead-lettered). Each batch is one store transaction — lease from the source, enqueue into the
target with the same message id, delete from the source — so a task killed halfway neither
loses nor duplicates a message, and a RUNNING task resumes when the server starts again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.services.sqs.errors import invalid_value, sqs_error
from cumulo.services.sqs.queues import MOVES, parse_queue_arn

if TYPE_CHECKING:
    from cumulo.services.sqs.provider import SqsProvider

log = logging.getLogger("cumulo.sqs.moves")
MAX_RATE = 500
LEASE_S = 60.0
MAX_LISTED = 10


def _not_found(parameter: str) -> Exception:
    return sqs_error("ResourceNotFoundException",
                     f"The resource that you specified for the {parameter} parameter doesn't exist.")


def encode_handle(task_id: str, source: str) -> str:
    return base64.b64encode(json.dumps({"taskId": task_id, "sourceArn": source}).encode()).decode()


def decode_handle(handle: str) -> tuple[str, str]:
    try:
        document = json.loads(base64.b64decode(handle.encode(), validate=True))
        return document["taskId"], document["sourceArn"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise invalid_value("Value for parameter TaskHandle is invalid.") from None


class MoveTasks:
    def __init__(self, provider: SqsProvider) -> None:
        self.provider = provider
        self.store = provider.platform.store
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # ------------------------------------------------------------ API
    def start(self, source: str, destination: str | None, rate: int | None) -> dict[str, Any]:
        queues = self.provider.queues
        if parse_queue_arn(source) is None:
            raise invalid_value("You must use this format to specify the SourceArn: "
                                "arn:<partition>:<service>:<region>:<account-id>:<resource-id>")
        source_queue = queues.by_arn(source)
        if source_queue is None:
            raise _not_found("SourceArn")
        if not any(self.provider.dead_letter_target(q) == source for q in queues.all()):
            raise invalid_value("Source queue must be configured as a Dead Letter Queue.")
        if destination:
            target = queues.by_arn(destination) if parse_queue_arn(destination) else None
            if target is None:
                raise _not_found("DestinationArn")
            if target.fifo != source_queue.fifo:
                raise invalid_value("The source queue and destination queue must be of the same queue type.")
        if rate is not None and not 1 <= rate <= MAX_RATE:
            raise invalid_value(f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: "
                                f"Must be between 1 and {MAX_RATE}.")
        task_id = str(uuid.uuid4())
        started = int(time.time() * 1000)
        with self.store.transaction():
            if any(r["status"] == "RUNNING" for _, r in self.store.scan(MOVES, source + "\x00")):
                raise invalid_value("There is already a task running. Only one active task is allowed for a source "
                                    "queue arn at a given time.")
            record = {"id": task_id, "source": source, "destination": destination, "rate": rate,
                      "status": "RUNNING", "started": started, "moved": 0,
                      "to_move": self.store.queue_stats(source_queue.store_queue).visible}
            self.store.put(MOVES, self._key(source, started, task_id), record)
        self._spawn(self._key(source, started, task_id))
        return {"TaskHandle": encode_handle(task_id, source)}

    def cancel(self, handle: str) -> dict[str, Any]:
        task_id, source = decode_handle(handle)
        if self.provider.queues.by_arn(source) is None:
            raise _not_found("SourceArn")
        with self.store.transaction():
            found = [(k, r) for k, r in self.store.scan(MOVES, source + "\x00") if r["id"] == task_id]
            if not found:
                raise sqs_error("ResourceNotFoundException", "Task does not exist.")
            key, record = found[0]
            if record["status"] != "RUNNING":
                raise invalid_value("Only active tasks can be cancelled.")
            record["status"] = "CANCELLED"
            self.store.put(MOVES, key, record)
        running = self._tasks.pop(key, None)
        if running is not None:
            running.cancel()
        return {"ApproximateNumberOfMessagesMoved": record["moved"]}

    def list(self, source: str, max_results: int | None) -> dict[str, Any]:
        if parse_queue_arn(source) is None:
            raise invalid_value("You must use this format to specify the SourceArn: "
                                "arn:<partition>:<service>:<region>:<account-id>:<resource-id>")
        if self.provider.queues.by_arn(source) is None:
            raise _not_found("SourceArn")
        if max_results is not None and not 1 <= max_results <= MAX_LISTED:
            raise invalid_value(f"Value {max_results} for parameter MaxResults is invalid. Reason: You must enter a "
                                f"number that's between 1 and {MAX_LISTED}.")
        rows = self.store.scan(MOVES, source + "\x00", reverse=True, limit=max_results or 1)
        return {"Results": [self._entry(record) for _, record in rows]}

    @staticmethod
    def _entry(record: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {"Status": record["status"], "SourceArn": record["source"],
                                 "ApproximateNumberOfMessagesMoved": record["moved"],
                                 "ApproximateNumberOfMessagesToMove": record["to_move"],
                                 "StartedTimestamp": record["started"]}
        if record["status"] == "RUNNING":
            entry["TaskHandle"] = encode_handle(record["id"], record["source"])
        if record.get("destination"):
            entry["DestinationArn"] = record["destination"]
        if record.get("rate"):
            entry["MaxNumberOfMessagesPerSecond"] = record["rate"]
        if record.get("failure"):
            entry["FailureReason"] = record["failure"]
        return entry

    # ------------------------------------------------------------ running
    @staticmethod
    def _key(source: str, started: int, task_id: str) -> str:
        return f"{source}\x00{started:015d}{task_id}"

    def resume(self) -> None:
        for key, record in self.store.scan(MOVES):
            if record["status"] == "RUNNING":
                self._spawn(key)

    async def stop(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _spawn(self, key: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(key))
        self._tasks[key] = task
        task.add_done_callback(lambda _t, k=key: self._tasks.pop(k, None))

    async def _run(self, key: str) -> None:
        while True:
            record = self.store.get(MOVES, key)
            if record is None or record["status"] != "RUNNING":
                return
            try:
                moved, done, targets = self._move_batch(key, record)
            except Exception as exc:  # a vanished queue or a refused message fails the task, as in SQS
                reason = getattr(exc, "query_code", None) or getattr(exc, "code", None) or type(exc).__name__
                log.info("message move task %s failed: %s", record["id"], exc)
                with self.store.transaction():
                    current = self.store.get(MOVES, key)
                    if current is not None and current["status"] == "RUNNING":
                        current.update({"status": "FAILED", "failure": reason})
                        self.store.put(MOVES, key, current)
                return
            for channel in targets:
                self.provider.platform.notifier.notify(channel)
            if done:
                return
            rate = record.get("rate")
            await asyncio.sleep(moved / rate if rate else 0)

    def _batch_size(self, record: dict[str, Any]) -> int:
        rate = record.get("rate")
        return max(1, min(10, rate or 10, record["to_move"] - record["moved"]))

    def _move_batch(self, key: str, record: dict[str, Any]) -> tuple[int, bool, set[str]]:
        queues = self.provider.queues
        source = queues.by_arn(record["source"])
        if source is None:
            raise sqs_error("QueueDoesNotExist", "The source queue no longer exists.")
        targets: set[str] = set()
        with self.store.transaction():
            current = self.store.get(MOVES, key)
            if current is None or current["status"] != "RUNNING":
                return 0, True, targets
            leased = []
            if current["moved"] < current["to_move"]:
                leased = self.store.receive(source.store_queue, self._batch_size(current), LEASE_S, fifo=source.fifo)
            for message in leased:
                target_arn = current.get("destination") or message.attributes.get("dlq")
                target = queues.by_arn(target_arn) if target_arn else None
                if target is None:
                    raise sqs_error("QueueDoesNotExist", f"The destination queue {target_arn} does not exist.")
                attributes = {k: v for k, v in message.attributes.items() if k != "dlq"}
                self.store.enqueue(target.store_queue, message.body, message_id=message.message_id,
                                   attributes=attributes, group_id=message.group_id if target.fifo else None)
                self.store.delete_message(source.store_queue, message.receipt or "")
                targets.add(target.channel)
            current["moved"] += len(leased)
            done = not leased or current["moved"] >= current["to_move"]
            if done:
                current["status"] = "COMPLETED"
            self.store.put(MOVES, key, current)
        return len(leased), done, targets
