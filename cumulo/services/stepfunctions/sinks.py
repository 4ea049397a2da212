"""Where executions write their logs: the durable store (standard) and CloudWatch Logs (both types).

`DurableSink` is the commit point of a standard execution. The engine appends every record it
produces (history events and memos); ``flush()`` - which the engine awaits before every side effect
and every blocking wait - writes everything appended since the last flush as one chunk row, in one
transaction. The chunk that holds the terminal event also updates the execution record and
removes the execution from the resume list, in the same transaction: a crash can never leave a
finished log with a RUNNING record, or the reverse.

`CloudWatchSink` turns history events into Step Functions' CloudWatch Logs records for the
machine's LoggingConfiguration (level ALL, ERROR or FATAL; with or without execution data).
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cumulo.asl import HistoryEvent, LogRecord, Memo, record_from_json
from cumulo.services.stepfunctions.names import log_group_of
from cumulo.services.stepfunctions.repository import LOG, RUNNING, Repository, log_key

if TYPE_CHECKING:
    from cumulo.platform import Platform

#: commit without waiting for a flush once this many records are buffered (a long run of states
#: with no side effect in between)
MAX_BUFFERED = 4000
TERMINAL = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT",
            "ExecutionAborted": "ABORTED"}
_FATAL = frozenset({"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"})
_DATA_FIELDS = ("input", "inputDetails", "output", "outputDetails", "parameters")


def load_log(repo: Repository, log_id: str) -> tuple[list[LogRecord], int]:
    """The persisted log of an execution and the number of its next chunk."""
    chunks = repo.log_chunks(log_id)
    records = [record_from_json(r) for _, chunk in chunks for r in chunk["r"]]
    return records, len(chunks) + 1


class DurableSink:
    """The execution log of a standard execution, committed to the store at every flush."""

    def __init__(self, repo: Repository, log_id: str, execution_key: str, next_chunk: int = 1,
                 finish: Callable[[dict[str, Any], HistoryEvent], None] | None = None,
                 mirror: CloudWatchSink | None = None, keys: set[str] | None = None) -> None:
        self.repo = repo
        self.store = repo.store
        self.log_id = log_id
        self.execution_key = execution_key
        self.next_chunk = next_chunk
        self.buffer: list[dict[str, Any]] = []
        self.terminal: HistoryEvent | None = None
        self.finish = finish
        self.mirror = mirror
        #: keys of every record of the log (to tell a closed task's token from one not registered yet)
        self.keys = keys if keys is not None else set()

    def append(self, record: LogRecord) -> None:
        self.buffer.append(record.to_record())
        self.keys.add(record.key)
        if isinstance(record, HistoryEvent):
            if record.key == ":end" and record.child is None:
                self.terminal = record
            if self.mirror is not None:
                self.mirror.append(record)
        if len(self.buffer) >= MAX_BUFFERED:
            self.commit()

    async def flush(self) -> None:
        self.commit()
        if self.mirror is not None:
            await self.mirror.flush()

    def commit(self) -> None:
        if not self.buffer:
            return
        records, self.buffer = self.buffer, []
        with self.store.transaction():
            self.store.put(LOG, log_key(self.log_id, self.next_chunk), {"r": records})
            if self.terminal is not None:
                record = self.repo.execution_by_key(self.execution_key)
                if record is not None:
                    apply_terminal(record, self.terminal)
                    if self.finish is not None:
                        self.finish(record, self.terminal)
                    self.repo.save_execution(self.execution_key, record)
                self.store.delete(RUNNING, self.log_id)
        self.next_chunk += 1


def apply_terminal(record: dict[str, Any], event: HistoryEvent) -> None:
    """Update an execution record with its terminal event."""
    details = event.details or {}
    record["status"] = TERMINAL[event.type]
    record["stopDate"] = event.timestamp
    for name in ("output", "error", "cause"):
        record.pop(name, None)
        if name in details:
            record[name] = details[name]


class CloudWatchSink:
    """History events as Step Functions writes them to CloudWatch Logs."""

    def __init__(self, logs: Any, account: str, region: str, group: str, stream: str, level: str,
                 include_data: bool, execution_arn: str, redrive_count: int = 0) -> None:
        self.logs = logs
        self.account, self.region, self.group, self.stream = account, region, group, stream
        self.level = level
        self.include_data = include_data
        self.execution_arn = execution_arn
        self.redrive_count = str(redrive_count)
        self.lines: list[tuple[int, str]] = []

    def wanted(self, event: HistoryEvent) -> bool:
        if event.child is not None:
            return False
        if self.level == "ALL":
            return True
        if self.level == "FATAL":
            return event.type in _FATAL
        return event.type == "FailStateEntered" or event.type.endswith(
            ("Failed", "TimedOut", "Aborted"))

    def append(self, record: LogRecord) -> None:
        if isinstance(record, Memo) or not self.wanted(record):  # type: ignore[arg-type]
            return
        event: HistoryEvent = record  # type: ignore[assignment]
        details = dict(event.details or {})
        if not self.include_data:
            for name in _DATA_FIELDS:
                details.pop(name, None)
        if event.type == "ExecutionAborted" and not details:
            details = {}
        message = {
            "id": str(event.id), "type": event.type, "details": details,
            "previous_event_id": str(event.previous_event_id),
            "event_timestamp": str(int(event.timestamp * 1000)), "execution_arn": self.execution_arn,
            "redrive_count": self.redrive_count,
        }
        self.lines.append((int(time.time() * 1000), json.dumps(message, separators=(",", ":"))))

    async def flush(self) -> None:
        if self.lines:
            lines, self.lines = self.lines, []
            self.logs.append(self.account, self.region, self.group, self.stream, lines)


def cloudwatch_sink(platform: Platform, logging: dict[str, Any] | None, machine_name: str, execution_arn: str,
                    redrive_count: int = 0) -> CloudWatchSink | None:
    """The CloudWatch Logs sink for a LoggingConfiguration (None when logging is off)."""
    if not logging or logging.get("level", "OFF") == "OFF":
        return None
    logs = platform.logs
    destinations = logging.get("destinations") or []
    if not destinations:
        return None
    group_arn = (destinations[0].get("cloudWatchLogsLogGroup") or {}).get("logGroupArn", "")
    group = log_group_of(group_arn)
    if group is None:
        return None
    region, account, name = group
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H-%M")
    stream = f"states/{machine_name}/{stamp}/{zlib.crc32(execution_arn.encode()):08x}"
    return CloudWatchSink(logs, account, region, name, stream, logging["level"],
                          bool(logging.get("includeExecutionData")), execution_arn, redrive_count)
