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
import random
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from cumulo.asl import errors
from cumulo.asl.choice import parse_timestamp
from cumulo.asl.clock import Clock, SystemClock
from cumulo.asl.history import HistoryEvent, HistorySink, LogRecord, Memo
from cumulo.asl.invoker import (
    Resource,
    TaskFailure,
    TaskInvoker,
    TaskRequest,
    make_task_token,
    parse_resource,
)
from cumulo.asl.items import ItemReader, ItemReaderRequest, ResultWriter, ResultWriterRequest
from cumulo.asl.model import (
    NULL,
    Catcher,
    ChoiceState,
    ErrorHandlingState,
    FailState,
    MapState,
    ParallelState,
    ParsedStateMachine,
    PassState,
    PathField,
    Program,
    Retrier,
    State,
    SucceedState,
    TaskState,
    WaitState,
)
from cumulo.asl.paths import PathNotFound, apply_result_path, to_json
from cumulo.asl.templates import Node, lookup
from cumulo.asl.variables import Variables

SUCCEEDED, FAILED, TIMED_OUT, ABORTED, RUNNING = "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "RUNNING"
DEFAULT_TASK_TIMEOUT = 99_999_999
_NO_DETAILS: dict[str, Any] = {"truncated": False}


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
        parts = self.execution_arn.split(":")
        return parts[3] if len(parts) > 3 else ""


@dataclass
class ExecutionResult:
    status: str  # SUCCEEDED, FAILED, TIMED_OUT or ABORTED
    output: Any = None
    error: str | None = None
    cause: str | None = None
    start_time: float = 0.0
    stop_time: float = 0.0


class UnknownTaskToken(KeyError):
    """send_task_* with a token this execution is not waiting for (AWS: TaskDoesNotExist)."""


class NotRedrivable(ValueError):
    """redrive of an execution that did not fail, time out or abort."""


class _Timeout(Exception):
    pass


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Frame:
    """One sequence of states: the top level, a Parallel branch or a Map iteration."""

    __slots__ = ("child", "key", "last_id", "variables", "visits")

    def __init__(self, key: str, variables: Variables, last_id: int, child: str | None = None) -> None:
        self.key = key
        self.variables = variables
        self.last_id = last_id
        self.visits: dict[str, int] = {}
        self.child = child


class Visit:
    """One entry into one state: the `templates.Env` its fields are evaluated in."""

    __slots__ = ("_context", "_draws", "entered_id", "entered_time", "execution", "frame", "key",
                 "map_item", "retry_count", "state", "task_token")

    def __init__(self, execution: Execution, frame: Frame, state: State, key: str) -> None:
        self.execution = execution
        self.frame = frame
        self.state = state
        self.key = key
        self.entered_id = 0
        self.entered_time = 0.0
        self.retry_count = 0
        self.task_token: str | None = None
        self.map_item: tuple[int, Any] | None = None
        self._context: dict[str, Any] | None = None
        self._draws = 0

    # -- templates.Env ------------------------------------------------------------------------

    @property
    def entropy(self) -> Visit:
        return self

    def context(self) -> dict[str, Any]:
        if self._context is None:
            ex = self.execution
            ctx: dict[str, Any] = {
                "Execution": ex.execution_context,
                "State": {"EnteredTime": _iso(self.entered_time), "Name": self.state.name,
                          "RetryCount": self.retry_count},
                "StateMachine": {"Id": ex.info.state_machine_arn, "Name": ex.info.state_machine_name},
            }
            if self.task_token is not None:
                ctx["Task"] = {"Token": self.task_token}
            if self.map_item is not None:
                ctx["Map"] = {"Item": {"Index": self.map_item[0], "Value": self.map_item[1]}}
            self._context = ctx
        return self._context

    def variable(self, name: str) -> Any:
        return self.frame.variables.get(name)

    def jsonata_bindings(self, states: dict[str, Any]) -> dict[str, Any]:
        from jsonata.utils import Utils

        bindings = {k: (Utils.NULL_VALUE if v is None else v)
                    for k, v in self.frame.variables.visible().items()}
        bindings["states"] = {**states, "context": self.context()}
        return bindings

    def now_ms(self) -> int:
        return int(self.entered_time * 1000)

    # -- intrinsics.Entropy: recorded, so that a replay draws the same values --------------------

    def uuid(self) -> str:
        return self._draw(lambda: str(uuid.uuid4()))

    def random_int(self, start: int, end: int) -> int:
        return self._draw(lambda: random.randrange(start, end))

    def _draw(self, make: Callable[[], Any]) -> Any:
        self._draws += 1
        return self.execution._memo(f"{self.key}:n{self._draws}", make)

    def with_item(self, key: str, index: int, value: Any) -> Visit:
        """This visit as seen from a Map item's ItemSelector (``$$.Map.Item`` set)."""
        clone = Visit(self.execution, self.frame, self.state, key)
        clone.entered_id, clone.entered_time = self.entered_id, self.entered_time
        clone.retry_count = self.retry_count
        clone.map_item = (index, value)
        return clone

    def retried(self) -> None:
        self.retry_count += 1
        self._context = None


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
        self._recording = sink is not None
        self._replay: dict[str, LogRecord] = {}
        self._next_id = 1
        self._terminal: HistoryEvent | None = None
        self._redrive = redrive
        self._main: asyncio.Future[Any] | None = None
        self._stop: tuple[str | None, str | None] | None = None
        self._callbacks: dict[str, _Callback] = {}
        self._names: dict[str, str] = {}
        self.execution_context: dict[str, Any] = {}
        self._load(list(log))
        # TestState hooks (see test_state.py): inspection data and single-state semantics
        self._inspect: dict[str, Any] | None = None
        self._single_state = False
        self._prior_retries = 0

    # -- public API ---------------------------------------------------------------------------

    async def run(self) -> ExecutionResult:
        """Run (or resume, or redrive) the execution to its end."""
        if self._terminal is not None:
            self.result = self._result_of(self._terminal)
            self.status = self.result.status
            return self.result
        root = Frame("", Variables(), 0)
        started = self._emit(root, "ExecutionStarted", ":started", self._recording and {
            "input": to_json(self.info.input), "inputDetails": _NO_DETAILS, "roleArn": self.info.role_arn})
        start = started.timestamp
        root.last_id = 0  # as on AWS, the first state entered follows no event (previousEventId 0)
        self.execution_context = {
            "Id": self.info.execution_arn, "Input": self.info.input, "Name": self.info.name,
            "RoleArn": self.info.role_arn, "StartTime": _iso(start), "RedriveCount": self.info.redrive_count,
        }
        if self._redrive:
            self._emit(root, "ExecutionRedriven", f":redriven{self.info.redrive_count}",
                       {"redriveCount": self.info.redrive_count})
        program = self.machine.program
        self._main = asyncio.ensure_future(self._run_program(program, self.info.input, root))
        if self._stop is not None:
            self._main.cancel()
        deadline = start + program.timeout_seconds if program.timeout_seconds else None
        try:
            output = await self._until(self._main, deadline)
            result = ExecutionResult(SUCCEEDED, output)
            self._emit(root, "ExecutionSucceeded", ":end", self._recording and {
                "output": to_json(output), "outputDetails": _NO_DETAILS})
        except _Timeout:
            result = ExecutionResult(TIMED_OUT, error=errors.TIMEOUT, cause="The execution timed out.")
            self._emit(root, "ExecutionTimedOut", ":end", {"error": result.error, "cause": result.cause})
        except errors.StatesError as exc:
            result = ExecutionResult(FAILED, error=exc.error, cause=exc.cause)
            self._emit(root, "ExecutionFailed", ":end", _error_details(exc.error, exc.cause))
        except asyncio.CancelledError:
            if self._stop is None:
                raise
            error, cause = self._stop
            result = ExecutionResult(ABORTED, error=error, cause=cause)
            root.last_id = 0  # AWS records the abort of a running state with previousEventId 0
            self._emit(root, "ExecutionAborted", ":end", _error_details(error, cause))
        finally:
            self._cancel_main()
        result.start_time, result.stop_time = start, self.clock.now()
        await self._flush()
        self.result, self.status = result, result.status
        return result

    async def run_single_state(self, state: State, data: Any,
                               variables: dict[str, Any] | None = None) -> tuple[Any, str | None]:
        """Run one state on its own, without retries or transitions (the TestState API)."""
        self._single_state = True
        self._inspect = {}
        now = self.clock.now()
        self.execution_context = {
            "Id": self.info.execution_arn, "Input": self.info.input, "Name": self.info.name,
            "RoleArn": self.info.role_arn, "StartTime": _iso(now), "RedriveCount": self.info.redrive_count,
        }
        frame = Frame("", Variables(values=variables), 0)
        return await self._run_state(state, data, frame)

    def stop(self, error: str | None = None, cause: str | None = None) -> None:
        """Abort the execution (StopExecution): ``run()`` returns ABORTED."""
        if self._main is None:
            self._stop = (error, cause)  # not started yet: run() stops as soon as it starts
        elif not self._main.done():
            self._stop = (error, cause)
            self._main.cancel()

    @property
    def pending_task_tokens(self) -> list[str]:
        return list(self._callbacks)

    async def send_task_success(self, token: str, output: Any) -> None:
        """Deliver SendTaskSuccess; returns once the result is recorded (and flushed)."""
        await self._callback(token).deliver(("success", output))

    async def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        await self._callback(token).deliver(("failure", error, cause))

    def send_task_heartbeat(self, token: str) -> None:
        callback = self._callback(token)
        now = self.clock.now()
        callback.last_heartbeat = now
        self._memo_set(f"{callback.site}:hb", now)
        callback.heartbeat.set()

    def _callback(self, token: str) -> _Callback:
        try:
            return self._callbacks[token]
        except KeyError:
            raise UnknownTaskToken(token) from None

    # -- the log: replay index, emission, memos ---------------------------------------------

    def _load(self, log: list[LogRecord]) -> None:
        if not log:
            return
        self._next_id = 1 + max((r.id for r in log if isinstance(r, HistoryEvent)), default=0)
        index: dict[str, LogRecord] = {r.key: r for r in log}
        if not self._redrive:
            index = _resume_index(log, index)
        terminal = index.get(":end")
        if self._redrive:
            if not isinstance(terminal, HistoryEvent) or terminal.type == "ExecutionSucceeded":
                raise NotRedrivable("only a FAILED, TIMED_OUT or ABORTED execution can be redriven")
            index = _redrive_index(index)
        elif isinstance(terminal, HistoryEvent):
            self._terminal = terminal
        self._replay = index

    def _emit(self, frame: Frame, type_: str, key: str,
              details: dict[str, Any] | bool | None) -> HistoryEvent:
        recorded = self._replay.get(key)
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

    def _memo(self, key: str, make: Callable[[], Any]) -> Any:
        recorded = self._replay.get(key)
        if recorded is not None:
            return recorded.value  # type: ignore[union-attr]
        value = make()
        if self.sink is not None:
            self.sink.append(Memo(key, value))
        return value

    def _memo_set(self, key: str, value: Any) -> None:
        if self.sink is not None:
            self.sink.append(Memo(key, value))

    async def _flush(self) -> None:
        if self.sink is not None:
            await self.sink.flush()

    async def _until(self, awaitable: Awaitable[Any], deadline: float | None) -> Any:
        """Await ``awaitable``; raise _Timeout (cancelling it) if the clock reaches ``deadline``."""
        if deadline is None:
            return await awaitable
        work = asyncio.ensure_future(awaitable)
        timer = asyncio.ensure_future(self.clock.sleep_until(deadline))
        try:
            await asyncio.wait((work, timer), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            work.cancel()
            raise
        finally:
            timer.cancel()
        if work.done():
            return work.result()
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        raise _Timeout

    def _cancel_main(self) -> None:
        if self._main is not None and not self._main.done():
            self._main.cancel()

    def _result_of(self, terminal: HistoryEvent) -> ExecutionResult:
        details = terminal.details or {}
        status = {"ExecutionSucceeded": SUCCEEDED, "ExecutionFailed": FAILED,
                  "ExecutionTimedOut": TIMED_OUT, "ExecutionAborted": ABORTED}[terminal.type]
        output = json.loads(details["output"]) if "output" in details else None
        started = self._replay.get(":started")
        return ExecutionResult(status, output, details.get("error"), details.get("cause"),
                               started.timestamp if isinstance(started, HistoryEvent) else 0.0,
                               terminal.timestamp)

    # -- running states ------------------------------------------------------------------------

    async def _run_program(self, program: Program, data: Any, frame: Frame) -> Any:
        states = program.states
        name: str | None = program.start_at
        while name is not None:
            data, name = await self._run_state(states[name], data, frame)
            if self._single_state:
                break
        return data

    def _state_key(self, frame: Frame, state: State) -> str:
        visit = frame.visits.get(state.name, 0)
        frame.visits[state.name] = visit + 1
        qname = self._names.get(state.name)
        if qname is None:
            qname = self._names[state.name] = quote(state.name, safe="")
        return f"{frame.key}/{qname}#{visit}"

    async def _run_state(self, state: State, data: Any, frame: Frame) -> tuple[Any, str | None]:
        visit = Visit(self, frame, state, self._state_key(frame, state))
        entered_type = "FailStateEntered" if state.type == "Fail" else f"{state.type}StateEntered"
        entered = self._emit(frame, entered_type, f"{visit.key}:entered", self._recording and {
            "name": state.name, "input": to_json(data), "inputDetails": _NO_DETAILS})
        visit.entered_id, visit.entered_time = entered.id, entered.timestamp
        if self._inspect is not None:
            self._inspect["input"] = data
        handler = _HANDLERS[state.type]
        try:
            return await handler(self, state, data, visit)
        except errors.EvaluationError as exc:
            raise _scoped(exc, visit) from None

    def _exit(self, state: State, visit: Visit, output: Any, assigned: dict[str, Any] | None) -> None:
        if assigned:
            visit.frame.variables.assign(assigned)
            if self._inspect is not None:
                self._inspect["variables"] = visit.frame.variables.visible()
        if self._recording:
            details: dict[str, Any] = {"name": state.name, "output": to_json(output),
                                       "outputDetails": _NO_DETAILS}
            if assigned is not None:
                details["assignedVariables"] = {k: to_json(v) for k, v in assigned.items()}
                details["assignedVariablesDetails"] = {"truncated": False}
        else:
            details = None
        self._emit(visit.frame, f"{state.type}StateExited", f"{visit.key}:exited", details)

    # JSONPath input/output processing -------------------------------------------------------

    def _input_path(self, state: State, data: Any, visit: Visit) -> Any:
        path = state.input_path
        if path is None:
            return data
        if path is NULL:
            return {}
        try:
            value = lookup(path, data, visit)  # type: ignore[arg-type]
        except PathNotFound:
            raise _invalid_path(path, data) from None  # type: ignore[arg-type]
        if self._inspect is not None:
            self._inspect["afterInputPath"] = value
        return value

    def _output_path(self, state: State, data: Any, visit: Visit) -> Any:
        path = state.output_path
        if path is None:
            return data
        if path is NULL:
            return {}
        try:
            return lookup(path, data, visit)  # type: ignore[arg-type]
        except PathNotFound:
            raise _invalid_path(path, data) from None  # type: ignore[arg-type]

    def _result_path(self, path: PathField, raw_input: Any, result: Any) -> Any:
        if path is None:
            return result
        if path is NULL:
            return raw_input
        return apply_result_path(raw_input, path, result)  # type: ignore[arg-type]

    def _render(self, node: Node | None, data: Any, visit: Visit, states: dict[str, Any] | None = None,
                default: Any = None) -> Any:
        return default if node is None else node.render(data, visit, states)

    # Pass, Choice, Wait, Succeed, Fail --------------------------------------------------------

    async def _pass(self, state: PassState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
        if state.jsonata:
            states = {"input": raw}
            output = self._render(state.output, None, visit, states, raw)
            assigned = self._render(state.assign, None, visit, states)
        else:
            effective = self._input_path(state, raw, visit)
            if state.parameters is not None:
                result = state.parameters.render(effective, visit)
                if self._inspect is not None:
                    self._inspect["afterParameters"] = result
            elif state.result is not None:
                result = state.result.render(None, visit)
            else:
                result = effective
            assigned = self._render(state.assign, result, visit)
            combined = self._result_path(state.result_path, raw, result)
            if self._inspect is not None:
                self._inspect["result"] = result
                self._inspect["afterResultPath"] = combined
            output = self._output_path(state, combined, visit)
        self._exit(state, visit, output, assigned)
        return output, state.next

    async def _choice(self, state: ChoiceState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
        if state.jsonata:
            states = {"input": raw}
            for i, branch in enumerate(state.choices):
                matched = branch.condition.render(None, visit, states)  # type: ignore[union-attr]
                if not isinstance(matched, bool):
                    raise errors.EvaluationError(
                        errors.QUERY_EVALUATION_ERROR,
                        f"The Condition of Choices[{i}] must evaluate to a boolean, got {to_json(matched)}")
                if matched:
                    output = self._render(branch.output or state.output, None, visit, states, raw)
                    assigned = self._render(branch.assign or state.assign, None, visit, states)
                    self._exit(state, visit, output, assigned)
                    return output, branch.next
            target = state.default
            output = self._render(state.output, None, visit, states, raw)
            assigned = self._render(state.assign, None, visit, states)
        else:
            effective = self._input_path(state, raw, visit)
            target, assign_node = state.default, state.assign
            for branch in state.choices:
                if branch.rule.evaluate(effective, visit):  # type: ignore[union-attr]
                    target, assign_node = branch.next, branch.assign or state.assign
                    break
            else:
                if target is None:
                    raise errors.StatesError(errors.NO_CHOICE_MATCHED,
                                             f"No Matches! for the state '{state.name}'")
            assigned = self._render(assign_node, effective, visit)
            output = self._output_path(state, effective, visit)
        if target is None:
            raise errors.StatesError(errors.NO_CHOICE_MATCHED, f"No Matches! for the state '{state.name}'")
        self._exit(state, visit, output, assigned)
        return output, target

    async def _wait(self, state: WaitState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
        effective = raw if state.jsonata else self._input_path(state, raw, visit)
        states = {"input": raw}
        error = errors.QUERY_EVALUATION_ERROR if state.jsonata else errors.RUNTIME
        if state.seconds is not None:
            seconds = state.seconds.render(effective, visit, states)
            if not _is_int(seconds) or seconds < 0:
                raise errors.EvaluationError(
                    error, f"The Seconds value must be a non-negative integer, got {to_json(seconds)}")
            deadline = visit.entered_time + seconds
        else:
            stamp = state.timestamp.render(effective, visit, states)  # type: ignore[union-attr]
            parsed = parse_timestamp(stamp)
            if parsed is None:
                raise errors.EvaluationError(
                    error, f"The Timestamp value must be an RFC3339 timestamp, got {to_json(stamp)}")
            deadline = parsed.timestamp()
        if not self._single_state:
            await self._flush()
            await self.clock.sleep_until(deadline)
        if state.jsonata:
            output = self._render(state.output, None, visit, states, raw)
            assigned = self._render(state.assign, None, visit, states)
        else:
            assigned = self._render(state.assign, effective, visit)
            output = self._output_path(state, effective, visit)
        self._exit(state, visit, output, assigned)
        return output, state.next

    async def _succeed(self, state: SucceedState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
        if state.jsonata:
            output = self._render(state.output, None, visit, {"input": raw}, raw)
        else:
            output = self._output_path(state, self._input_path(state, raw, visit), visit)
        self._exit(state, visit, output, None)
        return output, None

    async def _fail(self, state: FailState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
        states = {"input": raw}
        error = self._render(state.error, raw, visit, states)
        cause = self._render(state.cause, raw, visit, states)
        for field_name, value in (("Error", error), ("Cause", cause)):
            if value is not None and not isinstance(value, str):
                raise errors.EvaluationError(
                    errors.QUERY_EVALUATION_ERROR if state.jsonata else errors.RUNTIME,
                    f"The value of the field '{field_name}' must be a string, got {to_json(value)}")
        raise errors.StatesError(error or "", cause)

    # Task, Parallel, Map: retry and catch around attempts --------------------------------------

    async def _with_error_handling(self, state: ErrorHandlingState, raw: Any, visit: Visit,
                                   attempt_fn: Callable[[int], Awaitable[Any]]) -> tuple[Any, str | None]:
        counts = [self._prior_retries] * len(state.retry)
        attempt = 0
        while True:
            try:
                result = await attempt_fn(attempt)
                output, assigned = self._finish(state, raw, result, visit)
                self._exit(state, visit, output, assigned)
                return output, state.next
            except errors.StatesError as exc:
                exc = _scoped(exc, visit)
                if exc.error in errors.UNCATCHABLE:
                    raise exc from None
                for index, retrier in enumerate(state.retry):
                    if _matches(retrier.error_equals, exc.error):
                        if counts[index] < retrier.max_attempts:
                            delay = _backoff(retrier, counts[index], visit)
                            if self._inspect is not None:
                                raise _Retriable(index, delay, exc) from None
                            counts[index] += 1
                            deadline = self._memo(f"{visit.key}:retry{attempt}",
                                                  lambda delay=delay: self.clock.now() + delay)
                            await self._flush()
                            await self.clock.sleep_until(deadline)
                            attempt += 1
                            visit.retried()
                            break
                        retrier = None  # type: ignore[assignment]  # exhausted: fall through to Catch
                        break
                else:
                    retrier = None  # type: ignore[assignment]
                if retrier is not None:
                    continue
                for index, catcher in enumerate(state.catch):
                    if _matches(catcher.error_equals, exc.error):
                        if self._inspect is not None:
                            self._inspect.setdefault("errorDetails", {})["catchIndex"] = index
                            self._inspect["caughtError"] = exc
                        return self._caught(state, raw, exc, catcher, visit), catcher.next
                raise exc from None

    def _finish(self, state: ErrorHandlingState, raw: Any, result: Any,
                visit: Visit) -> tuple[Any, dict[str, Any] | None]:
        if self._inspect is not None:
            self._inspect["result"] = result
        if state.jsonata:
            states = {"input": raw, "result": result}
            return (self._render(state.output, None, visit, states, result),
                    self._render(state.assign, None, visit, states))
        selected = result
        if state.result_selector is not None:
            selected = state.result_selector.render(result, visit)
            if self._inspect is not None:
                self._inspect["afterResultSelector"] = selected
        assigned = self._render(state.assign, selected, visit)
        combined = self._result_path(state.result_path, raw, selected)
        if self._inspect is not None:
            self._inspect["afterResultPath"] = combined
        return self._output_path(state, combined, visit), assigned

    def _caught(self, state: ErrorHandlingState, raw: Any, exc: errors.StatesError, catcher: Catcher,
                visit: Visit) -> Any:
        error_output = exc.to_output()
        if state.jsonata:
            states = {"input": raw, "errorOutput": error_output}
            output = self._render(catcher.output, None, visit, states, error_output)
            assigned = self._render(catcher.assign, None, visit, states)
        else:
            assigned = self._render(catcher.assign, error_output, visit)
            output = self._result_path(catcher.result_path, raw, error_output)
        self._exit(state, visit, output, assigned)
        return output

    # Task -----------------------------------------------------------------------------------

    async def _task(self, state: TaskState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
        resource = parse_resource(state.resource)

        async def attempt(n: int) -> Any:
            site = f"{visit.key}@{n}"
            if resource.waits_for_callback:
                visit.task_token = self._memo(f"{site}:token", lambda: make_task_token(
                    self.info.execution_arn, site, uuid.uuid4().hex))
                visit._context = None
            states = {"input": raw}
            if state.jsonata:
                params = self._render(state.parameters, None, visit, states, raw)
            else:
                effective = self._input_path(state, raw, visit)
                params = self._render(state.parameters, effective, visit, None, effective)
                if self._inspect is not None and state.parameters is not None:
                    self._inspect["afterParameters"] = params
            if self._inspect is not None:
                self._inspect["afterArguments" if state.jsonata else "afterParameters"] = params
            timeout = self._seconds(state.timeout_seconds, raw, visit, "TimeoutSeconds")
            heartbeat = self._seconds(state.heartbeat_seconds, raw, visit, "HeartbeatSeconds")
            credentials = self._render(state.credentials, raw, visit, states)
            request = TaskRequest(resource, params, visit.task_token, timeout or DEFAULT_TASK_TIMEOUT,
                                  heartbeat, credentials,
                                  self.info.execution_arn, state.name, n, self.info.region, site)
            return await self._invoke(request, site, visit)

        return await self._with_error_handling(state, raw, visit, attempt)

    def _seconds(self, node: Node | None, raw: Any, visit: Visit, name: str) -> int | None:
        if node is None:
            return None
        value = node.render(raw, visit, {"input": raw})
        if not _is_int(value) or value < 1:
            raise errors.EvaluationError(
                errors.QUERY_EVALUATION_ERROR if visit.state.jsonata else errors.RUNTIME,
                f"The value of {name} must be a positive integer, got {to_json(value)}")
        return value

    async def _invoke(self, request: TaskRequest, site: str, visit: Visit) -> Any:
        """Invoke (or replay) one task attempt, emitting the task's history events."""
        resource = request.resource
        prefix, names = _event_names(resource)
        frame = visit.frame
        recorded = self._replay.get(f"{site}:result")
        scheduled = self._emit(frame, names[0], f"{site}:scheduled",
                               self._recording and _scheduled_details(request))
        if recorded is None:
            await self._flush()  # the attempt is durable before its side effect
        self._emit(frame, names[1], f"{site}:started", (self._recording and (
            {"resourceType": resource.resource_type, "resource": resource.resource_name}
            if prefix == "Task" else {})) or None)
        if recorded is not None:
            return _replayed_result(recorded)  # type: ignore[arg-type]
        # no clock timer for the default (practically infinite) timeout: only an explicit one races
        deadline = None if request.timeout_seconds == DEFAULT_TASK_TIMEOUT else \
            scheduled.timestamp + request.timeout_seconds
        try:
            if resource.waits_for_callback:
                result = await self._invoke_and_wait(request, site, visit, deadline)
            else:
                result = await self._until(self.invoker.invoke(request), deadline)
        except _Timeout:
            exc = errors.StatesError(errors.TIMEOUT, None)
            self._emit(frame, f"{prefix}TimedOut", f"{site}:result", _result_error(prefix, resource, exc))
            raise exc from None
        except _HeartbeatTimeout:
            exc = errors.StatesError(errors.HEARTBEAT_TIMEOUT, None)
            self._emit(frame, f"{prefix}TimedOut", f"{site}:result", _result_error(prefix, resource, exc))
            raise exc from None
        except TaskFailure as failure:
            exc = errors.StatesError(failure.error, failure.cause)
            self._emit(frame, f"{prefix}Failed", f"{site}:result", _result_error(prefix, resource, exc))
            raise exc from None
        details: dict[str, Any] = {"output": to_json(result), "outputDetails": _NO_DETAILS}
        if prefix == "Task":
            details = {"resourceType": resource.resource_type, "resource": resource.resource_name, **details}
        self._emit(frame, f"{prefix}Succeeded", f"{site}:result", details)
        return result

    async def _invoke_and_wait(self, request: TaskRequest, site: str, visit: Visit,
                               deadline: float | None) -> Any:
        token = request.task_token or ""
        callback = _Callback(site, self._replay.get(f"{site}:hb"), visit.entered_time)
        early = self._replay.get(f"{site}:early")
        if isinstance(early, Memo):  # delivered during the submission, before a crash
            callback.future.set_result(tuple(early.value))
        self._callbacks[token] = callback
        try:
            if f"{site}:submitted" not in self._replay:
                callback.submitting = self
                try:
                    response = await self._until(self.invoker.invoke(request), deadline)
                finally:
                    callback.submitting = None
                if request.resource.kind != "activity":
                    self._emit(visit.frame, "TaskSubmitted", f"{site}:submitted", {
                        "resourceType": request.resource.resource_type,
                        "resource": request.resource.resource_name,
                        "output": to_json(response), "outputDetails": _NO_DETAILS})
                else:
                    self._memo_set(f"{site}:submitted", True)
            await self._flush()
            outcome = await callback.wait(self.clock, deadline, request.heartbeat_seconds)
        finally:
            self._callbacks.pop(token, None)
        try:
            if outcome[0] == "failure":
                raise TaskFailure(outcome[1] or "", outcome[2])
            return outcome[1]
        finally:
            callback.recorded_after(self)

    # Parallel -------------------------------------------------------------------------------

    async def _parallel(self, state: ParallelState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
        async def attempt(n: int) -> Any:
            site = f"{visit.key}@{n}"
            _raise_recorded_outcome(self._replay.get(f"{site}:outcome"))
            if state.jsonata:
                branch_input = self._render(state.parameters, None, visit, {"input": raw}, raw)
            else:
                effective = self._input_path(state, raw, visit)
                branch_input = self._render(state.parameters, effective, visit, None, effective)
            frame = visit.frame
            started = self._emit(frame, "ParallelStateStarted", f"{site}:started", None)

            def branch(i: int, program: Program) -> Callable[[], Awaitable[Any]]:
                async def run() -> Any:
                    unit = f"{site}/b{i}"
                    child = Frame(unit, frame.variables.child(), started.id, frame.child)
                    output = await self._run_program(program, branch_input, child)
                    self._memo_set(f"{unit}:succeeded", True)
                    return output
                return run

            try:
                results = await _gather_fail_fast([branch(i, p) for i, p in enumerate(state.branches)], 0)
            except errors.StatesError as exc:
                self._memo_set(f"{site}:outcome", {"error": exc.error, "cause": exc.cause})
                self._emit(frame, "ParallelStateFailed", f"{site}:failed", None)
                raise
            self._emit(frame, "ParallelStateSucceeded", f"{site}:succeeded", None)
            return results

        return await self._with_error_handling(state, raw, visit, attempt)

    # Map ------------------------------------------------------------------------------------

    async def _map(self, state: MapState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
        async def attempt(n: int) -> Any:
            site = f"{visit.key}@{n}"
            _raise_recorded_outcome(self._replay.get(f"{site}:outcome"))
            runner = _MapRun(self, state, raw, visit, site)
            return await runner.run()

        return await self._with_error_handling(state, raw, visit, attempt)


_HANDLERS: dict[str, Callable[..., Awaitable[tuple[Any, str | None]]]] = {
    "Pass": Execution._pass, "Choice": Execution._choice, "Wait": Execution._wait,
    "Succeed": Execution._succeed, "Fail": Execution._fail, "Task": Execution._task,
    "Parallel": Execution._parallel, "Map": Execution._map,
}


class _MapRun:
    """One attempt of a Map state: read items, run the iterations, collect the results."""

    def __init__(self, execution: Execution, state: MapState, raw: Any, visit: Visit, site: str) -> None:
        self.ex = execution
        self.state = state
        self.raw = raw
        self.visit = visit
        self.site = site
        self.distributed = state.mode == "DISTRIBUTED"

    def _value(self, node: Node | None, data: Any) -> Any:
        return None if node is None else node.render(data, self.visit, {"input": self.raw})

    async def run(self) -> Any:
        ex, state, visit = self.ex, self.state, self.visit
        jsonata = state.jsonata
        effective = self.raw if jsonata else ex._input_path(state, self.raw, visit)
        items = await self._items(effective)
        if ex._inspect is not None:
            ex._inspect["afterItemsPath"] = items
        inputs = self._batches(items, effective)
        limit = self._count(state.max_concurrency, effective, "MaxConcurrency")
        frame = visit.frame
        started = ex._emit(frame, "MapStateStarted", f"{self.site}:started", {"length": len(inputs)})
        map_run_arn = None
        if self.distributed:
            map_run_arn = self._map_run_arn()
            ex._emit(frame, "MapRunStarted", f"{self.site}:maprun", {"mapRunArn": map_run_arn})
        tolerated = self._tolerance(effective, len(inputs)) if self.distributed else None
        try:
            outcomes = await self._iterate(inputs, effective, started.id, limit or 0, tolerated, map_run_arn)
        except errors.StatesError as exc:
            ex._memo_set(f"{self.site}:outcome", {"error": exc.error, "cause": exc.cause})
            if self.distributed:
                ex._emit(frame, "MapRunFailed", f"{self.site}:maprunend",
                         _error_details(exc.error, exc.cause))
            ex._emit(frame, "MapStateFailed", f"{self.site}:failed", None)
            raise
        if self.distributed:
            ex._emit(frame, "MapRunSucceeded", f"{self.site}:maprunend", None)
        ex._emit(frame, "MapStateSucceeded", f"{self.site}:succeeded", None)
        results = [o[1] if o[0] == "ok" else o[1].to_output() for o in outcomes]
        if state.result_writer is not None:
            return await self._write(results, inputs, outcomes, effective, map_run_arn or "")
        return results

    async def _items(self, effective: Any) -> list[Any]:
        state = self.state
        if state.item_reader is not None:
            return await self._read(effective)
        if state.items is None:
            items = effective
        elif state.jsonata:
            items = self._value(state.items, None)
        else:
            try:
                items = state.items.render(effective, self.visit)
            except errors.EvaluationError:
                raise errors.EvaluationError(errors.RUNTIME, _items_path_cause(state, effective)) from None
        if not isinstance(items, list):
            error = errors.QUERY_EVALUATION_ERROR if state.jsonata else errors.RUNTIME
            raise errors.EvaluationError(error, f"Items of the Map state must be a JSON array, got "
                                                f"{to_json(items)}")
        return items

    async def _read(self, effective: Any) -> list[Any]:
        ex, state = self.ex, self.state
        key = f"{self.site}:items"
        recorded = ex._replay.get(key)
        if recorded is not None:
            return recorded.value  # type: ignore[union-attr]
        reader = state.item_reader or {}
        params = self._value(state.item_reader_parameters, effective) if state.jsonata else (
            None if state.item_reader_parameters is None else
            state.item_reader_parameters.render(effective, self.visit))
        if ex.item_reader is None:
            raise errors.StatesError(errors.ITEM_READER_FAILED, "No item reader is configured")
        request = ItemReaderRequest(reader.get("Resource", ""), params, reader.get("ReaderConfig", {}),
                                    ex.info.execution_arn)
        try:
            items = await ex.item_reader.read(request)
        except Exception as exc:
            raise errors.StatesError(errors.ITEM_READER_FAILED, str(exc)) from None
        max_items = (reader.get("ReaderConfig") or {}).get("MaxItems")
        if _is_int(max_items) and max_items > 0:
            items = items[:max_items]
        ex._memo_set(key, items)
        return list(items)

    def _count(self, node: Node | None, effective: Any, name: str) -> int | None:
        if node is None:
            return None
        value = node.render(effective, self.visit, {"input": self.raw})
        if not _is_int(value) or value < 0:
            raise errors.EvaluationError(
                errors.QUERY_EVALUATION_ERROR if self.state.jsonata else errors.RUNTIME,
                f"The value of {name} must be a non-negative integer, got {to_json(value)}")
        return value

    def _tolerance(self, effective: Any, total: int) -> float:
        """The number of failed items the map run tolerates."""
        state = self.state
        count = self._count(state.tolerated_failure_count, effective, "ToleratedFailureCount")
        percentage = None
        if state.tolerated_failure_percentage is not None:
            percentage = state.tolerated_failure_percentage.render(effective, self.visit, {"input": self.raw})
            if not isinstance(percentage, int | float) or isinstance(percentage, bool) or \
                    not 0 <= percentage <= 100:
                raise errors.EvaluationError(
                    errors.QUERY_EVALUATION_ERROR if state.jsonata else errors.RUNTIME,
                    f"The value of ToleratedFailurePercentage must be between 0 and 100, got "
                    f"{to_json(percentage)}")
        limits = [float(count)] if count is not None else []
        if percentage is not None:
            limits.append(total * percentage / 100)
        return min(limits) if limits else 0.0

    def _batches(self, items: list[Any], effective: Any) -> list[tuple[Any, Any]]:
        """(context item value, iteration input or None) per iteration; batches when configured."""
        batcher = self.state.item_batcher
        if batcher is None:
            return [(item, None) for item in items]
        max_items = self._count(batcher.max_items, effective, "MaxItemsPerBatch") or len(items) or 1
        max_bytes = self._count(batcher.max_bytes, effective, "MaxInputBytesPerBatch")
        batch_input = self._value(batcher.batch_input, effective) if self.state.jsonata else (
            None if batcher.batch_input is None else batcher.batch_input.render(effective, self.visit))
        batches: list[list[Any]] = []
        current: list[Any] = []
        size = 0
        for item in items:
            item_size = len(to_json(item).encode()) + 1
            if current and (len(current) >= max_items or (max_bytes and size + item_size > max_bytes)):
                batches.append(current)
                current, size = [], 0
            current.append(item)
            size += item_size
        if current:
            batches.append(current)
        out = []
        for batch in batches:
            value: dict[str, Any] = {"Items": batch}
            if batch_input is not None:
                value["BatchInput"] = batch_input
            out.append((value, value))
        return out

    async def _iterate(self, inputs: list[tuple[Any, Any]], effective: Any, started_id: int, limit: int,
                       tolerated: float | None, map_run_arn: str | None) -> list[tuple[str, Any]]:
        ex, state, visit = self.ex, self.state, self.visit
        processor = state.processor
        assert processor is not None
        frame = visit.frame
        failures = 0

        def iteration(index: int, item: Any, batched_input: Any) -> Callable[[], Awaitable[Any]]:
            async def run() -> tuple[str, Any]:
                nonlocal failures
                unit = f"{self.site}/i{index}"
                child = f"{map_run_arn}:{index}" if self.distributed else frame.child
                iframe = Frame(unit, frame.variables.child(isolated=self.distributed), started_id, child)
                events = not self.distributed
                details = {"name": state.name, "index": index}
                if events:
                    ex._emit(iframe, "MapIterationStarted", f"{unit}:started", details)
                try:
                    item_input = batched_input
                    if item_input is None:
                        item_input = self._select(unit, index, item, effective)
                    output = await ex._run_program(processor, item_input, iframe)
                except errors.StatesError as exc:
                    if isinstance(exc, errors.EvaluationError):
                        exc = errors.StatesError(exc.error, exc.cause)
                    if events:
                        ex._emit(iframe, "MapIterationFailed", f"{unit}:failed", details)
                    if tolerated is None:
                        raise
                    failures += 1
                    if failures > tolerated:
                        raise errors.StatesError(
                            errors.EXCEED_TOLERATED_FAILURE_THRESHOLD,
                            "The specified tolerated failure threshold was exceeded") from None
                    return ("error", exc)
                except asyncio.CancelledError:
                    if events:
                        ex._emit(iframe, "MapIterationAborted", f"{unit}:aborted", details)
                    raise
                if events:
                    ex._emit(iframe, "MapIterationSucceeded", f"{unit}:succeeded", details)
                else:
                    ex._memo_set(f"{unit}:succeeded", True)
                return ("ok", output)
            return run

        return await _gather_fail_fast(
            [iteration(i, value, batched) for i, (value, batched) in enumerate(inputs)], limit)

    def _select(self, unit: str, index: int, item: Any, effective: Any) -> Any:
        selector = self.state.item_selector
        if selector is None:
            return item
        item_visit = self.visit.with_item(unit, index, item)
        if self.state.jsonata:
            return selector.render(None, item_visit, {"input": self.raw})
        return selector.render(effective, item_visit)

    def _map_run_arn(self) -> str:
        info = self.ex.info
        parts = info.state_machine_arn.split(":")
        label = self.state.label or self.state.name
        run_id = self.visit.uuid()
        return ":".join([*parts[:5], "mapRun", f"{info.state_machine_name}/{label}:{run_id}"])

    async def _write(self, results: list[Any], inputs: list[tuple[Any, Any]], outcomes: list[tuple[str, Any]],
                     effective: Any, map_run_arn: str) -> Any:
        ex, state = self.ex, self.state
        key = f"{self.site}:written"
        recorded = ex._replay.get(key)
        if recorded is not None:
            return recorded.value  # type: ignore[union-attr]
        writer = state.result_writer or {}
        params = self._value(state.result_writer_parameters, effective) if state.jsonata else (
            None if state.result_writer_parameters is None else
            state.result_writer_parameters.render(effective, self.visit))
        if ex.result_writer is None:
            raise errors.StatesError(errors.RESULT_WRITER_FAILED, "No result writer is configured")
        entries = []
        for index, ((item, _), (status, value)) in enumerate(zip(inputs, outcomes, strict=True)):
            entry: dict[str, Any] = {"Index": index, "Input": item}
            if status == "ok":
                entry.update(Status="SUCCEEDED", Output=value)
            else:
                entry.update(Status="FAILED", Error=value.error, Cause=value.cause)
            entries.append(entry)
        await ex._flush()
        try:
            written = await ex.result_writer.write(ResultWriterRequest(
                writer.get("Resource", ""), params, writer.get("WriterConfig", {}), map_run_arn, entries))
        except Exception as exc:
            raise errors.StatesError(errors.RESULT_WRITER_FAILED, str(exc)) from None
        ex._memo_set(key, written)
        return written


# -- helpers ---------------------------------------------------------------------------------


class _HeartbeatTimeout(Exception):
    pass


class _Retriable(Exception):
    """TestState: a retrier matched (TestState reports RETRIABLE instead of retrying)."""

    def __init__(self, index: int, delay: float, error: errors.StatesError) -> None:
        super().__init__(error.error)
        self.index, self.delay, self.error = index, delay, error


class _Callback:
    """A task waiting for SendTaskSuccess / SendTaskFailure, with its heartbeat deadline."""

    def __init__(self, site: str, last_heartbeat: Memo | Any, started: float) -> None:
        self.site = site
        self.future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self.heartbeat = asyncio.Event()
        self.last_heartbeat = last_heartbeat.value if isinstance(last_heartbeat, Memo) else started
        self.recorded = asyncio.Event()
        self.marker: asyncio.Future[None] | None = None
        #: the execution while the task is being submitted (the invoker has not returned yet)
        self.submitting: Execution | None = None

    async def deliver(self, outcome: tuple[Any, ...]) -> None:
        if not self.future.done():
            self.future.set_result(outcome)
            execution = self.submitting
            if execution is not None:
                # The outcome arrived before the submission returned (e.g. a function that calls
                # SendTaskSuccess before it returns): record it now, so that the sender can be
                # answered without waiting for the submission, and a resumed run finds it.
                execution._memo_set(f"{self.site}:early", list(outcome))
                await execution._flush()
                return
        await self.recorded.wait()

    def recorded_after(self, execution: Execution) -> None:
        async def mark() -> None:
            await execution._flush()
            self.recorded.set()
        self.marker = asyncio.ensure_future(mark())

    async def wait(self, clock: Clock, deadline: float | None, heartbeat: int | None) -> tuple[Any, ...]:
        while True:
            limits = [t for t in (deadline, None if heartbeat is None else self.last_heartbeat + heartbeat)
                      if t is not None]
            if not limits:
                return await self.future
            self.heartbeat.clear()
            timer = asyncio.ensure_future(clock.sleep_until(min(limits)))
            beat = asyncio.ensure_future(self.heartbeat.wait())
            try:
                await asyncio.wait((self.future, timer, beat), return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()
                beat.cancel()
            if self.future.done():
                return self.future.result()
            now = clock.now()
            if deadline is not None and now >= deadline:
                raise _Timeout
            if heartbeat is not None and now >= self.last_heartbeat + heartbeat:
                raise _HeartbeatTimeout


async def _gather_fail_fast(factories: list[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    """Run the factories concurrently (at most ``limit`` at once if > 0); the first failure
    cancels the rest and is raised. Results keep the factories' order."""
    if not factories:
        return []
    results: list[Any] = [None] * len(factories)
    semaphore = asyncio.Semaphore(limit) if limit else None

    async def run(i: int) -> None:
        if semaphore is None:
            results[i] = await factories[i]()
        else:
            async with semaphore:
                results[i] = await factories[i]()

    tasks = [asyncio.ensure_future(run(i)) for i in range(len(factories))]
    try:
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
    if failed:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise failed[0].exception()  # type: ignore[misc]
    return results


def _matches(names: tuple[str, ...], error: str) -> bool:
    if error in names:
        return True
    if errors.ALL in names:
        return True
    if errors.TASK_FAILED in names and error not in (errors.TIMEOUT, errors.HEARTBEAT_TIMEOUT):
        return True
    return errors.TIMEOUT in names and error == errors.HEARTBEAT_TIMEOUT


def _backoff(retrier: Retrier, retries_so_far: int, visit: Visit) -> float:
    delay = retrier.interval_seconds * retrier.backoff_rate ** retries_so_far
    if retrier.max_delay_seconds is not None:
        delay = min(delay, retrier.max_delay_seconds)
    if retrier.jitter == "FULL":
        delay = visit.random_int(0, 1_000_000) / 1_000_000 * delay
    return delay


def _scoped(exc: errors.StatesError, visit: Visit) -> errors.StatesError:
    """Prefix the cause of an evaluation error with the state it happened in, as AWS does."""
    if not isinstance(exc, errors.EvaluationError):
        return exc
    cause = (f"An error occurred while executing the state '{visit.state.name}' (entered at the event id "
             f"#{visit.entered_id}). {exc.cause}")
    return errors.StatesError(exc.error, cause)


def _invalid_path(path: Any, data: Any) -> errors.EvaluationError:
    return errors.EvaluationError(errors.RUNTIME,
                                  f"Invalid path '{path.source}' : No results for path: {path.normalized()}")


def _items_path_cause(state: MapState, data: Any) -> str:
    source = state.items.path.source if hasattr(state.items, "path") else "ItemsPath"  # type: ignore[union-attr]
    return f"Invalid path '{source}' : No results for path in the input '{to_json(data)}'"


def _error_details(error: str | None, cause: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if error is not None:
        details["error"] = error
    if cause is not None:
        details["cause"] = cause
    return details


def _event_names(resource: Resource) -> tuple[str, tuple[str, str]]:
    if resource.kind == "lambda":
        return "LambdaFunction", ("LambdaFunctionScheduled", "LambdaFunctionStarted")
    if resource.kind == "activity":
        return "Activity", ("ActivityScheduled", "ActivityStarted")
    return "Task", ("TaskScheduled", "TaskStarted")


def _scheduled_details(request: TaskRequest) -> dict[str, Any]:
    resource = request.resource
    if resource.kind == "service":
        details: dict[str, Any] = {
            "resourceType": resource.resource_type, "resource": resource.resource_name,
            "region": request.region, "parameters": to_json(request.parameters),
        }
        if request.timeout_seconds != DEFAULT_TASK_TIMEOUT:
            details["timeoutInSeconds"] = request.timeout_seconds
        if request.heartbeat_seconds is not None:
            details["heartbeatInSeconds"] = request.heartbeat_seconds
        return details
    details = {"resource": resource.arn, "input": to_json(request.parameters), "inputDetails": _NO_DETAILS}
    if request.timeout_seconds != DEFAULT_TASK_TIMEOUT:
        details["timeoutInSeconds"] = request.timeout_seconds
    if resource.kind == "activity" and request.heartbeat_seconds is not None:
        details["heartbeatInSeconds"] = request.heartbeat_seconds
    return details


def _result_error(prefix: str, resource: Resource, exc: errors.StatesError) -> dict[str, Any]:
    details = _error_details(exc.error, exc.cause)
    if prefix == "Task":
        details = {"resourceType": resource.resource_type, "resource": resource.resource_name, **details}
    return details


def _replayed_result(event: HistoryEvent) -> Any:
    details = event.details or {}
    if event.type.endswith("Succeeded"):
        return json.loads(details["output"])
    raise errors.StatesError(details.get("error", ""), details.get("cause"))


def _raise_recorded_outcome(record: LogRecord | None) -> None:
    if isinstance(record, Memo):
        raise errors.StatesError(record.value["error"], record.value["cause"])


_ATTEMPT = re.compile(r"@\d+$")


def _unit_of(key: str) -> str:
    return key.rsplit(":", 1)[0]


def _resume_index(log: list[LogRecord], index: dict[str, LogRecord]) -> dict[str, LogRecord]:
    """The replay index to resume a log that may contain redrives.

    The records before the last ``ExecutionRedriven`` event are what that redrive started from:
    they are filtered as the redrive filtered them; the records after it are replayed as they are.
    """
    last = None
    for position, record in enumerate(log):
        if isinstance(record, HistoryEvent) and record.type == "ExecutionRedriven":
            last = position
    if last is None:
        return index
    resumed = _redrive_index({r.key: r for r in log[:last]})
    resumed.update((r.key, r) for r in log[last:])
    return resumed


def _redrive_index(index: dict[str, LogRecord]) -> dict[str, LogRecord]:
    """The replay index for a redrive: keep what completed, forget what failed.

    A state visit is complete if it exited; a branch or Map iteration if it succeeded. Records of
    incomplete units are dropped so that those units run again (with fresh history events and
    reset retry counters); records of complete units are kept and replayed, so succeeded work,
    including finished iterations of a failed Map, is not redone.
    """
    complete = {_unit_of(k) for k in index if k.endswith((":exited", ":succeeded"))}
    kept: dict[str, LogRecord] = {}
    for key, record in index.items():
        unit = _unit_of(key)
        if unit == "":
            if key == ":started":
                kept[key] = record
            continue
        last = unit.rsplit("/", 1)[-1]
        iteration = last[:1] in ("b", "i") and last[1:].isdigit()
        owner = unit if iteration else _ATTEMPT.sub("", unit)
        if owner in complete:
            kept[key] = record
    return kept
