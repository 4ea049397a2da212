"""Versioned schema migrations of the SQLite store.

Each entry upgrades the schema from its index to the next version, inside one transaction.
Never edit an entry that has shipped: append a new one.
"""

from __future__ import annotations

import sqlite3


class NewerSchemaError(RuntimeError):
    """The database was written by a newer Cumulo than this one."""


MIGRATIONS: list[str] = [
    # 1: records, queues and deduplication windows
    """
    CREATE TABLE records (
        tbl TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (tbl, key)
    ) WITHOUT ROWID;

    CREATE TABLE queue_messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        queue TEXT NOT NULL,
        message_id TEXT NOT NULL,
        body BLOB NOT NULL,
        attributes TEXT,
        group_id TEXT,
        dedup_id TEXT,
        sent_at REAL NOT NULL,
        visible_at REAL NOT NULL,
        receipt TEXT,
        receive_count INTEGER NOT NULL DEFAULT 0,
        first_received_at REAL
    );
    CREATE INDEX queue_messages_visible ON queue_messages (queue, visible_at, seq);
    CREATE UNIQUE INDEX queue_messages_receipt ON queue_messages (receipt);

    CREATE TABLE queue_dedup (
        queue TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (queue, dedup_id)
    ) WITHOUT ROWID;
    """,
]


def migrate(connection: sqlite3.Connection) -> int:
    """Bring the schema to the latest version; returns the version reached."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise NewerSchemaError(
            f"the data directory was written by a newer Cumulo (schema {version}, this one knows "
            f"{len(MIGRATIONS)}): upgrade Cumulo or use another --data-dir")
    for number in range(version, len(MIGRATIONS)):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, MIGRATIONS[number].split(";")):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number + 1}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
