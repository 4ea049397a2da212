"""Items in the store, with their secondary-index entries, TTL entries and stream records all
written in one transaction, and the key-range reads Query and Scan make."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from cumulo.services.dynamodb.streams import StreamLog
from cumulo.services.dynamodb.tables import INDEX, ITEMS, TTL, Index, Table
from cumulo.services.dynamodb.values import Item, from_stored, to_stored
from cumulo.store.base import Store

_CHUNK = 256
HIGH = "\x7f"  # above every character of an encoded key


def just_before(text: str) -> str:
    """A string below ``text`` and above every encoded key below it (for inclusive lower bounds)."""
    return text[:-1] + chr(ord(text[-1]) - 1) + HIGH


def index_key(table: Table, index: Index, item: Item) -> str:
    schema = index.schema
    base = table.schema
    return (f"{table.id}/{index.name}/{schema.partition(item)}/{schema.sort(item)}/"
            f"{base.partition(item)}/{base.sort(item)}")


def expiry_of(item: Item, attribute: str | None) -> int | None:
    """The epoch second an item expires at: its TTL attribute when that is a number."""
    if attribute is None:
        return None
    value = item.get(attribute)
    if value is None or "N" not in value:
        return None
    try:
        return int(Decimal(value["N"]))
    except (InvalidOperation, ValueError, OverflowError):
        return None


class ItemStore:
    def __init__(self, store: Store, streams: StreamLog) -> None:
        self.store = store
        self.streams = streams

    def get(self, table: Table, key: Item) -> Item | None:
        record = self.store.get(ITEMS, table.item_key(key))
        return from_stored(record) if record is not None else None

    def write(self, table: Table, key: Item, old: Item | None, new: Item | None,
              user_identity: dict[str, str] | None = None) -> None:
        """Replace ``old`` by ``new`` (either may be None). The caller holds a transaction."""
        store_key = table.item_key(key)
        if new is None:
            if old is None:
                return
            self.store.delete(ITEMS, store_key)
        else:
            self.store.put(ITEMS, store_key, to_stored(new))
        for index in table.indexes.values():
            old_entry = index_key(table, index, old) if old is not None and index.schema.has_key(old) else None
            new_entry = index_key(table, index, new) if new is not None and index.schema.has_key(new) else None
            if old_entry and old_entry != new_entry:
                self.store.delete(INDEX, old_entry)
            if new_entry and new is not None:
                self.store.put(INDEX, new_entry, to_stored(index.project(new, table.schema.names)))
        attribute = table.ttl_attribute
        old_expiry, new_expiry = expiry_of(old or {}, attribute), expiry_of(new or {}, attribute)
        if old_expiry is not None and old_expiry != new_expiry:
            self.store.delete(TTL, f"{table.id}/{old_expiry:012d}/{store_key}")
        if new_expiry is not None:
            self.store.put(TTL, f"{table.id}/{new_expiry:012d}/{store_key}", {})
        if table.stream is not None:
            event = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
            self.streams.record(table, event, table.schema.key_of(new or old or key), old, new, user_identity)

    # ------------------------------------------------------------------ reads
    def range(self, store_table: str, prefix: str, low: str | None, high: str | None, *,
              reverse: bool = False, start_after: str | None = None,
              expected: int | None = None) -> Iterator[tuple[str, Item]]:
        """Records with ``low <= key < high`` under ``prefix``, in order, from after ``start_after``.

        Read in chunks, the first one the size of what the caller ``expected`` to need (a page's
        Limit), each next one twice the last: a one-item page reads two records, not a chunk."""
        chunk = min(_CHUNK, (expected or _CHUNK) + 1)
        lower = just_before(low) if low else None
        upper = high
        if start_after is not None:
            if reverse:
                upper = min(upper, start_after) if upper else start_after
            else:
                lower = max(lower, start_after) if lower else start_after
        while True:
            if reverse:
                rows = self.store.scan(store_table, prefix, start_after=upper, end_before=lower, limit=chunk,
                                       reverse=True)
            else:
                rows = self.store.scan(store_table, prefix, start_after=lower, end_before=upper, limit=chunk)
            for key, record in rows:
                yield key, from_stored(record)
            if len(rows) < chunk:
                return
            chunk = min(chunk * 2, _CHUNK * 4)
            if reverse:
                upper = rows[-1][0]
            else:
                lower = rows[-1][0]

    def reindex(self, table: Table, index: Index) -> int:
        """Backfill a new global secondary index from the table's items; returns the item count."""
        count = 0
        for _, item in self.range(ITEMS, f"{table.id}/", None, None):
            if index.schema.has_key(item):
                self.store.put(INDEX, index_key(table, index, item), to_stored(index.project(item, table.schema.names)))
            count += 1
        return count

    def drop_index(self, table: Table, name: str) -> None:
        self.store.delete_prefix(INDEX, f"{table.id}/{name}/")

    def drop_table(self, table: Table) -> None:
        self.store.delete_prefix(ITEMS, f"{table.id}/")
        self.store.delete_prefix(INDEX, f"{table.id}/")
        self.store.delete_prefix(TTL, f"{table.id}/")

    def expired(self, table: Table, now: int, limit: int) -> list[tuple[str, str]]:
        """(ttl entry key, item store key) of items whose expiry has passed."""
        rows = self.store.scan(TTL, f"{table.id}/", end_before=f"{table.id}/{now:012d}", limit=limit)
        return [(key, key.split("/", 2)[2]) for key, _ in rows]

    def load(self, store_key: str) -> Item | None:
        record = self.store.get(ITEMS, store_key)
        return from_stored(record) if record is not None else None

    def index_ttl(self, table: Table) -> None:
        """Write the TTL entries of every item (TTL was just enabled)."""
        for store_key, item in self.range(ITEMS, f"{table.id}/", None, None):
            expiry = expiry_of(item, table.ttl_attribute)
            if expiry is not None:
                self.store.put(TTL, f"{table.id}/{expiry:012d}/{store_key}", {})

    def all_items(self, table: Table) -> Iterator[Item]:
        for _, item in self.range(ITEMS, f"{table.id}/", None, None):
            yield item

    def put_raw(self, table: Table, item: Item) -> None:
        self.store.put(ITEMS, table.item_key(item), to_stored(item))
        for index in table.indexes.values():
            if index.schema.has_key(item):
                self.store.put(INDEX, index_key(table, index, item), to_stored(index.project(item, table.schema.names)))
