"""Tumbling windows of a stream mapping (``TumblingWindowInSeconds``).

Records are grouped into fixed windows of their arrival time (aligned to the epoch, as AWS).
Each invoke of a window gets the ``state`` the previous one returned, with ``window``
{start, end}, ``shardId``, ``eventSourceARN``, ``isFinalInvokeForWindow`` and
``isWindowTerminatedEarly``; once the window has ended one final invoke (with the window's
remaining records, or none) closes it and the state starts again empty. The state and the
window are committed with the checkpoint, so they survive a restart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError

if TYPE_CHECKING:
    from cumulo.eventsources.streams import StreamPoller

MAX_STATE_BYTES = 1024 * 1024


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def tumble(poller: StreamPoller, shard: str) -> bool:
    """One invoke of a tumbling-window mapping on ``shard``; False when there was nothing to do."""
    mapping = poller.mapping
    width = float(mapping["TumblingWindowInSeconds"])
    point = poller.checkpoint(shard)
    after = point.get("after")
    entries = poller.source.read(shard, after, mapping.get("BatchSize") or 100)
    start = point.get("window")
    if start is None:
        if not entries:
            return False
        start = entries[0].arrival // width * width
    end = start + width
    part = [e for e in entries if e.arrival < end]
    final = not part and (bool(entries) or time.time() >= end)
    if not part and not final:
        return False
    kept = part if poller.filters is None else [e for e in part if poller.filters.matches(e.record)]
    event = {"Records": [e.record for e in kept], "window": {"start": _iso(start), "end": _iso(end)},
             "state": point.get("state") or {}, "shardId": shard, "eventSourceARN": mapping["EventSourceArn"],
             "isFinalInvokeForWindow": final, "isWindowTerminatedEarly": False}
    state = await _invoke_until_done(poller, shard, part, event)
    if final:
        poller.save(shard, {"after": after})
    elif state is None:  # given up: the window goes on without these records
        poller.save(shard, {"after": part[-1].sequence, "window": start, "state": event["state"]})
    else:
        poller.save(shard, {"after": part[-1].sequence, "window": start, "state": state})
    return True


async def _invoke_until_done(poller: StreamPoller, shard: str, part: list[Any],
                             event: dict[str, Any]) -> dict[str, Any] | None:
    """The state the function returned; None when the retries ran out (the records are given up)."""
    attempts = 0
    retries = poller.mapping.get("MaximumRetryAttempts", -1)
    while True:
        attempts += 1
        try:
            ok, payload = await poller.invoke(poller.mapping, json.dumps(event).encode())
        except AwsError:
            ok, payload = False, b""
        if ok:
            state = _state_of(payload)
            if state is not None:
                return state
        if retries is not None and retries >= 0 and attempts > retries:
            if part:
                await poller.give_up(shard, part, attempts, "RetryAttemptsExhausted")
            return None
        await asyncio.sleep(min(30.0, 0.5 * 2 ** (attempts - 1)) * poller.platform.settings.retry_delay_scale)


def _state_of(payload: bytes) -> dict[str, Any] | None:
    """The ``state`` of a function's answer ({} when it returned none); None when it is too large."""
    if len(payload) > MAX_STATE_BYTES:
        return None
    try:
        answer = json.loads(payload) if payload else None
    except ValueError:
        return {}
    state = answer.get("state") if isinstance(answer, dict) else None
    return state if isinstance(state, dict) else {}
