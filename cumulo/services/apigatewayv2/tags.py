"""API Gateway v2 tagging: an API keeps its tags in its record; stages, custom domain names and VPC
links have theirs kept by ARN."""

from __future__ import annotations

from typing import Any

from cumulo.services.apigatewayv2.controlplane import ControlPlane
from cumulo.services.apigatewayv2.repository import STAGES, VPC_LINKS, not_found
from cumulo.services.apigatewayv2.resourcekind import account_key, domain_record
from cumulo.services.apigatewayv2.validation import TAG_RULES
from cumulo.services.base import RequestContext
from cumulo.services.tagging import add_tags, merged_tags, remove_tags, tags_of, without_tags


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
            add_tags(api, tags, TAG_RULES, field="Tags")
            self.repo.save_api(api)
        else:
            arn = params["ResourceArn"]
            self.repo.set_tags(arn, merged_tags(self.repo.tags(arn), tags, TAG_RULES))
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind, api = self._tagged(context, params["ResourceArn"])
        if kind == "api" and api is not None:
            remove_tags(api, params["TagKeys"], field="Tags")
            self.repo.save_api(api)
        else:
            arn = params["ResourceArn"]
            self.repo.set_tags(arn, without_tags(self.repo.tags(arn), params["TagKeys"]))
        return {}

    def get_tags(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind, api = self._tagged(context, params["ResourceArn"])
        if kind == "api" and api is not None:
            return {"Tags": tags_of(api, "Tags")}
        return {"Tags": self.repo.tags(params["ResourceArn"])}
