"""CloudWatch Logs: log groups, log streams, events, filtering and retention.

Every other service writes here through ``append`` (Lambda's START/END/REPORT lines and
function output, workflow execution logs); users read with the Logs API, ``aws logs`` and
``cumulo logs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext
from cumulo.services.logs.filter_pattern import FilterPatternError, compile_filter
from cumulo.services.pagination import decode_token, encode_token, take_page
from cumulo.services.tagging import add_tags, remove_tags, tags_of
from cumulo.store.batching import BatchedWriter

if TYPE_CHECKING:
    from cumulo.platform import Platform

GROUPS, STREAMS, EVENTS = "logs.groups", "logs.streams", "logs.events"
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653)
GROUP_NAME = re.compile(r"^[\.\-_/#A-Za-z0-9]{1,512}$")
STREAM_NAME = re.compile(r"^[^:*]{1,512}$")
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 1_048_576 - EVENT_OVERHEAD
TOO_OLD_MS = 14 * 24 * 3600 * 1000
TOO_NEW_MS = 2 * 3600 * 1000
MAX_SPAN_MS = 24 * 3600 * 1000
DEFAULT_EVENT_LIMIT = 10_000
RETENTION_SWEEP_S = 60.0
# Lines appended by the platform are written in batches: one transaction per batch instead of
# one per invocation. Every Logs API call flushes first, so readers always see every line; a
# kill -9 loses at most the last FLUSH_AFTER_S of function output (AWS delivers it later still).
FLUSH_AFTER_S = 0.25
FLUSH_AT_EVENTS = 5000


_json_string = json.encoder.encode_basestring_ascii  # a str as a JSON string literal


def _now_ms() -> int:
    return int(time.time() * 1000)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def _not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message)


class LogsProvider(Provider):
    service = "logs"
    validation_error_code = "InvalidParameterException"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self._sequence = time.time_ns() // 1000
        self._sweeper: asyncio.Task[None] | None = None
        self._pending: BatchedWriter[tuple[str, str, str, str, list[tuple[int, str]]]] = BatchedWriter(
            self._write_batch, FLUSH_AFTER_S, FLUSH_AT_EVENTS)

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_retention())

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        self._pending.flush()

    def handler(self, operation_name: str) -> Any:
        self._pending.flush()  # API callers see every line appended before their call
        return super().handler(operation_name)

    # ------------------------------------------------------------ keys
    @staticmethod
    def _scope(context_or_account: RequestContext | str, region: str | None = None) -> str:
        if isinstance(context_or_account, RequestContext):
            return f"{context_or_account.account_id}:{context_or_account.region}:"
        return f"{context_or_account}:{region}:"

    def _group(self, scope: str, name: str) -> dict[str, Any]:
        group = self.platform.store.get(GROUPS, scope + name)
        if group is None:
            raise _not_found("The specified log group does not exist.")
        return group

    def _group_name(self, params: dict[str, Any]) -> str:
        name = params.get("logGroupName")
        identifier = params.get("logGroupIdentifier")
        if name and identifier:
            raise _invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
        if identifier:
            name = identifier.split(":log-group:", 1)[1].split(":", 1)[0] if ":log-group:" in identifier \
                else identifier
        if not name:
            raise _invalid("Either logGroupName or logGroupIdentifier should be provided.")
        return name

    # ------------------------------------------------------------ internal API
    def append(self, account: str, region: str, group: str, stream: str,
               events: list[tuple[int, str]]) -> None:
        """Queue events (ms timestamp, message) for the log stream, creating group and stream as needed.

        The events are written within ``FLUSH_AFTER_S`` (or at once when many are waiting).
        """
        if events:
            self._pending.add((account, region, group, stream, events), weight=len(events))

    def group_exists(self, account: str, region: str, group: str) -> bool:
        return self.platform.store.get(GROUPS, self._scope(account, region) + group) is not None

    def _write_batch(self, batches: list[tuple[str, str, str, str, list[tuple[int, str]]]]) -> None:
        by_stream: dict[tuple[str, str, str, str], list[tuple[int, str]]] = {}
        for account, region, group, stream, events in batches:
            by_stream.setdefault((account, region, group, stream), []).extend(events)
        store = self.platform.store
        with store.transaction():
            for (account, region, group, stream), events in by_stream.items():
                scope = self._scope(account, region)
                store.insert(GROUPS, scope + group, self._new_group(account, region, group, None, {}))
                stream_key = f"{scope}{group}\x00{stream}"
                record = store.get(STREAMS, stream_key) or self._new_stream(account, region, group, stream)
                self._write_events(stream_key, record, events)

    def _write_events(self, stream_key: str, record: dict[str, Any], events: list[tuple[int, str]]) -> None:
        store = self.platform.store
        now = _now_ms()
        items = []
        for timestamp, message in events:  # the record {"t", "m", "i"} as JSON, written directly
            self._sequence += 1
            items.append((f"{stream_key}\x00{timestamp:015d}{self._sequence:017d}",
                          f'{{"t":{int(timestamp)},"m":{_json_string(message)},"i":{now}}}'))
        store.put_many_encoded(EVENTS, items)
        timestamps = [t for t, _ in events]
        record["firstEventTimestamp"] = min([*timestamps, record.get("firstEventTimestamp") or timestamps[0]])
        record["lastEventTimestamp"] = max([*timestamps, record.get("lastEventTimestamp") or 0])
        record["lastIngestionTime"] = now
        record["storedBytes"] = record.get("storedBytes", 0) + sum(len(m.encode()) for _, m in events)
        store.put(STREAMS, stream_key, record)

    @staticmethod
    def _new_group(account: str, region: str, name: str, retention: int | None,
                   tags: dict[str, str]) -> dict[str, Any]:
        arn = f"arn:aws:logs:{region}:{account}:log-group:{name}"
        group: dict[str, Any] = {
            "logGroupName": name, "creationTime": _now_ms(), "metricFilterCount": 0,
            "arn": f"{arn}:*", "logGroupArn": arn, "storedBytes": 0, "logGroupClass": "STANDARD",
            "tags": tags,
        }
        if retention:
            group["retentionInDays"] = retention
        return group

    @staticmethod
    def _new_stream(account: str, region: str, group: str, name: str) -> dict[str, Any]:
        return {
            "logStreamName": name, "creationTime": _now_ms(), "storedBytes": 0,
            "arn": f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{name}",
        }

    # ------------------------------------------------------------ groups
    def create_log_group(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["logGroupName"]
        if not GROUP_NAME.match(name):
            raise _invalid(f"1 validation error detected: Value '{name}' at 'logGroupName' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: "
                           "[\\.\\-_/#A-Za-z0-9]+")
        group = self._new_group(context.account_id, context.region, name, None, params.get("tags") or {})
        if params.get("logGroupClass"):
            group["logGroupClass"] = params["logGroupClass"]
        if not self.platform.store.insert(GROUPS, self._scope(context) + name, group):
            raise AwsError("ResourceAlreadyExistsException", "The specified log group already exists")
        return {}

    def delete_log_group(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope(context)
        name = params["logGroupName"]
        store = self.platform.store
        with store.transaction():
            if not store.delete(GROUPS, scope + name):
                raise _not_found("The specified log group does not exist.")
            store.delete_prefix(STREAMS, f"{scope}{name}\x00")
            store.delete_prefix(EVENTS, f"{scope}{name}\x00")
        return {}

    def describe_log_groups(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope(context)
        prefix = params.get("logGroupNamePrefix") or ""
        pattern = params.get("logGroupNamePattern")
        if prefix and pattern:
            raise _invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
        limit = params.get("limit") or 50
        after = decode_token(params.get("nextToken"), "logs-groups")
        identifiers = set(params.get("logGroupIdentifiers") or [])

        def matching() -> Iterator[tuple[str, dict[str, Any]]]:
            for key, group in self.platform.store.scan(GROUPS, scope + prefix, start_after=after):
                if pattern and pattern.lower() not in group["logGroupName"].lower():
                    continue
                if identifiers and not identifiers & {group["logGroupName"], group["logGroupArn"]}:
                    continue
                if params.get("logGroupClass") and group.get("logGroupClass") != params["logGroupClass"]:
                    continue
                yield key, {k: v for k, v in group.items() if k != "tags"}

        groups, next_token = take_page(matching(), limit, "logs-groups")
        return {"logGroups": groups, "nextToken": next_token}

    def put_retention_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        days = params["retentionInDays"]
        if days not in RETENTION_DAYS:
            raise _invalid(f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                           "satisfy constraint: Member must satisfy enum value set: "
                           f"[{', '.join(map(str, RETENTION_DAYS))}]")
        self._update_group(context, params["logGroupName"], lambda g: g.__setitem__("retentionInDays", days))
        return {}

    def delete_retention_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._update_group(context, params["logGroupName"], lambda g: g.pop("retentionInDays", None))
        return {}

    def _update_group(self, context: RequestContext, name: str, change: Any) -> dict[str, Any]:
        key = self._scope(context) + name
        store = self.platform.store
        with store.transaction():
            group = self._group(self._scope(context), name)
            change(group)
            store.put(GROUPS, key, group)
        return group

    # ------------------------------------------------------------ tags
    def _group_from_arn(self, context: RequestContext, arn: str) -> str:
        if ":log-group:" not in arn:
            raise _invalid(f"Invalid resource ARN: {arn}")
        return arn.split(":log-group:", 1)[1].split(":", 1)[0]

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = self._group_from_arn(context, params["resourceArn"])
        self._update_group(context, name, lambda g: add_tags(g, params["tags"]))
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = self._group_from_arn(context, params["resourceArn"])
        keys = params["tagKeys"]
        self._update_group(context, name, lambda g: remove_tags(g, keys))
        return {}

    def list_tags_for_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = self._group_from_arn(context, params["resourceArn"])
        return {"tags": tags_of(self._group(self._scope(context), name))}

    def tag_log_group(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._update_group(context, params["logGroupName"],
                           lambda g: add_tags(g, params["tags"]))
        return {}

    def untag_log_group(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        keys = params["tags"]
        self._update_group(context, params["logGroupName"],
                           lambda g: remove_tags(g, keys))
        return {}

    def list_tags_log_group(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": tags_of(self._group(self._scope(context), params["logGroupName"]))}

    # ------------------------------------------------------------ streams
    def create_log_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope(context)
        group, name = params["logGroupName"], params["logStreamName"]
        if not STREAM_NAME.match(name):
            raise _invalid(f"1 validation error detected: Value '{name}' at 'logStreamName' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: [^:*]*")
        store = self.platform.store
        with store.transaction():
            self._group(scope, group)
            record = self._new_stream(context.account_id, context.region, group, name)
            if not store.insert(STREAMS, f"{scope}{group}\x00{name}", record):
                raise AwsError("ResourceAlreadyExistsException", "The specified log stream already exists")
        return {}

    def delete_log_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope(context)
        key = f"{scope}{params['logGroupName']}\x00{params['logStreamName']}"
        store = self.platform.store
        with store.transaction():
            self._group(scope, params["logGroupName"])
            if not store.delete(STREAMS, key):
                raise _not_found("The specified log stream does not exist.")
            store.delete_prefix(EVENTS, key + "\x00")
        return {}

    def describe_log_streams(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope(context)
        group = self._group_name(params)
        self._group(scope, group)
        prefix = params.get("logStreamNamePrefix") or ""
        order = params.get("orderBy") or "LogStreamName"
        if prefix and order == "LastEventTime":
            raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        limit = params.get("limit") or 50
        descending = bool(params.get("descending"))
        offset = decode_token(params.get("nextToken"), "logs-streams") or 0
        streams = [s for _, s in self.platform.store.scan(STREAMS, f"{scope}{group}\x00{prefix}")]
        if order == "LastEventTime":
            streams.sort(key=lambda s: (s.get("lastEventTimestamp") or 0, s["logStreamName"]))
        if descending:
            streams.reverse()
        page = streams[offset:offset + limit]
        more = offset + limit < len(streams)
        return {"logStreams": page, "nextToken": encode_token("logs-streams", offset + limit) if more else None}

    # ------------------------------------------------------------ events
    def put_log_events(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope(context)
        group, stream = params["logGroupName"], params["logStreamName"]
        events = params["logEvents"]
        if len(events) > MAX_BATCH_EVENTS:
            raise _invalid(f"Log event batch contains more than {MAX_BATCH_EVENTS} events.")
        size = sum(len(e["message"].encode()) + EVENT_OVERHEAD for e in events)
        if size > MAX_BATCH_BYTES:
            raise _invalid(f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")
        timestamps = [e["timestamp"] for e in events]
        if timestamps != sorted(timestamps):
            raise _invalid("Log events in a single PutLogEvents request must be in chronological order.")
        if timestamps and timestamps[-1] - timestamps[0] > MAX_SPAN_MS:
            raise _invalid("The batch of log events in a single PutLogEvents request cannot span more "
                           "than 24 hours.")
        now = _now_ms()
        store = self.platform.store
        group_record = self._group(scope, group)
        stream_key = f"{scope}{group}\x00{stream}"
        accepted: list[tuple[int, str]] = []
        rejected: dict[str, int] = {}
        retention = group_record.get("retentionInDays")
        for index, event in enumerate(events):
            timestamp = event["timestamp"]
            if timestamp < now - TOO_OLD_MS:
                rejected["tooOldLogEventEndIndex"] = index + 1
            elif retention and timestamp < now - retention * 86_400_000:
                rejected["expiredLogEventEndIndex"] = index + 1
            elif timestamp > now + TOO_NEW_MS:
                rejected.setdefault("tooNewLogEventStartIndex", index)
            else:
                accepted.append((timestamp, event["message"]))
        with store.transaction():
            record = store.get(STREAMS, stream_key)
            if record is None:
                raise _not_found("The specified log stream does not exist.")
            if accepted:
                self._write_events(stream_key, record, accepted)
        result: dict[str, Any] = {"nextSequenceToken": f"{self._sequence:056d}"}
        if rejected:
            result["rejectedLogEventsInfo"] = rejected
        return result

    def get_log_events(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope(context)
        group = self._group_name(params)
        self._group(scope, group)
        stream_key = f"{scope}{group}\x00{params['logStreamName']}"
        if self.platform.store.get(STREAMS, stream_key) is None:
            raise _not_found("The specified log stream does not exist.")
        limit = params.get("limit") or DEFAULT_EVENT_LIMIT
        token = params.get("nextToken")
        prefix = stream_key + "\x00"
        low = prefix + f"{params['startTime']:015d}" if params.get("startTime") is not None else None
        high = prefix + f"{params['endTime']:015d}" if params.get("endTime") is not None else None
        if token:
            direction, _, position = token.partition("/")
            forward = direction == "f"
            cursor = prefix + position if position else None
        else:
            forward = bool(params.get("startFromHead"))
            cursor = None
        store = self.platform.store
        if forward:
            start = max(filter(None, [cursor, _just_before(low)]), default=None)
            rows = store.scan(EVENTS, prefix, start_after=start, end_before=high, limit=limit)
        else:
            end = min(filter(None, [cursor, high]), default=None)
            rows = store.scan(EVENTS, prefix, start_after=end, end_before=_just_before(low),
                              limit=limit, reverse=True)
            rows.reverse()
        events = [{"timestamp": v["t"], "message": v["m"], "ingestionTime": v["i"]} for _, v in rows]
        if rows:
            forward_token = "f/" + rows[-1][0][len(prefix):]
            backward_token = "b/" + rows[0][0][len(prefix):]
        else:
            same = token or ("f/" if forward else "b/")
            forward_token = same if same.startswith("f/") else "f/" + (cursor or prefix)[len(prefix):]
            backward_token = same if same.startswith("b/") else "b/" + (cursor or prefix)[len(prefix):]
        return {"events": events, "nextForwardToken": forward_token, "nextBackwardToken": backward_token}

    def filter_log_events(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope(context)
        group = self._group_name(params)
        self._group(scope, group)
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        if names and prefix:
            raise _invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
        try:
            matcher = compile_filter(params.get("filterPattern"))
        except FilterPatternError as exc:
            raise _invalid(str(exc)) from exc
        limit = params.get("limit") or DEFAULT_EVENT_LIMIT
        group_prefix = f"{scope}{group}\x00"
        streams = [s["logStreamName"] for _, s in self.platform.store.scan(STREAMS, group_prefix + (prefix or ""))]
        if names:
            streams = [s for s in streams if s in set(names)]
        start, end = params.get("startTime"), params.get("endTime")
        resume = decode_token(params.get("nextToken"), "logs-filter")
        merged = heapq.merge(*(self._stream_events(group_prefix, s, start, end) for s in streams),
                             key=lambda item: item[0])

        def matching() -> Iterator[tuple[list[str], dict[str, Any]]]:
            for sort_key, stream, value in merged:
                if resume is not None and sort_key <= tuple(resume):
                    continue
                if matcher(value["m"]):
                    yield list(sort_key), {"logStreamName": stream, "timestamp": value["t"], "message": value["m"],
                                           "ingestionTime": value["i"], "eventId": sort_key[0].rjust(56, "0")}

        events, next_token = take_page(matching(), limit, "logs-filter")
        searched = [{"logStreamName": s, "searchedCompletely": next_token is None} for s in streams]
        return {"events": events, "searchedLogStreams": searched, "nextToken": next_token}

    def _stream_events(self, group_prefix: str, stream: str, start: int | None,
                       end: int | None) -> Iterator[tuple[tuple[str, str], str, dict[str, Any]]]:
        """Events of one stream in time order as ((time+sequence, stream), stream, event), paged."""
        prefix = f"{group_prefix}{stream}\x00"
        after = _just_before(prefix + f"{start:015d}") if start is not None else None
        high = prefix + f"{end + 1:015d}" if end is not None else None
        while True:
            rows = self.platform.store.scan(EVENTS, prefix, start_after=after, end_before=high, limit=500)
            for key, value in rows:
                yield (key[len(prefix):], stream), stream, value
            if len(rows) < 500:
                return
            after = rows[-1][0]

    # ------------------------------------------------------------ retention
    async def _sweep_retention(self) -> None:
        while True:
            await asyncio.sleep(RETENTION_SWEEP_S)
            self.expire_old_events()

    def expire_old_events(self, now_ms: int | None = None) -> int:
        """Delete events older than their group's retention; returns how many were deleted."""
        now_ms = now_ms or _now_ms()
        store = self.platform.store
        removed = 0
        for group_key, group in store.scan(GROUPS):
            days = group.get("retentionInDays")
            if not days:
                continue
            cutoff = now_ms - days * 86_400_000
            for stream_key, _ in store.scan(STREAMS, group_key + "\x00"):
                prefix = stream_key + "\x00"
                old = store.scan(EVENTS, prefix, end_before=prefix + f"{cutoff:015d}")
                with store.transaction():
                    for key, _ in old:
                        removed += store.delete(EVENTS, key)
        return removed


def _just_before(key: str | None) -> str | None:
    """A key that sorts immediately before ``key`` (for inclusive lower bounds)."""
    if key is None:
        return None
    return key[:-1] + chr(ord(key[-1]) - 1) + "\U0010ffff" if key else None
