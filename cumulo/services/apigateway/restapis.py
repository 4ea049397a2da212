"""RestApis (create, get, list, update, delete) and tags of every API Gateway resource."""

from __future__ import annotations

from cumulo.services.apigateway import patch
from cumulo.services.apigateway.controlplane import ControlPlane, Record, pick
from cumulo.services.apigateway.repository import RESOURCES, bad_request, new_id, now, public
from cumulo.services.base import RequestContext

API_FIELDS = ("name", "description", "version", "binaryMediaTypes", "minimumCompressionSize", "apiKeySource",
              "endpointConfiguration", "policy", "disableExecuteApiEndpoint")
UPDATABLE = {"name", "description", "version", "binaryMediaTypes", "minimumCompressionSize", "apiKeySource",
             "endpointConfiguration", "policy", "disableExecuteApiEndpoint"}


class RestApiOperations(ControlPlane):
    def new_api(self, context: RequestContext, params: Record) -> Record:
        """A new API record with its root resource (saved by the caller's transaction)."""
        if params.get("apiKeySource") not in (None, "HEADER", "AUTHORIZER"):
            raise bad_request("Invalid API Key source specified; must be one of [HEADER, AUTHORIZER]")
        api_id = self.repo.new_api_id()
        root_id = new_id(10)
        record: Record = {
            "id": api_id, "createdDate": now(), "apiKeySource": "HEADER", "binaryMediaTypes": [],
            "endpointConfiguration": {"types": ["EDGE"]}, "disableExecuteApiEndpoint": False,
            "rootResourceId": root_id, "_account": context.account_id, "_region": context.region,
        }
        record.update(pick(params, API_FIELDS))
        record["_tags"] = dict(params.get("tags") or {})
        with self.platform.store.transaction():
            self.repo.save_api(record)
            self.repo.put(RESOURCES, api_id, {"id": root_id, "path": "/", "resourceMethods": {}})
        return record

    def api_view(self, record: Record) -> Record:
        view = public(record)
        view["tags"] = dict(record.get("_tags") or {})
        if not view.get("binaryMediaTypes"):
            view.pop("binaryMediaTypes", None)
        return view

    def create_rest_api(self, context: RequestContext, params: Record) -> Record:
        if params.get("cloneFrom"):
            raise bad_request("cloneFrom is not supported by Cumulo")
        return self.api_view(self.new_api(context, params))

    def get_rest_api(self, context: RequestContext, params: Record) -> Record:
        return self.api_view(self.api_of(context, params))

    def get_rest_apis(self, context: RequestContext, params: Record) -> Record:
        return self.page(self.repo.apis(context.account_id, context.region), params, "id", self.api_view)

    def update_rest_api(self, context: RequestContext, params: Record) -> Record:
        record = self.api_of(context, params)
        patch.apply(record, params.get("patchOperations"), UPDATABLE)
        self.repo.save_api(record)
        self.catalog.api_changed(record["id"])
        return self.api_view(record)

    def delete_rest_api(self, context: RequestContext, params: Record) -> Record:
        record = self.api_of(context, params)
        self.repo.delete_api(record["id"])
        self.catalog.api_changed(record["id"])
        return {}

    # ------------------------------------------------------------ tags
    def _tag_target(self, context: RequestContext, arn: str) -> tuple[Record | None, str]:
        """The API record an ARN names (tags kept on it), or None with the ARN for the tag table."""
        prefix = f"arn:aws:apigateway:{context.region}::/restapis/"
        if arn.startswith(prefix) and "/" not in arn[len(prefix):]:
            return self.repo.api(context.account_id, context.region, arn[len(prefix):]), arn
        if not arn.startswith(f"arn:aws:apigateway:{context.region}::/"):
            raise bad_request(f"Invalid ARN specified in the request: {arn}")
        return None, arn

    def get_tags(self, context: RequestContext, params: Record) -> Record:
        api, arn = self._tag_target(context, params["resourceArn"])
        return {"tags": dict(api.get("_tags") or {}) if api is not None else self.repo.tags(arn)}

    def tag_resource(self, context: RequestContext, params: Record) -> Record:
        api, arn = self._tag_target(context, params["resourceArn"])
        if api is not None:
            api["_tags"] = {**(api.get("_tags") or {}), **params["tags"]}
            self.repo.save_api(api)
        else:
            self.repo.set_tags(arn, {**self.repo.tags(arn), **params["tags"]})
        return {}

    def untag_resource(self, context: RequestContext, params: Record) -> Record:
        api, arn = self._tag_target(context, params["resourceArn"])
        drop = set(params.get("tagKeys") or [])
        if api is not None:
            api["_tags"] = {k: v for k, v in (api.get("_tags") or {}).items() if k not in drop}
            self.repo.save_api(api)
        else:
            self.repo.set_tags(arn, {k: v for k, v in self.repo.tags(arn).items() if k not in drop})
        return {}

