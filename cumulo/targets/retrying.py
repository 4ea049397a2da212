"""The skeleton every durable delivery queue shares, on top of the store's ``DurableWorkQueue``.

An item is committed with ``submit`` (joining the caller's transaction), leased by a worker,
read back (an unreadable one is dropped with a log line), attempted, and then settled in one
transaction: removed (done, or handed to a dead-letter/finish step inside that transaction), or
removed and submitted again with a delay (a retry), so a restart never loses nor doubles the
retry schedule. Lambda's asynchronous invocations and the target deliveries of EventBridge and
EventBridge Scheduler are such queues.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, Protocol, Self, TypeVar

from cumulo.store.base import QueueMessage
from cumulo.store.work_queue import DurableWorkQueue

log = logging.getLogger("cumulo.targets")


class WorkItem(Protocol):
    """What a queue holds: it has an id (the store message id) and round-trips through bytes."""

    @property
    def work_id(self) -> str: ...

    def encode(self) -> bytes: ...

    @classmethod
    def decode(cls, body: bytes) -> Self: ...


Item = TypeVar("Item", bound=WorkItem)


class RetryingWorkQueue(DurableWorkQueue, Generic[Item]):
    #: the class of the items (decodes them)
    item_type: type[Item]
    #: what one item is called in log lines ("asynchronous event", "delivery")
    item_name = "item"

    def submit(self, item: Item, delay_s: float = 0.0) -> None:
        """Commit an item (joins the caller's open transaction); call ``wake`` after committing."""
        self.store.enqueue(self.queue, item.encode(), message_id=item.work_id, delay_s=delay_s)

    def _read(self, message: QueueMessage) -> Item | None:
        try:
            return self.item_type.decode(message.body)
        except (ValueError, TypeError, KeyError):
            log.error("dropping an unreadable %s %s from %s", self.item_name, message.message_id, self.queue)
            self._remove(message)
            return None

    def _remove(self, message: QueueMessage) -> None:
        self.store.delete_message(self.queue, message.receipt or "")

    def _retry_later(self, message: QueueMessage, item: Item, delay_s: float) -> None:
        """Replace the leased message with the item, visible again after ``delay_s``."""
        with self.store.transaction():
            self._remove(message)
            self.submit(item, delay_s=delay_s)

    @contextmanager
    def _settling(self, message: QueueMessage) -> Iterator[None]:
        """Remove the leased message in one transaction with what the block writes (DLQ, destination)."""
        with self.store.transaction():
            self._remove(message)
            yield
