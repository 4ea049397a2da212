"""SQS batch requests: the checks every ``*Batch`` operation makes and the answer shape they share."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.sqs import messages as msgs
from cumulo.services.sqs.errors import missing, sqs_error
from cumulo.store.base import Store

MAX_BATCH = 10
MAX_BATCH_BYTES = 1_048_576
BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def check_batch(params: dict[str, Any], entry_name: str) -> list[dict[str, Any]]:
    """The request's entries: 1 to 10, each with a distinct, well-formed Id."""
    entries = params.get("Entries") or []
    if not entries:
        raise sqs_error("EmptyBatchRequest", f"There should be at least one {entry_name} in the request.")
    if len(entries) > MAX_BATCH:
        raise sqs_error("TooManyEntriesInBatchRequest", f"Maximum number of entries per request are "
                                                        f"{MAX_BATCH}. You have sent {len(entries)}.")
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry.get("Id")
        if entry_id is None:
            raise missing(f"{entry_name}.Id")
        if not BATCH_ID.match(entry_id):
            raise sqs_error("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, "
                                                   "hyphens and underscores. It can be at most 80 letters long.")
        if entry_id in seen:
            raise sqs_error("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return entries


def check_batch_size(entries: list[dict[str, Any]]) -> None:
    """A SendMessageBatch's bodies and message attributes together fit in 1 MiB."""
    total = sum(len((e.get("MessageBody") or "").encode("utf-8", "surrogatepass"))
                + msgs.attributes_size(e.get("MessageAttributes")) for e in entries)
    if total > MAX_BATCH_BYTES:
        raise sqs_error("BatchRequestTooLong", f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. "
                                               f"You have sent {total} bytes.")


def batch_failure(entry_id: str, error: AwsError) -> dict[str, Any]:
    """One entry of a batch answer's ``Failed`` list."""
    return {"Id": entry_id, "SenderFault": error.sender_fault, "Code": error.query_code or error.code,
            "Message": error.message}


def per_receipt(store: Store, entries: list[dict[str, Any]], action: Callable[[dict[str, Any]], None]
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply ``action`` to each batch entry (which must name a ReceiptHandle) in one transaction:
    the entries that succeeded and the failures, as SQS's batch answers list them."""
    successful, failed = [], []
    with store.transaction():
        for entry in entries:
            try:
                if entry.get("ReceiptHandle") is None:
                    raise missing("ReceiptHandle")
                action(entry)
                successful.append({"Id": entry["Id"]})
            except AwsError as error:
                failed.append(batch_failure(entry["Id"], error))
    return successful, failed
