"""AWS::DynamoDB::Table and AWS::DynamoDB::GlobalTable (one region: the replica in the stack's
region is the table). ``AWS::Serverless::SimpleTable`` and the SAM DynamoDB policy templates are
expanded by the SAM translator into these and IAM resources."""

from __future__ import annotations

from typing import Any

from cumulo.services.cloudformation.resources.base import (
    Deployed,
    ResourceContext,
    ResourceFailure,
    ResourceHandler,
    as_bool,
    as_int,
    tags_map,
)

TABLE_PROPERTIES = frozenset({
    "TableName", "KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput",
    "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification", "TimeToLiveSpecification",
    "SSESpecification", "TableClass", "DeletionProtectionEnabled", "PointInTimeRecoverySpecification", "Tags"})
# Accepted, nothing to act on locally: insights, Kinesis forwarding, resource policies, warm capacity.
IGNORED = frozenset({"ContributorInsightsSpecification", "KinesisStreamSpecification", "ResourcePolicy",
                     "OnDemandThroughput", "WarmThroughput", "ImportSourceSpecification"})


def _throughput(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    return {"ReadCapacityUnits": as_int(value.get("ReadCapacityUnits")),
            "WriteCapacityUnits": as_int(value.get("WriteCapacityUnits"))}


def _index(index: dict[str, Any], billing: str) -> dict[str, Any]:
    answer = {"IndexName": index["IndexName"], "KeySchema": index["KeySchema"], "Projection": index["Projection"]}
    if billing == "PROVISIONED" and index.get("ProvisionedThroughput"):
        answer["ProvisionedThroughput"] = _throughput(index["ProvisionedThroughput"])
    return answer


def _stream(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    if not spec or not spec.get("StreamViewType"):
        return None
    return {"StreamEnabled": True, "StreamViewType": spec["StreamViewType"]}


def _attributes(description: dict[str, Any]) -> dict[str, Any]:
    attributes = {"Arn": description["TableArn"], "TableId": description["TableId"]}
    if description.get("LatestStreamArn") and description.get("StreamSpecification", {}).get("StreamEnabled"):
        attributes["StreamArn"] = description["LatestStreamArn"]
    return attributes


class TableHandler(ResourceHandler):
    type = "AWS::DynamoDB::Table"
    replace_on = frozenset({"TableName", "KeySchema", "LocalSecondaryIndexes"})
    properties = TABLE_PROPERTIES
    ignored = IGNORED

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("TableName") or ctx.physical_name(255)
        billing = props.get("BillingMode") or "PROVISIONED"
        params: dict[str, Any] = {
            "TableName": name, "KeySchema": props["KeySchema"], "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": billing, "ProvisionedThroughput": _throughput(props.get("ProvisionedThroughput")),
            "StreamSpecification": _stream(props.get("StreamSpecification")),
            "TableClass": props.get("TableClass"),
            "DeletionProtectionEnabled": as_bool(props.get("DeletionProtectionEnabled")),
            "Tags": [{"Key": k, "Value": v} for k, v in tags_map(props.get("Tags")).items()] or None}
        if props.get("SSESpecification"):
            sse = props["SSESpecification"]
            params["SSESpecification"] = {"Enabled": as_bool(sse.get("SSEEnabled")), "SSEType": sse.get("SSEType"),
                                          "KMSMasterKeyId": sse.get("KMSMasterKeyId")}
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(kind):
                params[kind] = [_index(i, billing) if kind == "GlobalSecondaryIndexes" else
                                {k: i[k] for k in ("IndexName", "KeySchema", "Projection")} for i in props[kind]]
        description = (await ctx.call("dynamodb", "CreateTable", params))["TableDescription"]
        await self._settings(ctx, name, props, {})
        return Deployed(name, _attributes(description))

    async def _settings(self, ctx: ResourceContext, name: str, new: dict[str, Any], old: dict[str, Any]) -> None:
        ttl, old_ttl = new.get("TimeToLiveSpecification"), old.get("TimeToLiveSpecification")
        if ttl != old_ttl:
            enabled = bool(ttl and as_bool(ttl.get("Enabled")))
            was = bool(old_ttl and as_bool(old_ttl.get("Enabled")))
            if enabled != was:
                await ctx.call("dynamodb", "UpdateTimeToLive", {"TableName": name, "TimeToLiveSpecification": {
                    "Enabled": enabled, "AttributeName": (ttl or old_ttl or {}).get("AttributeName")}})
        pitr = new.get("PointInTimeRecoverySpecification")
        if pitr != old.get("PointInTimeRecoverySpecification"):
            await ctx.call("dynamodb", "UpdateContinuousBackups", {"TableName": name,
                           "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": bool(
                               pitr and as_bool(pitr.get("PointInTimeRecoveryEnabled")))}})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        billing = new.get("BillingMode") or "PROVISIONED"
        params: dict[str, Any] = {"TableName": physical_id}
        if billing != (old.get("BillingMode") or "PROVISIONED"):
            params["BillingMode"] = billing
        if new.get("ProvisionedThroughput") != old.get("ProvisionedThroughput") and billing == "PROVISIONED":
            params["ProvisionedThroughput"] = _throughput(new.get("ProvisionedThroughput"))
        if as_bool(new.get("DeletionProtectionEnabled")) != as_bool(old.get("DeletionProtectionEnabled")):
            params["DeletionProtectionEnabled"] = bool(as_bool(new.get("DeletionProtectionEnabled")))
        if len(params) > 1:
            await ctx.call("dynamodb", "UpdateTable", params)
        if _stream(new.get("StreamSpecification")) != _stream(old.get("StreamSpecification")):
            if old.get("StreamSpecification"):
                await ctx.call("dynamodb", "UpdateTable", {"TableName": physical_id,
                                                           "StreamSpecification": {"StreamEnabled": False}})
            if _stream(new.get("StreamSpecification")):
                await ctx.call("dynamodb", "UpdateTable", {"TableName": physical_id,
                                                           "StreamSpecification": _stream(new["StreamSpecification"])})
        before = {i["IndexName"]: i for i in old.get("GlobalSecondaryIndexes") or []}
        after = {i["IndexName"]: i for i in new.get("GlobalSecondaryIndexes") or []}
        for name in before.keys() - after.keys():
            await ctx.call("dynamodb", "UpdateTable", {"TableName": physical_id, "GlobalSecondaryIndexUpdates": [
                {"Delete": {"IndexName": name}}]})
        for name in after.keys() - before.keys():
            await ctx.call("dynamodb", "UpdateTable", {
                "TableName": physical_id, "AttributeDefinitions": new["AttributeDefinitions"],
                "GlobalSecondaryIndexUpdates": [{"Create": _index(after[name], billing)}]})
        old_tags, new_tags = tags_map(old.get("Tags")), tags_map(new.get("Tags"))
        description = (await ctx.call("dynamodb", "DescribeTable", {"TableName": physical_id}))["Table"]
        if old_tags != new_tags:
            if old_tags.keys() - new_tags.keys():
                await ctx.call("dynamodb", "UntagResource", {"ResourceArn": description["TableArn"],
                                                             "TagKeys": sorted(old_tags.keys() - new_tags.keys())})
            if new_tags:
                await ctx.call("dynamodb", "TagResource", {"ResourceArn": description["TableArn"], "Tags": [
                    {"Key": k, "Value": v} for k, v in new_tags.items()]})
        await self._settings(ctx, physical_id, new, old)
        return Deployed(physical_id, _attributes(description))

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        try:
            await ctx.call("dynamodb", "DeleteTable", {"TableName": physical_id})
        except ResourceFailure as failure:
            if "ResourceNotFoundException" not in str(failure):
                raise


class GlobalTableHandler(TableHandler):
    """A global table in one region: the replica for the stack's region, with the table's settings."""

    type = "AWS::DynamoDB::GlobalTable"
    replace_on = frozenset({"TableName", "KeySchema", "LocalSecondaryIndexes"})
    properties = frozenset({"TableName", "KeySchema", "AttributeDefinitions", "BillingMode", "GlobalSecondaryIndexes",
                            "LocalSecondaryIndexes", "StreamSpecification", "TimeToLiveSpecification",
                            "SSESpecification", "Replicas", "WriteProvisionedThroughputSettings"})
    ignored = frozenset({"WriteOnDemandThroughputSettings", "WarmThroughput", "MultiRegionConsistency",
                         "GlobalTableWitnesses"})

    @staticmethod
    def _as_table(ctx: ResourceContext, props: dict[str, Any]) -> dict[str, Any]:
        replicas = props.get("Replicas") or []
        replica = next((r for r in replicas if r.get("Region") == ctx.region), None)
        if replica is None:
            raise ResourceFailure(f"Replicas must include a replica in the stack's region {ctx.region}")
        table = {k: v for k, v in props.items() if k in TABLE_PROPERTIES}
        sse = props.get("SSESpecification")
        if sse:
            table["SSESpecification"] = {"SSEEnabled": sse.get("SSEEnabled"), "SSEType": sse.get("SSEType")}
        for name in ("Tags", "TableClass", "DeletionProtectionEnabled", "PointInTimeRecoverySpecification"):
            if replica.get(name) is not None:
                table[name] = replica[name]
        if (props.get("BillingMode") or "PROVISIONED") == "PROVISIONED":
            write = (props.get("WriteProvisionedThroughputSettings") or {}).get("WriteCapacityAutoScalingSettings")
            read = (replica.get("ReadProvisionedThroughputSettings") or {}).get("ReadCapacityUnits")
            table["ProvisionedThroughput"] = {"ReadCapacityUnits": read or 5,
                                              "WriteCapacityUnits": (write or {}).get("MinCapacity", 5)}
        return table

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        return await super().create(ctx, self._as_table(ctx, props))

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        return await super().update(ctx, physical_id, self._as_table(ctx, old), self._as_table(ctx, new))


HANDLERS = [TableHandler(), GlobalTableHandler()]
