"""Retry and Catch: the loop that Task, Parallel and Map run their attempts in.

An attempt that fails with a `StatesError` is retried by the first retrier whose ErrorEquals
matches (after its backoff, with a deadline recorded in the log so that a replay waits for the
same instant), or handed to the first matching catcher; otherwise the error propagates. A
succeeded attempt's result goes through ResultSelector, ResultPath and OutputPath (or Output).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cumulo.asl import errors
from cumulo.asl.model import Catcher, ErrorHandlingState, Retrier
from cumulo.asl.visit import Visit

if TYPE_CHECKING:
    from cumulo.asl.engine import Execution


class Retriable(Exception):
    """TestState: a retrier matched (TestState reports RETRIABLE instead of retrying)."""

    def __init__(self, index: int, delay: float, error: errors.StatesError) -> None:
        super().__init__(error.error)
        self.index, self.delay, self.error = index, delay, error


async def with_error_handling(ex: Execution, state: ErrorHandlingState, raw: Any, visit: Visit,
                              attempt_fn: Callable[[int], Awaitable[Any]]) -> tuple[Any, str | None]:
    """Run ``attempt_fn(0)``, ``attempt_fn(1)``... as the state's Retry and Catch say; exit the state."""
    counts = [ex.prior_retries] * len(state.retry)
    attempt = 0
    while True:
        try:
            result = await attempt_fn(attempt)
            output, assigned = _finish(ex, state, raw, result, visit)
            ex.exit_state(state, visit, output, assigned)
            return output, state.next
        except errors.StatesError as exc:
            exc = scoped(exc, visit)
            if exc.error in errors.UNCATCHABLE:
                raise exc from None
            for index, retrier in enumerate(state.retry):
                if _matches(retrier.error_equals, exc.error):
                    if counts[index] < retrier.max_attempts:
                        delay = _backoff(retrier, counts[index], visit)
                        if ex.inspection is not None:
                            raise Retriable(index, delay, exc) from None
                        counts[index] += 1
                        deadline = ex.memo(f"{visit.key}:retry{attempt}",
                                           lambda delay=delay: ex.clock.now() + delay)
                        await ex.flush()
                        await ex.clock.sleep_until(deadline)
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
                    if ex.inspection is not None:
                        ex.inspection.setdefault("errorDetails", {})["catchIndex"] = index
                        ex.inspection["caughtError"] = exc
                    return _caught(ex, state, raw, exc, catcher, visit), catcher.next
            raise exc from None


def scoped(exc: errors.StatesError, visit: Visit) -> errors.StatesError:
    """Prefix the cause of an evaluation error with the state it happened in, as AWS does."""
    if not isinstance(exc, errors.EvaluationError):
        return exc
    cause = (f"An error occurred while executing the state '{visit.state.name}' (entered at the event id "
             f"#{visit.entered_id}). {exc.cause}")
    return errors.StatesError(exc.error, cause)


def _finish(ex: Execution, state: ErrorHandlingState, raw: Any, result: Any,
            visit: Visit) -> tuple[Any, dict[str, Any] | None]:
    if ex.inspection is not None:
        ex.inspection["result"] = result
    if state.jsonata:
        states = {"input": raw, "result": result}
        return (ex.render(state.output, None, visit, states, result),
                ex.render(state.assign, None, visit, states))
    selected = result
    if state.result_selector is not None:
        selected = state.result_selector.render(result, visit)
        if ex.inspection is not None:
            ex.inspection["afterResultSelector"] = selected
    assigned = ex.render(state.assign, selected, visit)
    combined = ex.result_path(state.result_path, raw, selected)
    if ex.inspection is not None:
        ex.inspection["afterResultPath"] = combined
    return ex.output_path(state, combined, visit), assigned


def _caught(ex: Execution, state: ErrorHandlingState, raw: Any, exc: errors.StatesError, catcher: Catcher,
            visit: Visit) -> Any:
    error_output = exc.to_output()
    if state.jsonata:
        states = {"input": raw, "errorOutput": error_output}
        output = ex.render(catcher.output, None, visit, states, error_output)
        assigned = ex.render(catcher.assign, None, visit, states)
    else:
        assigned = ex.render(catcher.assign, error_output, visit)
        output = ex.result_path(catcher.result_path, raw, error_output)
    ex.exit_state(state, visit, output, assigned)
    return output


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
