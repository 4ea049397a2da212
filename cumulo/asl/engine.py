"""The execution engine: runs a `ParsedStateMachine` against the collaborators.

One `Execution` runs one workflow execution as a tree of asyncio coroutines: a *frame* per
sequence of states (the top level, a Parallel branch, a Map iteration), a *visit* per state
entered. Everything the execution observes from outside (task results, timestamps, random values,
task tokens, retry deadlines) is written to the log with a deterministic key, and read back from
the log instead of from outside when the key is already there. That is the whole durability
model: to resume after a crash, build a new `Execution` with the persisted log and `run()` it; it
replays up to where the log ends without invoking anything, then continues live (README.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cumulo.arns import split_arn
from cumulo.asl import errors
from cumulo.asl.callbacks import Callback, UnknownTaskToken
from cumulo.asl.clock import Clock, DeadlineReached, SystemClock, until
from cumulo.asl.error_handling import scoped
from cumulo.asl.flow_states import run_choice, run_fail, run_pass, run_succeed, run_wait
from cumulo.asl.history import NO_DETAILS, HistoryEvent, HistorySink, LogRecord, Memo, error_details
from cumulo.asl.invoker import TaskInvoker
from cumulo.asl.items import ItemReader, ResultWriter
from cumulo.asl.map_state import run_map
from cumulo.asl.model import NULL, ParsedStateMachine, PathField, Program, State
from cumulo.asl.parallel import run_parallel
from cumulo.asl.paths import PathNotFound, apply_result_path, to_json
from cumulo.asl.replay import replay_index
from cumulo.asl.tasks import run_task
from cumulo.asl.templates import Node, lookup
from cumulo.asl.variables import Variables
from cumulo.asl.visit import Frame, Visit, iso_timestamp

SUCCEEDED, FAILED, TIMED_OUT, ABORTED, RUNNING = "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "RUNNING"


@dataclass
class ExecutionInfo:
    """Identity of an execution, as the service knows it."""

    execution_arn: str
    state_machine_arn: str
    input: Any = field(default_factory=dict)
    role_arn: str = ""
    redrive_count: int = 0

    @property
    def name(self) -> str:
        return self.execution_arn.rsplit(":", 1)[-1]

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]

    @property
    def region(self) -> str:
        arn = split_arn(self.execution_arn)
        return arn.region if arn else ""


@dataclass
class ExecutionResult:
    status: str  # SUCCEEDED, FAILED, TIMED_OUT or ABORTED
    output: Any = None
    error: str | None = None
    cause: str | None = None
    start_time: float = 0.0
    stop_time: float = 0.0


class Execution:
    """One execution of a state machine. Create it, then ``await run()``.

    ``log`` is a previously persisted log of this execution (resume after a crash); with
    ``redrive=True`` it is the log of a failed execution to redrive from where it failed.
    ``sink=None`` runs without recording anything (express workflows).
    """

    def __init__(
        self,
        machine: ParsedStateMachine,
        info: ExecutionInfo,
        invoker: TaskInvoker,
        *,
        clock: Clock | None = None,
        sink: HistorySink | None = None,
        log: Iterable[LogRecord] = (),
        redrive: bool = False,
        item_reader: ItemReader | None = None,
        result_writer: ResultWriter | None = None,
    ) -> None:
        self.machine = machine
        self.info = info
        self.invoker = invoker
        self.clock = clock or SystemClock()
        self.sink = sink
        self.item_reader = item_reader
        self.result_writer = result_writer
        self.status = RUNNING
        self.result: ExecutionResult | None = None
        self.recording = sink is not None
        self.replay: dict[str, LogRecord] = {}
        self._next_id = 1
        self._terminal: HistoryEvent | None = None
        self._redrive = redrive
        self._main: asyncio.Future[Any] | None = None
        self._stop: tuple[str | None, str | None] | None = None
        self.callbacks: dict[str, Callback] = {}
        self._names: dict[str, str] = {}
        self.execution_context: dict[str, Any] = {}
        self._load(list(log))
        # TestState hooks (see test_state.py): inspection data and single-state semantics
        self.inspection: dict[str, Any] | None = None
        self.single_state = False
        self.prior_retries = 0

    # -- public API ---------------------------------------------------------------------------

    async def run(self) -> ExecutionResult:
        """Run (or resume, or redrive) the execution to its end."""
        if self._terminal is not None:
            self.result = self._result_of(self._terminal)
            self.status = self.result.status
            return self.result
        root = Frame("", Variables(), 0)
        started = self.emit(root, "ExecutionStarted", ":started", self.recording and {
            "input": to_json(self.info.input), "inputDetails": NO_DETAILS, "roleArn": self.info.role_arn})
        start = started.timestamp
        root.last_id = 0  # as on AWS, the first state entered follows no event (previousEventId 0)
        self.execution_context = {
            "Id": self.info.execution_arn, "Input": self.info.input, "Name": self.info.name,
            "RoleArn": self.info.role_arn, "StartTime": iso_timestamp(start), "RedriveCount": self.info.redrive_count,
        }
        if self._redrive:
            self.emit(root, "ExecutionRedriven", f":redriven{self.info.redrive_count}",
                      {"redriveCount": self.info.redrive_count})
        program = self.machine.program
        self._main = asyncio.ensure_future(self.run_program(program, self.info.input, root))
        if self._stop is not None:
            self._main.cancel()
        deadline = start + program.timeout_seconds if program.timeout_seconds else None
        try:
            output = await until(self.clock, self._main, deadline)
            result = ExecutionResult(SUCCEEDED, output)
            self.emit(root, "ExecutionSucceeded", ":end", self.recording and {
                "output": to_json(output), "outputDetails": NO_DETAILS})
        except DeadlineReached:
            result = ExecutionResult(TIMED_OUT, error=errors.TIMEOUT, cause="The execution timed out.")
            self.emit(root, "ExecutionTimedOut", ":end", {"error": result.error, "cause": result.cause})
        except errors.StatesError as exc:
            result = ExecutionResult(FAILED, error=exc.error, cause=exc.cause)
            self.emit(root, "ExecutionFailed", ":end", error_details(exc.error, exc.cause))
        except asyncio.CancelledError:
            if self._stop is None:
                raise
            error, cause = self._stop
            result = ExecutionResult(ABORTED, error=error, cause=cause)
            root.last_id = 0  # AWS records the abort of a running state with previousEventId 0
            self.emit(root, "ExecutionAborted", ":end", error_details(error, cause))
        finally:
            self._cancel_main()
        result.start_time, result.stop_time = start, self.clock.now()
        await self.flush()
        self.result, self.status = result, result.status
        return result

    async def run_single_state(self, state: State, data: Any,
                               variables: dict[str, Any] | None = None) -> tuple[Any, str | None]:
        """Run one state on its own, without retries or transitions (the TestState API)."""
        self.single_state = True
        self.inspection = {}
        now = self.clock.now()
        self.execution_context = {
            "Id": self.info.execution_arn, "Input": self.info.input, "Name": self.info.name,
            "RoleArn": self.info.role_arn, "StartTime": iso_timestamp(now), "RedriveCount": self.info.redrive_count,
        }
        frame = Frame("", Variables(values=variables), 0)
        return await self.run_state(state, data, frame)

    def stop(self, error: str | None = None, cause: str | None = None) -> None:
        """Abort the execution (StopExecution): ``run()`` returns ABORTED."""
        if self._main is None:
            self._stop = (error, cause)  # not started yet: run() stops as soon as it starts
        elif not self._main.done():
            self._stop = (error, cause)
            self._main.cancel()

    @property
    def pending_task_tokens(self) -> list[str]:
        return list(self.callbacks)

    async def send_task_success(self, token: str, output: Any) -> None:
        """Deliver SendTaskSuccess; returns once the result is recorded (and flushed)."""
        await self._callback(token).deliver(("success", output))

    async def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        await self._callback(token).deliver(("failure", error, cause))

    def send_task_heartbeat(self, token: str) -> None:
        callback = self._callback(token)
        now = self.clock.now()
        callback.last_heartbeat = now
        self.set_memo(f"{callback.site}:hb", now)
        callback.heartbeat.set()

    def _callback(self, token: str) -> Callback:
        try:
            return self.callbacks[token]
        except KeyError:
            raise UnknownTaskToken(token) from None

    # -- the log: replay index, emission, memos ---------------------------------------------
    # emit, memo, set_memo, flush, run_program, exit_state and the input/output processing below
    # are what the state handlers (flow_states, tasks, parallel, map_state) run a state with.

    def _load(self, log: list[LogRecord]) -> None:
        if not log:
            return
        self._next_id = 1 + max((r.id for r in log if isinstance(r, HistoryEvent)), default=0)
        self.replay = replay_index(log, self._redrive)
        terminal = self.replay.get(":end")
        if not self._redrive and isinstance(terminal, HistoryEvent):
            self._terminal = terminal

    def emit(self, frame: Frame, type_: str, key: str, details: dict[str, Any] | bool | None) -> HistoryEvent:
        """Append a history event to ``frame`` (or return the recorded one when replaying ``key``)."""
        recorded = self.replay.get(key)
        if recorded is not None:
            frame.last_id = recorded.id  # type: ignore[union-attr]
            return recorded  # type: ignore[return-value]
        event = HistoryEvent(self._next_id, frame.last_id, self.clock.now(), type_,
                             details or None, key, frame.child)
        self._next_id += 1
        frame.last_id = event.id
        if self.sink is not None:
            self.sink.append(event)
        return event

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """The value recorded under ``key``, or ``make()`` recorded under it."""
        recorded = self.replay.get(key)
        if recorded is not None:
            return recorded.value  # type: ignore[union-attr]
        value = make()
        if self.sink is not None:
            self.sink.append(Memo(key, value))
        return value

    def set_memo(self, key: str, value: Any) -> None:
        """Record ``value`` under ``key`` (read back by a later replay)."""
        if self.sink is not None:
            self.sink.append(Memo(key, value))

    async def flush(self) -> None:
        if self.sink is not None:
            await self.sink.flush()

    def _cancel_main(self) -> None:
        if self._main is not None and not self._main.done():
            self._main.cancel()

    def _result_of(self, terminal: HistoryEvent) -> ExecutionResult:
        details = terminal.details or {}
        status = {"ExecutionSucceeded": SUCCEEDED, "ExecutionFailed": FAILED,
                  "ExecutionTimedOut": TIMED_OUT, "ExecutionAborted": ABORTED}[terminal.type]
        output = json.loads(details["output"]) if "output" in details else None
        started = self.replay.get(":started")
        return ExecutionResult(status, output, details.get("error"), details.get("cause"),
                               started.timestamp if isinstance(started, HistoryEvent) else 0.0,
                               terminal.timestamp)

    # -- running states ------------------------------------------------------------------------

    async def run_program(self, program: Program, data: Any, frame: Frame) -> Any:
        states = program.states
        name: str | None = program.start_at
        while name is not None:
            data, name = await self.run_state(states[name], data, frame)
            if self.single_state:
                break
        return data

    def _state_key(self, frame: Frame, state: State) -> str:
        visit = frame.visits.get(state.name, 0)
        frame.visits[state.name] = visit + 1
        qname = self._names.get(state.name)
        if qname is None:
            qname = self._names[state.name] = quote(state.name, safe="")
        return f"{frame.key}/{qname}#{visit}"

    async def run_state(self, state: State, data: Any, frame: Frame) -> tuple[Any, str | None]:
        visit = Visit(self, frame, state, self._state_key(frame, state))
        entered_type = "FailStateEntered" if state.type == "Fail" else f"{state.type}StateEntered"
        entered = self.emit(frame, entered_type, f"{visit.key}:entered", self.recording and {
            "name": state.name, "input": to_json(data), "inputDetails": NO_DETAILS})
        visit.entered_id, visit.entered_time = entered.id, entered.timestamp
        if self.inspection is not None:
            self.inspection["input"] = data
        handler = _HANDLERS[state.type]
        try:
            return await handler(self, state, data, visit)
        except errors.EvaluationError as exc:
            raise scoped(exc, visit) from None

    def exit_state(self, state: State, visit: Visit, output: Any, assigned: dict[str, Any] | None) -> None:
        if assigned:
            visit.frame.variables.assign(assigned)
            if self.inspection is not None:
                self.inspection["variables"] = visit.frame.variables.visible()
        if self.recording:
            details: dict[str, Any] = {"name": state.name, "output": to_json(output),
                                       "outputDetails": NO_DETAILS}
            if assigned is not None:
                details["assignedVariables"] = {k: to_json(v) for k, v in assigned.items()}
                details["assignedVariablesDetails"] = {"truncated": False}
        else:
            details = None
        self.emit(visit.frame, f"{state.type}StateExited", f"{visit.key}:exited", details)

    # JSONPath input/output processing -------------------------------------------------------

    def input_path(self, state: State, data: Any, visit: Visit) -> Any:
        path = state.input_path
        if path is None:
            return data
        if path is NULL:
            return {}
        try:
            value = lookup(path, data, visit)  # type: ignore[arg-type]
        except PathNotFound:
            raise _invalid_path(path, data) from None  # type: ignore[arg-type]
        if self.inspection is not None:
            self.inspection["afterInputPath"] = value
        return value

    def output_path(self, state: State, data: Any, visit: Visit) -> Any:
        path = state.output_path
        if path is None:
            return data
        if path is NULL:
            return {}
        try:
            return lookup(path, data, visit)  # type: ignore[arg-type]
        except PathNotFound:
            raise _invalid_path(path, data) from None  # type: ignore[arg-type]

    def result_path(self, path: PathField, raw_input: Any, result: Any) -> Any:
        if path is None:
            return result
        if path is NULL:
            return raw_input
        return apply_result_path(raw_input, path, result)  # type: ignore[arg-type]

    def render(self, node: Node | None, data: Any, visit: Visit, states: dict[str, Any] | None = None,
               default: Any = None) -> Any:
        return default if node is None else node.render(data, visit, states)


_HANDLERS: dict[str, Callable[..., Awaitable[tuple[Any, str | None]]]] = {
    "Pass": run_pass, "Choice": run_choice, "Wait": run_wait, "Succeed": run_succeed, "Fail": run_fail,
    "Task": run_task, "Parallel": run_parallel, "Map": run_map,
}


def _invalid_path(path: Any, data: Any) -> errors.EvaluationError:
    return errors.EvaluationError(errors.RUNTIME,
                                  f"Invalid path '{path.source}' : No results for path: {path.normalized()}")


