"""What the REST API control plane offers its data plane (``cumulo.restapi``).

The data plane reads APIs, deployed stages, API keys and usage plans only through
``RestApiCatalog`` and keeps compiled views of them; it subscribes a listener and is told when
what it read changed, so the control plane never needs to know the data plane exists.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from cumulo.services.apigateway.repository import (
    API_KEYS,
    BASE_PATH_MAPPINGS,
    DEPLOYMENTS,
    DOMAIN_NAMES,
    STAGES,
    USAGE_PLAN_KEYS,
    USAGE_PLANS,
    RestRepository,
)


class DeployedStage(NamedTuple):
    stage: dict[str, Any]
    deployment: dict[str, Any] | None


class Mapping(NamedTuple):
    """Where a custom domain name sends requests whose path starts with ``base_path``."""

    base_path: str  # "(none)": every path
    api_id: str
    stage: str | None  # None: the path's first segment names the stage


class CatalogListener(Protocol):
    def api_changed(self, api_id: str) -> None:
        """The API, its stages or their deployments changed (or the API is gone)."""

    def keys_changed(self) -> None:
        """An API key, usage plan or usage plan key changed."""

    def domains_changed(self) -> None:
        """A custom domain name or one of its base path mappings changed."""

    def authorizer_cache_flushed(self, api_id: str, stage_name: str) -> None:
        """FlushStageAuthorizersCache was called for the stage."""


class RestApiCatalog:
    def __init__(self, repo: RestRepository) -> None:
        self._repo = repo
        self._listeners: list[CatalogListener] = []

    # ------------------------------------------------------------ reading
    def api(self, api_id: str) -> dict[str, Any] | None:
        return self._repo.find_api(api_id)

    def deployed_stages(self, api_id: str) -> list[DeployedStage]:
        repo = self._repo
        return [DeployedStage(stage, repo.find(DEPLOYMENTS, api_id, stage["deploymentId"])
                              if stage.get("deploymentId") else None)
                for stage in repo.items(STAGES, api_id)]

    def api_keys(self, account: str, region: str) -> list[dict[str, Any]]:
        return self._repo.items(API_KEYS, f"{account}:{region}")

    def usage_plans(self, account: str, region: str) -> list[tuple[dict[str, Any], list[str]]]:
        """Every usage plan with the ids of the API keys it holds."""
        owner = f"{account}:{region}"
        return [(plan, [k["id"] for _, k in self._repo.store.scan(USAGE_PLAN_KEYS.table, f"{owner}/{plan['id']}/")])
                for plan in self._repo.items(USAGE_PLANS, owner)]

    def domain_mappings(self) -> dict[str, list[Mapping]]:
        """Every custom domain name with its mappings, longest base path first."""
        store = self._repo.store
        table: dict[str, list[Mapping]] = {}
        for key, domain in store.scan(DOMAIN_NAMES.table):
            owner = key.rpartition("/")[0]
            mappings = [Mapping(m["basePath"], m["restApiId"], m.get("stage"))
                        for _, m in store.scan(BASE_PATH_MAPPINGS.table, f"{owner}:{domain['domainName']}/")]
            mappings.sort(key=lambda m: -len(m.base_path) if m.base_path != "(none)" else 0)
            table[domain["domainName"]] = mappings
        return table

    def used(self, plan_id: str, key_id: str, period: str) -> int:
        return self._repo.used(plan_id, key_id, period)

    def count_use(self, plan_id: str, key_id: str, period: str, count: int) -> None:
        """Record a key's requests in a quota period (committed before the request goes on)."""
        self._repo.set_used(plan_id, key_id, period, count)

    # ------------------------------------------------------------ notifications
    def subscribe(self, listener: CatalogListener) -> None:
        self._listeners.append(listener)

    def api_changed(self, api_id: str) -> None:
        for listener in self._listeners:
            listener.api_changed(api_id)

    def keys_changed(self) -> None:
        for listener in self._listeners:
            listener.keys_changed()

    def domains_changed(self) -> None:
        for listener in self._listeners:
            listener.domains_changed()

    def authorizer_cache_flushed(self, api_id: str, stage_name: str) -> None:
        for listener in self._listeners:
            listener.authorizer_cache_flushed(api_id, stage_name)
