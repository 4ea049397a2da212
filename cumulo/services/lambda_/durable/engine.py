"""Running durable executions: start, invoke the handler, suspend, and re-invoke when work is due.

Every step forward is a message on the store's durable queue ``lambda.durable``, committed with
the execution record it concerns, so a ``kill -9`` at any point loses nothing: the next start
releases the leased messages and the execution carries on (replaying from its checkpoints, as
the SDK expects). Two kinds of message:

* ``run``: bring the execution up to date (elapsed waits, due retries, callback and execution
  timeouts) and, if something changed since the handler last ran, invoke it with the durable
  event envelope. A PENDING answer suspends the execution until its next timer (one delayed
  ``run`` message, remembered as ``wake_at`` so stale timers are dropped).
* ``chained``: run a CHAINED_INVOKE operation's function and record its result.

An execution is invoked by one worker at a time; a wake that arrives meanwhile is remembered
and runs when the invocation ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.lambda_.durable import state as st
from cumulo.services.lambda_.repository import LambdaRepository
from cumulo.store.base import QueueMessage
from cumulo.store.work_queue import DurableWorkQueue

if TYPE_CHECKING:
    from cumulo.platform import Platform
    from cumulo.services.lambda_.durable.operations import DurableOperations

log = logging.getLogger("cumulo.lambda.durable")
QUEUE = "lambda.durable"
LEASE_S = 960.0
MAX_INVOKE_ERRORS = 3  # unhandled invocation errors before the execution fails
PURGE_EVERY_S = 3600.0  # how often closed executions past their retention period are deleted


class DurableEngine(DurableWorkQueue):
    work_name = "durable execution steps"

    def __init__(self, platform: Platform, provider: DurableOperations) -> None:
        super().__init__(platform, QUEUE, workers=32, batch=16, lease_s=LEASE_S)
        self.provider = provider
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}

    async def start(self) -> None:
        await super().start()
        self.platform.spawn(self._purge_forever(), "durable-retention")

    async def _purge_forever(self) -> None:
        while not self._stopping:
            self.purge_expired(time.time())
            await asyncio.sleep(PURGE_EVERY_S)

    def purge_expired(self, now: float) -> int:
        """Delete closed executions older than their function's RetentionPeriodInDays."""
        expired = [(arn, record) for arn, record in self.store.scan(st.EXECUTIONS)
                   if record.get("end") and record["end"] + record["retention_days"] * 86400 < now]
        with self.store.transaction():
            for arn, record in expired:
                self.store.delete(st.EXECUTIONS, arn)
                for op in record["ops"].values():
                    callback_id = (op.get("CallbackDetails") or {}).get("CallbackId")
                    if callback_id:
                        self.store.delete(st.CALLBACKS, callback_id)
        return len(expired)

    # ------------------------------------------------------------ records
    def load(self, arn: str) -> dict[str, Any] | None:
        return self.store.get(st.EXECUTIONS, arn)

    def save(self, record: dict[str, Any]) -> None:
        self.store.put(st.EXECUTIONS, record["arn"], record)
        if record["status"] != "RUNNING" and record["arn"] in self._waiters:
            # runs after the caller's transaction has committed (no await in between)
            asyncio.get_running_loop().call_soon(self._settle_waiters, record["arn"])

    def wake_now(self, arn: str) -> None:
        """Queue a ``run`` for the execution (call inside the transaction that changed it)."""
        self.store.enqueue(QUEUE, json.dumps({"kind": "run", "arn": arn, "at": 0}).encode(),
                           message_id=str(uuid.uuid4()))

    def schedule(self, record: dict[str, Any]) -> None:
        """Queue the timer of a suspended execution unless an earlier one is queued already."""
        if record["updated"]:
            self.wake_now(record["arn"])
            return
        due = st.next_due(record)
        if due is None:
            return
        wake_at = record.get("wake_at")
        if wake_at is not None and wake_at <= due + 0.001 and wake_at > time.time():
            return
        record["wake_at"] = due
        self.store.enqueue(QUEUE, json.dumps({"kind": "run", "arn": record["arn"], "at": due}).encode(),
                           message_id=str(uuid.uuid4()), delay_s=max(0.0, due - time.time()))

    # ------------------------------------------------------------ waiting for the end
    async def wait_for_end(self, arn: str, timeout: float) -> dict[str, Any]:
        record = self.load(arn)
        if record is None or record["status"] != "RUNNING":
            return record or {}
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(arn, []).append(future)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            waiters = self._waiters.get(arn, [])
            if future in waiters:
                waiters.remove(future)

    def _settle_waiters(self, arn: str) -> None:
        record = self.load(arn)
        for future in self._waiters.pop(arn, []):
            if not future.done():
                future.set_result(record or {})

    # ------------------------------------------------------------ processing
    async def _process(self, message: QueueMessage) -> None:
        body = json.loads(message.body)
        try:
            if body["kind"] == "chained":
                await self._chained(body["arn"], body["op"])
            else:
                await self._run(body["arn"], body.get("at", 0))
        except Exception:
            log.exception("durable execution %s: step failed; it will be retried", body.get("arn"))
            self.store.change_visibility(QUEUE, message.receipt, 5.0)
            return
        self.store.delete_message(QUEUE, message.receipt)

    async def _run(self, arn: str, at: float) -> None:
        if arn in self._running:
            self._again.add(arn)
            return
        self._running.add(arn)
        try:
            await self._run_once(arn, at)
            while arn in self._again:
                self._again.discard(arn)
                await self._run_once(arn, 0)
        finally:
            self._running.discard(arn)

    async def _run_once(self, arn: str, at: float) -> None:
        now = time.time()
        with self.store.transaction():
            record = self.load(arn)
            if record is None or record["status"] != "RUNNING":
                return
            if at and record.get("wake_at") is not None and abs(record["wake_at"] - at) > 0.001:
                return  # a timer that a later one replaced
            if at:
                record.pop("wake_at", None)
            st.advance_timers(record, now)
            ready = any(op["Status"] == "READY" for op in record["ops"].values())
            if record["status"] == "RUNNING" and record.get("invocations") and not record["updated"] \
                    and not ready:
                self.schedule(record)
                self.save(record)
                self.wake()
                return
            if record["status"] != "RUNNING":
                self.save(record)
                return
            envelope = {
                "DurableExecutionArn": arn, "CheckpointToken": record["token"],
                "InitialExecutionState": {"Operations": [st.envelope_operation(op) for op in
                                                         self.operations_page(record, 0, 1000)[0]],
                                          "NextMarker": "1000" if len(record["order"]) > 1000 else ""},
                "UpdatedOperationIds": list(dict.fromkeys(record["updated"])),
            }
            record["updated"] = []
            record["invocations"] = record.get("invocations", 0) + 1
            self.save(record)
        await self._invoke(record, envelope)

    async def _invoke(self, record: dict[str, Any], envelope: dict[str, Any]) -> None:
        arn = record["arn"]
        repo, name = self._function_of(record)
        request_id = str(uuid.uuid4())
        started = time.time()
        outcome: dict[str, Any] | None = None
        failure: dict[str, Any] | None = None
        retryable = True  # a crash or timeout is retried; code that is not durable never will succeed
        try:
            target = self.provider.resolve_target_exact(repo, name, record["version"])
            result = await self.provider.runner.run(
                target, json.dumps(envelope).encode(), request_id=request_id,
                invoked_arn=record["function_arn"], qualifier=record["version"])
            document = json.loads(result.payload or b"null")
            if result.function_error:
                failure = _as_error(document)
            elif not isinstance(document, dict) or document.get("Status") not in ("SUCCEEDED", "FAILED", "PENDING"):
                retryable = False
                failure = {"ErrorType": "Runtime.InvalidResponse",
                           "ErrorMessage": "The function's response is not a durable invocation output: is its "
                                           "handler wrapped by the Durable Execution SDK?"}
            else:
                outcome = document
        except AwsError as error:
            failure = {"ErrorType": error.code, "ErrorMessage": error.message}
        now = time.time()
        with self.store.transaction():
            record = self.load(arn) or record
            # revoke the token the invocation held: a straggling checkpoint cannot land now
            if record["status"] == "RUNNING":
                record["token"] = st.new_token()
            completed: dict[str, Any] = {"StartTimestamp": started, "EndTimestamp": now, "RequestId": request_id}
            if failure is not None:
                completed["Error"] = {"Payload": failure, "Truncated": False}
            st.add_event(record, "InvocationCompleted", {"Type": "EXECUTION"}, now,
                         InvocationCompletedDetails=completed)
            if failure is not None:
                record["invoke_errors"] = record.get("invoke_errors", 0) + 1
                if record["invoke_errors"] >= MAX_INVOKE_ERRORS or not retryable:
                    st.finish(record, "FAILED", now, error=failure)
                else:
                    record["updated"].append(st.execution_id(arn))  # invoke again (replay) after a pause
                    record["wake_at"] = now + record["invoke_errors"]
                    self.store.enqueue(QUEUE, json.dumps({"kind": "run", "arn": arn,
                                                          "at": record["wake_at"]}).encode(),
                                       message_id=str(uuid.uuid4()), delay_s=record["invoke_errors"])
                    self.save(record)
                    self.wake()
                    return
            elif outcome is not None:
                record["invoke_errors"] = 0
                status = outcome.get("Status")
                if status == "SUCCEEDED":
                    st.finish(record, "SUCCEEDED", now, result=outcome.get("Result") or record.get("result") or "")
                elif status == "FAILED":
                    st.finish(record, "FAILED", now, error=outcome.get("Error") or {})
            if record["status"] == "RUNNING":
                self.schedule(record)
            self.save(record)
        self.wake()  # the dispatcher re-reads when the next timer falls due

    def _function_of(self, record: dict[str, Any]) -> tuple[LambdaRepository, str]:
        parts = record["function_arn"].split(":")
        return LambdaRepository(self.store, parts[4], parts[3]), parts[6]

    @staticmethod
    def operations_page(record: dict[str, Any], start: int, size: int) -> tuple[list[dict[str, Any]], str | None]:
        ids = record["order"][start:start + size]
        marker = str(start + size) if start + size < len(record["order"]) else None
        return [st.public_operation(record["ops"][i]) for i in ids], marker

    # ------------------------------------------------------------ chained invokes
    async def _chained(self, arn: str, op_id: str) -> None:
        record = self.load(arn)
        if record is None or record["status"] != "RUNNING":
            return
        op = record["ops"].get(op_id)
        if op is None or op["Status"] in st.TERMINAL:
            return
        parts = arn.split(":")
        result: str | None = None
        error: dict[str, Any] | None = None
        try:
            response = await self.provider.invoke_function(
                op["_function"], (op.get("_input") or "{}").encode(), account=parts[4], region=parts[3])
            payload = response.get("Payload") or b""
            text = payload.decode() if isinstance(payload, bytes) else str(payload)
            if response.get("FunctionError"):
                error = _as_error(json.loads(text or "null"))
            else:
                result = text
        except AwsError as failure:
            error = {"ErrorType": failure.code, "ErrorMessage": failure.message}
        with self.store.transaction():
            record = self.load(arn)
            if record is None:
                return
            if st.complete(record, op_id, "FAILED" if error else "SUCCEEDED", time.time(),
                           result=result, error=error):
                self.wake_now(arn)
                self.save(record)
        self.wake()


def _as_error(document: Any) -> dict[str, Any]:
    """An ErrorObject from a Lambda error payload (errorType/errorMessage/stackTrace)."""
    if not isinstance(document, dict):
        return {"ErrorType": "Unhandled", "ErrorMessage": str(document)}
    error = {"ErrorType": str(document.get("errorType") or "Unhandled"),
             "ErrorMessage": str(document.get("errorMessage") or "")}
    if isinstance(document.get("stackTrace"), list):
        error["StackTrace"] = [str(line) for line in document["stackTrace"]]
    return error
