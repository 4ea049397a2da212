"""The HTTP API data plane: invoke URLs in, integration responses out.

Mounted on the gateway, ``handle`` sees every request first and must pass on (None) everything
that is not for an HTTP API, cheaply: a request is for an API when its path starts with
``/_api/{apiId}`` (path style, works with any client on the main port), its Host is
``{apiId}.execute-api.<anything>`` (host style), or its Host is a custom domain name with API
mappings. Anything else costs two string checks and a dictionary lookup.

Then, as API Gateway does: pick the stage (first path segment naming a stage, else
``$default``), answer CORS preflights, pick the route (most specific match), throttle (429),
authorize (401/403), run the integration, add CORS headers, write the access log.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

from cumulo.httpapi.authorizers import Authorizers, Rejection
from cumulo.httpapi.call import Call
from cumulo.httpapi.integrations import Integrations, json_response
from cumulo.httpapi.views import ApiView, StageView, TokenBucket, compile_api
from cumulo.protocol import cors
from cumulo.protocol.http import HttpRequest, HttpResponse
from cumulo.services.apigatewayv2.addresses import HOST_MARKER, PATH_PREFIX
from cumulo.services.apigatewayv2.catalog import ApiMappingTarget, HttpApiCatalog

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.httpapi")
NOT_FOUND = b'{"message":"Not Found"}'


def not_found() -> HttpResponse:
    return HttpResponse(404, {"content-type": "application/json"}, NOT_FOUND)


class HttpApiDataPlane:
    """Serves HTTP APIs from compiled views of what ``catalog`` holds; as the catalog's listener it
    drops a view when the control plane changes what the view was compiled from."""

    def __init__(self, platform: Platform, catalog: HttpApiCatalog) -> None:
        self.platform = platform
        self.catalog = catalog
        self._views: dict[str, ApiView] = {}
        self._buckets: dict[tuple[str, str, str], tuple[tuple[float, int], TokenBucket]] = {}
        self._domains: dict[str, list[ApiMappingTarget]] | None = None  # host -> its API mappings
        self.authorizers = Authorizers(platform)
        self.integrations = Integrations(platform)
        catalog.subscribe(self)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self._views.clear()

    # ------------------------------------------------------------ cache (the catalog's listener)
    def api_changed(self, api_id: str) -> None:
        self._views.pop(api_id, None)

    def domains_changed(self) -> None:
        self._domains = None

    def authorizer_cache_reset(self, api_id: str, stage_name: str) -> None:
        view = self._views.get(api_id)
        if view is not None and stage_name in view.stages:
            view.stages[stage_name].auth_cache.clear()

    def _view(self, api_id: str) -> ApiView | None:
        view = self._views.get(api_id)
        if view is not None:
            return view
        api = self.catalog.api(api_id)
        if api is None or api.get("ProtocolType") != "HTTP":
            return None
        view = compile_api(api, self.catalog.deployed_stages(api_id), self._buckets)
        self._views[api_id] = view
        return view

    def _domain_table(self) -> dict[str, list[ApiMappingTarget]]:
        if self._domains is None:
            self._domains = self.catalog.domain_mappings()
        return self._domains

    # ------------------------------------------------------------ entry point
    async def handle(self, request: HttpRequest) -> HttpResponse | None:
        path = request.path
        if path.startswith(PATH_PREFIX):
            api_id, _, rest = path[len(PATH_PREFIX):].partition("/")
            host = request.headers.get("host", "")
            return await self._serve(request, api_id, "/" + rest, host, api_id, execute_api=True)
        host = request.headers.get("host", "")
        if HOST_MARKER in host:
            api_id = host.partition(".")[0].lower()
            return await self._serve(request, api_id, path, host, api_id, execute_api=True)
        domains = self._domains if self._domains is not None else self._domain_table()
        if domains:
            mappings = domains.get(host.rpartition(":")[0].lower() if ":" in host else host.lower())
            if mappings is not None:
                return await self._serve_domain(request, host, mappings)
        return None

    async def _serve_domain(self, request: HttpRequest, host: str,
                            mappings: list[ApiMappingTarget]) -> HttpResponse:
        path = request.path
        for key, api_id, stage_name in mappings:
            prefix = "/" + key if key else ""
            if key and not (path == prefix or path.startswith(prefix + "/")):
                continue
            rest = path[len(prefix):] or "/"
            return await self._serve(request, api_id, rest, host, host.partition(".")[0], execute_api=False,
                                     stage_name=stage_name, raw_path=path, base_path=key or "(none)")
        return not_found()

    async def _serve(self, request: HttpRequest, api_id: str, path: str, host: str, prefix: str, *,
                     execute_api: bool, stage_name: str | None = None, raw_path: str | None = None,
                     base_path: str | None = None) -> HttpResponse:
        try:
            view = self._view(api_id)
            if view is None:
                return not_found()
            if stage_name is None:
                first, _, remainder = path[1:].partition("/")
                stage = view.stages.get(first) if first and first != "$default" else None
                if stage is not None:
                    stage_path = "/" + remainder
                else:
                    stage = view.stages.get("$default")
                    stage_path = path
                if stage is None:
                    return not_found()
            else:
                stage = view.stages.get(stage_name)
                if stage is None:
                    return not_found()
                stage_path = path
            if execute_api and stage.disabled_endpoint:
                return json_response(403, "Forbidden")
            call = Call(request=request, stage=stage, raw_path=raw_path if raw_path is not None else path,
                        path=stage_path, domain_name=host, domain_prefix=prefix, base_path_matched=base_path)
        except Exception:
            log.exception("HTTP API %s: internal error", api_id)
            return json_response(500, "Internal Server Error")
        try:
            response = await self._process(call)
        except Exception:
            log.exception("HTTP API %s: internal error in route %s", api_id, call.route_key)
            response = json_response(500, "Internal Server Error")
        return self._finish(call, response)

    async def _process(self, call: Call) -> HttpResponse:
        stage: StageView = call.stage
        request = call.request
        if stage.cors is not None and cors.is_preflight(request):
            call.route_key = "-"
            return HttpResponse(204, cors.preflight_headers(stage.cors, request), b"")
        match = stage.router.match(request.method, call.path)
        if match is None:
            call.error_message = "Not Found"
            call.error_response_type = "ROUTE_NOT_FOUND"
            return not_found()
        route = match.route
        call.route = route
        call.route_key = match.route_key
        call.resource = match.resource
        call.path_parameters = match.path_parameters
        if route.bucket is not None and not route.bucket.take():
            call.error_message = "Too Many Requests"
            call.error_response_type = "THROTTLED"
            return json_response(429, "Too Many Requests")
        if route.authorization_type != "NONE":
            try:
                await self.authorizers.authorize(call, route)
            except Rejection as rejection:
                call.error_message = rejection.message
                call.error_response_type = {401: "UNAUTHORIZED", 403: "ACCESS_DENIED"}.get(
                    rejection.status, "AUTHORIZER_FAILURE")
                return json_response(rejection.status, rejection.message, rejection.headers)
        if route.integration is None:
            call.error_message = "Not Found"
            call.error_response_type = "ROUTE_NOT_FOUND"
            return not_found()
        response = await self.integrations.run(call, route.integration)
        if response.status >= 500 and call.integration_error:
            call.error_message = json.loads(response.body).get("message") if response.body.startswith(b"{\"message\"") \
                else call.integration_error
            call.error_response_type = "INTEGRATION_FAILURE"
        if stage.cors is not None:
            response.headers = {k: v for k, v in response.headers.items() if not k.startswith("access-control-")}
            response.extra_headers = [(k, v) for k, v in response.extra_headers if not k.startswith("access-control-")]
            response.headers.update(cors.response_headers(stage.cors, request))
        return response

    def _finish(self, call: Call, response: HttpResponse) -> HttpResponse:
        headers = response.headers  # (the server adds date)
        headers["apigw-requestid"] = call.request_id
        if call.stage.cors is not None and response.status >= 400 and "access-control-allow-origin" not in headers:
            headers.update(cors.response_headers(call.stage.cors, call.request))
        call.status = response.status
        call.response_length = len(response.body)
        if call.stage.access_log is not None:
            self._access_log(call)
        return response

    def _access_log(self, call: Call) -> None:
        from cumulo.httpapi.accesslog import render
        region, group, fmt = call.stage.access_log  # type: ignore[misc]
        try:
            line = render(fmt, call)
            stream = f"{call.stage.api.api_id}_{call.stage.name}"
            self.platform.logs.append(call.stage.api.account, region, group, stream, [(int(time.time() * 1000), line)])
        except Exception:
            log.exception("HTTP API %s: access log failed", call.stage.api.api_id)
