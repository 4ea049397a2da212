"""Custom domain names and their base path mappings. The data plane serves a request whose Host is
a custom domain name through the mapping whose base path starts the request path (``(none)``
maps the whole domain)."""

from __future__ import annotations

from cumulo.services.apigateway import patch
from cumulo.services.apigateway.controlplane import ControlPlane, Record, account_key, pick
from cumulo.services.apigateway.repository import (
    BASE_PATH_MAPPINGS,
    DOMAIN_NAMES,
    STAGES,
    bad_request,
    conflict,
    new_id,
    not_found,
    public,
)
from cumulo.services.base import RequestContext

DOMAIN_FIELDS = ("certificateName", "certificateArn", "regionalCertificateName", "regionalCertificateArn",
                 "endpointConfiguration", "securityPolicy", "mutualTlsAuthentication", "policy")
NO_BASE_PATH = "(none)"


class DomainOperations(ControlPlane):
    def _domain(self, context: RequestContext, name: str) -> Record:
        record = self.repo.find(DOMAIN_NAMES, account_key(context), name.lower())
        if record is None:
            raise not_found("Invalid domain name identifier specified")
        return record

    def domain_view(self, record: Record) -> Record:
        view = public(record)
        view["tags"] = dict(record.get("_tags") or {})
        return view

    def create_domain_name(self, context: RequestContext, params: Record) -> Record:
        name = params["domainName"].lower()
        owner = account_key(context)
        if self.repo.find(DOMAIN_NAMES, owner, name) is not None:
            raise bad_request("The domain name you provided already exists.")
        hosted = new_id(13).upper()
        record = {"domainName": name, "domainNameStatus": "AVAILABLE", "securityPolicy": "TLS_1_2",
                  "endpointConfiguration": {"types": ["EDGE"]},
                  "domainNameArn": f"arn:aws:apigateway:{context.region}::/domainnames/{name}",
                  "regionalDomainName": f"d-{new_id(10)}.execute-api.{context.region}.amazonaws.com",
                  "regionalHostedZoneId": hosted, "distributionDomainName": f"{new_id(14)}.cloudfront.net",
                  "distributionHostedZoneId": "Z2FDTNDATAQYW2", **pick(params, DOMAIN_FIELDS),
                  "_tags": dict(params.get("tags") or {})}
        self.repo.put(DOMAIN_NAMES, owner, record)
        self.catalog.domains_changed()
        return self.domain_view(record)

    def get_domain_name(self, context: RequestContext, params: Record) -> Record:
        return self.domain_view(self._domain(context, params["domainName"]))

    def get_domain_names(self, context: RequestContext, params: Record) -> Record:
        return self.page(self.repo.items(DOMAIN_NAMES, account_key(context)), params, "domainName", self.domain_view)

    def update_domain_name(self, context: RequestContext, params: Record) -> Record:
        record = self._domain(context, params["domainName"])
        patch.apply(record, params.get("patchOperations"), set(DOMAIN_FIELDS))
        self.repo.put(DOMAIN_NAMES, account_key(context), record)
        return self.domain_view(record)

    def delete_domain_name(self, context: RequestContext, params: Record) -> Record:
        record = self._domain(context, params["domainName"])
        owner = account_key(context)
        with self.platform.store.transaction():
            self.repo.delete_prefix(BASE_PATH_MAPPINGS, f"{owner}:{record['domainName']}/")
            self.repo.delete(DOMAIN_NAMES, owner, record["domainName"])
        self.catalog.domains_changed()
        return {}

    # ------------------------------------------------------------ base path mappings
    def _mappings_owner(self, context: RequestContext, domain_name: str) -> str:
        return f"{account_key(context)}:{self._domain(context, domain_name)['domainName']}"

    def _mapping(self, context: RequestContext, params: Record) -> tuple[str, Record]:
        owner = self._mappings_owner(context, params["domainName"])
        record = self.repo.find(BASE_PATH_MAPPINGS, owner, params["basePath"] or NO_BASE_PATH)
        if record is None:
            raise not_found("Invalid base path mapping identifier specified")
        return owner, record

    def _check_target(self, context: RequestContext, record: Record) -> None:
        api = self.repo.api(context.account_id, context.region, record["restApiId"])
        if record.get("stage") and self.repo.find(STAGES, api["id"], record["stage"]) is None:
            raise bad_request("Invalid stage identifier specified")

    def create_base_path_mapping(self, context: RequestContext, params: Record) -> Record:
        owner = self._mappings_owner(context, params["domainName"])
        base_path = params.get("basePath") or NO_BASE_PATH
        if base_path != NO_BASE_PATH and (base_path.startswith("/") or base_path.endswith("/")):
            raise bad_request("Base path must not start or end with a slash")
        if self.repo.find(BASE_PATH_MAPPINGS, owner, base_path) is not None:
            raise conflict("Base path already exists for this domain name")
        record = {"basePath": base_path, "restApiId": params["restApiId"], **pick(params, ("stage",))}
        self._check_target(context, record)
        self.repo.put(BASE_PATH_MAPPINGS, owner, record)
        self.catalog.domains_changed()
        return dict(record)

    def get_base_path_mapping(self, context: RequestContext, params: Record) -> Record:
        return self._mapping(context, params)[1]

    def get_base_path_mappings(self, context: RequestContext, params: Record) -> Record:
        owner = self._mappings_owner(context, params["domainName"])
        return self.page(self.repo.items(BASE_PATH_MAPPINGS, owner), params, "basePath")

    def update_base_path_mapping(self, context: RequestContext, params: Record) -> Record:
        owner, record = self._mapping(context, params)
        old_path = record["basePath"]
        patch.apply(record, params.get("patchOperations"), {"basePath", "restApiId", "stage"})
        self._check_target(context, record)
        with self.platform.store.transaction():
            self.repo.delete(BASE_PATH_MAPPINGS, owner, old_path)
            self.repo.put(BASE_PATH_MAPPINGS, owner, record)
        self.catalog.domains_changed()
        return record

    def delete_base_path_mapping(self, context: RequestContext, params: Record) -> Record:
        owner, record = self._mapping(context, params)
        self.repo.delete(BASE_PATH_MAPPINGS, owner, record["basePath"])
        self.catalog.domains_changed()
        return {}
