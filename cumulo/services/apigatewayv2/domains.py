"""API Gateway v2 resources outside any API: custom domain names with their API mappings, VPC
links, and the tags of every resource (an API keeps its own; others are kept by ARN)."""

from __future__ import annotations

import copy
from typing import Any

from cumulo.services.apigatewayv2.controlplane import ControlPlane
from cumulo.services.apigatewayv2.repository import (
    DOMAINS,
    MAPPINGS,
    STAGES,
    VPCLINKS,
    bad_request,
    conflict,
    new_id,
    not_found,
    now,
    public,
)
from cumulo.services.apigatewayv2.validation import check_name, check_tags
from cumulo.services.base import RequestContext


class DomainOperations(ControlPlane):
    # ------------------------------------------------------------ tags
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
            self._domain(context, parts[1])
            return "other", None
        if parts[0] == "vpclinks" and len(parts) == 2:
            self._vpc_link(context, parts[1])
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

    # ------------------------------------------------------------ custom domain names and API mappings
    def _domain_key(self, context: RequestContext, name: str) -> str:
        return f"{context.account_id}:{context.region}:{name.lower()}"

    def _domain(self, context: RequestContext, name: str) -> dict[str, Any]:
        record = self.platform.store.get(DOMAINS, self._domain_key(context, name))
        if record is None:
            raise not_found("DomainName", name)
        return record

    def _domain_view(self, context: RequestContext, record: dict[str, Any]) -> dict[str, Any]:
        view = public(record)
        view["Tags"] = self.repo.tags(record["DomainNameArn"])
        return view

    def create_domain_name(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["DomainName"].lower()
        check_tags(params.get("Tags"))
        if self.platform.store.get(DOMAINS, self._domain_key(context, name)) is not None:
            raise conflict(f"The domain name you provided already exists: {name}")
        configurations = []
        for config in params.get("DomainNameConfigurations") or [{}]:
            configurations.append({
                "ApiGatewayDomainName": f"d-{new_id(10)}.execute-api.{context.region}.amazonaws.com",
                "DomainNameStatus": "AVAILABLE", "EndpointType": "REGIONAL", "HostedZoneId": "Z1UJRXOUMOOFQ8",
                "IpAddressType": "ipv4", "SecurityPolicy": "TLS_1_2", **copy.deepcopy(config)})
        record = {"ApiMappingSelectionExpression": "$request.basepath", "DomainName": name,
                  "DomainNameArn": f"arn:aws:apigateway:{context.region}::/domainnames/{name}",
                  "DomainNameConfigurations": configurations,
                  "RoutingMode": params.get("RoutingMode") or "API_MAPPING_ONLY"}
        if params.get("MutualTlsAuthentication"):
            record["MutualTlsAuthentication"] = copy.deepcopy(params["MutualTlsAuthentication"])
        self.platform.store.put(DOMAINS, self._domain_key(context, name), record)
        if params.get("Tags"):
            self.repo.set_tags(record["DomainNameArn"], dict(params["Tags"]))
        self.catalog.domains_changed()
        return self._domain_view(context, record)

    def get_domain_name(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._domain_view(context, self._domain(context, params["DomainName"]))

    def get_domain_names(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = f"{context.account_id}:{context.region}:"
        records = [r for _, r in self.platform.store.scan(DOMAINS, prefix)]
        return self.page(records, params, "apigw-domains", "DomainName", view=lambda r: self._domain_view(context, r))

    def update_domain_name(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._domain(context, params["DomainName"])
        if params.get("DomainNameConfigurations"):
            merged = []
            for index, config in enumerate(params["DomainNameConfigurations"]):
                existing = record["DomainNameConfigurations"]
                base = existing[index] if index < len(existing) else {}
                merged.append({**base, **copy.deepcopy(config)})
            record["DomainNameConfigurations"] = merged
        for name in ("MutualTlsAuthentication", "RoutingMode"):
            if params.get(name) is not None:
                record[name] = copy.deepcopy(params[name])
        self.platform.store.put(DOMAINS, self._domain_key(context, record["DomainName"]), record)
        return self._domain_view(context, record)

    def delete_domain_name(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._domain(context, params["DomainName"])
        with self.platform.store.transaction():
            self.platform.store.delete(DOMAINS, self._domain_key(context, record["DomainName"]))
            self.platform.store.delete_prefix(MAPPINGS, self._domain_key(context, record["DomainName"]) + "/")
            self.repo.set_tags(record["DomainNameArn"], {})
        self.catalog.domains_changed()
        return {}

    def _mapping_key(self, context: RequestContext, domain: str, mapping_id: str) -> str:
        return f"{self._domain_key(context, domain)}/{mapping_id}"

    def _mappings(self, context: RequestContext, domain: str) -> list[dict[str, Any]]:
        return [r for _, r in self.platform.store.scan(MAPPINGS, self._domain_key(context, domain) + "/")]

    def _check_mapping(self, context: RequestContext, domain: str, record: dict[str, Any]) -> None:
        self.repo.api(context.account_id, context.region, record["ApiId"])
        self.repo.get(STAGES, record["ApiId"], record["Stage"])
        key = record.get("ApiMappingKey") or ""
        if key.startswith("/") or key.endswith("/") or "//" in key:
            raise bad_request(f"Invalid ApiMappingKey {key}: keys look like v1 or orders/v1")
        for other in self._mappings(context, domain):
            if (other.get("ApiMappingKey") or "") == key and other["ApiMappingId"] != record.get("ApiMappingId"):
                raise conflict(f"ApiMapping with key '{key}' already exists for domain name {domain}")

    def create_api_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        domain = self._domain(context, params["DomainName"])["DomainName"]
        record = {"ApiId": params["ApiId"], "Stage": params["Stage"],
                  "ApiMappingKey": params.get("ApiMappingKey") or ""}
        self._check_mapping(context, domain, record)
        record["ApiMappingId"] = new_id(6)
        self.platform.store.put(MAPPINGS, self._mapping_key(context, domain, record["ApiMappingId"]), record)
        self.catalog.domains_changed()
        return public(record)

    def _mapping(self, context: RequestContext, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        domain = self._domain(context, params["DomainName"])["DomainName"]
        record = self.platform.store.get(MAPPINGS, self._mapping_key(context, domain, params["ApiMappingId"]))
        if record is None:
            raise not_found("ApiMapping", params["ApiMappingId"])
        return domain, record

    def get_api_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return public(self._mapping(context, params)[1])

    def get_api_mappings(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        domain = self._domain(context, params["DomainName"])["DomainName"]
        return self.page(self._mappings(context, domain), params, "apigw-mappings", "ApiMappingId")

    def update_api_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        domain, record = self._mapping(context, params)
        for name in ("ApiId", "Stage", "ApiMappingKey"):
            if params.get(name) is not None:
                record[name] = params[name]
        self._check_mapping(context, domain, record)
        self.platform.store.put(MAPPINGS, self._mapping_key(context, domain, record["ApiMappingId"]), record)
        self.catalog.domains_changed()
        return public(record)

    def delete_api_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        domain, record = self._mapping(context, params)
        self.platform.store.delete(MAPPINGS, self._mapping_key(context, domain, record["ApiMappingId"]))
        self.catalog.domains_changed()
        return {}

    # ------------------------------------------------------------ VPC links
    def _vpc_link(self, context: RequestContext, link_id: str) -> dict[str, Any]:
        record = self.platform.store.get(VPCLINKS, f"{context.account_id}:{context.region}:{link_id}")
        if record is None:
            raise not_found("VpcLink", link_id)
        return record

    def _vpc_link_view(self, record: dict[str, Any]) -> dict[str, Any]:
        view = public(record)
        view["Tags"] = self.repo.tags(record["_arn"])
        return view

    def create_vpc_link(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        check_name(params["Name"])
        check_tags(params.get("Tags"))
        link_id = new_id(6)
        record = {"CreatedDate": now(), "Name": params["Name"],
                  "SecurityGroupIds": list(params.get("SecurityGroupIds") or []),
                  "SubnetIds": list(params["SubnetIds"]), "VpcLinkId": link_id, "VpcLinkStatus": "AVAILABLE",
                  "VpcLinkStatusMessage": "VPC link is ready to route traffic", "VpcLinkVersion": "V2",
                  "_arn": f"arn:aws:apigateway:{context.region}::/vpclinks/{link_id}"}
        self.platform.store.put(VPCLINKS, f"{context.account_id}:{context.region}:{link_id}", record)
        if params.get("Tags"):
            self.repo.set_tags(record["_arn"], dict(params["Tags"]))
        return self._vpc_link_view(record)

    def get_vpc_link(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._vpc_link_view(self._vpc_link(context, params["VpcLinkId"]))

    def get_vpc_links(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        records = [r for _, r in self.platform.store.scan(VPCLINKS, f"{context.account_id}:{context.region}:")]
        return self.page(records, params, "apigw-vpclinks", "VpcLinkId", view=self._vpc_link_view)

    def update_vpc_link(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._vpc_link(context, params["VpcLinkId"])
        if params.get("Name") is not None:
            check_name(params["Name"])
            record["Name"] = params["Name"]
        self.platform.store.put(VPCLINKS, f"{context.account_id}:{context.region}:{record['VpcLinkId']}", record)
        return self._vpc_link_view(record)

    def delete_vpc_link(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._vpc_link(context, params["VpcLinkId"])
        self.platform.store.delete(VPCLINKS, f"{context.account_id}:{context.region}:{record['VpcLinkId']}")
        self.repo.set_tags(record["_arn"], {})
        return {}
