"""Running executions: the live engines, their logs, stopping, callbacks, and resuming after a crash.

Standard executions
    The execution record (``sfn.executions``) and an entry in the resume list (``sfn.running``)
    are committed by StartExecution before it answers. The engine then runs in the background
    with a `DurableSink`: every record it produces is appended to its log and committed at the
    engine's flush barriers (before each side effect and each blocking wait). The terminal event,
    the record's final status and the removal from the resume list commit together.

    After a restart (``kill -9`` included) every execution in the resume list is rebuilt from
    its log: the engine replays what was recorded without redoing it (tasks are not invoked
    again, random values and task tokens are the same, Wait deadlines are absolute) and continues
    live from where the log ends. A task whose scheduling was committed but whose result was not
    is invoked again (at-least-once, as on AWS).

Express executions
    Run in memory with no history (``sink=None``) unless the machine logs to CloudWatch Logs.
    StartExecution (asynchronous) records the request in the resume list first, so an accepted
    execution runs at least once even across a crash; StartSyncExecution runs in the request and
    is never retried (at most once).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cumulo.asl import Execution, ExecutionInfo, ExecutionResult, HistoryEvent, ParsedStateMachine, UnknownTaskToken
from cumulo.asl import validate as parse_definition
from cumulo.asl.invoker import execution_of_token
from cumulo.protocol.errors import AwsError
from cumulo.services.stepfunctions.integrations import ExecutionInvoker
from cumulo.services.stepfunctions.repository import RUNNING, Repository
from cumulo.services.stepfunctions.s3_items import s3_collaborators
from cumulo.services.stepfunctions.sinks import DurableSink, cloudwatch_sink, load_log

if TYPE_CHECKING:
    from cumulo.services.stepfunctions.provider import StepFunctionsProvider

log = logging.getLogger("cumulo.stepfunctions")
#: how long SendTask* waits for a resumed execution to re-register the token it names
TOKEN_REGISTRATION_WAIT_S = 5.0
MACHINE_CACHE = 256


def invalid_token() -> AwsError:
    return AwsError("InvalidToken", "Invalid Token: 'Invalid token'")


def task_timed_out() -> AwsError:
    return AwsError("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")


def token_site(token: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except ValueError:
        return None
    parts = raw.split("\x1f")
    return parts[1] if len(parts) == 3 else None


class StartedAt:
    """The workflow clock, except that its first reading - the ExecutionStarted event of a fresh
    execution - is the start date StartExecution already answered with."""

    def __init__(self, clock: Any, start: float) -> None:
        self.clock = clock
        self.start: float | None = start

    def now(self) -> float:
        if self.start is not None:
            start, self.start = self.start, None
            return start
        return self.clock.now()

    async def sleep_until(self, deadline: float) -> None:
        await self.clock.sleep_until(deadline)


@dataclass
class Live:
    """One execution running in this process."""

    arn: str
    execution: Execution
    sink: DurableSink | None = None
    record_key: str | None = None
    pending_id: str | None = None  # resume-list entry of an asynchronous express execution
    task: asyncio.Task[Any] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    result: ExecutionResult | None = None
    stopping: bool = False  # StopExecution was called (not a server shutdown)


class Runner:
    def __init__(self, service: StepFunctionsProvider) -> None:
        self.service = service
        self.platform = service.platform
        self.repo: Repository = service.repo
        self.live: dict[str, Live] = {}
        self._machines: dict[str, ParsedStateMachine] = {}
        self._finished: dict[str, list[asyncio.Future[None]]] = {}

    @property
    def clock(self) -> Any:
        return self.service.clock

    # ------------------------------------------------------------ definitions
    def machine(self, digest: str) -> ParsedStateMachine:
        """The compiled definition an execution runs (cached by content)."""
        machine = self._machines.get(digest)
        if machine is None:
            machine = parse_definition(self.repo.definition(digest))
            if len(self._machines) >= MACHINE_CACHE:
                self._machines.pop(next(iter(self._machines)))
            self._machines[digest] = machine
        return machine

    def remember(self, digest: str, machine: ParsedStateMachine) -> None:
        if len(self._machines) >= MACHINE_CACHE:
            self._machines.pop(next(iter(self._machines)))
        self._machines[digest] = machine

    def _info(self, record: dict[str, Any]) -> ExecutionInfo:
        return ExecutionInfo(record["executionArn"], record["stateMachineArn"], json.loads(record["input"]),
                             record.get("roleArn", ""), record.get("redriveCount", 0))

    # ------------------------------------------------------------ standard executions
    def launch_standard(self, key: str, record: dict[str, Any], log_records: list | None = None,
                        next_chunk: int = 1, redrive: bool = False) -> Live:
        arn = record["executionArn"]
        machine = self.machine(record["definition"])
        mirror = cloudwatch_sink(self.platform, record.get("logging"), record["machineName"], arn,
                                 record.get("redriveCount", 0))
        records = log_records or []
        sink = DurableSink(self.repo, record["logId"], key, next_chunk, mirror=mirror,
                           keys={r.key for r in records})
        invoker = ExecutionInvoker(self.service, arn, record["stateMachineArn"])
        clock = self.clock if records else StartedAt(self.clock, record["startDate"])
        execution = Execution(machine, self._info(record), invoker, clock=clock, sink=sink,
                              log=records, redrive=redrive, **s3_collaborators(self.platform))
        live = Live(arn, execution, sink=sink, record_key=key)
        self.live[arn] = live
        live.task = self.platform.spawn(self._drive(live), name=f"sfn:{arn}")
        return live

    async def _drive(self, live: Live) -> None:
        finished = False
        try:
            live.result = await live.execution.run()
            finished = True
        except asyncio.CancelledError:
            if live.sink is not None:
                live.sink.commit()  # a consistent prefix: resumed from here after the restart
            raise
        except Exception as exc:
            log.exception("execution %s failed inside the engine", live.arn)
            self._fail(live, exc)
            finished = True
        finally:
            if self.live.get(live.arn) is live:
                del self.live[live.arn]
            if live.pending_id is not None and finished:
                self.repo.store.delete(RUNNING, live.pending_id)
            live.done.set()
            for future in self._finished.pop(live.arn, []):
                if not future.done():
                    future.set_result(None)

    def _fail(self, live: Live, exc: Exception) -> None:
        """An engine bug must still end the execution (States.Runtime), never leave it RUNNING."""
        if live.sink is None or live.sink.terminal is not None:
            return
        event = HistoryEvent(10 ** 9, 0, self.clock.now(), "ExecutionFailed",
                             {"error": "States.Runtime", "cause": f"Internal error: {exc!r}"}, ":end")
        live.sink.append(event)
        live.sink.commit()

    async def wait(self, arn: str, record_of: Any) -> dict[str, Any]:
        """Wait until a standard execution has ended; returns its record."""
        while True:
            record = record_of()
            if record is None or record["status"] != "RUNNING":
                return record
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._finished.setdefault(arn, []).append(future)
            try:
                await asyncio.wait_for(asyncio.shield(future), 1.0)
            except TimeoutError:
                pass

    async def stop(self, arn: str, error: str | None, cause: str | None) -> None:
        live = self.live.get(arn)
        if live is None:
            return
        live.stopping = True
        live.execution.stop(error, cause)
        await live.done.wait()

    def stopping(self, arn: str) -> bool:
        live = self.live.get(arn)
        return live is not None and live.stopping

    # ------------------------------------------------------------ express executions
    def launch_express(self, spec: dict[str, Any], pending_id: str | None) -> Live:
        live = self._express(spec)
        live.pending_id = pending_id
        self.live[live.arn] = live
        live.task = self.platform.spawn(self._drive(live), name=f"sfn:{live.arn}")
        return live

    async def run_express(self, spec: dict[str, Any]) -> ExecutionResult:
        live = self._express(spec)
        self.live[live.arn] = live
        try:
            return await live.execution.run()
        finally:
            self.live.pop(live.arn, None)
            live.done.set()

    def _express(self, spec: dict[str, Any]) -> Live:
        arn = spec["executionArn"]
        sink = cloudwatch_sink(self.platform, spec.get("logging"), spec["machineName"], arn)
        invoker = ExecutionInvoker(self.service, arn, spec["stateMachineArn"])
        clock = StartedAt(self.clock, spec["startDate"]) if "startDate" in spec else self.clock
        execution = Execution(self.machine(spec["definition"]), self._info(spec), invoker, clock=clock,
                              sink=sink, **s3_collaborators(self.platform))
        return Live(arn, execution)

    # ------------------------------------------------------------ callbacks
    async def send_task(self, token: str, outcome: tuple[Any, ...]) -> None:
        """Deliver SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat for ``token``."""
        arn = execution_of_token(token)
        site = token_site(token)
        if arn is None or site is None:
            raise invalid_token()
        live = await self._waiting_for(token, arn, site)
        try:
            if outcome[0] == "success":
                await live.execution.send_task_success(token, outcome[1])
            elif outcome[0] == "failure":
                await live.execution.send_task_failure(token, outcome[1], outcome[2])
            else:
                live.execution.send_task_heartbeat(token)
                if live.sink is not None:
                    await live.sink.flush()
        except UnknownTaskToken:
            raise task_timed_out() from None

    def token_pending(self, token: str) -> bool:
        """Whether an execution running here waits for ``token`` (activity tasks not yet stale)."""
        arn = execution_of_token(token)
        live = self.live.get(arn) if arn is not None else None
        if live is None:
            # not resumed yet after a restart: hand the task out, the execution will wait for it
            return arn is not None and self.service.execution_running(arn)
        return token in live.execution.pending_task_tokens or (
            live.sink is not None and f"{token_site(token)}:result" not in live.sink.keys)

    async def _waiting_for(self, token: str, arn: str, site: str) -> Live:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TOKEN_REGISTRATION_WAIT_S
        while True:
            live = self.live.get(arn)
            if live is None:
                if not self.service.execution_exists(arn):
                    raise invalid_token()
                if not self.service.execution_running(arn) or loop.time() > deadline:
                    raise task_timed_out()
                await asyncio.sleep(0.01)  # running, not resumed yet after a restart
                continue
            if token in live.execution.pending_task_tokens:
                return live
            # A resumed execution re-registers its tokens as it replays: wait for it, unless the
            # task the token was issued for has already finished.
            if (live.sink is not None and f"{site}:result" in live.sink.keys) or loop.time() > deadline:
                raise task_timed_out()
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------ restart
    async def resume_all(self) -> None:
        """Rebuild every execution that was running when the server stopped."""
        for pending_id, entry in self.repo.running():
            try:
                if entry.get("kind") == "express":
                    self.launch_express(entry["spec"], pending_id)
                    continue
                key = entry["key"]
                record = self.repo.execution_by_key(key)
                if record is None or record["status"] != "RUNNING":
                    self.repo.store.delete(RUNNING, pending_id)
                    continue
                records, next_chunk = load_log(self.repo, record["logId"])
                self.launch_standard(key, record, records, next_chunk)
            except Exception:
                log.exception("could not resume execution %s", pending_id)
        if self.live:
            log.info("resumed %d Step Functions execution(s)", len(self.live))

    async def shutdown(self) -> None:
        tasks = [live.task for live in self.live.values() if live.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
