"""Carrying out buckets' lifecycle rules: expiring current and noncurrent versions, removing
expired delete markers and aborting incomplete multipart uploads.

A pass runs every 24th of a lifecycle day (``s3_lifecycle_day_seconds``, a real day by
default, at most hourly) over the buckets that have rules. Expiring a current version deletes
it (``LifecycleExpiration:Delete``), or, in a versioned bucket, puts a delete marker on it
(``LifecycleExpiration:DeleteMarkerCreated``); either is notified like any other change.
Transitions are accepted and stored; there is one storage class on local disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cumulo.services.s3.common import BUCKETS, OBJECTS, UPLOADS, VERSIONS, now
from cumulo.services.s3.versions import new_version_id

if TYPE_CHECKING:
    from cumulo.platform import Platform
    from cumulo.services.base import RequestContext
    from cumulo.services.s3.storage import BodyStore
    from cumulo.services.s3.versions import Versions

log = logging.getLogger("cumulo.s3")
_RANK_CEILING = 10 ** 20


def _applies(rule: dict[str, Any], key: str, record: dict[str, Any]) -> bool:
    """Whether a rule's filter (prefix, tags, size bounds) selects an object."""
    selector = rule.get("Filter") or {}
    combined = selector.get("And") or {}
    prefix = rule.get("Prefix") or selector.get("Prefix") or combined.get("Prefix") or ""
    tags = combined.get("Tags") or ([selector["Tag"]] if selector.get("Tag") else [])
    if not key.startswith(prefix):
        return False
    if any((record.get("Tags") or {}).get(t["Key"]) != t["Value"] for t in tags):
        return False
    size = record.get("Size", 0)
    above = combined.get("ObjectSizeGreaterThan", selector.get("ObjectSizeGreaterThan"))
    below = combined.get("ObjectSizeLessThan", selector.get("ObjectSizeLessThan"))
    return (above is None or size > above) and (below is None or size < below)


class LifecycleOperations:
    platform: Platform
    bodies: BodyStore
    versions: Versions
    _emit: Callable[[dict[str, Any], str, str, dict[str, Any], RequestContext | None], None]
    _finish_upload: Callable[[str], None]  # from MultipartOperations
    _lifecycle_task: asyncio.Task | None = None

    def _day(self) -> float:
        return float(getattr(self.platform.settings, "s3_lifecycle_day_seconds", 86400.0))

    def start_lifecycle(self) -> None:
        self._lifecycle_task = asyncio.get_running_loop().create_task(self._lifecycle_loop(), name="s3-lifecycle")

    async def stop_lifecycle(self) -> None:
        if self._lifecycle_task is not None:
            self._lifecycle_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lifecycle_task

    async def _lifecycle_loop(self) -> None:
        interval = min(max(self._day() / 24, 0.05), 3600.0)
        while True:
            await asyncio.sleep(interval)
            try:
                self.apply_lifecycle()
            except Exception:
                log.exception("a lifecycle pass failed")

    def apply_lifecycle(self) -> None:
        """One pass over every bucket with lifecycle rules."""
        for name, bucket in self.platform.store.scan(BUCKETS):
            rules = [r for r in bucket.get("Lifecycle") or [] if r.get("Status") == "Enabled"]
            if rules:
                self._expire_current(bucket, rules)
                self._expire_noncurrent(bucket, rules)
                self._abort_uploads(name, rules)

    def _age_days(self, iso: str) -> float:
        return (time.time() - dt.datetime.fromisoformat(iso).timestamp()) / self._day()

    def _expire_current(self, bucket: dict[str, Any], rules: list[dict[str, Any]]) -> None:
        name, store = bucket["Name"], self.platform.store
        for store_key, record in store.scan(OBJECTS, f"{name}\x00"):
            key = store_key.split("\x00", 1)[1]
            for rule in rules:
                expiration = rule.get("Expiration") or {}
                if not _applies(rule, key, record):
                    continue
                if record.get("DeleteMarker"):
                    if expiration.get("ExpiredObjectDeleteMarker") and not store.scan(
                            VERSIONS, f"{name}\x00{key}\x00", limit=1):
                        self._lifecycle_delete(bucket, key, record, permanent=True)
                        break
                    continue
                days, date = expiration.get("Days"), expiration.get("Date")
                due = (days is not None and self._age_days(record["LastModified"]) >= days) or (
                    date is not None and dt.datetime.fromisoformat(str(date)) <= now())
                if due:
                    self._lifecycle_delete(bucket, key, record, permanent=False)
                    break

    def _lifecycle_delete(self, bucket: dict[str, Any], key: str, record: dict[str, Any], permanent: bool) -> None:
        store, released = self.platform.store, []
        with store.transaction():
            if not permanent and bucket.get("Versioning") in ("Enabled", "Suspended"):
                marker = {"Key": key, "DeleteMarker": True, "LastModified": now().isoformat(),
                          "VersionId": new_version_id(bucket)}
                released = self.versions.write(bucket, key, marker)
                self._emit(bucket, "LifecycleExpiration:DeleteMarkerCreated", key, marker, None)
            else:
                removed, released = self.versions.remove(bucket["Name"], key, record.get("VersionId", "null"))
                if removed is not None:
                    self._emit(bucket, "LifecycleExpiration:Delete", key, removed, None)
        self.bodies.delete_unreferenced(released)

    def _expire_noncurrent(self, bucket: dict[str, Any], rules: list[dict[str, Any]]) -> None:
        name, store = bucket["Name"], self.platform.store
        for rule in rules:
            limits = rule.get("NoncurrentVersionExpiration") or {}
            if limits.get("NoncurrentDays") is None:
                continue
            keep = limits.get("NewerNoncurrentVersions") or 0
            seen: dict[str, int] = {}
            for store_key, record in store.scan(VERSIONS, f"{name}\x00"):
                _, key, rank = store_key.split("\x00")
                seen[key] = seen.get(key, 0) + 1
                noncurrent_since = (_RANK_CEILING - int(rank)) / 1e9
                age = (time.time() - noncurrent_since) / self._day()
                if seen[key] > keep and age >= limits["NoncurrentDays"] and _applies(rule, key, record):
                    released: list[str | None] = []
                    with store.transaction():
                        removed, released = self.versions.remove(name, key, record.get("VersionId", "null"))
                        if removed is not None:
                            self._emit(bucket, "LifecycleExpiration:Delete", key, removed, None)
                    self.bodies.delete_unreferenced(released)

    def _abort_uploads(self, name: str, rules: list[dict[str, Any]]) -> None:
        for upload_id, upload in self.platform.store.scan(UPLOADS):
            if upload["Bucket"] != name:
                continue
            for rule in rules:
                days = (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation")
                if days is not None and _applies(rule, upload["Key"], {}) and self._age_days(
                        upload["Initiated"]) >= days:
                    self._finish_upload(upload_id)
                    break
