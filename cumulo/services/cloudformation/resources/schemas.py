"""AWS::EventSchemas::Registry, AWS::EventSchemas::Schema and AWS::EventSchemas::Discoverer.

As on AWS, ``Ref`` gives each resource's ARN (the physical id)."""

from __future__ import annotations

import json
from typing import Any

from cumulo.services.cloudformation.resources.base import Deployed, ResourceContext, ResourceHandler, tags_map


def _last(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


class RegistryHandler(ResourceHandler):
    type = "AWS::EventSchemas::Registry"
    replace_on = frozenset({"RegistryName"})
    properties = frozenset({"RegistryName", "Description", "Tags"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("RegistryName") or ctx.physical_name(64)
        created = await ctx.call("schemas", "CreateRegistry", {
            "RegistryName": name, "Description": props.get("Description"), "Tags": tags_map(props.get("Tags"))})
        return Deployed(created["RegistryArn"], {"RegistryArn": created["RegistryArn"], "RegistryName": name})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await ctx.call("schemas", "UpdateRegistry", {"RegistryName": _last(physical_id),
                                                     "Description": new.get("Description")})
        return Deployed(physical_id, {"RegistryArn": physical_id, "RegistryName": _last(physical_id)})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("schemas", "DeleteRegistry", {"RegistryName": _last(physical_id)})


class SchemaHandler(ResourceHandler):
    type = "AWS::EventSchemas::Schema"
    replace_on = frozenset({"RegistryName", "SchemaName"})
    properties = frozenset({"RegistryName", "SchemaName", "Type", "Content", "Description", "Tags"})

    @staticmethod
    def _content(props: dict[str, Any]) -> str:
        content = props["Content"]
        return content if isinstance(content, str) else json.dumps(content)

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("SchemaName") or ctx.physical_name(64)
        created = await ctx.call("schemas", "CreateSchema", {
            "RegistryName": props["RegistryName"], "SchemaName": name, "Type": props["Type"],
            "Content": self._content(props), "Description": props.get("Description"),
            "Tags": tags_map(props.get("Tags"))})
        return Deployed(created["SchemaArn"], {"SchemaArn": created["SchemaArn"], "SchemaName": name,
                                               "SchemaVersion": created["SchemaVersion"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        content = self._content(new)
        params: dict[str, Any] = {"RegistryName": new["RegistryName"], "SchemaName": _last(physical_id),
                                  "Description": new.get("Description")}
        if content != self._content(old) or new.get("Type") != old.get("Type"):
            params.update(Content=content, Type=new["Type"])
        updated = await ctx.call("schemas", "UpdateSchema", params)
        return Deployed(physical_id, {"SchemaArn": physical_id, "SchemaName": _last(physical_id),
                                      "SchemaVersion": updated["SchemaVersion"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("schemas", "DeleteSchema", {"RegistryName": props["RegistryName"],
                                                   "SchemaName": _last(physical_id)})


class DiscovererHandler(ResourceHandler):
    type = "AWS::EventSchemas::Discoverer"
    replace_on = frozenset({"SourceArn"})
    properties = frozenset({"SourceArn", "Description", "CrossAccount", "Tags"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        created = await ctx.call("schemas", "CreateDiscoverer", {
            "SourceArn": props["SourceArn"], "Description": props.get("Description"),
            "CrossAccount": props.get("CrossAccount"), "Tags": tags_map(props.get("Tags"))})
        return Deployed(created["DiscovererArn"], {"DiscovererArn": created["DiscovererArn"],
                                                   "DiscovererId": created["DiscovererId"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await ctx.call("schemas", "UpdateDiscoverer", {"DiscovererId": _last(physical_id),
                                                       "Description": new.get("Description"),
                                                       "CrossAccount": new.get("CrossAccount")})
        return Deployed(physical_id, {"DiscovererArn": physical_id, "DiscovererId": _last(physical_id)})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("schemas", "DeleteDiscoverer", {"DiscovererId": _last(physical_id)})


HANDLERS = [RegistryHandler(), SchemaHandler(), DiscovererHandler()]
