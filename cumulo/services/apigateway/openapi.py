"""REST APIs from OpenAPI 2.0 (Swagger) and 3.0 definitions with API Gateway's
``x-amazon-apigateway-*`` extensions (ImportRestApi, PutRestApi, CloudFormation's ``Body``, SAM),
and back (GetExport).

Read: ``info`` (name, description, version), ``paths`` (a resource per path segment, a method per
operation or ``x-amazon-apigateway-any-method``, with path/query/header parameters as request
parameters, ``security`` as authorizer, API key or IAM, responses as method responses, and the
``x-amazon-apigateway-integration`` with its ``responses`` by selection pattern),
``securityDefinitions``/``components.securitySchemes`` (``x-amazon-apigateway-authorizer``,
``x-amazon-apigateway-authtype``, ``apiKey``), ``definitions``/``components.schemas`` (models),
``x-amazon-apigateway-binary-media-types``, ``-api-key-source``, ``-request-validators`` and
``-request-validator``, ``-gateway-responses``.
"""

from __future__ import annotations

import json
from typing import Any

from cumulo.services.apigateway.repository import bad_request

Record = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
ANY = "x-amazon-apigateway-any-method"
_INTEGRATION_KEYS = {"uri": "uri", "httpMethod": "httpMethod", "requestTemplates": "requestTemplates",
                     "requestParameters": "requestParameters", "passthroughBehavior": "passthroughBehavior",
                     "timeoutInMillis": "timeoutInMillis", "contentHandling": "contentHandling",
                     "credentials": "credentials", "cacheKeyParameters": "cacheKeyParameters",
                     "cacheNamespace": "cacheNamespace", "connectionType": "connectionType",
                     "connectionId": "connectionId", "tlsConfig": "tlsConfig"}


def parse(body: bytes | str) -> Record:
    """The definition as a dict (JSON or YAML); BadRequest when it is neither or not OpenAPI."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        document = json.loads(text)
    except ValueError:
        import yaml  # imported on first use (start-up time)

        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise bad_request(f"Invalid OpenAPI input: {error}") from None
    if not isinstance(document, dict) or not ("swagger" in document or "openapi" in document):
        raise bad_request("Invalid OpenAPI input: neither 'swagger' nor 'openapi' is set")
    return document


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _security_schemes(document: Record) -> Record:
    return document.get("securityDefinitions") or (document.get("components") or {}).get("securitySchemes") or {}


def _schemas(document: Record) -> Record:
    return document.get("definitions") or (document.get("components") or {}).get("schemas") or {}


class Definition:
    """What an OpenAPI document defines, as the records the control plane stores."""

    def __init__(self, document: Record) -> None:
        self.document = document
        info = document.get("info") or {}
        self.settings: Record = {k: info[k] for k in ("description", "version") if info.get(k) is not None}
        if info.get("title"):
            self.settings["name"] = info["title"]
        if document.get("x-amazon-apigateway-binary-media-types") is not None:
            self.settings["binaryMediaTypes"] = list(document["x-amazon-apigateway-binary-media-types"])
        if document.get("x-amazon-apigateway-api-key-source"):
            self.settings["apiKeySource"] = document["x-amazon-apigateway-api-key-source"]
        self.authorizers = self._authorizers()
        self.models = [{"name": name, "contentType": "application/json", "schema": json.dumps(schema)}
                       for name, schema in _schemas(document).items()]
        self.validators = {name: {"name": name, "validateRequestBody": bool(v.get("validateRequestBody")),
                                  "validateRequestParameters": bool(v.get("validateRequestParameters"))}
                           for name, v in (document.get("x-amazon-apigateway-request-validators") or {}).items()}
        self.gateway_responses = [
            {"responseType": kind, **{k: v for k, v in value.items()
                                      if k in ("statusCode", "responseParameters", "responseTemplates")}}
            for kind, value in (document.get("x-amazon-apigateway-gateway-responses") or {}).items()]
        self.methods = self._methods()

    def _authorizers(self) -> dict[str, Record]:
        found = {}
        for name, scheme in _security_schemes(self.document).items():
            extension = scheme.get("x-amazon-apigateway-authorizer")
            if not extension:
                continue
            record: Record = {"name": name, "type": str(extension.get("type", "token")).upper()}
            for key in ("authorizerUri", "authorizerCredentials", "identityValidationExpression", "providerARNs",
                        "authorizerResultTtlInSeconds"):
                if extension.get(key) is not None:
                    record[key] = extension[key]
            source = extension.get("identitySource")
            if source is None and record["type"] == "TOKEN" and scheme.get("name"):
                source = f"method.request.header.{scheme['name']}"
            if source is not None:
                record["identitySource"] = source
            if scheme.get("x-amazon-apigateway-authtype"):
                record["authType"] = scheme["x-amazon-apigateway-authtype"]
            found[name] = record
        return found

    def _methods(self) -> list[tuple[str, str, Record]]:
        """(path, HTTP method, method record with its integration) for every operation."""
        schemes = _security_schemes(self.document)
        default_validator = self.document.get("x-amazon-apigateway-request-validator")
        found = []
        for path, item in (self.document.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            shared = item.get("parameters") or []
            for key, operation in item.items():
                if key != ANY and key not in METHODS:
                    continue
                http_method = "ANY" if key == ANY else key.upper()
                found.append((path, http_method, self._method(http_method, operation or {}, shared, schemes,
                                                              default_validator)))
        return found

    def _method(self, http_method: str, operation: Record, shared: list[Any], schemes: Record,
                default_validator: str | None) -> Record:
        method: Record = {"httpMethod": http_method, "authorizationType": "NONE", "apiKeyRequired": False}
        if operation.get("operationId"):
            method["operationName"] = operation["operationId"]
        parameters: Record = {}
        for parameter in [*shared, *(operation.get("parameters") or [])]:
            place = {"path": "path", "query": "querystring", "header": "header"}.get(parameter.get("in"))
            if place:
                parameters[f"method.request.{place}.{parameter['name']}"] = bool(parameter.get("required"))
            elif parameter.get("in") == "body" and "$ref" in (parameter.get("schema") or {}):
                method["requestModels"] = {"application/json": _ref_name(parameter["schema"]["$ref"])}
        if parameters:
            method["requestParameters"] = parameters
        content = ((operation.get("requestBody") or {}).get("content") or {})
        models = {kind: _ref_name(value["schema"]["$ref"]) for kind, value in content.items()
                  if "$ref" in (value.get("schema") or {})}
        if models:
            method["requestModels"] = models
        validator = operation.get("x-amazon-apigateway-request-validator", default_validator)
        if validator:
            method["_validator"] = validator
        security = operation.get("security")
        if security is None:
            security = self.document.get("security") or []
        for requirement in security:
            for name, scopes in requirement.items():
                scheme = schemes.get(name) or {}
                if name in self.authorizers:
                    method["authorizationType"] = ("COGNITO_USER_POOLS" if self.authorizers[name]["type"]
                                                   == "COGNITO_USER_POOLS" else "CUSTOM")
                    method["_authorizer"] = name
                    if scopes:
                        method["authorizationScopes"] = list(scopes)
                elif scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
                    method["authorizationType"] = "AWS_IAM"
                elif scheme.get("type") == "apiKey":
                    method["apiKeyRequired"] = True
        responses: Record = {}
        for status, response in (operation.get("responses") or {}).items():
            if not str(status).isdigit():
                continue
            record: Record = {"statusCode": str(status)}
            headers = (response or {}).get("headers") or {}
            if headers:
                record["responseParameters"] = {f"method.response.header.{h}": False for h in headers}
            schema = (response or {}).get("schema") or {}
            if "$ref" in schema:
                record["responseModels"] = {"application/json": _ref_name(schema["$ref"])}
            responses[str(status)] = record
        if responses:
            method["methodResponses"] = responses
        integration = operation.get("x-amazon-apigateway-integration")
        if integration:
            method["methodIntegration"] = self._integration(integration)
        return method

    @staticmethod
    def _integration(extension: Record) -> Record:
        record: Record = {"type": str(extension.get("type", "")).upper(), "passthroughBehavior": "WHEN_NO_MATCH",
                          "timeoutInMillis": 29000, "cacheKeyParameters": []}
        for key, member in _INTEGRATION_KEYS.items():
            if extension.get(key) is not None:
                record[member] = extension[key]
        if isinstance(record.get("passthroughBehavior"), str):
            record["passthroughBehavior"] = record["passthroughBehavior"].upper()
        if record["type"] in ("AWS_PROXY", "HTTP_PROXY", "AWS", "HTTP") and "httpMethod" not in record:
            record["httpMethod"] = "POST" if record["type"] == "AWS_PROXY" else "ANY"
        responses: Record = {}
        for pattern, response in (extension.get("responses") or {}).items():
            status = str((response or {}).get("statusCode", "200"))
            item: Record = {"statusCode": status}
            if pattern != "default":
                item["selectionPattern"] = pattern
            for key in ("responseParameters", "responseTemplates", "contentHandling"):
                if (response or {}).get(key) is not None:
                    item[key] = response[key]
            responses[status] = item
        if responses:
            record["integrationResponses"] = responses
        return record


# ------------------------------------------------------------ export
def export(api: Record, stage_name: str, snapshot: Record, version: str, with_integrations: bool,
           host: str) -> Record:
    """An OpenAPI document (``swagger`` 2.0 or ``oas30``) of a deployed stage."""
    paths: Record = {}
    for resource in sorted(snapshot["resources"], key=lambda r: r["path"]):
        operations: Record = {}
        for name, method in resource["resourceMethods"].items():
            operation: Record = {"responses": {code: {"description": f"{code} response"}
                                               for code in (method.get("methodResponses") or {})}}
            parameters = []
            for key, required in (method.get("requestParameters") or {}).items():
                _, _, place, pname = key.split(".", 3)
                where = {"querystring": "query"}.get(place, place)
                parameter: Record = {"name": pname, "in": where, "required": bool(required) or where == "path"}
                parameter.update({"type": "string"} if version == "swagger" else {"schema": {"type": "string"}})
                parameters.append(parameter)
            if parameters:
                operation["parameters"] = parameters
            if method.get("apiKeyRequired"):
                operation["security"] = [{"api_key": []}]
            if with_integrations and method.get("methodIntegration"):
                integration = method["methodIntegration"]
                extension = {k: v for k, v in integration.items() if k in _INTEGRATION_KEYS and v not in (None, [])}
                extension["type"] = integration["type"].lower()
                responses = {}
                for code, response in (integration.get("integrationResponses") or {}).items():
                    pattern = response.get("selectionPattern") or "default"
                    responses[pattern] = {k: v for k, v in response.items() if k != "selectionPattern"}
                    responses[pattern]["statusCode"] = code
                if responses:
                    extension["responses"] = responses
                operation["x-amazon-apigateway-integration"] = extension
            operations[ANY if name == "ANY" else name.lower()] = operation
        paths[resource["path"]] = operations
    info = {"title": api.get("name", ""), "version": api.get("version") or str(api.get("createdDate", ""))}
    if api.get("description"):
        info["description"] = api["description"]
    keyed = any(m.get("apiKeyRequired") for r in snapshot["resources"] for m in r["resourceMethods"].values())
    scheme = {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}}
    if version == "swagger":
        document: Record = {"swagger": "2.0", "info": info, "host": host, "basePath": f"/{stage_name}",
                            "schemes": ["https"], "paths": paths}
        if keyed:
            document["securityDefinitions"] = scheme
    else:
        document = {"openapi": "3.0.1", "info": info,
                    "servers": [{"url": f"https://{host}/{{basePath}}",
                                 "variables": {"basePath": {"default": stage_name}}}], "paths": paths}
        if keyed:
            document["components"] = {"securitySchemes": scheme}
    if snapshot["api"].get("binaryMediaTypes"):
        document["x-amazon-apigateway-binary-media-types"] = snapshot["api"]["binaryMediaTypes"]
    return document
