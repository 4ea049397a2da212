"""API Gateway v2 operations on stages and deployments that the resource-kind table does not cover:
creating and updating a stage (its AutoDeploy deploys at once), removing some of its settings,
resetting its authorizer cache, and deploying."""

from __future__ import annotations

from typing import Any

from cumulo.services.apigatewayv2.controlplane import ControlPlane, is_http, pick, stage_arn
from cumulo.services.apigatewayv2.repository import DEPLOYMENTS, STAGES, bad_request, conflict, not_found, now, public
from cumulo.services.apigatewayv2.validation import (
    check_access_log_settings,
    check_http_route_key,
    check_stage_name,
    check_tags,
)
from cumulo.services.base import RequestContext

STAGE_FIELDS = ("AccessLogSettings", "AutoDeploy", "ClientCertificateId", "DefaultRouteSettings", "DeploymentId",
                "Description", "RouteSettings", "StageVariables")


class StageOperations(ControlPlane):
    def _check_stage_settings(self, api: dict[str, Any], stage: dict[str, Any]) -> None:
        check_access_log_settings(stage.get("AccessLogSettings"))
        if stage.get("DeploymentId"):
            self.repo.get(DEPLOYMENTS, api["ApiId"], stage["DeploymentId"])
        for settings in [stage.get("DefaultRouteSettings") or {}, *(stage.get("RouteSettings") or {}).values()]:
            rate = settings.get("ThrottlingRateLimit")
            burst = settings.get("ThrottlingBurstLimit")
            if (rate is not None and rate < 0) or (burst is not None and burst < 0):
                raise bad_request("Throttling limits must be zero or greater")
        if is_http(api):
            for key in stage.get("RouteSettings") or {}:
                check_http_route_key(key)

    def create_stage(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        name = params["StageName"]
        check_stage_name(name)
        check_tags(params.get("Tags"))
        if self.repo.find(STAGES, api["ApiId"], name) is not None:
            raise conflict(f"Stage already exists: {name}")
        stage = pick(params, STAGE_FIELDS)
        stage.setdefault("DefaultRouteSettings", {})
        stage["DefaultRouteSettings"].setdefault("DetailedMetricsEnabled", False)
        stage.setdefault("RouteSettings", {})
        stage.setdefault("StageVariables", {})
        stage.update({"StageName": name, "CreatedDate": now(), "LastUpdatedDate": now()})
        if stage.get("AutoDeploy") and stage.get("DeploymentId"):
            raise bad_request("DeploymentId can't be specified for a stage with AutoDeploy enabled")
        self._check_stage_settings(api, stage)
        with self.platform.store.transaction():
            self.repo.put(STAGES, api["ApiId"], stage)
            if params.get("Tags"):
                self.repo.set_tags(stage_arn(context.region, api["ApiId"], name), dict(params["Tags"]))
            if stage.get("AutoDeploy"):
                self.deploy(api, stage, auto=True)
        self.catalog.api_changed(api["ApiId"])
        return self.stage_view(context, api["ApiId"], stage)

    def update_stage(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        stage = self.repo.get(STAGES, api["ApiId"], params["StageName"])
        was_auto = bool(stage.get("AutoDeploy"))
        changes = pick(params, STAGE_FIELDS)
        route_settings = changes.pop("RouteSettings", None)
        default_settings = changes.pop("DefaultRouteSettings", None)
        stage.update(changes)
        if route_settings is not None:
            stage["RouteSettings"] = {**stage.get("RouteSettings", {}), **route_settings}
        if default_settings is not None:
            stage["DefaultRouteSettings"] = {**stage.get("DefaultRouteSettings", {}), **default_settings}
        if params.get("DeploymentId") and stage.get("AutoDeploy") and params.get("AutoDeploy") is not False:
            raise bad_request("DeploymentId can't be updated for a stage with AutoDeploy enabled")
        if params.get("DeploymentId"):
            stage["LastDeploymentStatusMessage"] = (
                f"Successfully deployed stage with deployment ID '{params['DeploymentId']}'")
        stage["LastUpdatedDate"] = now()
        self._check_stage_settings(api, stage)
        with self.platform.store.transaction():
            self.repo.put(STAGES, api["ApiId"], stage)
            if stage.get("AutoDeploy") and not was_auto:
                self.deploy(api, stage, auto=True)
        self.catalog.api_changed(api["ApiId"])
        return self.stage_view(context, api["ApiId"], stage)

    def delete_access_log_settings(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        stage = self.repo.get(STAGES, api["ApiId"], params["StageName"])
        stage.pop("AccessLogSettings", None)
        self.repo.put(STAGES, api["ApiId"], stage)
        self.catalog.api_changed(api["ApiId"])
        return {}

    def delete_route_settings(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        stage = self.repo.get(STAGES, api["ApiId"], params["StageName"])
        settings = stage.get("RouteSettings") or {}
        if params["RouteKey"] not in settings:
            raise not_found("RouteSettings", params["RouteKey"])
        del settings[params["RouteKey"]]
        self.repo.put(STAGES, api["ApiId"], stage)
        self.catalog.api_changed(api["ApiId"])
        return {}

    def reset_authorizers_cache(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        self.repo.get(STAGES, api["ApiId"], params["StageName"])
        self.catalog.authorizer_cache_reset(api["ApiId"], params["StageName"])
        return {}

    def create_deployment(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        stage = None
        if params.get("StageName"):
            stage = self.repo.get(STAGES, api["ApiId"], params["StageName"])
            if stage.get("AutoDeploy"):
                raise bad_request(f"Stage {params['StageName']} has AutoDeploy enabled: deployments to it are "
                                  "automatic")
        deployment = self.deploy(api, stage, description=params.get("Description"))
        self.catalog.api_changed(api["ApiId"])
        return public(deployment)
