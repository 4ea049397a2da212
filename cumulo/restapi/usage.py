"""API keys and usage plans on the data plane: a method with ``apiKeyRequired`` needs an enabled
key (from ``x-api-key``, or the authorizer's ``usageIdentifierKey`` when the API's key source is
AUTHORIZER) that a usage plan holds for the API's stage, else 403 ``Forbidden``; the plan's
throttle (a token bucket per key) and quota (counted per period in the store, committed before the
request goes on) answer 429 ``Too Many Requests`` and ``Limit Exceeded``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cumulo.restapi.authorizers import Rejection
from cumulo.restapi.call import RestCall
from cumulo.services.apigateway.apikeys import quota_period
from cumulo.services.apigateway.catalog import RestApiCatalog


@dataclass
class TokenBucket:
    rate: float
    burst: int
    tokens: float = 0.0
    updated: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = float(max(self.burst, 1))
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(float(max(self.burst, 1)), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class UsagePlans:
    def __init__(self, catalog: RestApiCatalog) -> None:
        self.catalog = catalog
        self._keys: dict[str, dict[str, dict[str, Any]]] | None = None  # account:region -> value -> key
        self._plans: dict[str, list[tuple[dict[str, Any], list[str]]]] = {}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def changed(self) -> None:
        self._keys = None
        self._plans.clear()

    def _lookup(self, account: str, region: str) -> tuple[dict[str, dict[str, Any]], list]:
        scope = f"{account}:{region}"
        if self._keys is None:
            self._keys = {}
        if scope not in self._keys:
            self._keys[scope] = {k["value"]: k for k in self.catalog.api_keys(account, region)}
            self._plans[scope] = self.catalog.usage_plans(account, region)
        return self._keys[scope], self._plans[scope]

    def check(self, call: RestCall) -> None:
        stage = call.stage
        value = call.usage_key if stage.settings.get("apiKeySource") == "AUTHORIZER" else call.header("x-api-key")
        forbidden = Rejection(403, "Forbidden", "INVALID_API_KEY")
        if not value:
            raise forbidden
        keys, plans = self._lookup(stage.account, stage.region)
        key = keys.get(value)
        if key is None or not key.get("enabled"):
            raise forbidden
        plan = next((p for p, key_ids in plans if key["id"] in key_ids and any(
            s.get("apiId") == stage.api_id and s.get("stage") == stage.name for s in p.get("apiStages") or [])), None)
        if plan is None:
            raise forbidden
        call.api_key_id = key["id"]
        throttle = plan.get("throttle") or {}
        if throttle.get("rateLimit") is not None or throttle.get("burstLimit") is not None:
            bucket_key = (plan["id"], key["id"])
            bucket = self._buckets.get(bucket_key)
            rate, burst = float(throttle.get("rateLimit") or 0), int(throttle.get("burstLimit") or 0)
            if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
                bucket = self._buckets[bucket_key] = TokenBucket(rate, burst)
            if not bucket.take():
                raise Rejection(429, "Too Many Requests", "THROTTLED")
        quota = plan.get("quota")
        if quota and quota.get("limit") is not None:
            period = quota_period(quota)
            used = self.catalog.used(plan["id"], key["id"], period)
            if used >= int(quota["limit"]):
                raise Rejection(429, "Limit Exceeded", "QUOTA_EXCEEDED")
            self.catalog.count_use(plan["id"], key["id"], period, used + 1)
