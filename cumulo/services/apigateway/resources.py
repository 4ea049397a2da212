"""Resources and what hangs off them: methods, method responses, integrations and integration
responses. A method lives inside its resource's record (``resourceMethods``), with its integration
(``methodIntegration``, holding ``integrationResponses``) and ``methodResponses``, which is the
shape ``GetResource``/``GetResources`` with ``embed=methods`` return."""

from __future__ import annotations

import copy
import re

from cumulo.services.apigateway import patch
from cumulo.services.apigateway.controlplane import ControlPlane, Record, pick
from cumulo.services.apigateway.repository import AUTHORIZERS, RESOURCES, VALIDATORS, bad_request, conflict, not_found
from cumulo.services.base import RequestContext

PATH_PART = re.compile(r"^(?:[A-Za-z0-9._\-:]+|\{[A-Za-z0-9._\-]+\+?\})$")
HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}
INTEGRATION_TYPES = {"HTTP", "AWS", "MOCK", "HTTP_PROXY", "AWS_PROXY"}
METHOD_FIELDS = ("authorizationType", "authorizerId", "apiKeyRequired", "operationName", "requestParameters",
                 "requestModels", "requestValidatorId", "authorizationScopes")
INTEGRATION_FIELDS = ("type", "uri", "connectionType", "connectionId", "credentials", "requestParameters",
                      "requestTemplates", "passthroughBehavior", "cacheNamespace", "cacheKeyParameters",
                      "contentHandling", "timeoutInMillis", "tlsConfig", "responseTransferMode")
INTEGRATION_RESPONSE_FIELDS = ("selectionPattern", "responseParameters", "responseTemplates", "contentHandling")
METHOD_RESPONSE_FIELDS = ("responseParameters", "responseModels")


def resource_path(parent: Record, path_part: str) -> str:
    return ("" if parent["path"] == "/" else parent["path"]) + "/" + path_part


class ResourceOperations(ControlPlane):
    # ------------------------------------------------------------ resources
    def resource(self, api_id: str, resource_id: str) -> Record:
        record = self.repo.find(RESOURCES, api_id, resource_id)
        if record is None:
            raise not_found("Invalid Resource identifier specified")
        return record

    def resource_view(self, record: Record, embed: bool = True) -> Record:
        view = copy.deepcopy(record)
        methods = view.pop("resourceMethods", None) or {}
        if methods:
            view["resourceMethods"] = methods if embed else {m: {} for m in methods}
        return view

    def _check_path_part(self, api_id: str, parent_id: str, path_part: str, own_id: str | None = None) -> None:
        if not PATH_PART.match(path_part):
            raise bad_request("Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning "
                              "and the end and an optional plus sign before the closing brace.")
        for sibling in self.repo.items(RESOURCES, api_id):
            if sibling.get("parentId") != parent_id or sibling["id"] == own_id:
                continue
            if sibling["pathPart"] == path_part:
                raise conflict(f"Another resource with the same parent already has this name: {path_part}")
            if sibling["pathPart"].startswith("{") and path_part.startswith("{"):
                raise bad_request(f"A sibling ({sibling['id']}) of this resource already has a variable path part "
                                  "-- only one is allowed")

    def add_resource(self, api_id: str, parent: Record, path_part: str) -> Record:
        self._check_path_part(api_id, parent["id"], path_part)
        record = {"id": self.repo.new_item_id(RESOURCES, api_id), "parentId": parent["id"], "pathPart": path_part,
                  "path": resource_path(parent, path_part), "resourceMethods": {}}
        self.repo.put(RESOURCES, api_id, record)
        return record

    def create_resource(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        parent = self.resource(api["id"], params["parentId"])
        return self.resource_view(self.add_resource(api["id"], parent, params["pathPart"]))

    def get_resource(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        return self.resource_view(self.resource(api["id"], params["resourceId"]))

    def get_resources(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        embed = "methods" in (params.get("embed") or [])
        return self.page(self.repo.items(RESOURCES, api["id"]), params, "path",
                         lambda r: self.resource_view(r, embed))

    def update_resource(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        record = self.resource(api["id"], params["resourceId"])
        if record["path"] == "/":
            raise bad_request("The root resource cannot be changed")
        patch.apply(record, params.get("patchOperations"), {"pathPart", "parentId"})
        parent = self.resource(api["id"], record["parentId"])
        self._check_path_part(api["id"], parent["id"], record["pathPart"], record["id"])
        record["path"] = resource_path(parent, record["pathPart"])
        with self.platform.store.transaction():
            self.repo.put(RESOURCES, api["id"], record)
            self._repath(api["id"], record)
        return self.resource_view(record)

    def _repath(self, api_id: str, parent: Record) -> None:
        for child in self.repo.items(RESOURCES, api_id):
            if child.get("parentId") == parent["id"]:
                child["path"] = resource_path(parent, child["pathPart"])
                self.repo.put(RESOURCES, api_id, child)
                self._repath(api_id, child)

    def delete_resource(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        record = self.resource(api["id"], params["resourceId"])
        if record["path"] == "/":
            raise bad_request("Cannot delete root resource")
        everything = self.repo.items(RESOURCES, api["id"])
        doomed = {record["id"]}
        grew = True
        while grew:
            grew = False
            for item in everything:
                if item.get("parentId") in doomed and item["id"] not in doomed:
                    doomed.add(item["id"])
                    grew = True
        with self.platform.store.transaction():
            for item_id in doomed:
                self.repo.delete(RESOURCES, api["id"], item_id)
        return {}

    # ------------------------------------------------------------ methods
    def _method(self, context: RequestContext, params: Record) -> tuple[Record, Record, Record]:
        """(api, resource, method) the request names; NotFound when the method is not there."""
        api = self.api_of(context, params)
        resource = self.resource(api["id"], params["resourceId"])
        method = resource["resourceMethods"].get(params["httpMethod"])
        if method is None:
            raise not_found("Invalid Method identifier specified")
        return api, resource, method

    def _save(self, api: Record, resource: Record) -> None:
        self.repo.put(RESOURCES, api["id"], resource)

    def _check_method(self, api: Record, method: Record) -> None:
        kind = method.get("authorizationType")
        if kind not in ("NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"):
            raise bad_request("Invalid authorization type specified. Valid values are NONE, AWS_IAM, CUSTOM, "
                              "COGNITO_USER_POOLS")
        if kind in ("CUSTOM", "COGNITO_USER_POOLS"):
            if not method.get("authorizerId"):
                raise bad_request("Invalid authorizer ID specified. Setting the authorization type to CUSTOM or "
                                  "COGNITO_USER_POOLS requires a valid authorizer.")
            if self.repo.find(AUTHORIZERS, api["id"], method["authorizerId"]) is None:
                raise bad_request("Invalid authorizer ID specified. Setting the authorization type to CUSTOM or "
                                  "COGNITO_USER_POOLS requires a valid authorizer.")
        validator = method.get("requestValidatorId")
        if validator and self.repo.find(VALIDATORS, api["id"], validator) is None:
            raise bad_request("Invalid Request Validator identifier specified")

    def put_method(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        resource = self.resource(api["id"], params["resourceId"])
        http_method = params["httpMethod"]
        if http_method not in HTTP_METHODS:
            raise bad_request("Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,"
                              "OPTIONS,HEAD,ANY")
        if http_method in resource["resourceMethods"]:
            raise conflict("Method already exists for this resource")
        method: Record = {"httpMethod": http_method, "apiKeyRequired": False}
        method.update(pick(params, METHOD_FIELDS))
        self._check_method(api, method)
        resource["resourceMethods"][http_method] = method
        self._save(api, resource)
        return copy.deepcopy(method)

    def get_method(self, context: RequestContext, params: Record) -> Record:
        return copy.deepcopy(self._method(context, params)[2])

    def update_method(self, context: RequestContext, params: Record) -> Record:
        api, resource, method = self._method(context, params)
        patch.apply(method, params.get("patchOperations"), set(METHOD_FIELDS))
        self._check_method(api, method)
        self._save(api, resource)
        return copy.deepcopy(method)

    def delete_method(self, context: RequestContext, params: Record) -> Record:
        api, resource, _ = self._method(context, params)
        del resource["resourceMethods"][params["httpMethod"]]
        self._save(api, resource)
        return {}

    # ------------------------------------------------------------ method responses
    def _method_response(self, context: RequestContext, params: Record) -> tuple[Record, Record, Record]:
        api, resource, method = self._method(context, params)
        response = (method.get("methodResponses") or {}).get(params["statusCode"])
        if response is None:
            raise not_found("Invalid Response status code specified")
        return api, resource, response

    def put_method_response(self, context: RequestContext, params: Record) -> Record:
        api, resource, method = self._method(context, params)
        response = {"statusCode": params["statusCode"], **pick(params, METHOD_RESPONSE_FIELDS)}
        method.setdefault("methodResponses", {})[params["statusCode"]] = response
        self._save(api, resource)
        return copy.deepcopy(response)

    def get_method_response(self, context: RequestContext, params: Record) -> Record:
        return copy.deepcopy(self._method_response(context, params)[2])

    def update_method_response(self, context: RequestContext, params: Record) -> Record:
        api, resource, response = self._method_response(context, params)
        patch.apply(response, params.get("patchOperations"), set(METHOD_RESPONSE_FIELDS))
        self._save(api, resource)
        return copy.deepcopy(response)

    def delete_method_response(self, context: RequestContext, params: Record) -> Record:
        api, resource, _ = self._method_response(context, params)
        del resource["resourceMethods"][params["httpMethod"]]["methodResponses"][params["statusCode"]]
        self._save(api, resource)
        return {}

    # ------------------------------------------------------------ integrations
    def _integration(self, context: RequestContext, params: Record) -> tuple[Record, Record, Record]:
        api, resource, method = self._method(context, params)
        integration = method.get("methodIntegration")
        if integration is None:
            raise not_found("Invalid Integration identifier specified")
        return api, resource, integration

    @staticmethod
    def _check_integration(integration: Record) -> None:
        kind = integration.get("type")
        if kind not in INTEGRATION_TYPES:
            raise bad_request(f"Invalid integration type specified: {kind}")
        if kind != "MOCK" and not integration.get("httpMethod"):
            raise bad_request("Enumeration value for HttpMethod must be non-empty")
        uri = integration.get("uri") or ""
        if kind in ("HTTP", "HTTP_PROXY") and not re.match(r"^https?://[^/\s]+", uri):
            raise bad_request("Invalid HTTP endpoint specified for URI")
        if kind in ("AWS", "AWS_PROXY") and not re.match(r"^arn:aws[a-zA-Z-]*:apigateway:[a-z0-9-]*:[a-z0-9.-]+:"
                                                         r"(path|action)/.+", uri):
            raise bad_request("Invalid ARN specified in the request")
        if kind == "AWS_PROXY" and ":lambda:path/" not in uri and ":firehose:" not in uri:
            raise bad_request("Integrations of type 'AWS_PROXY' currently only supports Lambda function and "
                              "Firehose stream invocations.")
        timeout = integration.get("timeoutInMillis")
        if timeout is not None and not 50 <= timeout <= 29000:
            raise bad_request("Timeout should be between 50 ms and 29000 ms")

    def put_integration(self, context: RequestContext, params: Record) -> Record:
        api, resource, method = self._method(context, params)
        integration: Record = {"timeoutInMillis": 29000, "cacheNamespace": resource["id"], "cacheKeyParameters": [],
                               "passthroughBehavior": "WHEN_NO_MATCH"}
        integration.update(pick(params, INTEGRATION_FIELDS))
        if params.get("integrationHttpMethod"):
            integration["httpMethod"] = params["integrationHttpMethod"]
        self._check_integration(integration)
        method["methodIntegration"] = integration
        self._save(api, resource)
        return copy.deepcopy(integration)

    def get_integration(self, context: RequestContext, params: Record) -> Record:
        return copy.deepcopy(self._integration(context, params)[2])

    def update_integration(self, context: RequestContext, params: Record) -> Record:
        api, resource, integration = self._integration(context, params)
        patch.apply(integration, params.get("patchOperations"), {*INTEGRATION_FIELDS, "httpMethod"})
        self._check_integration(integration)
        self._save(api, resource)
        return copy.deepcopy(integration)

    def delete_integration(self, context: RequestContext, params: Record) -> Record:
        api, resource, _ = self._integration(context, params)
        del resource["resourceMethods"][params["httpMethod"]]["methodIntegration"]
        self._save(api, resource)
        return {}

    # ------------------------------------------------------------ integration responses
    def _integration_response(self, context: RequestContext, params: Record) -> tuple[Record, Record, Record]:
        api, resource, integration = self._integration(context, params)
        response = (integration.get("integrationResponses") or {}).get(params["statusCode"])
        if response is None:
            raise not_found("Invalid Response status code specified")
        return api, resource, response

    def put_integration_response(self, context: RequestContext, params: Record) -> Record:
        api, resource, integration = self._integration(context, params)
        if params.get("selectionPattern"):
            try:
                re.compile(params["selectionPattern"])
            except re.error:
                raise bad_request(f"Invalid selection pattern specified: {params['selectionPattern']}") from None
        response = {"statusCode": params["statusCode"], **pick(params, INTEGRATION_RESPONSE_FIELDS)}
        integration.setdefault("integrationResponses", {})[params["statusCode"]] = response
        self._save(api, resource)
        return copy.deepcopy(response)

    def get_integration_response(self, context: RequestContext, params: Record) -> Record:
        return copy.deepcopy(self._integration_response(context, params)[2])

    def update_integration_response(self, context: RequestContext, params: Record) -> Record:
        api, resource, response = self._integration_response(context, params)
        patch.apply(response, params.get("patchOperations"), set(INTEGRATION_RESPONSE_FIELDS))
        self._save(api, resource)
        return copy.deepcopy(response)

    def delete_integration_response(self, context: RequestContext, params: Record) -> Record:
        api, resource, _ = self._integration_response(context, params)
        method = resource["resourceMethods"][params["httpMethod"]]
        del method["methodIntegration"]["integrationResponses"][params["statusCode"]]
        self._save(api, resource)
        return {}
