"""API Gateway (REST APIs) as Cumulo serves it: the control plane provider with the REST API data
plane mounted on the gateway, and ``TestInvokeMethod``, which runs a request through the data plane
against the API's current (undeployed) configuration, as the console's Test button does (without
the authorizer and the API key check, as there)."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cumulo.protocol.http import HttpRequest
from cumulo.restapi.call import RestCall
from cumulo.restapi.dataplane import RestApiDataPlane
from cumulo.restapi.views import compile_stage
from cumulo.services.apigateway.provider import ApiGatewayProvider
from cumulo.services.apigateway.repository import not_found
from cumulo.services.base import RequestContext

if TYPE_CHECKING:
    from cumulo.platform import Platform


class ApiGatewayService(ApiGatewayProvider):
    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.dataplane = RestApiDataPlane(platform, self.catalog)
        self.http_route = self.dataplane.handle

    async def test_invoke_method(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        resource = self.resource(api["id"], params["resourceId"])
        if params["httpMethod"] not in resource["resourceMethods"]:
            raise not_found("Invalid Method identifier specified")
        snapshot = self.snapshot(api)
        stage = {"stageName": "test-invoke-stage", "variables": params.get("stageVariables") or {}}
        view = compile_stage(api, stage, {"_snapshot": copy.deepcopy(snapshot)})
        target = urlsplit(params.get("pathWithQueryString") or resource["path"])
        headers = {k.lower(): v for k, v in (params.get("headers") or {}).items()}
        for name, values in (params.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = values[-1]
        headers.setdefault("host", f"{api['id']}.execute-api.{context.region}.amazonaws.com")
        request = HttpRequest(method=params["httpMethod"], path=target.path or "/", query_string=target.query,
                              headers=headers, body=(params.get("body") or "").encode())
        call = RestCall(request=request, stage=view, path=target.path or "/", domain_name=headers["host"],
                        test_invoke=True)
        started = time.perf_counter()
        response = await self.dataplane.serve(call)
        latency = int((time.perf_counter() - started) * 1000)
        multi: dict[str, list[str]] = {}
        for name, value in [*response.headers.items(), *response.extra_headers]:
            multi.setdefault(name, []).append(value)
        return {"status": response.status, "body": response.body.decode("utf-8", "replace"),
                "headers": {k: v[-1] for k, v in multi.items()}, "multiValueHeaders": multi,
                "log": f"Execution log for request {call.request_id}\n{time.strftime('%a %b %d %H:%M:%S UTC %Y')} : "
                       f"Method completed with status: {response.status}\n", "latency": latency}
