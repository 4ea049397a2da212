"""What every group of API Gateway v2 operations shares: finding the caller's API, paging lists,
and the deployment machinery (a change to an API's configuration redeploys its AutoDeploy stages).

Configuration changes (routes, integrations, authorizers, CORS) reach callers only through a
deployment: a deployment snapshots the API's configuration, a stage points at one, and a stage
with AutoDeploy gets a new deployment after every change, as on AWS. Stage settings (variables,
throttling, access logs) apply at once. Whoever keeps compiled views of deployed stages (the
data plane) subscribes to ``catalog`` and is told when they change.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cumulo.services.apigatewayv2.addresses import invoke_url
from cumulo.services.apigatewayv2.catalog import HttpApiCatalog
from cumulo.services.apigatewayv2.repository import (
    AUTHORIZERS,
    DEPLOYMENTS,
    INTEGRATIONS,
    ROUTES,
    STAGES,
    Repository,
    bad_request,
    now,
    public,
)
from cumulo.services.base import Provider, RequestContext
from cumulo.services.pagination import decode_token, take_page

if TYPE_CHECKING:
    from cumulo.platform import Platform

AUTO_DEPLOY_DESCRIPTION = "Automatic deployment triggered by changes to the Api configuration"


def pick(params: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The members of ``params`` named in ``fields`` that are set (copies, so records never share)."""
    return {name: copy.deepcopy(params[name]) for name in fields if params.get(name) is not None}


def is_http(api: dict[str, Any]) -> bool:
    return api["ProtocolType"] == "HTTP"


def stage_arn(region: str, api_id: str, stage_name: str) -> str:
    return f"arn:aws:apigateway:{region}::/apis/{api_id}/stages/{stage_name}"


def _max_results(params: dict[str, Any]) -> int:
    raw = params.get("MaxResults")
    if raw is None:
        return 100
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Invalid MaxResults {raw}: must be a number") from None
    if not 1 <= value <= 500:
        raise bad_request(f"Invalid MaxResults {raw}: must be between 1 and 500")
    return value


class ControlPlane(Provider):
    """The state and helpers the operation groups (APIs, stages, domains, the resource-kind table) use."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.repo = Repository(platform.store)
        self.catalog = HttpApiCatalog(self.repo)

    # ------------------------------------------------------------ APIs as callers see them
    def api_of(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The API ``params["ApiId"]`` names, in the caller's account and region (NotFound otherwise)."""
        return self.repo.api(context.account_id, context.region, params["ApiId"])

    def api_endpoint(self, context: RequestContext | None, api_id: str, protocol: str) -> str:
        base = (context.base_url if context and context.base_url else "") or self.platform.settings.endpoint_url
        return invoke_url(self.platform.settings, api_id, base, websocket=protocol == "WEBSOCKET")

    def api_view(self, context: RequestContext | None, api: dict[str, Any]) -> dict[str, Any]:
        view = public(api)
        view["ApiEndpoint"] = self.api_endpoint(context, api["ApiId"], api["ProtocolType"])
        view.setdefault("Tags", {})
        return view

    def stage_view(self, context: RequestContext, api_id: str, stage: dict[str, Any]) -> dict[str, Any]:
        view = public(stage)
        view["Tags"] = self.repo.tags(stage_arn(context.region, api_id, stage["StageName"]))
        return view

    def page(self, records: list[dict[str, Any]], params: dict[str, Any], kind: str, sort_key: str,
             view: Callable[[dict[str, Any]], dict[str, Any]] = public) -> dict[str, Any]:
        """One page of a Get* list operation: ``records`` ordered by ``sort_key``, as ``view`` shows them."""
        limit = _max_results(params)
        after = decode_token(params.get("NextToken"), kind, "BadRequestException", "Invalid NextToken")
        ordered = sorted(records, key=lambda r: str(r.get(sort_key, "")))
        rows = ((str(r.get(sort_key, "")), view(r)) for r in ordered
                if after is None or str(r.get(sort_key, "")) > after)
        items, token = take_page(rows, limit, kind)
        result: dict[str, Any] = {"Items": items}
        if token:
            result["NextToken"] = token
        return result

    # ------------------------------------------------------------ deployments
    def reconfigured(self, api: dict[str, Any]) -> None:
        """The API's configuration changed: redeploy stages with AutoDeploy and tell the catalog's listeners."""
        api_id = api["ApiId"]
        for stage in self.repo.items(STAGES, api_id):
            if stage.get("AutoDeploy"):
                self.deploy(api, stage, auto=True)
        self.catalog.api_changed(api_id)

    def _snapshot(self, api: dict[str, Any]) -> dict[str, Any]:
        api_id = api["ApiId"]
        return {
            "api": {k: copy.deepcopy(api.get(k)) for k in ("ProtocolType", "CorsConfiguration",
                                                            "DisableExecuteApiEndpoint", "RouteSelectionExpression")},
            "routes": self.repo.items(ROUTES, api_id),
            "integrations": self.repo.items(INTEGRATIONS, api_id),
            "authorizers": self.repo.items(AUTHORIZERS, api_id),
        }

    def deploy(self, api: dict[str, Any], stage: dict[str, Any] | None, auto: bool = False,
               description: str | None = None) -> dict[str, Any]:
        """A new deployment of the API's current configuration, to ``stage`` if given."""
        api_id = api["ApiId"]
        deployment = {
            "AutoDeployed": auto, "CreatedDate": now(),
            "DeploymentId": self.repo.new_item_id(DEPLOYMENTS, api_id), "DeploymentStatus": "DEPLOYED",
            "_snapshot": self._snapshot(api),
        }
        if auto:
            deployment["Description"] = AUTO_DEPLOY_DESCRIPTION
        elif description is not None:
            deployment["Description"] = description
        with self.platform.store.transaction():
            self.repo.put(DEPLOYMENTS, api_id, deployment)
            if stage is not None:
                previous = stage.get("DeploymentId")
                stage["DeploymentId"] = deployment["DeploymentId"]
                stage["LastDeploymentStatusMessage"] = (
                    f"Successfully deployed stage with deployment ID '{deployment['DeploymentId']}'")
                stage["LastUpdatedDate"] = now()
                self.repo.put(STAGES, api_id, stage)
                if previous and auto:
                    self._prune(api_id, previous)
        return deployment

    def _prune(self, api_id: str, deployment_id: str) -> None:
        """Drop an automatic deployment that no stage uses any more (keeps AutoDeploy from piling up
        a snapshot per change)."""
        old = self.repo.find(DEPLOYMENTS, api_id, deployment_id)
        if not old or not old.get("AutoDeployed"):
            return
        if any(s.get("DeploymentId") == deployment_id for s in self.repo.items(STAGES, api_id)):
            return
        self.repo.delete(DEPLOYMENTS, api_id, deployment_id)
