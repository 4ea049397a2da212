"""Where SQS queues live in the store, and their names, URLs, ARNs and receipt handles.

Tables (keys scoped ``account:region:``):

* ``sqs.queues``   ``name`` -> the queue: type, attributes, tags, timestamps, last purge;
* ``sqs.deleted``  ``name`` -> when it was deleted (a name is reusable 60 s later);
* ``sqs.moves``    ``source-arn NUL started`` -> a message move task (see ``moves.py``);
* ``sqs.attempts`` ``queue NUL ReceiveRequestAttemptId`` -> what a FIFO receive returned, for 5 minutes.

A queue's messages are the store queue ``sqs/account/region/name``; deleting a queue drops
them in the same transaction as its record.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from cumulo.arns import split_arn
from cumulo.services.sqs.errors import invalid_receipt, invalid_value, queue_not_found, sqs_error
from cumulo.store.base import Store

QUEUES, DELETED, MOVES, ATTEMPTS = "sqs.queues", "sqs.deleted", "sqs.moves", "sqs.attempts"
NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
FIFO_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}\.fifo$")
RECREATE_WAIT_S = 60.0


@dataclass
class Queue:
    """A queue record and where it is."""

    account: str
    region: str
    name: str
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.account}:{self.region}:{self.name}"

    @property
    def fifo(self) -> bool:
        return bool(self.record.get("fifo"))

    @property
    def attributes(self) -> dict[str, str]:
        return self.record["attributes"]

    @property
    def arn(self) -> str:
        return queue_arn(self.region, self.account, self.name)

    @property
    def store_queue(self) -> str:
        return store_queue(self.account, self.region, self.name)

    @property
    def channel(self) -> str:
        return f"sqs:{self.store_queue}"

    def int_attribute(self, name: str) -> int:
        return int(self.attributes[name])


def store_queue(account: str, region: str, name: str) -> str:
    return f"sqs/{account}/{region}/{name}"


def queue_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


def queue_url(base_url: str, account: str, name: str) -> str:
    return f"{base_url.rstrip('/')}/{account}/{name}"


def parse_queue_arn(text: str) -> tuple[str, str, str] | None:
    """(region, account, name) of a queue ARN, or None when it is not one."""
    arn = split_arn(text)
    if arn is None or arn.service != "sqs" or not arn.resource or ":" in arn.resource:
        return None
    return arn.region, arn.account, arn.resource


def parse_url(url: str) -> tuple[str, str]:
    """(account, name) from a queue URL (any host, as clients keep URLs) or its path."""
    path = urlsplit(url).path if "://" in url else url
    segments = [unquote(s) for s in path.split("/") if s]
    if len(segments) < 2 or not segments[-2].isdigit():
        raise invalid_address(url)
    return segments[-2], segments[-1]


def invalid_address(url: str) -> Exception:
    return sqs_error("InvalidAddress", f"The address {url} is not valid for this endpoint.")


def check_name(name: str, fifo: bool) -> None:
    if fifo:
        if not FIFO_NAME.match(name):
            raise invalid_value("The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                                "underscores, must end with .fifo suffix and be 1 to 80 in length.")
    elif not NAME.match(name):
        raise invalid_value("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")


# ------------------------------------------------------------------ receipt handles
def encode_receipt(queue: Queue, message_id: str, lease: str) -> str:
    """A receipt handle: names the queue, the message and the store's lease token."""
    raw = f"{queue.key}\x00{message_id}\x00{lease}".encode()
    return base64.b64encode(raw).decode()


def decode_receipt(queue: Queue, receipt: str) -> tuple[str, str]:
    """(message id, lease) of a receipt handle issued by ``queue``; ReceiptHandleIsInvalid otherwise."""
    try:
        parts = base64.b64decode(receipt.encode(), validate=True).decode().split("\x00")
    except (binascii.Error, ValueError, UnicodeError):
        raise invalid_receipt(receipt) from None
    if len(parts) != 3 or parts[0] != queue.key:
        raise invalid_receipt(receipt)
    return parts[1], parts[2]


# ------------------------------------------------------------------ repository
class QueueRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    def find(self, account: str, region: str, name: str) -> Queue | None:
        record = self.store.get(QUEUES, f"{account}:{region}:{name}")
        return Queue(account, region, name, record) if record is not None else None

    def get(self, account: str, region: str, name: str) -> Queue:
        found = self.find(account, region, name)
        if found is None:
            raise queue_not_found()
        return found

    def by_arn(self, arn: str) -> Queue | None:
        parsed = parse_queue_arn(arn)
        if parsed is None:
            return None
        region, account, name = parsed
        return self.find(account, region, name)

    def save(self, queue: Queue) -> None:
        self.store.put(QUEUES, queue.key, queue.record)

    def create(self, queue: Queue) -> bool:
        return self.store.insert(QUEUES, queue.key, queue.record)

    def delete(self, queue: Queue) -> None:
        with self.store.transaction():
            self.store.delete(QUEUES, queue.key)
            self.store.purge(queue.store_queue)
            self.store.put(DELETED, queue.key, {"at": time.time()})

    def deleted_recently(self, account: str, region: str, name: str, now: float | None = None) -> bool:
        record = self.store.get(DELETED, f"{account}:{region}:{name}")
        now = time.time() if now is None else now
        return record is not None and now - record["at"] < RECREATE_WAIT_S

    def scan(self, account: str, region: str, prefix: str = "", start_after: str | None = None,
             limit: int | None = None) -> list[Queue]:
        scope = f"{account}:{region}:"
        rows = self.store.scan(QUEUES, scope + prefix, start_after=scope + start_after if start_after else None,
                               limit=limit)
        return [Queue(account, region, key[len(scope):], record) for key, record in rows]

    def all(self) -> list[Queue]:
        queues = []
        for key, record in self.store.scan(QUEUES):
            account, region, name = key.split(":", 2)
            queues.append(Queue(account, region, name, record))
        return queues
