"""OpenAPI definitions of HTTP APIs: ImportApi/ReimportApi read them, ExportApi writes them.

Read: OpenAPI 3.0 (and Swagger 2.0) in JSON or YAML with API Gateway's extensions —
``x-amazon-apigateway-integration`` (inline or ``$ref`` to
``components.x-amazon-apigateway-integrations``), ``x-amazon-apigateway-any-method``, the
``/$default`` path, ``x-amazon-apigateway-cors``, ``x-amazon-apigateway-authorizer`` in security
schemes (``jwt`` and ``request``), ``x-amazon-apigateway-authtype: awsSigv4``,
``x-amazon-apigateway-endpoint-configuration``, ``x-amazon-apigateway-tag-value`` and
``x-amazon-apigateway-importexport-version``. Anything else API Gateway ignores for HTTP APIs
becomes a warning (an error with FailOnWarnings).

Write: OpenAPI 3.0.1 with the same extensions, from the API's current configuration or from a
stage's deployment.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from cumulo.services.apigatewayv2.repository import bad_request

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
KNOWN_TOP_LEVEL = {"openapi", "swagger", "info", "servers", "paths", "components", "security", "tags",
                   "externalDocs", "basePath", "host", "schemes", "consumes", "produces", "definitions",
                   "securityDefinitions", "parameters", "responses",
                   "x-amazon-apigateway-cors", "x-amazon-apigateway-importexport-version",
                   "x-amazon-apigateway-endpoint-configuration", "x-amazon-apigateway-tag-value",
                   "x-amazon-apigateway-integrations"}
IGNORED_EXTENSIONS = ("x-amazon-apigateway-request-validators", "x-amazon-apigateway-request-validator",
                      "x-amazon-apigateway-gateway-responses", "x-amazon-apigateway-binary-media-types",
                      "x-amazon-apigateway-api-key-source", "x-amazon-apigateway-minimum-compression-size",
                      "x-amazon-apigateway-policy", "x-amazon-apigateway-documentation")


@dataclass
class RoutePlan:
    route_key: str
    integration_key: str | None
    authorizer: str | None = None
    scopes: tuple[str, ...] = ()
    aws_iam: bool = False
    operation_name: str | None = None


@dataclass
class ImportPlan:
    api: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    routes: list[RoutePlan] = field(default_factory=list)
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _load(body: str) -> dict[str, Any]:
    import yaml  # only imports and exports need it; keeping it off the server's start path

    text = body.strip()
    try:
        document = json.loads(text) if text.startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"Unable to parse the API definition: {str(exc).splitlines()[0]}") from None
    if not isinstance(document, dict):
        raise bad_request("Unable to parse the API definition: the definition must be a JSON or YAML object")
    version = str(document.get("openapi") or document.get("swagger") or "")
    if not (version.startswith("3.") or version.startswith("2.")):
        raise bad_request("Invalid OpenAPI definition: the openapi field (3.0.x) or swagger field (2.0) is "
                          "required")
    if not isinstance(document.get("info"), dict) or not document["info"].get("title"):
        raise bad_request("Invalid OpenAPI definition: info.title is required; it becomes the API's name")
    return document


def _base_path(document: dict[str, Any]) -> str:
    if "swagger" in document:
        return str(document.get("basePath") or "").rstrip("/")
    servers = document.get("servers") or []
    if not servers or not isinstance(servers[0], dict):
        return ""
    url = str(servers[0].get("url") or "")
    variables = servers[0].get("variables") or {}
    for name, spec in variables.items():
        if isinstance(spec, dict):
            url = url.replace("{" + name + "}", str(spec.get("default", "")))
    if "://" in url:
        url = "/" + url.split("://", 1)[1].partition("/")[2]
    return "/" + url.strip("/") if url.strip("/") else ""


def _apply_basepath(path: str, base: str, mode: str) -> str:
    if mode == "prepend" and base:
        return base + (path if path != "/" else "")
    if mode == "split" and base:
        rest = "/".join(base.strip("/").split("/")[1:])
        return (f"/{rest}" + (path if path != "/" else "")) if rest else path
    return path


# Integration members copied as they are between the API model and x-amazon-apigateway-integration
# (import and export each add the ones they convert).
INTEGRATION_MEMBERS = (("IntegrationMethod", "httpMethod"), ("IntegrationUri", "uri"),
                       ("ConnectionType", "connectionType"), ("ConnectionId", "connectionId"),
                       ("CredentialsArn", "credentials"), ("Description", "description"),
                       ("RequestParameters", "requestParameters"), ("ResponseParameters", "responseParameters"))


def _integration(spec: Any, where: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise bad_request(f"Invalid x-amazon-apigateway-integration at {where}: expected an object")
    kind = str(spec.get("type", "")).upper()
    record: dict[str, Any] = {"IntegrationType": kind}
    for target, source in (*INTEGRATION_MEMBERS, ("IntegrationSubtype", "integrationSubtype")):
        if spec.get(source) is not None:
            record[target] = spec[source]
    if spec.get("payloadFormatVersion") is not None:
        record["PayloadFormatVersion"] = str(spec["payloadFormatVersion"])
    if spec.get("timeoutInMillis") is not None:
        try:
            record["TimeoutInMillis"] = int(spec["timeoutInMillis"])
        except (TypeError, ValueError):
            raise bad_request(f"Invalid timeoutInMillis at {where}") from None
        if not 50 <= record["TimeoutInMillis"] <= 30000:
            raise bad_request(f"Invalid timeoutInMillis at {where}: must be between 50 and 30000")
    if isinstance(spec.get("tlsConfig"), dict) and spec["tlsConfig"].get("serverNameToVerify"):
        record["TlsConfig"] = {"ServerNameToVerify": spec["tlsConfig"]["serverNameToVerify"]}
    if isinstance(record.get("RequestParameters"), dict):
        record["RequestParameters"] = {str(k): str(v) for k, v in record["RequestParameters"].items()}
    if isinstance(record.get("ResponseParameters"), dict):
        record["ResponseParameters"] = {str(code): {str(k): str(v) for k, v in (params or {}).items()}
                                        for code, params in record["ResponseParameters"].items()}
    return record


def _authorizer(name: str, scheme: dict[str, Any]) -> dict[str, Any] | None:
    spec = scheme.get("x-amazon-apigateway-authorizer")
    if not isinstance(spec, dict):
        return None
    kind = str(spec.get("type", "")).lower()
    sources = spec.get("identitySource")
    if isinstance(sources, str):
        sources = [s.strip() for s in sources.split(",") if s.strip()]
    if kind == "jwt":
        config = spec.get("jwtConfiguration") or {}
        audience = config.get("audience") or []
        if isinstance(audience, str):
            audience = [audience]
        return {"AuthorizerType": "JWT", "Name": name, "IdentitySource": sources or ["$request.header.Authorization"],
                "JwtConfiguration": {"Issuer": config.get("issuer"), "Audience": list(audience)}}
    if kind == "request":
        record: dict[str, Any] = {
            "AuthorizerType": "REQUEST", "Name": name, "IdentitySource": list(sources or []),
            "AuthorizerUri": spec.get("authorizerUri"),
            "AuthorizerPayloadFormatVersion": str(spec.get("authorizerPayloadFormatVersion") or "") or None,
            "AuthorizerResultTtlInSeconds": int(spec.get("authorizerResultTtlInSeconds") or 0),
            "EnableSimpleResponses": bool(spec.get("enableSimpleResponses", False)),
        }
        if spec.get("authorizerCredentials"):
            record["AuthorizerCredentialsArn"] = spec["authorizerCredentials"]
        if spec.get("identityValidationExpression"):
            record["IdentityValidationExpression"] = spec["identityValidationExpression"]
        return {k: v for k, v in record.items() if v is not None}
    raise bad_request(f"Invalid x-amazon-apigateway-authorizer {name}: type must be jwt or request for HTTP APIs")


def _cors(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise bad_request("Invalid x-amazon-apigateway-cors: expected an object")
    mapping = {"allowOrigins": "AllowOrigins", "allowCredentials": "AllowCredentials",
               "exposeHeaders": "ExposeHeaders", "maxAge": "MaxAge", "allowMethods": "AllowMethods",
               "allowHeaders": "AllowHeaders"}
    cors = {target: spec[source] for source, target in mapping.items() if spec.get(source) is not None}
    for name in ("AllowOrigins", "ExposeHeaders", "AllowMethods", "AllowHeaders"):
        if isinstance(cors.get(name), str):
            cors[name] = [cors[name]]
    if "MaxAge" in cors:
        cors["MaxAge"] = int(cors["MaxAge"])
    return cors


def parse_definition(body: str, basepath: str | None, fail_on_warnings: bool | None) -> ImportPlan:
    document = _load(body)
    mode = (basepath or "ignore").lower()
    if mode not in ("ignore", "prepend", "split"):
        raise bad_request(f"Invalid basepath {basepath}: must be ignore, prepend or split")
    plan = ImportPlan()
    info = document["info"]
    plan.api["Name"] = str(info["title"])[:128]
    if info.get("description"):
        plan.api["Description"] = str(info["description"])[:1024]
    if info.get("version") is not None:
        plan.api["Version"] = str(info["version"])[:64]
    if "x-amazon-apigateway-cors" in document:
        plan.api["CorsConfiguration"] = _cors(document["x-amazon-apigateway-cors"])
    endpoint = document.get("x-amazon-apigateway-endpoint-configuration") or {}
    if isinstance(endpoint, dict) and endpoint.get("disableExecuteApiEndpoint") is not None:
        plan.api["DisableExecuteApiEndpoint"] = bool(endpoint["disableExecuteApiEndpoint"])
    for tag in document.get("tags") or []:
        if isinstance(tag, dict) and tag.get("name") and "x-amazon-apigateway-tag-value" in tag:
            plan.tags[str(tag["name"])] = str(tag["x-amazon-apigateway-tag-value"])
    for key in document:
        if key.startswith("x-") and key not in KNOWN_TOP_LEVEL:
            plan.warnings.append(f"Unsupported extension {key} at the top level was ignored")
        elif not key.startswith("x-") and key not in KNOWN_TOP_LEVEL:
            plan.warnings.append(f"Unknown field {key} at the top level was ignored")

    components = document.get("components") or {}
    schemes = dict(components.get("securitySchemes") or document.get("securityDefinitions") or {})
    sigv4 = set()
    for name, scheme in schemes.items():
        if not isinstance(scheme, dict):
            continue
        if str(scheme.get("x-amazon-apigateway-authtype", "")).lower() == "awssigv4":
            sigv4.add(name)
            continue
        authorizer = _authorizer(name, scheme)
        if authorizer is not None:
            plan.authorizers[name] = authorizer
    shared = components.get("x-amazon-apigateway-integrations") or {}
    referenced: dict[str, str] = {}

    def integration_for(spec: Any, where: str) -> str:
        if isinstance(spec, dict) and "$ref" in spec:
            ref = str(spec["$ref"])
            prefix = "#/components/x-amazon-apigateway-integrations/"
            if not ref.startswith(prefix) or ref[len(prefix):] not in shared:
                raise bad_request(f"Unable to resolve the integration reference {ref} at {where}")
            name = ref[len(prefix):]
            if name not in referenced:
                referenced[name] = f"ref:{name}"
                plan.integrations[referenced[name]] = _integration(shared[name], ref)
            return referenced[name]
        key = f"inline:{where}"
        plan.integrations[key] = _integration(spec, where)
        return key

    top_security = document.get("security")
    base = _base_path(document)
    seen: set[str] = set()
    for raw_path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        operations: list[tuple[str, dict[str, Any]]] = []
        for key, operation in item.items():
            if key.lower() in HTTP_METHODS and isinstance(operation, dict):
                operations.append((key.upper(), operation))
            elif key == "x-amazon-apigateway-any-method" and isinstance(operation, dict):
                operations.append(("ANY", operation))
            elif key.startswith("x-amazon-apigateway"):
                plan.warnings.append(f"Unsupported extension {key} on path {raw_path} was ignored")
        for method, operation in operations:
            if raw_path == "/$default":
                route_key = "$default"
            else:
                route_key = f"{method} {_apply_basepath(str(raw_path), base, mode)}"
            if route_key in seen:
                raise bad_request(f"Duplicate route {route_key} in the API definition")
            seen.add(route_key)
            where = f"{method} {raw_path}"
            integration = operation.get("x-amazon-apigateway-integration")
            integration_key = integration_for(integration, where) if integration is not None else None
            if integration is None:
                plan.warnings.append(f"Route {route_key} has no x-amazon-apigateway-integration; it was imported "
                                     "without a target")
            for key in operation:
                if key.startswith("x-amazon-apigateway") and key != "x-amazon-apigateway-integration":
                    plan.warnings.append(f"Unsupported extension {key} on {where} was ignored")
            route = RoutePlan(route_key, integration_key, operation_name=operation.get("operationId"))
            security = operation.get("security", top_security)
            for requirement in security or []:
                if not isinstance(requirement, dict) or not requirement:
                    continue
                name, scopes = next(iter(requirement.items()))
                if name in sigv4:
                    route.aws_iam = True
                elif name in plan.authorizers:
                    route.authorizer = name
                    route.scopes = tuple(scopes or ())
                else:
                    raise bad_request(f"Route {route_key} references security scheme {name}, which is not "
                                      "defined with x-amazon-apigateway-authorizer")
                break
            plan.routes.append(route)
    if fail_on_warnings and plan.warnings:
        raise bad_request("Warnings found during import:\n\t" + "\n\t".join(plan.warnings))
    return plan


# ---------------------------------------------------------------- export
def _integration_spec(integration: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if integration.get("PayloadFormatVersion"):
        spec["payloadFormatVersion"] = integration["PayloadFormatVersion"]
    if integration.get("IntegrationSubtype"):
        spec["integrationSubtype"] = integration["IntegrationSubtype"]
    spec["type"] = integration["IntegrationType"].lower()
    for source, target in (*INTEGRATION_MEMBERS, ("TimeoutInMillis", "timeoutInMillis")):
        if integration.get(source) is not None:
            spec[target] = integration[source]
    if integration.get("TlsConfig"):
        spec["tlsConfig"] = {"serverNameToVerify": integration["TlsConfig"].get("ServerNameToVerify")}
    return spec


def _scheme(authorizer: dict[str, Any]) -> dict[str, Any]:
    if authorizer["AuthorizerType"] == "JWT":
        config = authorizer.get("JwtConfiguration") or {}
        return {"type": "oauth2", "flows": {},
                "x-amazon-apigateway-authorizer": {
                    "identitySource": ",".join(authorizer.get("IdentitySource") or []),
                    "jwtConfiguration": {"audience": config.get("Audience") or [], "issuer": config.get("Issuer")},
                    "type": "jwt"}}
    spec: dict[str, Any] = {"identitySource": ",".join(authorizer.get("IdentitySource") or []),
                            "authorizerUri": authorizer.get("AuthorizerUri"),
                            "authorizerPayloadFormatVersion": authorizer.get("AuthorizerPayloadFormatVersion"),
                            "authorizerResultTtlInSeconds": authorizer.get("AuthorizerResultTtlInSeconds", 0),
                            "type": "request",
                            "enableSimpleResponses": bool(authorizer.get("EnableSimpleResponses"))}
    if authorizer.get("AuthorizerCredentialsArn"):
        spec["authorizerCredentials"] = authorizer["AuthorizerCredentialsArn"]
    first = (authorizer.get("IdentitySource") or ["$request.header.Authorization"])[0]
    location = "query" if first.startswith("$request.querystring.") else "header"
    return {"type": "apiKey", "name": first.rsplit(".", 1)[-1], "in": location,
            "x-amazon-apigateway-authorizer": spec}


def export_definition(api: dict[str, Any], routes: list[dict[str, Any]], integrations: list[dict[str, Any]],
                      authorizers: list[dict[str, Any]], *, region: str, stage_name: str | None,
                      include_extensions: bool, endpoint: str) -> dict[str, Any]:
    created = dt.datetime.fromtimestamp(api.get("CreatedDate") or 0, dt.UTC)
    info: dict[str, Any] = {"title": api["Name"],
                            "version": api.get("Version") or created.strftime("%Y-%m-%d %H:%M:%SUTC")}
    if api.get("Description"):
        info["description"] = api["Description"]
    base = stage_name if stage_name and stage_name != "$default" else ""
    document: dict[str, Any] = {
        "openapi": "3.0.1", "info": info,
        "servers": [{"url": endpoint + "/{basePath}", "variables": {"basePath": {"default": base}}}],
        "paths": {},
    }
    by_integration = {i["IntegrationId"]: i for i in integrations}
    by_authorizer = {a["AuthorizerId"]: a for a in authorizers}
    schemes: dict[str, Any] = {}
    for route in sorted(routes, key=lambda r: r["RouteKey"]):
        key = route["RouteKey"]
        if key == "$default":
            path, method = "/$default", "x-amazon-apigateway-any-method"
        else:
            verb, _, path = key.partition(" ")
            method = "x-amazon-apigateway-any-method" if verb == "ANY" else verb.lower()
        operation: dict[str, Any] = {"responses": {"default": {"description": f"Default response for {key}"}}}
        if route.get("OperationName"):
            operation["operationId"] = route["OperationName"]
        parameters = [{"name": segment[1:-1].rstrip("+"), "in": "path", "required": True,
                       "schema": {"type": "string"}}
                      for segment in path.split("/") if segment.startswith("{") and segment.endswith("}")]
        if parameters:
            operation["parameters"] = parameters
        authorizer = by_authorizer.get(route.get("AuthorizerId") or "")
        if authorizer is not None:
            operation["security"] = [{authorizer["Name"]: list(route.get("AuthorizationScopes") or [])}]
            schemes[authorizer["Name"]] = _scheme(authorizer)
        elif route.get("AuthorizationType") == "AWS_IAM":
            operation["security"] = [{"sigv4": []}]
            schemes["sigv4"] = {"type": "apiKey", "name": "Authorization", "in": "header",
                                "x-amazon-apigateway-authtype": "awsSigv4"}
        target = (route.get("Target") or "").partition("/")[2]
        if include_extensions and target in by_integration:
            operation["x-amazon-apigateway-integration"] = _integration_spec(by_integration[target])
        document["paths"].setdefault(path, {})[method] = operation
    if schemes:
        if not include_extensions:
            schemes = {name: {k: v for k, v in scheme.items() if not k.startswith("x-")}
                       for name, scheme in schemes.items()}
        document["components"] = {"securitySchemes": schemes}
    if include_extensions:
        cors = api.get("CorsConfiguration")
        if cors:
            mapping = {"AllowOrigins": "allowOrigins", "AllowCredentials": "allowCredentials",
                       "ExposeHeaders": "exposeHeaders", "MaxAge": "maxAge", "AllowMethods": "allowMethods",
                       "AllowHeaders": "allowHeaders"}
            document["x-amazon-apigateway-cors"] = {mapping[k]: v for k, v in cors.items() if k in mapping}
        if api.get("DisableExecuteApiEndpoint"):
            document["x-amazon-apigateway-endpoint-configuration"] = {"disableExecuteApiEndpoint": True}
        tags = api.get("Tags") or {}
        if tags:
            document["tags"] = [{"name": k, "x-amazon-apigateway-tag-value": v} for k, v in sorted(tags.items())]
        document["x-amazon-apigateway-importexport-version"] = "1.0"
    return document


def render(document: dict[str, Any], output_type: str) -> bytes:
    if output_type == "YAML":
        import yaml

        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()
    return json.dumps(document, indent=2).encode()


def model_template(schema: str) -> str:
    """A mapping template skeleton for a model's JSON schema (as GetModelTemplate returns)."""
    try:
        document = json.loads(schema)
    except ValueError:
        document = {}
    properties = document.get("properties") if isinstance(document, dict) else None
    lines = ["#set($inputRoot = $input.path('$'))", "{"]
    names = list((properties or {}).keys())
    for index, name in enumerate(names):
        comma = "," if index < len(names) - 1 else ""
        lines.append(f'  "{name}" : "$inputRoot.{name}"{comma}')
    lines.append("}")
    return "\n".join(lines)
