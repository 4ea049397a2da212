"""API Gateway v2 tagging: an API keeps its tags in its record; stages, custom domain names and VPC
links have theirs kept by ARN."""

from __future__ import annotations

from typing import Any

from cumulo.services.apigatewayv2.controlplane import ControlPlane
from cumulo.services.apigatewayv2.repository import STAGES, VPC_LINKS, not_found
from cumulo.services.apigatewayv2.resourcekind import account_key, domain_record
from cumulo.services.apigatewayv2.validation import check_tags
from cumulo.services.base import RequestContext


class TagOperations(ControlPlane):
    def _tagged(self, context: RequestContext, arn: str) -> tuple[str, dict[str, Any] | None]:
        """What a resource ARN names: ("api", api record) or ("other", None); NotFound otherwise."""
        prefix = f"arn:aws:apigateway:{context.region}::/"
        if not arn.startswith(prefix):
            raise not_found("Resource", arn)
        parts = arn[len(prefix):].split("/")
        if parts[0] == "apis" and len(parts) == 2:
            return "api", self.repo.api(context.account_id, context.region, parts[1])
        if parts[0] == "apis" and len(parts) == 4 and parts[2] == "stages":
            self.repo.api(context.account_id, context.region, parts[1])
            self.repo.get(STAGES, parts[1], parts[3])
            return "other", None
        if parts[0] == "domainnames" and len(parts) == 2:
            domain_record(self, context, parts[1])
            return "other", None
        if parts[0] == "vpclinks" and len(parts) == 2:
            self.repo.get(VPC_LINKS, account_key(context), parts[1])
            return "other", None
        raise not_found("Resource", arn)

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind, api = self._tagged(context, params["ResourceArn"])
        tags = dict(params.get("Tags") or {})
        if kind == "api" and api is not None:
            merged = {**api.get("Tags", {}), **tags}
            check_tags(merged)
            api["Tags"] = merged
            self.repo.save_api(api)
        else:
            merged = {**self.repo.tags(params["ResourceArn"]), **tags}
            check_tags(merged)
            self.repo.set_tags(params["ResourceArn"], merged)
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind, api = self._tagged(context, params["ResourceArn"])
        if kind == "api" and api is not None:
            api["Tags"] = {k: v for k, v in api.get("Tags", {}).items() if k not in params["TagKeys"]}
            self.repo.save_api(api)
        else:
            remaining = {k: v for k, v in self.repo.tags(params["ResourceArn"]).items() if k not in params["TagKeys"]}
            self.repo.set_tags(params["ResourceArn"], remaining)
        return {}

    def get_tags(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind, api = self._tagged(context, params["ResourceArn"])
        if kind == "api" and api is not None:
            return {"Tags": dict(api.get("Tags", {}))}
        return {"Tags": self.repo.tags(params["ResourceArn"])}
