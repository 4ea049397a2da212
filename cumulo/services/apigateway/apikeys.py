"""API keys, usage plans and usage plan keys (account-wide, not per API). The data plane reads
them through the catalog to answer API-key-required methods (403) and apply a plan's throttle and
quota (429); ``GetUsage`` reports the quota counts it keeps."""

from __future__ import annotations

import secrets
import string
import time

from cumulo.services.apigateway import patch
from cumulo.services.apigateway.controlplane import ControlPlane, Record, account_key, pick
from cumulo.services.apigateway.repository import (
    API_KEYS,
    STAGES,
    USAGE_PLAN_KEYS,
    USAGE_PLANS,
    bad_request,
    conflict,
    not_found,
    now,
    public,
)
from cumulo.services.base import RequestContext

_KEY_ALPHABET = string.ascii_letters + string.digits
PERIODS = ("DAY", "WEEK", "MONTH")


def quota_period(quota: Record, at: float | None = None) -> str:
    """The name of the quota period ``at`` falls in (``2026-12-08``, ``2026-W49``, ``2026-12``)."""
    t = time.gmtime(at if at is not None else time.time())
    period = quota.get("period")
    if period == "DAY":
        return time.strftime("%Y-%m-%d", t)
    if period == "WEEK":
        return time.strftime("%G-W%V", t)
    return time.strftime("%Y-%m", t)


class ApiKeyOperations(ControlPlane):
    # ------------------------------------------------------------ API keys
    def _key(self, context: RequestContext, key_id: str) -> Record:
        record = self.repo.find(API_KEYS, account_key(context), key_id)
        if record is None:
            raise not_found("Invalid API Key identifier specified")
        return record

    @staticmethod
    def key_view(record: Record, include_value: bool) -> Record:
        view = public(record)
        if not include_value:
            view.pop("value", None)
        return view

    def create_api_key(self, context: RequestContext, params: Record) -> Record:
        owner = account_key(context)
        value = params.get("value") or "".join(secrets.choice(_KEY_ALPHABET) for _ in range(40))
        if len(value) < 20:
            raise bad_request("API Key value should be at least 20 characters")
        if any(k.get("value") == value for k in self.repo.items(API_KEYS, owner)):
            raise conflict("API Key already exists")
        stage_keys = []
        for stage_key in params.get("stageKeys") or []:
            api = self.repo.api(context.account_id, context.region, stage_key.get("restApiId") or "")
            if self.repo.find(STAGES, api["id"], stage_key.get("stageName") or "") is None:
                raise bad_request("Invalid stage key specified")
            stage_keys.append(f"{api['id']}/{stage_key['stageName']}")
        record = {"id": self.repo.new_item_id(API_KEYS, owner), "value": value, "enabled": False,
                  "createdDate": now(), "lastUpdatedDate": now(), "stageKeys": stage_keys,
                  **pick(params, ("name", "description", "enabled", "customerId", "tags"))}
        self.repo.put(API_KEYS, owner, record)
        self.catalog.keys_changed()
        return self.key_view(record, True)

    def get_api_key(self, context: RequestContext, params: Record) -> Record:
        return self.key_view(self._key(context, params["apiKey"]), bool(params.get("includeValue")))

    def get_api_keys(self, context: RequestContext, params: Record) -> Record:
        keys = self.repo.items(API_KEYS, account_key(context))
        if params.get("nameQuery"):
            keys = [k for k in keys if (k.get("name") or "").startswith(params["nameQuery"])]
        if params.get("customerId"):
            keys = [k for k in keys if k.get("customerId") == params["customerId"]]
        include = bool(params.get("includeValues"))
        return self.page(keys, params, "id", lambda k: self.key_view(k, include))

    def update_api_key(self, context: RequestContext, params: Record) -> Record:
        record = self._key(context, params["apiKey"])
        patch.apply(record, params.get("patchOperations"), {"name", "description", "enabled", "customerId",
                                                            "stageKeys"})
        record["lastUpdatedDate"] = now()
        self.repo.put(API_KEYS, account_key(context), record)
        self.catalog.keys_changed()
        return self.key_view(record, False)

    def delete_api_key(self, context: RequestContext, params: Record) -> Record:
        record = self._key(context, params["apiKey"])
        owner = account_key(context)
        with self.platform.store.transaction():
            self.repo.delete(API_KEYS, owner, record["id"])
            for plan in self.repo.items(USAGE_PLANS, owner):
                self.repo.store.delete(USAGE_PLAN_KEYS.table, f"{owner}/{plan['id']}/{record['id']}")
        self.catalog.keys_changed()
        return {}

    # ------------------------------------------------------------ usage plans
    def _plan(self, context: RequestContext, plan_id: str) -> Record:
        record = self.repo.find(USAGE_PLANS, account_key(context), plan_id)
        if record is None:
            raise not_found(f"Invalid Usage Plan ID specified: {plan_id}")
        return record

    def _check_plan(self, context: RequestContext, record: Record) -> None:
        for stage in record.get("apiStages") or []:
            api = self.repo.api(context.account_id, context.region, stage.get("apiId") or "")
            if self.repo.find(STAGES, api["id"], stage.get("stage") or "") is None:
                raise bad_request(f"API Stage not found: {api['id']}:{stage.get('stage')}")
        quota = record.get("quota")
        if quota and quota.get("period") not in PERIODS:
            raise bad_request("Invalid quota period specified. Valid values are DAY, WEEK, MONTH")

    def create_usage_plan(self, context: RequestContext, params: Record) -> Record:
        owner = account_key(context)
        record = {"id": self.repo.new_item_id(USAGE_PLANS, owner), "apiStages": [],
                  **pick(params, ("name", "description", "apiStages", "throttle", "quota", "tags"))}
        self._check_plan(context, record)
        self.repo.put(USAGE_PLANS, owner, record)
        self.catalog.keys_changed()
        return public(record)

    def get_usage_plan(self, context: RequestContext, params: Record) -> Record:
        return public(self._plan(context, params["usagePlanId"]))

    def get_usage_plans(self, context: RequestContext, params: Record) -> Record:
        owner = account_key(context)
        plans = self.repo.items(USAGE_PLANS, owner)
        if params.get("keyId"):
            plans = [p for p in plans if self.repo.store.get(USAGE_PLAN_KEYS.table,
                                                             f"{owner}/{p['id']}/{params['keyId']}")]
        return self.page(plans, params, "id")

    def update_usage_plan(self, context: RequestContext, params: Record) -> Record:
        record = self._plan(context, params["usagePlanId"])
        patch.apply(record, params.get("patchOperations"), {"name", "description", "throttle", "quota",
                                                            "productCode"}, special=_api_stages)
        self._check_plan(context, record)
        self.repo.put(USAGE_PLANS, account_key(context), record)
        self.catalog.keys_changed()
        return public(record)

    def delete_usage_plan(self, context: RequestContext, params: Record) -> Record:
        record = self._plan(context, params["usagePlanId"])
        owner = account_key(context)
        with self.platform.store.transaction():
            self.repo.store.delete_prefix(USAGE_PLAN_KEYS.table, f"{owner}/{record['id']}/")
            self.repo.delete(USAGE_PLANS, owner, record["id"])
        self.catalog.keys_changed()
        return {}

    # ------------------------------------------------------------ usage plan keys
    def _plan_key_view(self, context: RequestContext, key_id: str) -> Record:
        key = self._key(context, key_id)
        return {"id": key["id"], "type": "API_KEY", "value": key["value"], "name": key.get("name")}

    def create_usage_plan_key(self, context: RequestContext, params: Record) -> Record:
        plan = self._plan(context, params["usagePlanId"])
        if params["keyType"] != "API_KEY":
            raise bad_request("Invalid key type specified: must be API_KEY")
        view = self._plan_key_view(context, params["keyId"])
        store_key = f"{account_key(context)}/{plan['id']}/{view['id']}"
        if self.repo.store.get(USAGE_PLAN_KEYS.table, store_key) is not None:
            raise conflict(f"Usage Plan {plan['id']} cannot be added because API Key {view['id']} cannot reference "
                           "multiple Usage Plans with the same API Stage")
        self.repo.store.put(USAGE_PLAN_KEYS.table, store_key, {"id": view["id"]})
        self.catalog.keys_changed()
        return view

    def get_usage_plan_key(self, context: RequestContext, params: Record) -> Record:
        plan = self._plan(context, params["usagePlanId"])
        if self.repo.store.get(USAGE_PLAN_KEYS.table, f"{account_key(context)}/{plan['id']}/{params['keyId']}") is None:
            raise not_found("Invalid Usage Plan Key identifier specified")
        return self._plan_key_view(context, params["keyId"])

    def get_usage_plan_keys(self, context: RequestContext, params: Record) -> Record:
        plan = self._plan(context, params["usagePlanId"])
        prefix = f"{account_key(context)}/{plan['id']}/"
        views = [self._plan_key_view(context, r["id"]) for _, r in self.repo.store.scan(USAGE_PLAN_KEYS.table, prefix)]
        if params.get("nameQuery"):
            views = [v for v in views if (v.get("name") or "").startswith(params["nameQuery"])]
        return self.page(views, params, "id")

    def delete_usage_plan_key(self, context: RequestContext, params: Record) -> Record:
        plan = self._plan(context, params["usagePlanId"])
        if not self.repo.store.delete(USAGE_PLAN_KEYS.table, f"{account_key(context)}/{plan['id']}/{params['keyId']}"):
            raise not_found("Invalid Usage Plan Key identifier specified")
        self.catalog.keys_changed()
        return {}

    def get_usage(self, context: RequestContext, params: Record) -> Record:
        plan = self._plan(context, params["usagePlanId"])
        quota = plan.get("quota") or {}
        prefix = f"{account_key(context)}/{plan['id']}/"
        keys = [r["id"] for _, r in self.repo.store.scan(USAGE_PLAN_KEYS.table, prefix)]
        if params.get("keyId"):
            keys = [k for k in keys if k == params["keyId"]]
        period = quota_period(quota) if quota else ""
        items = {}
        for key_id in keys:
            used = self.repo.used(plan["id"], key_id, period) if quota else 0
            items[key_id] = [[used, max(0, int(quota.get("limit", 0)) - used)]]
        return {"usagePlanId": plan["id"], "startDate": params["startDate"], "endDate": params["endDate"],
                "items": items}


def _api_stages(record: Record, op: str, segments: list[str], value: object) -> bool:
    """``/apiStages`` patches: add or remove ``apiId:stage``."""
    if segments[0] != "apiStages" or len(segments) != 1:
        return False
    api_id, _, stage = str(value or "").partition(":")
    stages = record.setdefault("apiStages", [])
    if op == "add":
        if not any(s["apiId"] == api_id and s["stage"] == stage for s in stages):
            stages.append({"apiId": api_id, "stage": stage})
    elif op == "remove":
        record["apiStages"] = [s for s in stages if not (s["apiId"] == api_id and s["stage"] == stage)]
    else:
        raise bad_request("Invalid patch operation for /apiStages: only add and remove are supported")
    return True
