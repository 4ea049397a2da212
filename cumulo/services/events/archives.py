"""EventBridge archives: Create/Describe/Update/Delete/ListArchives, archiving events as they
are put on a bus (inside PutEvents' own transaction, so an acknowledged event is archived
durably) and the retention sweep that really deletes expired events.

An archive keeps the events of its source bus that match its ``EventPattern`` (all of them
without one). Replayed events (they carry ``replay-name``) are not archived again. Retention
is counted from the time an event was archived; ``RetentionDays`` 0 keeps events forever.
The ``events_archive_day_seconds`` setting shortens a retention day for tests and demos.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn
from cumulo.patterns import CompiledPattern, InvalidEventPattern, compile_pattern
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.events import transform
from cumulo.services.events.archive_store import ARCHIVED, ARCHIVES, ArchiveRepository
from cumulo.services.events.common import DEFAULT_LIMIT, validation_error
from cumulo.services.events.repository import EventsRepository, bus_not_found
from cumulo.services.pagination import decode_token, encode_token

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.events")
SWEEP_PAGE = 1000
ARCHIVE_MEMBERS = ("ArchiveName", "EventSourceArn", "State", "StateReason", "RetentionDays", "SizeBytes",
                   "EventCount", "CreationTime")
DESCRIBE_MEMBERS = ("ArchiveArn", "ArchiveName", "EventSourceArn", "Description", "EventPattern", "State",
                    "StateReason", "KmsKeyIdentifier", "RetentionDays", "SizeBytes", "EventCount", "CreationTime")


def _compiled(pattern: str | None) -> CompiledPattern | None:
    if pattern is None:
        return None
    try:
        return compile_pattern(pattern)
    except InvalidEventPattern as exc:
        raise AwsError(exc.code, exc.message) from exc


class ArchiveOperations:
    """Mixed into ``EventsProvider``."""

    platform: Platform
    _bus_archives: dict[str, list[tuple[str, CompiledPattern | None]]]

    def archives_repo(self, context: RequestContext) -> ArchiveRepository:
        return ArchiveRepository(self.platform.store, context.account_id, context.region)

    # ------------------------------------------------------------ API
    def create_archive(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.archives_repo(context)
        name = params["ArchiveName"]
        source = params["EventSourceArn"]
        bus = self._source_bus(context, source)
        _compiled(params.get("EventPattern"))
        retention = self._retention(params.get("RetentionDays"))
        now = time.time()
        record = {"ArchiveName": name, "ArchiveArn": repo.archive_arn(name), "EventSourceArn": source,
                  "Description": params.get("Description"), "EventPattern": params.get("EventPattern"),
                  "KmsKeyIdentifier": params.get("KmsKeyIdentifier"), "RetentionDays": retention,
                  "State": "ENABLED", "EventCount": 0, "SizeBytes": 0, "CreationTime": now, "_bus": bus}
        with self.platform.store.transaction():
            if not self.platform.store.insert(ARCHIVES, repo.scope + name, record):
                raise AwsError("ResourceAlreadyExistsException", f"Archive {name} already exists.")
        self._bus_archives.clear()
        return {"ArchiveArn": record["ArchiveArn"], "State": "ENABLED", "CreationTime": now}

    def describe_archive(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self.archives_repo(context).archive(params["ArchiveName"])
        return {m: record[m] for m in DESCRIBE_MEMBERS if record.get(m) is not None}

    def update_archive(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.archives_repo(context)
        if "EventPattern" in params:
            _compiled(params["EventPattern"])
        with self.platform.store.transaction():
            record = repo.archive(params["ArchiveName"])
            for member in ("Description", "EventPattern", "KmsKeyIdentifier"):
                if member in params:
                    record[member] = params[member]
            if "RetentionDays" in params:
                record["RetentionDays"] = self._retention(params["RetentionDays"])
            repo.save_archive(record)
        self._bus_archives.clear()
        return {"ArchiveArn": record["ArchiveArn"], "State": record["State"], "CreationTime": record["CreationTime"]}

    def delete_archive(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.archives_repo(context)
        repo.archive(params["ArchiveName"])
        repo.delete_archive(params["ArchiveName"])
        self._bus_archives.clear()
        return {}

    def list_archives(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.archives_repo(context)
        if params.get("EventSourceArn"):
            self._source_bus(context, params["EventSourceArn"])
        after = decode_token(params.get("NextToken"), "events-archives", "ValidationException",
                             "The NextToken provided is invalid.")
        limit = params.get("Limit") or DEFAULT_LIMIT
        rows = [r for r in repo.archives(params.get("NamePrefix") or "", start_after=after)
                if (not params.get("EventSourceArn") or r["EventSourceArn"] == params["EventSourceArn"])
                and (not params.get("State") or r["State"] == params["State"])]
        result: dict[str, Any] = {"Archives": [{m: r[m] for m in ARCHIVE_MEMBERS if r.get(m) is not None}
                                               for r in rows[:limit]]}
        if len(rows) > limit:
            result["NextToken"] = encode_token("events-archives", rows[limit - 1]["ArchiveName"])
        return result

    # ------------------------------------------------------------ helpers
    def _source_bus(self, context: RequestContext, arn: str) -> str:
        """The name of the bus ``arn`` names, in the caller's account and region."""
        parsed = parse_arn(arn)
        if (parsed is None or parsed.service != "events" or not parsed.resource.startswith("event-bus/")
                or parsed.account != context.account_id or parsed.region != context.region):
            raise validation_error(f"Parameter EventSourceArn is not valid. Reason: {arn} is not a valid event "
                                   "bus ARN.")
        name = parsed.resource[len("event-bus/"):]
        if EventsRepository(self.platform.store, context.account_id, context.region).find_bus(name) is None:
            raise bus_not_found(name)
        return name

    @staticmethod
    def _retention(days: int | None) -> int:
        if days is not None and days < 0:
            raise validation_error("Parameter RetentionDays is not valid. Reason: RetentionDays must be a "
                                   "non-negative integer.")
        return days or 0

    # ------------------------------------------------------------ archiving (inside ingest's transaction)
    def archive_event(self, account: str, region: str, bus: str, event: dict[str, Any]) -> None:
        if "replay-name" in event:
            return
        scope = f"{account}:{region}:"
        archives = self._bus_archives.get(scope + bus)
        if archives is None:
            archives = [(record["ArchiveName"], _compiled(record.get("EventPattern")))
                        for _, record in self.platform.store.scan(ARCHIVES, scope) if record.get("_bus") == bus]
            self._bus_archives[scope + bus] = archives
        if not archives:
            return
        repo = ArchiveRepository(self.platform.store, account, region)
        text = transform.compact(event)
        now = time.time()
        for name, pattern in archives:
            if pattern is None or pattern.matches(event):
                repo.add_event(name, event, text, now)

    # ------------------------------------------------------------ retention
    async def sweep_archives_forever(self) -> None:
        day_s = float(getattr(self.platform.settings, "events_archive_day_seconds", 86_400.0))
        interval = max(0.2, min(60.0, day_s / 20))
        while True:
            try:
                self.sweep_archives(day_s)
            except Exception:  # the sweep must outlive one bad pass
                log.exception("archive retention sweep failed")
            await asyncio.sleep(interval)

    def sweep_archives(self, day_s: float) -> int:
        """Delete the archived events older than their archive's retention; returns how many."""
        removed = 0
        store = self.platform.store
        for key, record in store.scan(ARCHIVES):
            if not record.get("RetentionDays"):
                continue
            cutoff = time.time() - record["RetentionDays"] * day_s
            prefix = key + "|"
            after: str | None = None
            count = size = 0
            while True:
                rows = store.scan(ARCHIVED, prefix, start_after=after, limit=SWEEP_PAGE)
                expired = [(k, row) for k, row in rows if row["a"] < cutoff]
                if expired:
                    with store.transaction():
                        for k, _ in expired:
                            store.delete(ARCHIVED, k)
                    count += len(expired)
                    size += sum(row["s"] for _, row in expired)
                if len(rows) < SWEEP_PAGE:
                    break
                after = rows[-1][0]
            if count:
                with store.transaction():
                    current = store.get(ARCHIVES, key)
                    if current is not None:
                        current["EventCount"] = max(0, current.get("EventCount", 0) - count)
                        current["SizeBytes"] = max(0, current.get("SizeBytes", 0) - size)
                        store.put(ARCHIVES, key, current)
                removed += count
        return removed
