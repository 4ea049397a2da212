"""Which store a node uses: the embedded SQLite database, or PostgreSQL in cluster mode."""

from __future__ import annotations

from cumulo.settings import Settings
from cumulo.store.base import Store


class ClusterDriverMissing(RuntimeError):
    """Cluster mode was asked for without the PostgreSQL driver installed."""


def open_store(settings: Settings) -> Store:
    if not settings.cluster_url:
        from cumulo.store.sqlite import SqliteStore

        return SqliteStore(settings.data_dir / "state.db", settings.sqlite_synchronous)
    try:
        from cumulo.store.postgres import PostgresStore
    except ImportError as error:
        raise ClusterDriverMissing(
            "cluster mode needs the PostgreSQL driver: pip install 'cumulo[cluster]'") from error
    return PostgresStore(settings.cluster_url)
