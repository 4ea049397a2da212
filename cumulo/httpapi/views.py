"""Compiled, in-memory views of deployed HTTP APIs: what the data plane reads on each request.

An ``ApiView`` is built from the store the first time a request names the API and kept until the
control plane changes something the view depends on (``HttpApiDataPlane.invalidate``). Each
stage's view combines the stage's own settings (variables, throttling, access logs: live) with
the configuration its deployment snapshotted (routes, integrations, authorizers, CORS).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from cumulo.httpapi.router import Router
from cumulo.services.apigatewayv2.catalog import DeployedStage

# Account-level defaults API Gateway applies when a stage sets no throttling.
ACCOUNT_RATE_LIMIT = 10000.0
ACCOUNT_BURST_LIMIT = 5000


class TokenBucket:
    """Rate (tokens per second) and burst (bucket size): the throttling model API Gateway documents."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        if self.rate > 0:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class RouteView:
    route_id: str
    route_key: str
    integration: dict[str, Any] | None
    authorization_type: str
    authorizer: dict[str, Any] | None
    scopes: tuple[str, ...]
    bucket: TokenBucket | None = None


@dataclass
class StageView:
    api: ApiView
    name: str
    deployment_id: str
    router: Router
    variables: dict[str, str]
    cors: dict[str, Any] | None
    access_log: tuple[str, str, str] | None  # (region, group, format)
    disabled_endpoint: bool
    routes: list[RouteView]
    # authorizer results: (authorizer id, identity values) -> (expires at, result)
    auth_cache: dict[tuple[Any, ...], tuple[float, Any]] = field(default_factory=dict)


@dataclass
class ApiView:
    api_id: str
    account: str
    region: str
    protocol: str
    stages: dict[str, StageView] = field(default_factory=dict)


_LOG_GROUP = re.compile(r"^arn:aws[a-zA-Z-]*:logs:([a-z0-9-]+):\d{12}:log-group:([^:]+)(:\*)?$")


def _limits(settings: dict[str, Any] | None) -> tuple[float, int] | None:
    if not settings:
        return None
    rate = settings.get("ThrottlingRateLimit")
    burst = settings.get("ThrottlingBurstLimit")
    if rate is None and burst is None:
        return None
    rate = ACCOUNT_RATE_LIMIT if rate is None else float(rate)
    burst = ACCOUNT_BURST_LIMIT if burst is None else int(burst)
    if math.isinf(rate):
        return None
    return rate, burst


def compile_api(api: dict[str, Any], stages: list[DeployedStage],
                buckets: dict[tuple[str, str, str], tuple[tuple[float, int], TokenBucket]]) -> ApiView:
    """An API's view from its record and its stages with their deployments' snapshots.

    ``buckets`` keeps throttling state across recompilations while the limits stay the same.
    """
    view = ApiView(api["ApiId"], api["_account"], api["_region"], api["ProtocolType"])
    for stage, deployment in stages:
        if deployment is None:
            continue
        snapshot = deployment.get("_snapshot") or {}
        integrations = {i["IntegrationId"]: i for i in snapshot.get("integrations", [])}
        authorizers = {a["AuthorizerId"]: a for a in snapshot.get("authorizers", [])}
        routes: list[RouteView] = []
        default_limits = _limits(stage.get("DefaultRouteSettings"))
        for route in snapshot.get("routes", []):
            target = (route.get("Target") or "").partition("/")[2]
            route_view = RouteView(
                route_id=route["RouteId"], route_key=route["RouteKey"], integration=integrations.get(target),
                authorization_type=route.get("AuthorizationType") or "NONE",
                authorizer=authorizers.get(route.get("AuthorizerId") or ""),
                scopes=tuple(route.get("AuthorizationScopes") or ()))
            limits = _limits((stage.get("RouteSettings") or {}).get(route["RouteKey"])) or default_limits
            if limits is not None:
                key = (view.api_id, stage["StageName"], route["RouteKey"])
                kept = buckets.get(key)
                if kept is None or kept[0] != limits:
                    kept = (limits, TokenBucket(*limits))
                    buckets[key] = kept
                route_view.bucket = kept[1]
            routes.append(route_view)
        access = stage.get("AccessLogSettings") or {}
        access_log = None
        found = _LOG_GROUP.match(access.get("DestinationArn") or "")
        if found and access.get("Format"):
            access_log = (found.group(1), found.group(2), access["Format"])
        api_settings = snapshot.get("api") or {}
        view.stages[stage["StageName"]] = StageView(
            api=view, name=stage["StageName"], deployment_id=deployment["DeploymentId"],
            router=Router([(r.route_key, r) for r in routes]), variables=dict(stage.get("StageVariables") or {}),
            cors=api_settings.get("CorsConfiguration") or None, access_log=access_log,
            disabled_endpoint=bool(api_settings.get("DisableExecuteApiEndpoint")), routes=routes)
    return view
