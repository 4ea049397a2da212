"""What the API Gateway v2 control plane offers the HTTP API data plane (``cumulo.httpapi``).

The control plane owns the data (APIs, stages, deployments, custom domain names); the data plane
reads it only through ``HttpApiCatalog`` and keeps compiled views of it. Whoever keeps such views
subscribes a ``CatalogListener`` and is told when what it read changed, so the control plane never
needs to know the data plane exists.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from cumulo.services.apigatewayv2.repository import API_MAPPINGS, DEPLOYMENTS, DOMAIN_NAMES, STAGES, Repository


class DeployedStage(NamedTuple):
    """A stage and the deployment it points at (None before its first deployment)."""

    stage: dict[str, Any]
    deployment: dict[str, Any] | None


class ApiMappingTarget(NamedTuple):
    """Where a custom domain name sends requests whose path starts with ``key``."""

    key: str
    api_id: str
    stage_name: str


class CatalogListener(Protocol):
    def api_changed(self, api_id: str) -> None:
        """The API, its stages or their deployments changed (or the API is gone)."""

    def domains_changed(self) -> None:
        """A custom domain name or one of its API mappings changed."""

    def authorizer_cache_reset(self, api_id: str, stage_name: str) -> None:
        """ResetAuthorizersCache was called for the stage."""


class HttpApiCatalog:
    """Read access to API Gateway v2's data, and change notifications for who caches it."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._listeners: list[CatalogListener] = []

    # ------------------------------------------------------------ reading
    def api(self, api_id: str) -> dict[str, Any] | None:
        """The API's record (of any account and region), or None."""
        return self._repo.find_api(api_id)

    def deployed_stages(self, api_id: str) -> list[DeployedStage]:
        repo = self._repo
        return [DeployedStage(stage, repo.find(DEPLOYMENTS, api_id, stage["DeploymentId"])
                              if stage.get("DeploymentId") else None)
                for stage in repo.items(STAGES, api_id)]

    def domain_mappings(self) -> dict[str, list[ApiMappingTarget]]:
        """Every custom domain name (lower case) with its API mappings, longest mapping key first."""
        store = self._repo.store
        table: dict[str, list[ApiMappingTarget]] = {}
        for key, domain in store.scan(DOMAIN_NAMES.table):
            mappings = [ApiMappingTarget(m.get("ApiMappingKey") or "", m["ApiId"], m["Stage"])
                        for _, m in store.scan(API_MAPPINGS.table, key + "/")]
            mappings.sort(key=lambda m: -len(m.key))
            table[domain["DomainName"].lower()] = mappings
        return table

    # ------------------------------------------------------------ notifications
    def subscribe(self, listener: CatalogListener) -> None:
        self._listeners.append(listener)

    def api_changed(self, api_id: str) -> None:
        for listener in self._listeners:
            listener.api_changed(api_id)

    def domains_changed(self) -> None:
        for listener in self._listeners:
            listener.domains_changed()

    def authorizer_cache_reset(self, api_id: str, stage_name: str) -> None:
        for listener in self._listeners:
            listener.authorizer_cache_reset(api_id, stage_name)
