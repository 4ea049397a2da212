"""The Map state: one `MapRun` per attempt reads the items, runs the iterations and collects the results.

An inline Map runs its iterations in the parent's frame tree with MapIteration* events; a
distributed Map (``distributed_map``) adds the item reader, batching, tolerated failures, the
map run events and the result writer, and runs its iterations as child workflows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cumulo.asl import distributed_map, errors
from cumulo.asl.error_handling import with_error_handling
from cumulo.asl.history import error_details
from cumulo.asl.model import MapState
from cumulo.asl.parallel import gather_fail_fast
from cumulo.asl.paths import to_json
from cumulo.asl.replay import raise_recorded_outcome
from cumulo.asl.templates import Node
from cumulo.asl.visit import Frame, Visit

if TYPE_CHECKING:
    from cumulo.asl.engine import Execution


async def run_map(ex: Execution, state: MapState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
    async def attempt(n: int) -> Any:
        site = f"{visit.key}@{n}"
        raise_recorded_outcome(ex.replay.get(f"{site}:outcome"))
        runner = MapRun(ex, state, raw, visit, site)
        return await runner.run()

    return await with_error_handling(ex, state, raw, visit, attempt)


class MapRun:
    """One attempt of a Map state: read items, run the iterations, collect the results."""

    def __init__(self, execution: Execution, state: MapState, raw: Any, visit: Visit, site: str) -> None:
        self.ex = execution
        self.state = state
        self.raw = raw
        self.visit = visit
        self.site = site
        self.distributed = state.mode == "DISTRIBUTED"

    def value(self, node: Node | None, data: Any) -> Any:
        """A JSONata field's value (None if absent)."""
        return None if node is None else node.render(data, self.visit, {"input": self.raw})

    def parameters(self, node: Node | None, effective: Any) -> Any:
        """The value of a Parameters (JSONPath) or Arguments (JSONata) field, None if absent."""
        if self.state.jsonata:
            return self.value(node, effective)
        return None if node is None else node.render(effective, self.visit)

    def count(self, node: Node | None, effective: Any, name: str) -> int | None:
        """A non-negative integer field (None if absent)."""
        return self.visit.count(node, effective, self.raw, name, 0)

    async def run(self) -> Any:
        ex, state, visit = self.ex, self.state, self.visit
        jsonata = state.jsonata
        effective = self.raw if jsonata else ex.input_path(state, self.raw, visit)
        items = await self._items(effective)
        if ex.inspection is not None:
            ex.inspection["afterItemsPath"] = items
        inputs = distributed_map.batches(self, items, effective)
        limit = self.count(state.max_concurrency, effective, "MaxConcurrency")
        frame = visit.frame
        started = ex.emit(frame, "MapStateStarted", f"{self.site}:started", {"length": len(inputs)})
        map_run_arn = None
        if self.distributed:
            map_run_arn = distributed_map.map_run_arn(self)
            ex.emit(frame, "MapRunStarted", f"{self.site}:maprun", {"mapRunArn": map_run_arn})
        tolerated = distributed_map.tolerance(self, effective, len(inputs)) if self.distributed else None
        try:
            outcomes = await self._iterate(inputs, effective, started.id, limit or 0, tolerated, map_run_arn)
        except errors.StatesError as exc:
            ex.set_memo(f"{self.site}:outcome", {"error": exc.error, "cause": exc.cause})
            if self.distributed:
                ex.emit(frame, "MapRunFailed", f"{self.site}:maprunend", error_details(exc.error, exc.cause))
            ex.emit(frame, "MapStateFailed", f"{self.site}:failed", None)
            raise
        if self.distributed:
            ex.emit(frame, "MapRunSucceeded", f"{self.site}:maprunend", None)
        ex.emit(frame, "MapStateSucceeded", f"{self.site}:succeeded", None)
        results = [o[1] if o[0] == "ok" else o[1].to_output() for o in outcomes]
        if state.result_writer is not None:
            return await distributed_map.write_results(self, inputs, outcomes, effective, map_run_arn or "")
        return results

    async def _items(self, effective: Any) -> list[Any]:
        state = self.state
        if state.item_reader is not None:
            return await distributed_map.read_items(self, effective)
        if state.items is None:
            items = effective
        elif state.jsonata:
            items = self.value(state.items, None)
        else:
            try:
                items = state.items.render(effective, self.visit)
            except errors.EvaluationError:
                raise errors.EvaluationError(errors.RUNTIME, _items_path_cause(state, effective)) from None
        if not isinstance(items, list):
            raise self.visit.evaluation_error(f"Items of the Map state must be a JSON array, got {to_json(items)}")
        return items

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
                    ex.emit(iframe, "MapIterationStarted", f"{unit}:started", details)
                try:
                    item_input = batched_input
                    if item_input is None:
                        item_input = self._select(unit, index, item, effective)
                    output = await ex.run_program(processor, item_input, iframe)
                except errors.StatesError as exc:
                    if isinstance(exc, errors.EvaluationError):
                        exc = errors.StatesError(exc.error, exc.cause)
                    if events:
                        ex.emit(iframe, "MapIterationFailed", f"{unit}:failed", details)
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
                        ex.emit(iframe, "MapIterationAborted", f"{unit}:aborted", details)
                    raise
                if events:
                    ex.emit(iframe, "MapIterationSucceeded", f"{unit}:succeeded", details)
                else:
                    ex.set_memo(f"{unit}:succeeded", True)
                return ("ok", output)
            return run

        return await gather_fail_fast(
            [iteration(i, value, batched) for i, (value, batched) in enumerate(inputs)], limit)

    def _select(self, unit: str, index: int, item: Any, effective: Any) -> Any:
        selector = self.state.item_selector
        if selector is None:
            return item
        item_visit = self.visit.with_item(unit, index, item)
        if self.state.jsonata:
            return selector.render(None, item_visit, {"input": self.raw})
        return selector.render(effective, item_visit)


def _items_path_cause(state: MapState, data: Any) -> str:
    source = state.items.path.source if hasattr(state.items, "path") else "ItemsPath"  # type: ignore[union-attr]
    return f"Invalid path '{source}' : No results for path in the input '{to_json(data)}'"
