"""History events and the execution log.

The engine writes one log per execution: AWS-shaped `HistoryEvent`s (what GetExecutionHistory
returns) interleaved with a few internal `Memo` records (random values, task tokens, retry
deadlines). Every record carries a deterministic ``key`` naming the point of the execution that
produced it (``/Parallel#0@0/b1/Task#2@1:result``), which is what lets a fresh engine replay a
persisted log: see README.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

#: the ``...Details`` member of an event whose payload is never truncated here
NO_DETAILS: dict[str, Any] = {"truncated": False}

# Event types whose details live in a shared member rather than ``<lowerCamelType>EventDetails``.
_SHARED_DETAILS = {"StateEntered": "stateEnteredEventDetails", "StateExited": "stateExitedEventDetails"}
_DETAILS_MEMBERS = frozenset({
    "activityFailedEventDetails", "activityScheduleFailedEventDetails", "activityScheduledEventDetails",
    "activityStartedEventDetails", "activitySucceededEventDetails", "activityTimedOutEventDetails",
    "taskFailedEventDetails", "taskScheduledEventDetails", "taskStartFailedEventDetails",
    "taskStartedEventDetails", "taskSubmitFailedEventDetails", "taskSubmittedEventDetails",
    "taskSucceededEventDetails", "taskTimedOutEventDetails", "executionFailedEventDetails",
    "executionStartedEventDetails", "executionSucceededEventDetails", "executionAbortedEventDetails",
    "executionTimedOutEventDetails", "executionRedrivenEventDetails", "mapStateStartedEventDetails",
    "mapIterationStartedEventDetails", "mapIterationSucceededEventDetails",
    "mapIterationFailedEventDetails", "mapIterationAbortedEventDetails",
    "lambdaFunctionFailedEventDetails", "lambdaFunctionScheduleFailedEventDetails",
    "lambdaFunctionScheduledEventDetails", "lambdaFunctionStartFailedEventDetails",
    "lambdaFunctionSucceededEventDetails", "lambdaFunctionTimedOutEventDetails",
    "mapRunStartedEventDetails", "mapRunFailedEventDetails", "mapRunRedrivenEventDetails",
    "evaluationFailedEventDetails",
})


def details_member(event_type: str) -> str | None:
    """The HistoryEvent member that holds the details of ``event_type`` (None if it has none)."""
    for suffix, member in _SHARED_DETAILS.items():
        if event_type.endswith(suffix):
            return member
    member = event_type[0].lower() + event_type[1:] + "EventDetails"
    return member if member in _DETAILS_MEMBERS else None


class HistoryEvent:
    """One history event. ``child`` marks events of a distributed Map's child executions."""

    __slots__ = ("child", "details", "id", "key", "previous_event_id", "timestamp", "type")

    def __init__(self, id: int, previous_event_id: int, timestamp: float, type: str,
                 details: dict[str, Any] | None, key: str, child: str | None = None) -> None:
        self.id = id
        self.previous_event_id = previous_event_id
        self.timestamp = timestamp
        self.type = type
        self.details = details
        self.key = key
        self.child = child

    def to_api(self) -> dict[str, Any]:
        """The event as the HistoryEvent shape of the Step Functions API."""
        out: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(self.timestamp, UTC),
            "type": self.type,
            "id": self.id,
            "previousEventId": self.previous_event_id,
        }
        member = details_member(self.type)
        if member is not None and self.details is not None:
            out[member] = self.details
        return out

    def to_record(self) -> dict[str, Any]:
        """A JSON-serializable form for persistence."""
        record = {"id": self.id, "prev": self.previous_event_id, "ts": self.timestamp, "type": self.type,
                  "key": self.key, "details": self.details}
        if self.child is not None:
            record["child"] = self.child
        return record

    def __repr__(self) -> str:
        return f"HistoryEvent({self.id}, {self.type}, {self.key!r})"


class Memo:
    """An internal record: a value the engine must replay identically (never shown to users)."""

    __slots__ = ("key", "value")

    def __init__(self, key: str, value: Any) -> None:
        self.key = key
        self.value = value

    def to_record(self) -> dict[str, Any]:
        return {"memo": self.key, "value": self.value}

    def __repr__(self) -> str:
        return f"Memo({self.key!r}, {self.value!r})"


LogRecord = HistoryEvent | Memo


def error_details(error: str | None, cause: str | None) -> dict[str, Any]:
    """The details of a failure event: ``error`` and ``cause``, each only when present."""
    details: dict[str, Any] = {}
    if error is not None:
        details["error"] = error
    if cause is not None:
        details["cause"] = cause
    return details


def record_from_json(record: dict[str, Any]) -> LogRecord:
    """Inverse of ``to_record``."""
    if "memo" in record:
        return Memo(record["memo"], record["value"])
    return HistoryEvent(record["id"], record["prev"], record["ts"], record["type"], record["details"],
                        record["key"], record.get("child"))


class HistorySink(Protocol):
    """Where the engine writes the execution log.

    ``append`` is called for every record, in order. ``flush`` is a durability barrier: the
    engine awaits it before any externally visible side effect (invoking a task, sending a
    message) and before it blocks (Wait state, retry delay, callback wait), and at the end of the
    execution. A durable sink commits everything appended so far when ``flush`` is awaited (or
    earlier); an in-memory sink does nothing.
    """

    def append(self, record: LogRecord) -> None: ...

    async def flush(self) -> None: ...


class MemoryHistory:
    """An in-memory sink: the log as a list (also the baseline for the benchmark)."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    def append(self, record: LogRecord) -> None:
        self.records.append(record)

    async def flush(self) -> None:
        return None

    def events(self) -> list[HistoryEvent]:
        return [r for r in self.records if isinstance(r, HistoryEvent) and r.child is None]

    def api_events(self) -> list[dict[str, Any]]:
        return [e.to_api() for e in self.events()]
