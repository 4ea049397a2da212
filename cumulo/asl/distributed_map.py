"""What a distributed Map adds to a `MapRun`: item reader, batching, tolerated failures, map run, result writer.

The items read and the result written are recorded in the log (``:items``, ``:written``), so a
replay neither reads nor writes again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cumulo.arns import format_arn, split_arn
from cumulo.asl import errors
from cumulo.asl.items import ItemReaderRequest, ResultWriterRequest
from cumulo.asl.paths import to_json
from cumulo.asl.visit import is_int

if TYPE_CHECKING:
    from cumulo.asl.map_state import MapRun


async def read_items(run: MapRun, effective: Any) -> list[Any]:
    """The items from the ItemReader (recorded: a replay does not read again)."""
    ex, state = run.ex, run.state
    key = f"{run.site}:items"
    recorded = ex.replay.get(key)
    if recorded is not None:
        return recorded.value  # type: ignore[union-attr]
    reader = state.item_reader or {}
    params = run.parameters(state.item_reader_parameters, effective)
    if ex.item_reader is None:
        raise errors.StatesError(errors.ITEM_READER_FAILED, "No item reader is configured")
    request = ItemReaderRequest(reader.get("Resource", ""), params, reader.get("ReaderConfig", {}),
                                ex.info.execution_arn)
    try:
        items = await ex.item_reader.read(request)
    except Exception as exc:
        raise errors.StatesError(errors.ITEM_READER_FAILED, str(exc)) from None
    max_items = (reader.get("ReaderConfig") or {}).get("MaxItems")
    if is_int(max_items) and max_items > 0:
        items = items[:max_items]
    ex.set_memo(key, items)
    return list(items)


def tolerance(run: MapRun, effective: Any, total: int) -> float:
    """The number of failed items the map run tolerates."""
    state = run.state
    count = run.count(state.tolerated_failure_count, effective, "ToleratedFailureCount")
    percentage = None
    if state.tolerated_failure_percentage is not None:
        percentage = state.tolerated_failure_percentage.render(effective, run.visit, {"input": run.raw})
        if not isinstance(percentage, int | float) or isinstance(percentage, bool) or \
                not 0 <= percentage <= 100:
            raise run.visit.evaluation_error(
                f"The value of ToleratedFailurePercentage must be between 0 and 100, got {to_json(percentage)}")
    limits = [float(count)] if count is not None else []
    if percentage is not None:
        limits.append(total * percentage / 100)
    return min(limits) if limits else 0.0


def batches(run: MapRun, items: list[Any], effective: Any) -> list[tuple[Any, Any]]:
    """(context item value, iteration input or None) per iteration; batches when configured."""
    batcher = run.state.item_batcher
    if batcher is None:
        return [(item, None) for item in items]
    max_items = run.count(batcher.max_items, effective, "MaxItemsPerBatch") or len(items) or 1
    max_bytes = run.count(batcher.max_bytes, effective, "MaxInputBytesPerBatch")
    batch_input = run.parameters(batcher.batch_input, effective)
    groups: list[list[Any]] = []
    current: list[Any] = []
    size = 0
    for item in items:
        item_size = len(to_json(item).encode()) + 1
        if current and (len(current) >= max_items or (max_bytes and size + item_size > max_bytes)):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        groups.append(current)
    out = []
    for group in groups:
        value: dict[str, Any] = {"Items": group}
        if batch_input is not None:
            value["BatchInput"] = batch_input
        out.append((value, value))
    return out


def map_run_arn(run: MapRun) -> str:
    info = run.ex.info
    machine = split_arn(info.state_machine_arn)
    assert machine is not None, info.state_machine_arn
    label = run.state.label or run.state.name
    run_id = run.visit.uuid()
    return format_arn(machine.service, machine.region, machine.account,
                      f"mapRun:{info.state_machine_name}/{label}:{run_id}", machine.partition)


async def write_results(run: MapRun, inputs: list[tuple[Any, Any]], outcomes: list[tuple[str, Any]],
                        effective: Any, arn: str) -> Any:
    """Hand every iteration's input and outcome to the ResultWriter (recorded: a replay does not write again)."""
    ex, state = run.ex, run.state
    key = f"{run.site}:written"
    recorded = ex.replay.get(key)
    if recorded is not None:
        return recorded.value  # type: ignore[union-attr]
    writer = state.result_writer or {}
    params = run.parameters(state.result_writer_parameters, effective)
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
    await ex.flush()
    try:
        written = await ex.result_writer.write(ResultWriterRequest(
            writer.get("Resource", ""), params, writer.get("WriterConfig", {}), arn, entries))
    except Exception as exc:
        raise errors.StatesError(errors.RESULT_WRITER_FAILED, str(exc)) from None
    ex.set_memo(key, written)
    return written
