"""AWS::Pipes::Pipe: a pipe made with CreatePipe, updated in place (a new Name or Source replaces it).

As CloudFormation does, create and update wait until the pipe has settled (``RUNNING`` or
``STOPPED``) and delete waits until it is gone. Text numbers in the template become integers
through ``ResourceContext.call``'s model-driven coercion.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cumulo.services.cloudformation.resources.base import (
    Deployed,
    ResourceContext,
    ResourceFailure,
    ResourceHandler,
    tags_map,
)

MEMBERS = ("Description", "DesiredState", "SourceParameters", "Enrichment", "EnrichmentParameters", "Target",
           "TargetParameters", "RoleArn", "LogConfiguration", "KmsKeyIdentifier")
SETTLED = ("RUNNING", "STOPPED")
POLL_S = 0.02


class PipeHandler(ResourceHandler):
    type = "AWS::Pipes::Pipe"
    replace_on = frozenset({"Name", "Source"})
    properties = frozenset({"Name", "Source", "Tags", *MEMBERS})

    async def _settled(self, ctx: ResourceContext, name: str) -> dict[str, Any]:
        """The pipe's attributes once it is RUNNING or STOPPED."""
        while True:
            pipe = await ctx.call("pipes", "DescribePipe", {"Name": name})
            if pipe["CurrentState"] in SETTLED:
                return {key: pipe.get(key) for key in ("Arn", "CreationTime", "CurrentState", "LastModifiedTime",
                                                       "StateReason")}
            if pipe["CurrentState"].endswith("_FAILED"):
                raise ResourceFailure(f"Pipe {name} is {pipe['CurrentState']}: {pipe.get('StateReason') or ''}")
            await asyncio.sleep(POLL_S)

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("Name") or ctx.physical_name(64)
        params = {k: props[k] for k in MEMBERS if props.get(k) is not None}
        await ctx.call("pipes", "CreatePipe", {"Name": name, "Source": props["Source"],
                                               "Tags": tags_map(props.get("Tags")) or None, **params})
        return Deployed(name, await self._settled(ctx, name))

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        params = {k: new[k] for k in MEMBERS if new.get(k) is not None}
        await ctx.call("pipes", "UpdatePipe", {"Name": physical_id, **params})
        attributes = await self._settled(ctx, physical_id)
        before, after = tags_map(old.get("Tags")), tags_map(new.get("Tags"))
        if removed := [key for key in before if key not in after]:
            await ctx.call("pipes", "UntagResource", {"resourceArn": attributes["Arn"], "tagKeys": removed})
        if changed := {key: value for key, value in after.items() if before.get(key) != value}:
            await ctx.call("pipes", "TagResource", {"resourceArn": attributes["Arn"], "tags": changed})
        return Deployed(physical_id, attributes)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        """Delete and wait until it is gone; a pipe already gone is deleted (as CloudFormation treats it)."""
        if await self._exists(ctx, physical_id):
            await ctx.call("pipes", "DeletePipe", {"Name": physical_id})
        while await self._exists(ctx, physical_id):
            await asyncio.sleep(POLL_S)

    @staticmethod
    async def _exists(ctx: ResourceContext, name: str) -> bool:
        listed = await ctx.call("pipes", "ListPipes", {"NamePrefix": name})
        return any(p["Name"] == name for p in listed.get("Pipes") or [])


HANDLERS = [PipeHandler()]
