"""Deployments (snapshots of an API's configuration) and stages (a name pointing at a deployment,
with variables, method settings, access logs). A change to a stage reaches callers at once; a
change to the configuration only with the next deployment, as on AWS."""

from __future__ import annotations

import copy

from cumulo.services.apigateway import patch
from cumulo.services.apigateway.controlplane import ControlPlane, Record, pick, stage_arn
from cumulo.services.apigateway.repository import (
    AUTHORIZERS,
    DEPLOYMENTS,
    GATEWAY_RESPONSES,
    MODELS,
    RESOURCES,
    STAGES,
    VALIDATORS,
    bad_request,
    conflict,
    not_found,
    now,
    public,
)
from cumulo.services.base import RequestContext

STAGE_FIELDS = ("deploymentId", "description", "cacheClusterEnabled", "cacheClusterSize", "variables",
                "documentationVersion", "canarySettings", "tracingEnabled")
STAGE_UPDATABLE = {"deploymentId", "description", "cacheClusterEnabled", "cacheClusterSize", "variables",
                   "documentationVersion", "canarySettings", "tracingEnabled", "accessLogSettings",
                   "clientCertificateId", "webAclArn"}
# /{resource path}/{method}/<group>/<name> -> MethodSetting member
METHOD_SETTINGS = {
    ("throttling", "rateLimit"): "throttlingRateLimit", ("throttling", "burstLimit"): "throttlingBurstLimit",
    ("logging", "loglevel"): "loggingLevel", ("logging", "dataTrace"): "dataTraceEnabled",
    ("metrics", "enabled"): "metricsEnabled", ("caching", "enabled"): "cachingEnabled",
    ("caching", "ttlInSeconds"): "cacheTtlInSeconds", ("caching", "dataEncrypted"): "cacheDataEncrypted",
    ("caching", "requireAuthorizationForCacheControl"): "requireAuthorizationForCacheControl",
    ("caching", "unauthorizedCacheControlHeaderStrategy"): "unauthorizedCacheControlHeaderStrategy",
}
_SETTING_TYPES = {"throttlingRateLimit": "rateLimit", "throttlingBurstLimit": "burstLimit",
                  "dataTraceEnabled": "enabled", "metricsEnabled": "enabled", "cachingEnabled": "enabled",
                  "cacheTtlInSeconds": "cacheTtlInSeconds", "cacheDataEncrypted": "enabled",
                  "requireAuthorizationForCacheControl": "enabled"}


def _method_setting(record: Record, op: str, segments: list[str], value: object) -> bool:
    """Patches of ``methodSettings`` (``/*/*/throttling/rateLimit``, ``/~1pets/GET/metrics/enabled``)."""
    if len(segments) != 4 or (segments[2], segments[3]) not in METHOD_SETTINGS:
        return False
    member = METHOD_SETTINGS[(segments[2], segments[3])]
    key = f"{segments[0].lstrip('/')}/{segments[1]}"  # as AWS keys them: pets/{id}/GET, */*
    settings = record.setdefault("methodSettings", {}).setdefault(key, {})
    if op == "remove":
        settings.pop(member, None)
    else:
        settings[member] = patch.convert(_SETTING_TYPES.get(member, member), value)
    return True


class StageOperations(ControlPlane):
    # ------------------------------------------------------------ deployments
    def snapshot(self, api: Record) -> Record:
        api_id = api["id"]
        resources = self.repo.items(RESOURCES, api_id)
        methods = [(r["path"], m, method) for r in resources for m, method in r["resourceMethods"].items()]
        if not methods:
            raise bad_request("The REST API doesn't contain any methods")
        for _, _, method in methods:
            if "methodIntegration" not in method:
                raise bad_request("No integration defined for method")
        return {
            "api": {k: copy.deepcopy(api.get(k)) for k in ("binaryMediaTypes", "apiKeySource",
                                                            "disableExecuteApiEndpoint", "minimumCompressionSize")},
            "resources": resources,
            "authorizers": self.repo.items(AUTHORIZERS, api_id),
            "models": self.repo.items(MODELS, api_id),
            "validators": self.repo.items(VALIDATORS, api_id),
            "gatewayResponses": self.repo.items(GATEWAY_RESPONSES, api_id),
        }

    def deployment_view(self, record: Record) -> Record:
        view = public(record)
        summary: dict[str, dict[str, Record]] = {}
        for resource in record["_snapshot"]["resources"]:
            for name, method in resource["resourceMethods"].items():
                summary.setdefault(resource["path"], {})[name] = {
                    "authorizationType": method.get("authorizationType", "NONE"),
                    "apiKeyRequired": bool(method.get("apiKeyRequired"))}
        view["apiSummary"] = summary
        return view

    def create_deployment(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        api_id = api["id"]
        deployment = {"id": self.repo.new_item_id(DEPLOYMENTS, api_id), "createdDate": now(),
                      "_snapshot": self.snapshot(api)}
        if params.get("description") is not None:
            deployment["description"] = params["description"]
        with self.platform.store.transaction():
            self.repo.put(DEPLOYMENTS, api_id, deployment)
            name = params.get("stageName")
            if name:
                stage = self.repo.find(STAGES, api_id, name) or self._new_stage(name)
                stage["deploymentId"] = deployment["id"]
                stage["lastUpdatedDate"] = now()
                if params.get("stageDescription") is not None:
                    stage["description"] = params["stageDescription"]
                if params.get("variables"):
                    stage["variables"] = {**(stage.get("variables") or {}), **params["variables"]}
                for flag in ("cacheClusterEnabled", "cacheClusterSize", "tracingEnabled", "canarySettings"):
                    if params.get(flag) is not None:
                        stage[flag] = params[flag]
                self.repo.put(STAGES, api_id, stage)
        self.catalog.api_changed(api_id)
        return self.deployment_view(deployment)

    def _deployment(self, context: RequestContext, params: Record) -> tuple[Record, Record]:
        api = self.api_of(context, params)
        record = self.repo.find(DEPLOYMENTS, api["id"], params["deploymentId"])
        if record is None:
            raise not_found("Invalid Deployment identifier specified")
        return api, record

    def get_deployment(self, context: RequestContext, params: Record) -> Record:
        return self.deployment_view(self._deployment(context, params)[1])

    def get_deployments(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        return self.page(self.repo.items(DEPLOYMENTS, api["id"]), params, "id", self.deployment_view)

    def update_deployment(self, context: RequestContext, params: Record) -> Record:
        api, record = self._deployment(context, params)
        patch.apply(record, params.get("patchOperations"), {"description"})
        self.repo.put(DEPLOYMENTS, api["id"], record)
        return self.deployment_view(record)

    def delete_deployment(self, context: RequestContext, params: Record) -> Record:
        api, record = self._deployment(context, params)
        if any(s.get("deploymentId") == record["id"] for s in self.repo.items(STAGES, api["id"])):
            raise bad_request("Active stages pointing to this deployment must be moved or deleted")
        self.repo.delete(DEPLOYMENTS, api["id"], record["id"])
        return {}

    # ------------------------------------------------------------ stages
    @staticmethod
    def _new_stage(name: str) -> Record:
        return {"stageName": name, "createdDate": now(), "lastUpdatedDate": now(), "cacheClusterEnabled": False,
                "cacheClusterStatus": "NOT_AVAILABLE", "tracingEnabled": False, "methodSettings": {}}

    def stage_view(self, context: RequestContext, api_id: str, record: Record) -> Record:
        view = public(record)
        view["tags"] = self.repo.tags(stage_arn(context.region, api_id, record["stageName"]))
        return view

    def _stage(self, context: RequestContext, params: Record) -> tuple[Record, Record]:
        api = self.api_of(context, params)
        record = self.repo.find(STAGES, api["id"], params["stageName"])
        if record is None:
            raise not_found("Invalid Stage identifier specified")
        return api, record

    def create_stage(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        name = params["stageName"]
        if self.repo.find(STAGES, api["id"], name) is not None:
            raise conflict("Stage already exists")
        if self.repo.find(DEPLOYMENTS, api["id"], params["deploymentId"]) is None:
            raise not_found("Invalid Deployment identifier specified")
        stage = self._new_stage(name)
        stage.update(pick(params, STAGE_FIELDS))
        with self.platform.store.transaction():
            self.repo.put(STAGES, api["id"], stage)
            if params.get("tags"):
                self.repo.set_tags(stage_arn(context.region, api["id"], name), dict(params["tags"]))
        self.catalog.api_changed(api["id"])
        return self.stage_view(context, api["id"], stage)

    def get_stage(self, context: RequestContext, params: Record) -> Record:
        api, record = self._stage(context, params)
        return self.stage_view(context, api["id"], record)

    def get_stages(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        stages = self.repo.items(STAGES, api["id"])
        if params.get("deploymentId"):
            stages = [s for s in stages if s.get("deploymentId") == params["deploymentId"]]
        return {"item": [self.stage_view(context, api["id"], s) for s in sorted(stages, key=lambda s: s["stageName"])]}

    def update_stage(self, context: RequestContext, params: Record) -> Record:
        api, record = self._stage(context, params)
        patch.apply(record, params.get("patchOperations"), STAGE_UPDATABLE, special=_method_setting)
        if self.repo.find(DEPLOYMENTS, api["id"], record.get("deploymentId") or "") is None:
            raise bad_request("Invalid deployment id specified")
        record["lastUpdatedDate"] = now()
        self.repo.put(STAGES, api["id"], record)
        self.catalog.api_changed(api["id"])
        return self.stage_view(context, api["id"], record)

    def delete_stage(self, context: RequestContext, params: Record) -> Record:
        api, record = self._stage(context, params)
        with self.platform.store.transaction():
            self.repo.delete(STAGES, api["id"], record["stageName"])
            self.repo.set_tags(stage_arn(context.region, api["id"], record["stageName"]), {})
        self.catalog.api_changed(api["id"])
        return {}

    def flush_stage_authorizers_cache(self, context: RequestContext, params: Record) -> Record:
        api, record = self._stage(context, params)
        self.catalog.authorizer_cache_flushed(api["id"], record["stageName"])
        return {}

    def flush_stage_cache(self, context: RequestContext, params: Record) -> Record:
        self._stage(context, params)
        return {}
