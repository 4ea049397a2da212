"""AWS::Pipes::Pipe: a pipe made with CreatePipe, updated in place (a new Name or Source replaces it)."""

from __future__ import annotations

from typing import Any

from cumulo.services.cloudformation.resources.base import Deployed, ResourceContext, ResourceHandler, as_int

INTEGERS = frozenset({"BatchSize", "MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds",
                      "MaximumRetryAttempts", "ParallelizationFactor"})
MEMBERS = ("Description", "DesiredState", "SourceParameters", "Enrichment", "EnrichmentParameters", "Target",
           "TargetParameters", "RoleArn", "LogConfiguration", "KmsKeyIdentifier")


def _typed(value: Any, key: str = "") -> Any:
    """Template values as the API wants them: numbers written as text become integers where due."""
    if isinstance(value, dict):
        return {k: _typed(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return as_int(value) if key in INTEGERS else value


class PipeHandler(ResourceHandler):
    type = "AWS::Pipes::Pipe"
    replace_on = frozenset({"Name", "Source"})
    properties = frozenset({"Name", "Source", "Tags", *MEMBERS})

    async def _attributes(self, ctx: ResourceContext, name: str) -> dict[str, Any]:
        pipe = await ctx.call("pipes", "DescribePipe", {"Name": name})
        return {key: pipe.get(key) for key in ("Arn", "CreationTime", "CurrentState", "LastModifiedTime",
                                               "StateReason")}

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("Name") or ctx.physical_name(64)
        params = {k: _typed(props[k]) for k in MEMBERS if props.get(k) is not None}
        await ctx.call("pipes", "CreatePipe", {"Name": name, "Source": props["Source"], "Tags": props.get("Tags"),
                                               **params})
        return Deployed(name, await self._attributes(ctx, name))

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        params = {k: _typed(new[k]) for k in MEMBERS if new.get(k) is not None}
        await ctx.call("pipes", "UpdatePipe", {"Name": physical_id, **params})
        return Deployed(physical_id, await self._attributes(ctx, physical_id))

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("pipes", "DeletePipe", {"Name": physical_id})


HANDLERS = [PipeHandler()]
