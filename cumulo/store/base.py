"""The narrow persistence interface every provider uses.

Three kinds of state, each with the semantics a PostgreSQL implementation can give just as
well as the embedded SQLite one:

* **records**: JSON documents by ``(table, key)``, ordered by key, scanned by prefix;
* **transactions**: several record/queue changes committed together or not at all;
* **queues**: ordered messages with delivery delay, visibility timeouts, receive counts,
  message groups (FIFO: a group with a message in flight delivers nothing else),
  deduplication windows and dead-lettering after a maximum receive count.

Everything a method returns has been committed (or belongs to the caller's open
transaction): an acknowledged write survives ``kill -9`` of the server.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]


@dataclass
class QueueMessage:
    queue: str
    message_id: str
    body: bytes
    attributes: dict[str, Any]
    sequence: int
    sent_at: float
    group_id: str | None = None
    dedup_id: str | None = None
    receipt: str | None = None
    receive_count: int = 0
    first_received_at: float | None = None
    visible_at: float = 0.0


@dataclass
class EnqueueResult:
    message_id: str
    sequence: int
    duplicate: bool = False


@dataclass
class QueueStats:
    visible: int = 0
    in_flight: int = 0
    delayed: int = 0


@dataclass
class DeadLetterPolicy:
    """Move a message to ``target_queue`` instead of delivering it for the Nth+1 time."""

    target_queue: str
    max_receive_count: int
    extra_attributes: dict[str, Any] = field(default_factory=dict)


class Store(abc.ABC):
    #: whether other processes (cluster nodes) use the same state at the same time
    shared = False

    # ----------------------------------------------------------------- records
    @abc.abstractmethod
    def get(self, table: str, key: str) -> Record | None: ...

    @abc.abstractmethod
    def put(self, table: str, key: str, value: Record) -> None: ...

    @abc.abstractmethod
    def insert(self, table: str, key: str, value: Record) -> bool:
        """Create the record only if the key is free; returns whether it was created."""

    @abc.abstractmethod
    def delete(self, table: str, key: str) -> bool: ...

    @abc.abstractmethod
    def scan(self, table: str, prefix: str = "", *, start_after: str | None = None,
             end_before: str | None = None, limit: int | None = None,
             reverse: bool = False) -> list[tuple[str, Record]]:
        """Records whose key starts with ``prefix``, in key order."""

    @abc.abstractmethod
    def delete_prefix(self, table: str, prefix: str) -> int: ...

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Group the calls made inside the ``with`` block into one atomic commit (re-entrant)."""

    @abc.abstractmethod
    def exclusive(self, name: str) -> None:
        """Inside ``transaction()``: wait until no other process sharing the store holds ``name``,
        then hold it until the transaction ends."""

    @abc.abstractmethod
    def generation(self, table: str) -> int:
        """A number that changes whenever a record of ``table`` may have changed (a write, or a
        rolled-back transaction); read it *before* reading records to cache them safely."""

    def put_many(self, table: str, items: list[tuple[str, Record]]) -> None:
        with self.transaction():
            for key, value in items:
                self.put(table, key, value)

    def put_many_encoded(self, table: str, items: list[tuple[str, str]]) -> None:
        """``put_many`` for records the caller has already written as JSON text (high-volume
        streams whose records have a fixed shape)."""
        self.put_many(table, [(key, json.loads(text)) for key, text in items])

    # ------------------------------------------------------------------ queues
    @abc.abstractmethod
    def enqueue(self, queue: str, body: bytes, *, message_id: str, delay_s: float = 0.0,
                attributes: dict[str, Any] | None = None, group_id: str | None = None,
                dedup_id: str | None = None, dedup_window_s: float = 300.0,
                now: float | None = None) -> EnqueueResult: ...

    @abc.abstractmethod
    def receive(self, queue: str, max_count: int, visibility_timeout_s: float, *,
                fifo: bool = False, dead_letter: DeadLetterPolicy | None = None,
                now: float | None = None) -> list[QueueMessage]:
        """Lease up to ``max_count`` visible messages, hiding them for the timeout.

        Oldest first: FIFO in sequence order, otherwise in the order they became visible (sent,
        delay over, or visibility timeout expired), sequence breaking ties."""

    @abc.abstractmethod
    def delete_message(self, queue: str, receipt: str) -> bool: ...

    @abc.abstractmethod
    def change_visibility(self, queue: str, receipt: str, timeout_s: float,
                          now: float | None = None) -> bool: ...

    @abc.abstractmethod
    def release_in_flight(self, queue: str) -> int:
        """Make every leased message visible again (its consumer is gone); returns how many."""

    @abc.abstractmethod
    def queue_stats(self, queue: str, now: float | None = None) -> QueueStats: ...

    @abc.abstractmethod
    def find_by_receipt(self, queue: str, receipt: str) -> QueueMessage | None:
        """The message last leased with ``receipt`` (None once deleted or leased again)."""

    @abc.abstractmethod
    def next_visible_at(self, queue: str, after: float | None = None) -> float | None:
        """When the earliest hidden or delayed message becomes visible (None when none is).

        With ``after``, only messages still hidden at that time count: a waiter passes "now"
        to learn when it next has something to wake up for.
        """

    @abc.abstractmethod
    def purge(self, queue: str) -> int: ...

    @abc.abstractmethod
    def expire(self, queue: str, sent_before: float) -> int:
        """Drop messages sent before the given time (retention)."""

    @abc.abstractmethod
    def move_messages(self, source: str, target: str, limit: int | None = None) -> int:
        """Move visible messages to another queue, keeping ids and bodies."""

    @abc.abstractmethod
    def iter_queues(self) -> Iterator[str]: ...

    @abc.abstractmethod
    def close(self) -> None: ...
