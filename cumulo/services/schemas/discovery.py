"""Schema discoverers: Create/Describe/Update/Delete/List/Start/StopDiscoverer, and the observer
EventBridge calls for every event put on a bus (``EventBus.add_event_observer``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext

if TYPE_CHECKING:
    from cumulo.platform import Platform

DISCOVERERS = "schemas.discoverers"
MEMBERS = ("Description", "DiscovererArn", "DiscovererId", "SourceArn", "State", "CrossAccount", "Tags")


class DiscovererOperations:
    """Mixed into ``SchemasProvider``."""

    platform: Platform
    _watched: dict[str, set[str]] | None

    _record_discovered: Callable[[str, str, dict[str, Any]], None]  # SchemasProvider's

    def _discoverer(self, context: RequestContext, discoverer_id: str) -> dict[str, Any]:
        record = self.platform.store.get(DISCOVERERS, f"{context.account_id}:{context.region}:{discoverer_id}")
        if record is None:
            raise AwsError("NotFoundException", f"Discoverer with id {discoverer_id} does not exist.", status=404)
        return record

    def _save_discoverer(self, context: RequestContext, record: dict[str, Any]) -> None:
        self.platform.store.put(DISCOVERERS, f"{context.account_id}:{context.region}:{record['DiscovererId']}",
                                record)
        self._watched = None

    def create_discoverer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        source = params["SourceArn"]
        parsed = parse_arn(source)
        if parsed is None or parsed.service != "events" or not parsed.resource.startswith("event-bus/"):
            raise AwsError("BadRequestException", f"Invalid SourceArn {source}: it must be an event bus ARN.",
                           status=400)
        discoverer_id = f"events-event-bus-{parsed.resource[len('event-bus/'):]}"
        record = {"DiscovererId": discoverer_id, "SourceArn": source, "State": "STARTED",
                  "DiscovererArn": f"arn:aws:schemas:{context.region}:{context.account_id}:discoverer/{discoverer_id}",
                  "CrossAccount": params.get("CrossAccount", True), "Tags": params.get("Tags") or {},
                  "Created": time.time()}
        if params.get("Description") is not None:
            record["Description"] = params["Description"]
        key = f"{context.account_id}:{context.region}:{discoverer_id}"
        if not self.platform.store.insert(DISCOVERERS, key, record):
            raise AwsError("ConflictException", f"Discoverer for source {source} already exists.", status=409)
        self._watched = None
        return {m: record[m] for m in MEMBERS if m in record}

    def describe_discoverer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._discoverer(context, params["DiscovererId"])
        return {m: record[m] for m in MEMBERS if m in record}

    def update_discoverer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            record = self._discoverer(context, params["DiscovererId"])
            for member in ("Description", "CrossAccount"):
                if params.get(member) is not None:
                    record[member] = params[member]
            self._save_discoverer(context, record)
        return {m: record[m] for m in MEMBERS if m in record}

    def _set_state(self, context: RequestContext, discoverer_id: str, state: str) -> dict[str, Any]:
        with self.platform.store.transaction():
            record = self._discoverer(context, discoverer_id)
            record["State"] = state
            self._save_discoverer(context, record)
        return {"DiscovererId": discoverer_id, "State": state}

    def start_discoverer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._set_state(context, params["DiscovererId"], "STARTED")

    def stop_discoverer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._set_state(context, params["DiscovererId"], "STOPPED")

    def delete_discoverer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._discoverer(context, params["DiscovererId"])
        self.platform.store.delete(DISCOVERERS, f"{context.account_id}:{context.region}:{params['DiscovererId']}")
        self._watched = None
        return {}

    def list_discoverers(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = f"{context.account_id}:{context.region}:"
        rows = [r for _, r in self.platform.store.scan(DISCOVERERS, scope + (params.get("DiscovererIdPrefix") or ""))
                if r["SourceArn"].startswith(params.get("SourceArnPrefix") or "")]
        return {"Discoverers": [{m: r[m] for m in MEMBERS if m in r and m != "Description"} for r in rows]}

    def _observe(self, account: str, region: str, bus: str, event: dict[str, Any]) -> None:
        """Called by EventBridge inside PutEvents' transaction for each event put on a bus."""
        if self._watched is None:
            watched: dict[str, set[str]] = {}
            for _, record in self.platform.store.scan(DISCOVERERS):
                if record["State"] == "STARTED":
                    watched.setdefault(record["SourceArn"], set()).add(record["DiscovererId"])
            self._watched = watched
        if not self._watched or f"arn:aws:events:{region}:{account}:event-bus/{bus}" not in self._watched:
            return
        self._record_discovered(account, region, event)
