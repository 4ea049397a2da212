"""The cluster store: the ``Store`` interface on PostgreSQL, shared by every node of a cluster.

Same semantics as the embedded SQLite store (``sqlite.py``): one connection per process behind
a re-entrant lock, writes outside ``transaction()`` commit one by one, writes inside it commit
together. What a cluster adds:

* **queues** lease with ``FOR UPDATE SKIP LOCKED``, so nodes receiving from one queue at once
  never deliver a message twice within its visibility timeout; a FIFO queue's receives take a
  transaction-scoped advisory lock on the queue, because a message group must not be handed to
  two nodes at once (skipping a locked row would skip past its group's head);
* **wake-up hints** (``notify.py``) reach the other nodes on ``cumulo_hints``, so a long poll
  or a dispatcher on one node wakes when another node enqueues;
* **generations** count this process's own writes (as in SQLite) and the writes of other nodes,
  announced by a trigger on ``cumulo_records`` (LISTEN/NOTIFY, delivered at commit). A listener
  that loses its connection may have missed notifications, so on reconnecting it advances every
  table's generation: no cache keeps a record it cannot vouch for.

The driver is psycopg 3 (the ``cluster`` extra), imported only when cluster mode is used.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from cumulo.store.base import (
    DeadLetterPolicy,
    EnqueueResult,
    QueueMessage,
    QueueStats,
    Record,
    Store,
)
from cumulo.store.postgres_schema import HINTS_CHANNEL, RECORDS_CHANNEL, migrate

log = logging.getLogger("cumulo.store")

_MESSAGE_COLUMNS = ("seq, queue, message_id, body, attributes, group_id, dedup_id, sent_at, "
                    "visible_at, receipt, receive_count, first_received_at")
_UPSERT = ("INSERT INTO records (tbl, key, value) VALUES (%s, %s, %s) "
           "ON CONFLICT (tbl, key) DO UPDATE SET value=excluded.value")
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (byte order)."""
    return prefix + "\U0010ffff"


def _row_to_message(row: tuple) -> QueueMessage:
    (seq, queue, message_id, body, attributes, group_id, dedup_id, sent_at, visible_at,
     receipt, receive_count, first_received_at) = row
    return QueueMessage(queue=queue, message_id=message_id, body=bytes(body),
                        attributes=json.loads(attributes) if attributes else {}, sequence=seq,
                        sent_at=sent_at, group_id=group_id, dedup_id=dedup_id, receipt=receipt,
                        receive_count=receive_count, first_received_at=first_received_at,
                        visible_at=visible_at)


def _queue_lock_key(queue: str) -> int:
    """A 32-bit advisory lock key per queue (collisions only serialize two queues' receives)."""
    return zlib.crc32(f"cumulo-queue:{queue}".encode())


class PostgresStore(Store):
    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._depth = 0
        self._changes = itertools.count(1)
        self._changed: dict[str, int] = {}
        self._everything_changed = 0  # a rollback, or notifications possibly missed
        self._conn = psycopg.connect(url, autocommit=True)
        self.schema_version = migrate(self._conn)
        self._backend_pid = self._conn.info.backend_pid
        #: called (in the listener thread) with the channel of each hint another node publishes
        self.on_hint: Callable[[str], None] | None = None
        self._closing = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="cumulo-store-listen", daemon=True)
        self._listening = threading.Event()
        self._listener.start()
        self._listening.wait(10)

    # ------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._reconnect_if_lost()
            self._conn.execute("BEGIN")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._everything_changed = next(self._changes)
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    def _execute(self, sql: str, params: tuple = ()) -> psycopg.Cursor:
        with self._lock:
            if not self._depth:
                self._reconnect_if_lost()
            return self._conn.execute(sql, params)

    def _reconnect_if_lost(self) -> None:
        """After the database connection broke (the call that saw it failed, never retried:
        it may have committed), open a new one for the calls that follow."""
        if not (self._conn.broken or self._conn.closed) or self._closing.is_set():
            return
        log.warning("cluster store: the database connection was lost; reconnecting")
        self._conn = psycopg.connect(self.url, autocommit=True)
        self._backend_pid = self._conn.info.backend_pid
        self._everything_changed = next(self._changes)

    def exclusive(self, name: str) -> None:
        self._execute("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(f"cumulo-exclusive:{name}".encode()),))

    # ------------------------------------------------------------- generations
    def generation(self, table: str) -> int:
        return max(self._changed.get(table, 0), self._everything_changed)

    def _wrote(self, table: str) -> None:
        self._changed[table] = next(self._changes)

    def _listen(self) -> None:
        """Advance the generation of tables other nodes write; reconnect when the link drops."""
        while not self._closing.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {RECORDS_CHANNEL}")
                    conn.execute(f"LISTEN {HINTS_CHANNEL}")
                    self._everything_changed = next(self._changes)  # anything missed meanwhile
                    self._listening.set()
                    while not self._closing.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            if self._closing.is_set():
                                break
                            if notice.pid == self._backend_pid:
                                continue
                            if notice.channel == RECORDS_CHANNEL:
                                self._wrote(notice.payload)
                            elif self.on_hint is not None:
                                self.on_hint(notice.payload)
            except psycopg.Error as error:
                if self._closing.is_set():
                    return
                log.warning("cluster store: change notifications interrupted (%s); reconnecting", error)
                self._everything_changed = next(self._changes)
                self._closing.wait(1.0)

    def publish_hint(self, channel: str) -> None:
        """Tell the other nodes' waiters on ``channel`` that something may have changed (delivered
        when this connection's open transaction, if any, commits). Best effort, as hints are:
        the caller's write has committed, and waiters elsewhere re-read within seconds anyway."""
        try:
            self._execute("SELECT pg_notify(%s, %s)", (HINTS_CHANNEL, channel))
        except psycopg.Error as error:
            log.debug("cluster store: hint on %s not published: %s", channel, error)

    # ----------------------------------------------------------------- records
    def get(self, table: str, key: str) -> Record | None:
        row = self._execute("SELECT value FROM records WHERE tbl=%s AND key=%s", (table, key)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, table: str, key: str, value: Record) -> None:
        self._execute(_UPSERT, (table, key, _dumps(value)))
        self._wrote(table)

    def put_many(self, table: str, items: list[tuple[str, Record]]) -> None:
        self.put_many_encoded(table, [(key, _dumps(value)) for key, value in items])

    def put_many_encoded(self, table: str, items: list[tuple[str, str]]) -> None:
        if not items:
            return
        with self.transaction(), self._conn.cursor() as cursor:
            cursor.executemany(_UPSERT, [(table, key, text) for key, text in items])
        self._wrote(table)

    def insert(self, table: str, key: str, value: Record) -> bool:
        cursor = self._execute("INSERT INTO records (tbl, key, value) VALUES (%s, %s, %s) "
                               "ON CONFLICT DO NOTHING", (table, key, _dumps(value)))
        self._wrote(table)
        return cursor.rowcount == 1

    def delete(self, table: str, key: str) -> bool:
        deleted = self._execute("DELETE FROM records WHERE tbl=%s AND key=%s", (table, key)).rowcount
        self._wrote(table)
        return deleted == 1

    def delete_prefix(self, table: str, prefix: str) -> int:
        deleted = self._execute("DELETE FROM records WHERE tbl=%s AND key>=%s AND key<%s",
                                (table, prefix, _prefix_end(prefix))).rowcount
        self._wrote(table)
        return deleted

    def scan(self, table: str, prefix: str = "", *, start_after: str | None = None,
             end_before: str | None = None, limit: int | None = None,
             reverse: bool = False) -> list[tuple[str, Record]]:
        sql = "SELECT key, value FROM records WHERE tbl=%s AND key>=%s AND key<%s"
        params: list[Any] = [table, prefix, _prefix_end(prefix)]
        if start_after is not None:
            sql += " AND key<%s" if reverse else " AND key>%s"
            params.append(start_after)
        if end_before is not None:
            sql += " AND key>%s" if reverse else " AND key<%s"
            params.append(end_before)
        sql += " ORDER BY key DESC" if reverse else " ORDER BY key"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        rows = self._execute(sql, tuple(params)).fetchall()
        return [(key, json.loads(value)) for key, value in rows]

    # ------------------------------------------------------------------ queues
    def enqueue(self, queue: str, body: bytes, *, message_id: str, delay_s: float = 0.0,
                attributes: dict[str, Any] | None = None, group_id: str | None = None,
                dedup_id: str | None = None, dedup_window_s: float = 300.0,
                now: float | None = None) -> EnqueueResult:
        now = time.time() if now is None else now
        encoded = _dumps(attributes) if attributes else None
        if dedup_id is None:
            row = self._execute(
                "INSERT INTO queue_messages (queue, message_id, body, attributes, group_id, dedup_id, "
                "sent_at, visible_at) VALUES (%s, %s, %s, %s, %s, NULL, %s, %s) RETURNING seq",
                (queue, message_id, body, encoded, group_id, now, now + delay_s)).fetchone()
            return EnqueueResult(message_id, row[0])
        with self.transaction():
            self._execute("DELETE FROM queue_dedup WHERE queue=%s AND expires_at<=%s", (queue, now))
            # Claim the deduplication id first: a node sending the same id at the same moment
            # waits on this row and then finds the first sender's message.
            sequence = self._execute("SELECT nextval(pg_get_serial_sequence('queue_messages', 'seq'))"
                                     ).fetchone()[0]
            claimed = self._execute(
                "INSERT INTO queue_dedup (queue, dedup_id, message_id, seq, expires_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (queue, dedup_id, message_id, sequence, now + dedup_window_s)).rowcount
            if not claimed:
                row = self._execute("SELECT message_id, seq FROM queue_dedup WHERE queue=%s AND dedup_id=%s",
                                    (queue, dedup_id)).fetchone()
                return EnqueueResult(row[0], row[1], duplicate=True)
            self._execute(
                "INSERT INTO queue_messages (seq, queue, message_id, body, attributes, group_id, dedup_id, "
                "sent_at, visible_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (sequence, queue, message_id, body, encoded, group_id, dedup_id, now, now + delay_s))
        return EnqueueResult(message_id, sequence)

    def receive(self, queue: str, max_count: int, visibility_timeout_s: float, *,
                fifo: bool = False, dead_letter: DeadLetterPolicy | None = None,
                now: float | None = None) -> list[QueueMessage]:
        now = time.time() if now is None else now
        delivered: list[QueueMessage] = []
        with self.transaction():
            sql = f"SELECT {_MESSAGE_COLUMNS} FROM queue_messages WHERE queue=%s AND visible_at<=%s"
            params: list[Any] = [queue, now]
            if fifo:
                self._execute("SELECT pg_advisory_xact_lock(%s)", (_queue_lock_key(queue),))
                sql += (" AND (group_id IS NULL OR group_id NOT IN (SELECT group_id FROM queue_messages"
                        " WHERE queue=%s AND visible_at>%s AND receive_count>0 AND group_id IS NOT NULL))")
                params += [queue, now]
            sql += " ORDER BY seq" if fifo else " ORDER BY visible_at, seq"
            sql += " LIMIT %s FOR UPDATE SKIP LOCKED"
            params.append(max_count * 2 if dead_letter else max_count)
            blocked_groups: set[str] = set()
            leased: list[tuple[str, float, int]] = []
            for row in self._execute(sql, tuple(params)).fetchall():
                if len(delivered) >= max_count:
                    break
                message = _row_to_message(row)
                if fifo and message.group_id in blocked_groups:
                    continue
                if dead_letter and message.receive_count >= dead_letter.max_receive_count:
                    self._move_one(message, dead_letter.target_queue, dead_letter.extra_attributes, now)
                    if fifo and message.group_id:
                        blocked_groups.add(message.group_id)
                    continue
                message.receipt = secrets.token_urlsafe(24)
                message.receive_count += 1
                message.first_received_at = message.first_received_at or now
                message.visible_at = now + visibility_timeout_s
                leased.append((message.receipt, message.first_received_at, message.sequence))
                delivered.append(message)
            if leased:
                with self._conn.cursor() as cursor:
                    cursor.executemany(
                        "UPDATE queue_messages SET visible_at=%s, receipt=%s, receive_count=receive_count+1,"
                        " first_received_at=%s WHERE seq=%s",
                        [(now + visibility_timeout_s, receipt, first, seq) for receipt, first, seq in leased])
        return delivered

    def _move_one(self, message: QueueMessage, target: str, extra: dict[str, Any], now: float) -> None:
        attributes = {**message.attributes, **extra} if extra else message.attributes
        self._execute("DELETE FROM queue_messages WHERE seq=%s", (message.sequence,))
        self._execute(
            "INSERT INTO queue_messages (queue, message_id, body, attributes, group_id, dedup_id, sent_at,"
            " visible_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (target, message.message_id, message.body, _dumps(attributes) if attributes else None,
             message.group_id, message.dedup_id, now, now))

    def delete_message(self, queue: str, receipt: str) -> bool:
        return self._execute("DELETE FROM queue_messages WHERE queue=%s AND receipt=%s",
                             (queue, receipt)).rowcount == 1

    def change_visibility(self, queue: str, receipt: str, timeout_s: float,
                          now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self._execute("UPDATE queue_messages SET visible_at=%s WHERE queue=%s AND receipt=%s",
                             (now + timeout_s, queue, receipt)).rowcount == 1

    def release_in_flight(self, queue: str) -> int:
        now = time.time()
        return self._execute("UPDATE queue_messages SET visible_at=%s, receipt=NULL WHERE queue=%s"
                             " AND visible_at>%s AND receive_count>0", (now, queue, now)).rowcount

    def find_by_receipt(self, queue: str, receipt: str) -> QueueMessage | None:
        row = self._execute(f"SELECT {_MESSAGE_COLUMNS} FROM queue_messages WHERE queue=%s AND receipt=%s",
                            (queue, receipt)).fetchone()
        return _row_to_message(row) if row else None

    def queue_stats(self, queue: str, now: float | None = None) -> QueueStats:
        now = time.time() if now is None else now
        row = self._execute(
            "SELECT count(*) FILTER (WHERE visible_at<=%s),"
            " count(*) FILTER (WHERE visible_at>%s AND receive_count>0),"
            " count(*) FILTER (WHERE visible_at>%s AND receive_count=0)"
            " FROM queue_messages WHERE queue=%s", (now, now, now, queue)).fetchone()
        return QueueStats(int(row[0]), int(row[1]), int(row[2]))

    def next_visible_at(self, queue: str, after: float | None = None) -> float | None:
        if after is None:
            row = self._execute("SELECT MIN(visible_at) FROM queue_messages WHERE queue=%s",
                                (queue,)).fetchone()
        else:
            row = self._execute("SELECT MIN(visible_at) FROM queue_messages WHERE queue=%s AND visible_at>%s",
                                (queue, after)).fetchone()
        return row[0] if row else None

    def purge(self, queue: str) -> int:
        with self.transaction():
            self._execute("DELETE FROM queue_dedup WHERE queue=%s", (queue,))
            return self._execute("DELETE FROM queue_messages WHERE queue=%s", (queue,)).rowcount

    def expire(self, queue: str, sent_before: float) -> int:
        return self._execute("DELETE FROM queue_messages WHERE queue=%s AND sent_at<%s",
                             (queue, sent_before)).rowcount

    def move_messages(self, source: str, target: str, limit: int | None = None) -> int:
        now = time.time()
        with self.transaction():
            sql = (f"SELECT {_MESSAGE_COLUMNS} FROM queue_messages WHERE queue=%s AND visible_at<=%s"
                   " ORDER BY seq")
            params: tuple = (source, now)
            if limit is not None:
                sql += " LIMIT %s"
                params += (limit,)
            rows = self._execute(sql + " FOR UPDATE SKIP LOCKED", params).fetchall()
            for row in rows:
                self._move_one(_row_to_message(row), target, {}, now)
        return len(rows)

    def iter_queues(self) -> Iterator[str]:
        rows = self._execute("SELECT DISTINCT queue FROM queue_messages").fetchall()
        return iter([row[0] for row in rows])

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            self._conn.execute("SELECT pg_notify(%s, '')", (RECORDS_CHANNEL,))  # wakes the listener
        self._listener.join(5)
        with self._lock:
            self._conn.close()
