"""Where archives, their events and replays live in the store, and the archived-event key order.

Tables (keys scoped by ``account:region:``):

* ``events.archives`` ``{scope}{archive}`` -> the archive: its API members plus ``EventCount``
  and ``SizeBytes``, kept current as events are archived and expire;
* ``events.archived`` ``{scope}{archive}|{event time key}|{event id}`` -> ``{"e": event,
  "a": archived at (epoch s), "s": size in bytes}``. The time key sorts by event time, so a
  replay reads a time range in order, one page at a time, straight from the store;
* ``events.replays`` ``{scope}{replay}`` -> the replay: its API members plus ``_cursor``,
  the key of the last archived event it replayed (committed with each page, so a replay
  resumes where it was after a restart).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.store.base import Store

ARCHIVES, ARCHIVED, REPLAYS = "events.archives", "events.archived", "events.replays"
_EPOCH_SHIFT_MS = 62_135_596_800_000  # year 1 -> 0: every event time gives a non-negative key
END_OF_SECOND = "|~"  # sorts after every "|{event id}" of the same time key


def time_key(seconds: float) -> str:
    return f"{round(seconds * 1000) + _EPOCH_SHIFT_MS:018d}"


def event_seconds(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()


def archive_not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Archive {name} does not exist.")


def replay_not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Replay {name} does not exist.")


class ArchiveRepository:
    def __init__(self, store: Store, account: str, region: str) -> None:
        self.store = store
        self.account = account
        self.region = region
        self.scope = f"{account}:{region}:"

    def archive_arn(self, name: str) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:archive/{name}"

    def replay_arn(self, name: str) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:replay/{name}"

    # ------------------------------------------------------------ archives
    def find_archive(self, name: str) -> dict[str, Any] | None:
        return self.store.get(ARCHIVES, self.scope + name)

    def archive(self, name: str) -> dict[str, Any]:
        record = self.find_archive(name)
        if record is None:
            raise archive_not_found(name)
        return record

    def save_archive(self, record: dict[str, Any]) -> None:
        self.store.put(ARCHIVES, self.scope + record["ArchiveName"], record)

    def archives(self, prefix: str = "", start_after: str | None = None) -> list[dict[str, Any]]:
        rows = self.store.scan(ARCHIVES, self.scope + prefix,
                               start_after=self.scope + start_after if start_after else None)
        return [value for _, value in rows]

    def delete_archive(self, name: str) -> None:
        with self.store.transaction():
            self.store.delete_prefix(ARCHIVED, f"{self.scope}{name}|")
            self.store.delete(ARCHIVES, self.scope + name)

    def events_prefix(self, name: str) -> str:
        return f"{self.scope}{name}|"

    def add_event(self, name: str, event: dict[str, Any], text: str, archived_at: float) -> None:
        key = f"{self.events_prefix(name)}{time_key(event_seconds(event))}|{event['id']}"
        size = len(text.encode())
        self.store.put(ARCHIVED, key, {"e": event, "a": archived_at, "s": size})
        record = self.find_archive(name)
        if record is not None:
            record["EventCount"] = record.get("EventCount", 0) + 1
            record["SizeBytes"] = record.get("SizeBytes", 0) + size
            self.save_archive(record)

    # ------------------------------------------------------------ replays
    def find_replay(self, name: str) -> dict[str, Any] | None:
        return self.store.get(REPLAYS, self.scope + name)

    def replay(self, name: str) -> dict[str, Any]:
        record = self.find_replay(name)
        if record is None:
            raise replay_not_found(name)
        return record

    def save_replay(self, record: dict[str, Any]) -> None:
        self.store.put(REPLAYS, self.scope + record["ReplayName"], record)

    def replays(self, prefix: str = "", start_after: str | None = None) -> list[dict[str, Any]]:
        rows = self.store.scan(REPLAYS, self.scope + prefix,
                               start_after=self.scope + start_after if start_after else None)
        return [value for _, value in rows]
