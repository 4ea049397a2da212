"""EventBridge replays: StartReplay/DescribeReplay/ListReplays/CancelReplay and the replay runner.

A replay reads its archive's events between ``EventStartTime`` and ``EventEndTime`` (both
inclusive, by event time) in event-time order, one page at a time straight from the store
(a replay of hundreds of thousands of events holds one page in memory), and puts each on the
archive's bus with a ``replay-name`` field, for the rules in ``Destination.FilterArns`` only
(all the bus's rules without it). Each page is committed together with the replay's cursor,
so a replay survives a restart and resumes where it was.

States: STARTING (accepted) -> RUNNING (first page) -> COMPLETED; CancelReplay moves a
STARTING or RUNNING replay to CANCELLING, and the runner to CANCELLED at the next page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.events.archive_store import (
    ARCHIVED,
    END_OF_SECOND,
    REPLAYS,
    ArchiveRepository,
    archive_not_found,
    event_seconds,
    time_key,
)
from cumulo.services.events.common import DEFAULT_LIMIT, epoch, validation_error
from cumulo.services.events.names import parse_rule_arn
from cumulo.services.pagination import decode_token, encode_token

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.events")
PAGE = 250  # events per committed page: small enough to keep the server responsive during a replay
ACTIVE = ("STARTING", "RUNNING", "CANCELLING")
LIST_MEMBERS = ("ReplayName", "EventSourceArn", "State", "StateReason", "EventStartTime", "EventEndTime",
                "EventLastReplayedTime", "ReplayStartTime", "ReplayEndTime")
DESCRIBE_MEMBERS = ("ReplayName", "ReplayArn", "Description", "State", "StateReason", "EventSourceArn",
                    "Destination", "EventStartTime", "EventEndTime", "EventLastReplayedTime", "ReplayStartTime",
                    "ReplayEndTime")


class ReplayOperations:
    """Mixed into ``EventsProvider``."""

    platform: Platform
    _replay_tasks: dict[str, asyncio.Task[None]]

    ingest: Callable[..., int]
    delivery: Any

    # ------------------------------------------------------------ API
    def start_replay(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = ArchiveRepository(self.platform.store, context.account_id, context.region)
        name = params["ReplayName"]
        archive = self._archive_of(repo, params["EventSourceArn"])
        start, end = epoch(params["EventStartTime"]), epoch(params["EventEndTime"])
        if start is None or end is None or start >= end:
            raise validation_error("Parameter EventStartTime is not valid. Reason: EventStartTime must be before "
                                   "EventEndTime.")
        if end > time.time() + 1:
            raise validation_error("Parameter EventEndTime is not valid. Reason: EventEndTime cannot be in the "
                                   "future.")
        destination = params["Destination"]
        if destination["Arn"] != archive["EventSourceArn"]:
            raise validation_error("Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not "
                                   "permitted.")
        rules = []
        for arn in destination.get("FilterArns") or []:
            parsed = parse_rule_arn(arn)
            if parsed is None or parsed[2] != archive["_bus"]:
                raise validation_error(f"Parameter Destination.FilterArns is not valid. Reason: {arn} is not a rule "
                                       f"of event bus {archive['_bus']}.")
            rules.append(parsed[3])
        now = time.time()
        record = {"ReplayName": name, "ReplayArn": repo.replay_arn(name), "Description": params.get("Description"),
                  "EventSourceArn": params["EventSourceArn"], "Destination": destination, "State": "STARTING",
                  "EventStartTime": start, "EventEndTime": end, "ReplayStartTime": now,
                  "_archive": archive["ArchiveName"], "_bus": archive["_bus"], "_rules": rules or None,
                  "_cursor": f"{repo.events_prefix(archive['ArchiveName'])}{time_key(start)}"}
        with self.platform.store.transaction():
            if not self.platform.store.insert(REPLAYS, repo.scope + name, record):
                raise AwsError("ResourceAlreadyExistsException", f"Replay {name} already exists.")
        self._launch(repo.scope + name)
        return {"ReplayArn": record["ReplayArn"], "State": "STARTING", "ReplayStartTime": now}

    def describe_replay(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = ArchiveRepository(self.platform.store, context.account_id, context.region).replay(
            params["ReplayName"])
        return {m: record[m] for m in DESCRIBE_MEMBERS if record.get(m) is not None}

    def list_replays(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = ArchiveRepository(self.platform.store, context.account_id, context.region)
        after = decode_token(params.get("NextToken"), "events-replays", "ValidationException",
                             "The NextToken provided is invalid.")
        limit = params.get("Limit") or DEFAULT_LIMIT
        rows = [r for r in repo.replays(params.get("NamePrefix") or "", start_after=after)
                if (not params.get("EventSourceArn") or r["EventSourceArn"] == params["EventSourceArn"])
                and (not params.get("State") or r["State"] == params["State"])]
        result: dict[str, Any] = {"Replays": [{m: r[m] for m in LIST_MEMBERS if r.get(m) is not None}
                                              for r in rows[:limit]]}
        if len(rows) > limit:
            result["NextToken"] = encode_token("events-replays", rows[limit - 1]["ReplayName"])
        return result

    def cancel_replay(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = ArchiveRepository(self.platform.store, context.account_id, context.region)
        with self.platform.store.transaction():
            record = repo.replay(params["ReplayName"])
            if record["State"] not in ("STARTING", "RUNNING"):
                raise AwsError("IllegalStatusException",
                               f"Replay {record['ReplayName']} is not in a valid state for this operation.")
            record["State"] = "CANCELLING"
            repo.save_replay(record)
        return {"ReplayArn": record["ReplayArn"], "State": "CANCELLING"}

    @staticmethod
    def _archive_of(repo: ArchiveRepository, arn: str) -> dict[str, Any]:
        parsed = parse_arn(arn)
        if parsed is None or parsed.service != "events" or not parsed.resource.startswith("archive/"):
            raise validation_error(f"Parameter EventSourceArn is not valid. Reason: {arn} is not a valid archive "
                                   "ARN.")
        name = parsed.resource[len("archive/"):]
        record = repo.find_archive(name) if parsed.account == repo.account and parsed.region == repo.region else None
        if record is None:
            raise archive_not_found(name)
        return record

    # ------------------------------------------------------------ runner
    def resume_replays(self) -> None:
        for key, record in self.platform.store.scan(REPLAYS):
            if record["State"] in ACTIVE:
                self._launch(key)

    def _launch(self, key: str) -> None:
        task = self._replay_tasks.get(key)
        if task is None or task.done():
            self._replay_tasks[key] = asyncio.get_running_loop().create_task(self._run_replay(key),
                                                                             name=f"replay {key}")

    async def stop_replays(self) -> None:
        tasks = list(self._replay_tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._replay_tasks.clear()

    async def _run_replay(self, key: str) -> None:
        try:
            while not self._replay_page(key):
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # recorded as the replay's FAILED state
            log.exception("replay %s failed", key)
            with self.platform.store.transaction():
                record = self.platform.store.get(REPLAYS, key)
                if record is not None:
                    record.update(State="FAILED", StateReason=f"Replay failed: {exc}", ReplayEndTime=time.time())
                    self.platform.store.put(REPLAYS, key, record)

    def _replay_page(self, key: str) -> bool:
        """Replay the next page of events; True when the replay has ended."""
        store = self.platform.store
        account, region, _ = key.split(":", 2)
        with store.transaction():
            record = store.get(REPLAYS, key)
            if record is None:
                return True
            if record["State"] == "CANCELLING":
                record.update(State="CANCELLED", StateReason="Replay was cancelled.", ReplayEndTime=time.time())
                store.put(REPLAYS, key, record)
                return True
            if record["State"] not in ACTIVE:
                return True
            record["State"] = "RUNNING"
            prefix = f"{account}:{region}:{record['_archive']}|"
            end_key = f"{prefix}{time_key(record['EventEndTime'])}{END_OF_SECOND}"
            rows = store.scan(ARCHIVED, prefix, start_after=record["_cursor"], limit=PAGE)
            rules = frozenset(record["_rules"]) if record.get("_rules") else None
            jobs, finished = 0, len(rows) < PAGE
            for row_key, row in rows:
                if row_key > end_key:
                    finished = True
                    break
                event = {**row["e"], "replay-name": record["ReplayName"]}
                jobs += self.ingest(account, region, record["_bus"], event, only_rules=rules)
                record["_cursor"] = row_key
                record["EventLastReplayedTime"] = event_seconds(row["e"])
            if finished:
                record.update(State="COMPLETED", ReplayEndTime=time.time())
            store.put(REPLAYS, key, record)
        if jobs:
            self.delivery.wake()
        return finished
