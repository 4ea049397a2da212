"""ImportRestApi, PutRestApi (overwrite or merge) and GetExport, over ``openapi``."""

from __future__ import annotations

import json
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.apigateway import openapi
from cumulo.services.apigateway.apiparts import check_authorizer
from cumulo.services.apigateway.repository import (
    AUTHORIZERS,
    DEPLOYMENTS,
    GATEWAY_RESPONSES,
    MODELS,
    RESOURCES,
    STAGES,
    VALIDATORS,
    bad_request,
    new_id,
    not_found,
)
from cumulo.services.apigateway.resources import ResourceOperations
from cumulo.services.apigateway.restapis import RestApiOperations
from cumulo.services.base import RequestContext

Record = dict[str, Any]


class ImportOperations(RestApiOperations, ResourceOperations):
    def _definition(self, params: Record) -> openapi.Definition:
        """The definition in ``params["body"]``; BadRequest listing every integration AWS would refuse."""
        definition = openapi.Definition(openapi.parse(params.get("body") or b""))
        problems = []
        for path, http_method, method in definition.methods:
            if "methodIntegration" not in method:
                continue
            try:
                self._check_integration(method["methodIntegration"])
            except AwsError as error:
                problems.append(f"Unable to put integration on '{http_method}' for resource at path '{path}': "
                                f"{error.message}")
        if problems:
            raise bad_request("Errors found during import:\n\t" + "\n\t".join(problems))
        return definition

    def import_rest_api(self, context: RequestContext, params: Record) -> Record:
        definition = self._definition(params)
        settings = dict(definition.settings)
        endpoint = (params.get("parameters") or {}).get("endpointConfigurationTypes")
        if endpoint:
            settings["endpointConfiguration"] = {"types": [endpoint]}
        if not settings.get("name"):
            raise bad_request("Invalid OpenAPI input: info.title is required")
        with self.platform.store.transaction():
            api = self.new_api(context, settings)
            self.apply_definition(api, definition, overwrite=True)
        return self.api_view(api)

    def put_rest_api(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        definition = self._definition(params)
        mode = params.get("mode") or "merge"
        if mode not in ("merge", "overwrite"):
            raise bad_request(f"Invalid mode: {mode}")
        with self.platform.store.transaction():
            self.apply_definition(api, definition, overwrite=mode == "overwrite")
        self.catalog.api_changed(api["id"])
        return self.api_view(api)

    def apply_definition(self, api: Record, definition: openapi.Definition, overwrite: bool) -> None:
        """Store what ``definition`` defines on ``api`` (in the caller's transaction)."""
        api_id = api["id"]
        repo = self.repo
        if overwrite:
            for resource in repo.items(RESOURCES, api_id):
                if resource["id"] != api["rootResourceId"]:
                    repo.delete(RESOURCES, api_id, resource["id"])
            repo.put(RESOURCES, api_id, {"id": api["rootResourceId"], "path": "/", "resourceMethods": {}})
            for kind in (AUTHORIZERS, MODELS, VALIDATORS, GATEWAY_RESPONSES):
                repo.delete_prefix(kind, api_id + "/")
        api.update(definition.settings)
        repo.save_api(api)
        authorizer_ids = {a["name"]: a["id"] for a in repo.items(AUTHORIZERS, api_id)}
        for name, authorizer in definition.authorizers.items():
            record = {"id": authorizer_ids.get(name) or repo.new_item_id(AUTHORIZERS, api_id),
                      "authorizerResultTtlInSeconds": 300, **authorizer}
            check_authorizer(record)
            repo.put(AUTHORIZERS, api_id, record)
            authorizer_ids[name] = record["id"]
        validator_ids = {v["name"]: v["id"] for v in repo.items(VALIDATORS, api_id)}
        for name, validator in definition.validators.items():
            record = {"id": validator_ids.get(name) or repo.new_item_id(VALIDATORS, api_id), **validator}
            repo.put(VALIDATORS, api_id, record)
            validator_ids[name] = record["id"]
        for model in definition.models:
            repo.put(MODELS, api_id, {"id": new_id(6), **model})
        for response in definition.gateway_responses:
            repo.put(GATEWAY_RESPONSES, api_id, {"defaultResponse": False, **response})
        by_path = {r["path"]: r for r in repo.items(RESOURCES, api_id)}
        for path, http_method, method in definition.methods:
            resource = self._ensure_path(api_id, by_path, path)
            authorizer = method.pop("_authorizer", None)
            if authorizer:
                method["authorizerId"] = authorizer_ids[authorizer]
            validator = method.pop("_validator", None)
            if validator:
                if validator not in validator_ids:
                    raise bad_request(f"Invalid request validator {validator} for {path} {http_method}")
                method["requestValidatorId"] = validator_ids[validator]
            if "methodIntegration" in method:
                method["methodIntegration"].setdefault("cacheNamespace", resource["id"])
            resource["resourceMethods"][http_method] = method
            repo.put(RESOURCES, api_id, resource)

    def _ensure_path(self, api_id: str, by_path: dict[str, Record], path: str) -> Record:
        current = by_path["/"]
        walked = ""
        for part in [p for p in path.split("/") if p]:
            walked += "/" + part
            found = by_path.get(walked)
            if found is None:
                found = by_path[walked] = self.add_resource(api_id, current, part)
            current = found
        return current

    def get_export(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        stage = self.repo.find(STAGES, api["id"], params["stageName"])
        if stage is None:
            raise not_found("Invalid Stage identifier specified")
        deployment = self.repo.find(DEPLOYMENTS, api["id"], stage.get("deploymentId") or "")
        if deployment is None:
            raise not_found("Invalid Deployment identifier specified")
        kind = params["exportType"]
        if kind not in ("swagger", "oas30"):
            raise bad_request(f"Export type {kind} is not supported (swagger, oas30)")
        extensions = (params.get("parameters") or {}).get("extensions", "")
        host = f"{api['id']}.execute-api.{context.region}.amazonaws.com"
        document = openapi.export(api, params["stageName"], deployment["_snapshot"], kind,
                                  "integrations" in extensions or "apigateway" in extensions, host)
        accepts = params.get("accepts") or "application/json"
        if "yaml" in accepts:
            import yaml  # imported on first use (start-up time)

            return {"contentType": "application/yaml", "body": yaml.safe_dump(document, sort_keys=False).encode(),
                    "contentDisposition": f'attachment; filename="{kind}_{api["id"]}.yaml"'}
        return {"contentType": "application/octet-stream", "body": json.dumps(document, indent=2).encode(),
                "contentDisposition": f'attachment; filename="{kind}_{api["id"]}.json"'}
