"""Object versions in the store: the current version of each key, and the noncurrent ones.

``s3.objects`` holds each key's current version (an object or a delete marker) under
``bucket\\0key``; ``s3.versions`` holds noncurrent versions under ``bucket\\0key\\0<rank>``, the
rank falling with time so that a scan lists a key's versions newest first. An unversioned
bucket's objects have the version id ``null`` and replace each other; with versioning enabled
each write gets a new id and pushes the previous version down; suspended, writes get ``null``
again and replace only the ``null`` version. Every function here runs inside the caller's
store transaction and returns the bodies it stopped referencing (to delete after the commit).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cumulo.services.s3.common import OBJECTS, VERSIONS, object_key

if TYPE_CHECKING:
    from cumulo.services.s3.storage import BodyStore
    from cumulo.store.base import Store

_RANK_CEILING = 10 ** 20


def new_version_id(bucket: dict[str, Any]) -> str:
    return uuid.uuid4().hex if bucket.get("Versioning") == "Enabled" else "null"


class Versions:
    def __init__(self, store: Store, bodies: BodyStore) -> None:
        self.store = store
        self.bodies = bodies

    def current(self, bucket: str, key: str) -> dict[str, Any] | None:
        return self.store.get(OBJECTS, object_key(bucket, key))

    def noncurrent(self, bucket: str, key: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(store key, record) of a key's noncurrent versions, newest first."""
        yield from self.store.scan(VERSIONS, f"{bucket}\x00{key}\x00")

    def find(self, bucket: str, key: str, version_id: str) -> dict[str, Any] | None:
        current = self.current(bucket, key)
        if current is not None and current.get("VersionId", "null") == version_id:
            return current
        for _, record in self.noncurrent(bucket, key):
            if record.get("VersionId", "null") == version_id:
                return record
        return None

    def _release(self, record: dict[str, Any]) -> str | None:
        return self.bodies.release(record["body"]) if record.get("body") else None

    def _push_down(self, bucket: str, key: str, record: dict[str, Any]) -> list[str | None]:
        """Make ``record`` noncurrent; a ``null`` version replaces the ``null`` one already there."""
        released: list[str | None] = []
        if record.get("VersionId", "null") == "null":
            released += self._remove_noncurrent(bucket, key, "null")
        rank = _RANK_CEILING - time.time_ns()
        self.store.put(VERSIONS, f"{bucket}\x00{key}\x00{rank:020d}", record)
        return released

    def _remove_noncurrent(self, bucket: str, key: str, version_id: str) -> list[str | None]:
        for store_key, record in self.noncurrent(bucket, key):
            if record.get("VersionId", "null") == version_id:
                self.store.delete(VERSIONS, store_key)
                return [self._release(record)]
        return []

    def write(self, bucket: dict[str, Any], key: str, record: dict[str, Any]) -> list[str | None]:
        """Make ``record`` (an object, with a retained body, or a delete marker) the current version."""
        name = bucket["Name"]
        previous = self.current(name, key)
        released: list[str | None] = []
        if previous is not None:
            if bucket.get("Versioning") in ("Enabled", "Suspended") and (
                    previous.get("VersionId", "null") != "null" or record["VersionId"] != "null"):
                released += self._push_down(name, key, previous)
            else:
                released.append(self._release(previous))
        if record["VersionId"] == "null" and bucket.get("Versioning") == "Suspended":
            released += self._remove_noncurrent(name, key, "null")
        self.store.put(OBJECTS, object_key(name, key), record)
        return released

    def remove(self, bucket: str, key: str, version_id: str | None) -> tuple[dict[str, Any] | None, list[str | None]]:
        """Delete one version for good (the current one when ``version_id`` is None); the newest
        noncurrent version becomes current when the current one goes. Returns the removed record."""
        current = self.current(bucket, key)
        if current is not None and (version_id is None or current.get("VersionId", "null") == version_id):
            self.store.delete(OBJECTS, object_key(bucket, key))
            for store_key, record in self.noncurrent(bucket, key):
                self.store.delete(VERSIONS, store_key)
                self.store.put(OBJECTS, object_key(bucket, key), record)
                break
            return current, [self._release(current)]
        if version_id is None:
            return None, []
        for store_key, record in self.noncurrent(bucket, key):
            if record.get("VersionId", "null") == version_id:
                self.store.delete(VERSIONS, store_key)
                return record, [self._release(record)]
        return None, []
