"""Versioned schema migrations of the PostgreSQL store (cluster mode).

The same three kinds of state as the SQLite schema (``migrations.py``), in PostgreSQL's types:
keys compare byte-wise (``COLLATE "C"``) so scans order exactly as SQLite's do, and a row
trigger announces every record change on the ``cumulo_records`` channel so other nodes drop
their cached copies. Migrations run inside one transaction under an advisory lock: whichever
node starts first upgrades the schema, the others wait and then find nothing left to do.
Never edit an entry that has shipped: append a new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cumulo.store.migrations import NewerSchemaError

if TYPE_CHECKING:
    import psycopg

#: the advisory lock key that serializes schema migrations across nodes ("cumulo" in ASCII)
MIGRATION_LOCK = 0x63756D756C6F
RECORDS_CHANNEL = "cumulo_records"
HINTS_CHANNEL = "cumulo_hints"  # wake-up hints between nodes (cumulo.store.notify)

MIGRATIONS: list[str] = [
    # 1: records (with change notifications), queues and deduplication windows
    f"""
    CREATE TABLE records (
        tbl TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (tbl, key)
    );

    CREATE FUNCTION cumulo_record_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{RECORDS_CHANNEL}', COALESCE(NEW.tbl, OLD.tbl));
        RETURN NULL;
    END $$;
    CREATE TRIGGER records_changed AFTER INSERT OR UPDATE OR DELETE ON records
        FOR EACH ROW EXECUTE FUNCTION cumulo_record_changed();

    CREATE TABLE queue_messages (
        seq BIGSERIAL PRIMARY KEY,
        queue TEXT COLLATE "C" NOT NULL,
        message_id TEXT NOT NULL,
        body BYTEA NOT NULL,
        attributes TEXT,
        group_id TEXT,
        dedup_id TEXT,
        sent_at DOUBLE PRECISION NOT NULL,
        visible_at DOUBLE PRECISION NOT NULL,
        receipt TEXT UNIQUE,
        receive_count INTEGER NOT NULL DEFAULT 0,
        first_received_at DOUBLE PRECISION
    );
    CREATE INDEX queue_messages_visible ON queue_messages (queue, visible_at, seq);

    CREATE TABLE queue_dedup (
        queue TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (queue, dedup_id)
    );
    """,
]


def migrate(connection: psycopg.Connection) -> int:
    """Bring the schema to the latest version, once across the cluster; returns the version."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        connection.execute("CREATE TABLE IF NOT EXISTS cumulo_schema (version INTEGER NOT NULL)")
        row = connection.execute("SELECT version FROM cumulo_schema").fetchone()
        if row is None:
            connection.execute("INSERT INTO cumulo_schema (version) VALUES (0)")
        version = row[0] if row else 0
        if version > len(MIGRATIONS):
            raise NewerSchemaError(
                f"the cluster database was written by a newer Cumulo (schema {version}, this one "
                f"knows {len(MIGRATIONS)}): upgrade Cumulo on this node")
        for number in range(version, len(MIGRATIONS)):
            connection.execute(MIGRATIONS[number].encode())  # several statements, no parameters
        connection.execute("UPDATE cumulo_schema SET version=%s", (len(MIGRATIONS),))
    return len(MIGRATIONS)
