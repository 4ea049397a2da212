"""The Parallel state, and the fail-fast concurrent run that Parallel branches and Map iterations share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cumulo.asl import errors
from cumulo.asl.error_handling import with_error_handling
from cumulo.asl.model import ParallelState, Program
from cumulo.asl.replay import raise_recorded_outcome
from cumulo.asl.visit import Frame, Visit

if TYPE_CHECKING:
    from cumulo.asl.engine import Execution


async def run_parallel(ex: Execution, state: ParallelState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
    async def attempt(n: int) -> Any:
        site = f"{visit.key}@{n}"
        raise_recorded_outcome(ex.replay.get(f"{site}:outcome"))
        if state.jsonata:
            branch_input = ex.render(state.parameters, None, visit, {"input": raw}, raw)
        else:
            effective = ex.input_path(state, raw, visit)
            branch_input = ex.render(state.parameters, effective, visit, None, effective)
        frame = visit.frame
        started = ex.emit(frame, "ParallelStateStarted", f"{site}:started", None)

        def branch(i: int, program: Program) -> Callable[[], Awaitable[Any]]:
            async def run() -> Any:
                unit = f"{site}/b{i}"
                child = Frame(unit, frame.variables.child(), started.id, frame.child)
                output = await ex.run_program(program, branch_input, child)
                ex.set_memo(f"{unit}:succeeded", True)
                return output
            return run

        try:
            results = await gather_fail_fast([branch(i, p) for i, p in enumerate(state.branches)], 0)
        except errors.StatesError as exc:
            ex.set_memo(f"{site}:outcome", {"error": exc.error, "cause": exc.cause})
            ex.emit(frame, "ParallelStateFailed", f"{site}:failed", None)
            raise
        ex.emit(frame, "ParallelStateSucceeded", f"{site}:succeeded", None)
        return results

    return await with_error_handling(ex, state, raw, visit, attempt)


async def gather_fail_fast(factories: list[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
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
