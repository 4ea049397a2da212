"""Which store a node uses: the embedded SQLite database, or PostgreSQL in cluster mode."""

from __future__ import annotations

from cumulo.settings import Settings
from cumulo.store.base import Store
from cumulo.store.notify import Notifier


class ClusterDriverMissing(RuntimeError):
    """Cluster mode was asked for without the PostgreSQL driver installed."""


def open_store(settings: Settings, notifier: Notifier) -> Store:
    """The node's store; in cluster mode ``notifier``'s hints are exchanged with the other nodes."""
    if not settings.cluster_url:
        from cumulo.store.sqlite import SqliteStore

        return SqliteStore(settings.data_dir / "state.db", settings.sqlite_synchronous)
    try:
        from cumulo.store.postgres import PostgresStore
    except ImportError as error:
        raise ClusterDriverMissing(
            "cluster mode needs the PostgreSQL driver: pip install 'cumulo[cluster]'") from error
    store = PostgresStore(settings.cluster_url)
    notifier.relay = store.publish_hint
    store.on_hint = notifier.notify_here
    return store
