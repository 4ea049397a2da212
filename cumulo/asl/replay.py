"""The replay index: which records of a persisted log a new `Execution` replays.

Resuming replays every record as it is; a redrive first drops the records of every unit of work
that did not complete, so that those units run again (README.md, "Durability").
"""

from __future__ import annotations

import json
import re
from typing import Any

from cumulo.asl import errors
from cumulo.asl.history import HistoryEvent, LogRecord, Memo


class NotRedrivable(ValueError):
    """redrive of an execution that did not fail, time out or abort."""


_ATTEMPT = re.compile(r"@\d+$")


def replay_index(log: list[LogRecord], redrive: bool) -> dict[str, LogRecord]:
    """The records to replay, by key, for a resume (``redrive=False``) or a redrive of ``log``."""
    index: dict[str, LogRecord] = {r.key: r for r in log}
    if not redrive:
        return _resume_index(log, index)
    terminal = index.get(":end")
    if not isinstance(terminal, HistoryEvent) or terminal.type == "ExecutionSucceeded":
        raise NotRedrivable("only a FAILED, TIMED_OUT or ABORTED execution can be redriven")
    return _redrive_index(index)


def replayed_result(event: HistoryEvent) -> Any:
    """The outcome of a recorded task result event: its output, or its error raised again."""
    details = event.details or {}
    if event.type.endswith("Succeeded"):
        return json.loads(details["output"])
    raise errors.StatesError(details.get("error", ""), details.get("cause"))


def raise_recorded_outcome(record: LogRecord | None) -> None:
    """Raise the recorded failure of a Parallel or Map attempt, if there is one."""
    if isinstance(record, Memo):
        raise errors.StatesError(record.value["error"], record.value["cause"])


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
