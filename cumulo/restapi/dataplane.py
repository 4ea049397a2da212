"""The REST API data plane: invoke URLs in, responses out.

Mounted on the gateway ahead of the HTTP API data plane, ``handle`` answers a request whose path
starts with ``/_api/{restApiId}/{stage}`` (path style) or whose Host is
``{restApiId}.execute-api.<anything>`` (host style) when the id is a REST API's, and passes on
(None) everything else, so the two API kinds share both URL forms (an id belongs to one kind).

Then, as API Gateway does: the stage, the resource and method (403 ``Missing Authentication
Token`` when none), the authorizer, the API key and usage plan, request validation, the
integration, and gateway responses for every error the gateway itself answers.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from cumulo.protocol.http import HttpRequest, HttpResponse
from cumulo.restapi import vtl
from cumulo.restapi.authorizers import Authorizers, Rejection
from cumulo.restapi.call import RestCall
from cumulo.restapi.cognito import CognitoAuthorizers
from cumulo.restapi.integrations import IntegrationFailure, Integrations, Reply
from cumulo.restapi.usage import TokenBucket, UsagePlans
from cumulo.restapi.validation import validate
from cumulo.restapi.views import StageView, compile_stage
from cumulo.services.apigateway.catalog import Mapping, RestApiCatalog
from cumulo.services.apigateway.domains import NO_BASE_PATH

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.restapi")
PATH_PREFIX = "/_api/"
HOST_MARKER = ".execute-api."
MAX_PAYLOAD = 10 * 1024 * 1024  # REST APIs take request payloads up to 10 MB
# x-amzn-ErrorType of the gateway's own answers, by gateway response type
ERROR_TYPES = {"MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
               "UNAUTHORIZED": "UnauthorizedException", "ACCESS_DENIED": "AccessDeniedException",
               "INVALID_API_KEY": "ForbiddenException", "INVALID_SIGNATURE": "InvalidSignatureException",
               "THROTTLED": "TooManyRequestsException", "QUOTA_EXCEEDED": "LimitExceededException",
               "BAD_REQUEST_BODY": "BadRequestException", "BAD_REQUEST_PARAMETERS": "BadRequestException",
               "UNSUPPORTED_MEDIA_TYPE": "UnsupportedMediaTypeException",
               "REQUEST_TOO_LARGE": "RequestTooLargeException",
               "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
               "AUTHORIZER_FAILURE": "AuthorizerFailureException"}
_DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'


class RestApiDataPlane:
    def __init__(self, platform: Platform, catalog: RestApiCatalog) -> None:
        self.platform = platform
        self.catalog = catalog
        self._apis: dict[str, dict[str, StageView] | None] = {}  # None: not a REST API
        self._domains: dict[str, list[Mapping]] | None = None  # custom domain name -> its mappings
        self.authorizers = Authorizers(platform)
        self.cognito = CognitoAuthorizers(platform.settings.cognito_issuer)
        self.integrations = Integrations(platform)
        self.usage = UsagePlans(catalog)
        catalog.subscribe(self)

    # ------------------------------------------------------------ the catalog's listener
    def api_changed(self, api_id: str) -> None:
        self._apis.pop(api_id, None)

    def keys_changed(self) -> None:
        self.usage.changed()

    def domains_changed(self) -> None:
        self._domains = None

    def authorizer_cache_flushed(self, api_id: str, stage_name: str) -> None:
        stages = self._apis.get(api_id)
        if stages and stage_name in stages:
            stages[stage_name].auth_cache.clear()

    def _stages(self, api_id: str) -> dict[str, StageView] | None:
        if api_id in self._apis:
            return self._apis[api_id]
        api = self.catalog.api(api_id)
        stages = None
        if api is not None:
            stages = {s.stage["stageName"]: compile_stage(api, s.stage, s.deployment)
                      for s in self.catalog.deployed_stages(api_id) if s.deployment is not None}
        if len(self._apis) > 1000:
            self._apis.clear()
        self._apis[api_id] = stages
        return stages

    # ------------------------------------------------------------ entry point
    async def handle(self, request: HttpRequest) -> HttpResponse | None:
        path = request.path
        host = request.headers.get("host", "")
        if path.startswith(PATH_PREFIX):
            api_id, _, rest = path[len(PATH_PREFIX):].partition("/")
            rest = "/" + rest
        elif HOST_MARKER in host:
            api_id, rest = host.partition(".")[0].lower(), path
        else:
            if self._domains is None:
                self._domains = self.catalog.domain_mappings()
            mappings = self._domains.get(host.rpartition(":")[0].lower() if ":" in host else host.lower()) \
                if self._domains else None
            return None if mappings is None else await self._serve_domain(request, host, mappings)
        stages = self._stages(api_id)
        if stages is None:
            return None
        return await self._serve(request, stages, rest, host, None)

    async def _serve_domain(self, request: HttpRequest, host: str, mappings: list[Mapping]) -> HttpResponse:
        path = request.path
        for mapping in mappings:
            prefix = "" if mapping.base_path == NO_BASE_PATH else "/" + mapping.base_path
            if prefix and not (path == prefix or path.startswith(prefix + "/")):
                continue
            stages = self._stages(mapping.api_id) or {}
            return await self._serve(request, stages, path[len(prefix):] or "/", host, mapping.stage)
        return _plain(403, "Forbidden", "ForbiddenException")

    async def _serve(self, request: HttpRequest, stages: dict[str, StageView], rest: str, host: str,
                     stage_name: str | None) -> HttpResponse:
        if stage_name is None:
            stage_name, _, within = rest[1:].partition("/")
        else:
            within = rest[1:]
        stage = stages.get(stage_name)
        if stage is None:
            return _plain(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        if stage.settings.get("disableExecuteApiEndpoint") and (request.path.startswith(PATH_PREFIX)
                                                                 or HOST_MARKER in host):
            return _plain(403, "Forbidden", "ForbiddenException")
        call = RestCall(request=request, stage=stage, path="/" + within, domain_name=host.rpartition(":")[0] or host)
        return await self.serve(call)

    async def serve(self, call: RestCall) -> HttpResponse:
        try:
            reply = await self._process(call)
            response = HttpResponse(reply.status, reply.headers, reply.body, reply.extra_headers)
        except Rejection as rejection:
            response = self._gateway_response(call, rejection.status, rejection.message, rejection.response_type)
        except IntegrationFailure as error:
            log.warning("REST API %s %s %s: %s", call.stage.api_id, call.http_method, call.path, error)
            response = self._gateway_response(call, error.status, error.message, error.response_type)
        except Exception:
            log.exception("REST API %s: internal error", call.stage.api_id)
            response = self._gateway_response(call, 500, "Internal server error", "DEFAULT_5XX")
        response.headers["x-amzn-requestid"] = call.request_id
        response.headers["x-amz-apigw-id"] = call.extended_request_id
        call.status = response.status
        call.response_length = len(response.body)
        if call.stage.access_log is not None:
            self._access_log(call)
        return response

    async def _process(self, call: RestCall) -> Reply:
        stage = call.stage
        if len(call.request.body) > MAX_PAYLOAD:
            raise Rejection(413, "Request Too Long", "REQUEST_TOO_LARGE")
        match = stage.match(call.http_method, call.path)
        if match is None:
            raise Rejection(403, "Missing Authentication Token", "MISSING_AUTHENTICATION_TOKEN")
        call.resource, call.method, call.path_parameters = match.resource, match.method, match.path_parameters
        method = match.method
        self._throttle(call)
        kind = method.get("authorizationType") or "NONE"
        if kind == "AWS_IAM" and not call.test_invoke:
            self.authorizers.iam(call)
        elif kind in ("CUSTOM", "COGNITO_USER_POOLS") and not call.test_invoke:
            authorizer = stage.authorizers.get(method.get("authorizerId") or "")
            if authorizer is None:
                raise Rejection(500, "Internal server error", "AUTHORIZER_CONFIGURATION_ERROR")
            if authorizer.get("type") == "COGNITO_USER_POOLS":
                await self.cognito.authorize(call, authorizer, method.get("authorizationScopes") or [])
            else:
                await self.authorizers.authorize(call, authorizer)
        if method.get("apiKeyRequired") and not call.test_invoke:
            self.usage.check(call)
        validator = stage.validators.get(method.get("requestValidatorId") or "")
        if validator is not None:
            problem = validate(call, method, validator, stage.models)
            if problem is not None:
                raise Rejection(400, problem[1], problem[0])
        integration = method.get("methodIntegration")
        if integration is None:
            raise Rejection(500, "Internal server error", "API_CONFIGURATION_ERROR")
        return await self.integrations.run(call, integration)

    def _throttle(self, call: RestCall) -> None:
        """Stage method settings' throttling (``*/*`` or the method's own), a token bucket each."""
        settings = call.stage.method_settings
        key = f"{call.resource_path.lstrip('/')}/{call.http_method}"
        chosen = settings.get(key) or settings.get("*/*")
        if not chosen or chosen.get("throttlingRateLimit") is None:
            return
        bucket = call.stage.buckets.get(key)
        if bucket is None:
            bucket = call.stage.buckets[key] = TokenBucket(float(chosen["throttlingRateLimit"]),
                                                     int(chosen.get("throttlingBurstLimit") or 0))
        if not bucket.take():
            raise Rejection(429, "Too Many Requests", "THROTTLED")

    # ------------------------------------------------------------ gateway responses
    def _gateway_response(self, call: RestCall, status: int, message: str, response_type: str) -> HttpResponse:
        call.error_message = message
        call.error_type = response_type
        family = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        custom = call.stage.gateway_responses.get(response_type) or call.stage.gateway_responses.get(family) or {}
        status = int(custom.get("statusCode") or status)
        error_type = ERROR_TYPES.get(response_type) or (
            "InternalServerErrorException" if status >= 500 else "BadRequestException")
        headers = {"content-type": "application/json", "x-amzn-errortype": error_type}
        for target, source in (custom.get("responseParameters") or {}).items():
            if target.startswith("gatewayresponse.header.") and source.startswith("'"):
                headers[target[len("gatewayresponse.header."):].lower()] = source.strip("'")
        template = (custom.get("responseTemplates") or {}).get("application/json", _DEFAULT_TEMPLATE)
        try:
            body = vtl.render(template, "", call.params(), call.template_context(), call.stage.variables).encode()
        except vtl.TemplateError:
            body = json.dumps({"message": message}).encode()
        return HttpResponse(status, headers, body)

    def _access_log(self, call: RestCall) -> None:
        log_settings: dict[str, Any] = call.stage.access_log or {}
        try:
            fmt = log_settings["format"]
            line = vtl.render(fmt, "", call.params(), call.template_context(), call.stage.variables)
            group = log_settings["destinationArn"].split(":log-group:", 1)[-1].removesuffix(":*")
            stream = f"{call.stage.api_id}_{call.stage.name}"
            self.platform.logs.append(call.stage.account, call.stage.region, group, stream,
                                      [(int(time.time() * 1000), line)])
        except Exception:
            log.exception("REST API %s: access log failed", call.stage.api_id)


def _plain(status: int, message: str, error_type: str) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json", "x-amzn-errortype": error_type},
                        json.dumps({"message": message}).encode())
