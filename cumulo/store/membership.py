"""Cluster membership: each node's row, refreshed by a heartbeat, read by health and status.

A node writes ``{endpoint, pid, version, startedAt, heartbeatAt}`` under its name in the
``cluster-nodes`` records every ``HEARTBEAT_S`` seconds; a node whose heartbeat is older than
``DEAD_AFTER_S`` is reported down (its queue leases expire on their own, see work_queue.py).
A node that stops cleanly removes its row.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from cumulo import __version__
from cumulo.store.base import Store

log = logging.getLogger("cumulo.cluster")

TABLE = "cluster-nodes"
HEARTBEAT_S = 2.0
DEAD_AFTER_S = 10.0


class Membership:
    def __init__(self, store: Store, node: str, endpoint: str) -> None:
        self.store = store
        self.node = node
        self.endpoint = endpoint
        self.started_at = time.time()

    def beat(self) -> None:
        self.store.put(TABLE, self.node, {"endpoint": self.endpoint, "pid": os.getpid(), "version": __version__,
                                          "startedAt": self.started_at, "heartbeatAt": time.time()})

    async def run(self) -> None:
        """Heartbeat until cancelled; a failed beat is logged and retried on the next one."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, self.beat)
            except Exception as error:
                log.warning("cluster heartbeat of node %s failed: %s", self.node, error)
            await asyncio.sleep(HEARTBEAT_S)

    def leave(self) -> None:
        self.store.delete(TABLE, self.node)


def nodes(store: Store, now: float | None = None) -> list[dict]:
    """Every node that has a row, with whether it is up (heartbeat recent enough)."""
    now = time.time() if now is None else now
    return [{"name": name, "endpoint": row["endpoint"], "version": row["version"], "pid": row["pid"],
             "up": now - row["heartbeatAt"] < DEAD_AFTER_S,
             "lastHeartbeatSecondsAgo": round(now - row["heartbeatAt"], 1)}
            for name, row in store.scan(TABLE)]
