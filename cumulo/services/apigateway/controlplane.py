"""What every group of REST API operations shares: the caller's API, paging (``position``/``limit``),
and tags.

Configuration (resources, methods, integrations, authorizers, models, validators, gateway
responses) reaches callers only through a deployment, which snapshots it; a stage points at a
deployment. Stage settings apply at once. The data plane learns of changes through ``catalog``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from cumulo.services.apigateway.catalog import RestApiCatalog
from cumulo.services.apigateway.repository import RestRepository, bad_request, public
from cumulo.services.base import Provider, RequestContext

if TYPE_CHECKING:
    from cumulo.platform import Platform

Record = dict[str, Any]


def pick(params: Record, fields: Iterable[str]) -> Record:
    """The members of ``params`` named in ``fields`` that are set (copies, so records never share)."""
    return {name: copy.deepcopy(params[name]) for name in fields if params.get(name) is not None}


def stage_arn(region: str, api_id: str, stage_name: str) -> str:
    return f"arn:aws:apigateway:{region}::/restapis/{api_id}/stages/{stage_name}"


def account_key(context: RequestContext) -> str:
    return f"{context.account_id}:{context.region}"


class ControlPlane(Provider):
    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.repo = RestRepository(platform.store)
        self.catalog = RestApiCatalog(self.repo)

    def api_of(self, context: RequestContext, params: Record) -> Record:
        return self.repo.api(context.account_id, context.region, params["restApiId"])

    @staticmethod
    def page(records: list[Record], params: Record, sort_key: str,
             view: Callable[[Record], Record] = public) -> Record:
        """One page of a Get*s operation: ``items`` ordered by ``sort_key`` after ``position``."""
        limit = params.get("limit") or 25
        if not 1 <= limit <= 500:
            raise bad_request("Invalid limit: must be between 1 and 500")
        after = params.get("position")
        ordered = sorted(records, key=lambda r: str(r.get(sort_key, "")))
        if after:
            ordered = [r for r in ordered if str(r.get(sort_key, "")) > after]
        items = ordered[:limit]
        result: Record = {"items": [view(r) for r in items]}
        if len(ordered) > limit:
            result["position"] = str(items[-1].get(sort_key, ""))
        return result
