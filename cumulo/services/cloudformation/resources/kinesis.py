"""AWS::Kinesis::Stream (Ref is the stream name; GetAtt Arn) and AWS::Kinesis::StreamConsumer."""

from __future__ import annotations

from typing import Any

from cumulo.services.cloudformation.resources.base import (
    Deployed,
    ResourceContext,
    ResourceHandler,
    as_int,
    tags_map,
)


class StreamHandler(ResourceHandler):
    type = "AWS::Kinesis::Stream"
    replace_on = frozenset({"Name"})
    properties = frozenset({"Name", "ShardCount", "RetentionPeriodHours", "StreamModeDetails", "StreamEncryption",
                            "Tags"})

    @staticmethod
    def _mode(props: dict[str, Any]) -> str:
        return (props.get("StreamModeDetails") or {}).get("StreamMode") or "PROVISIONED"

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("Name") or ctx.physical_name(128)
        mode = self._mode(props)
        await ctx.call("kinesis", "CreateStream", {
            "StreamName": name, "StreamModeDetails": {"StreamMode": mode},
            "ShardCount": (as_int(props.get("ShardCount")) or 1) if mode == "PROVISIONED" else None,
            "Tags": tags_map(props.get("Tags")) or None})
        await self._settings(ctx, name, props, {})
        return await self._deployed(ctx, name)

    async def _settings(self, ctx: ResourceContext, name: str, new: dict[str, Any], old: dict[str, Any]) -> None:
        hours, was = as_int(new.get("RetentionPeriodHours")) or 24, as_int(old.get("RetentionPeriodHours")) or 24
        if hours != was:
            operation = "IncreaseStreamRetentionPeriod" if hours > was else "DecreaseStreamRetentionPeriod"
            await ctx.call("kinesis", operation, {"StreamName": name, "RetentionPeriodHours": hours})
        encryption = new.get("StreamEncryption")
        if encryption != old.get("StreamEncryption"):
            if encryption:
                await ctx.call("kinesis", "StartStreamEncryption", {
                    "StreamName": name, "EncryptionType": encryption["EncryptionType"], "KeyId": encryption["KeyId"]})
            else:
                await ctx.call("kinesis", "StopStreamEncryption", {
                    "StreamName": name, "EncryptionType": "KMS", "KeyId": old["StreamEncryption"]["KeyId"]})

    async def _deployed(self, ctx: ResourceContext, name: str) -> Deployed:
        summary = (await ctx.call("kinesis", "DescribeStreamSummary", {"StreamName": name}))["StreamDescriptionSummary"]
        return Deployed(name, {"Arn": summary["StreamARN"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        summary = (await ctx.call("kinesis", "DescribeStreamSummary",
                                  {"StreamName": physical_id}))["StreamDescriptionSummary"]
        if self._mode(new) != self._mode(old):
            await ctx.call("kinesis", "UpdateStreamMode", {"StreamARN": summary["StreamARN"],
                                                           "StreamModeDetails": {"StreamMode": self._mode(new)}})
        count = as_int(new.get("ShardCount"))
        if self._mode(new) == "PROVISIONED" and count and count != summary["OpenShardCount"]:
            await ctx.call("kinesis", "UpdateShardCount", {"StreamName": physical_id, "TargetShardCount": count,
                                                           "ScalingType": "UNIFORM_SCALING"})
        await self._settings(ctx, physical_id, new, old)
        old_tags, new_tags = tags_map(old.get("Tags")), tags_map(new.get("Tags"))
        if old_tags.keys() - new_tags.keys():
            await ctx.call("kinesis", "RemoveTagsFromStream", {"StreamName": physical_id,
                                                               "TagKeys": sorted(old_tags.keys() - new_tags.keys())})
        if new_tags and new_tags != old_tags:
            await ctx.call("kinesis", "AddTagsToStream", {"StreamName": physical_id, "Tags": new_tags})
        return await self._deployed(ctx, physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("kinesis", "DeleteStream", {"StreamName": physical_id, "EnforceConsumerDeletion": True})





class StreamConsumerHandler(ResourceHandler):
    """AWS::Kinesis::StreamConsumer: Ref and GetAtt ConsumerARN are the consumer's ARN."""

    type = "AWS::Kinesis::StreamConsumer"
    replace_on = frozenset({"StreamARN", "ConsumerName"})
    properties = frozenset({"StreamARN", "ConsumerName", "Tags"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        consumer = (await ctx.call("kinesis", "RegisterStreamConsumer", {
            "StreamARN": props["StreamARN"], "ConsumerName": props["ConsumerName"]}))["Consumer"]
        return Deployed(consumer["ConsumerARN"], {
            "ConsumerARN": consumer["ConsumerARN"], "ConsumerName": consumer["ConsumerName"],
            "ConsumerStatus": consumer["ConsumerStatus"], "StreamARN": props["StreamARN"],
            "ConsumerCreationTimestamp": str(consumer["ConsumerCreationTimestamp"])})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        return Deployed(physical_id, {"ConsumerARN": physical_id, "ConsumerName": new["ConsumerName"],
                                      "ConsumerStatus": "ACTIVE", "StreamARN": new["StreamARN"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("kinesis", "DeregisterStreamConsumer", {"ConsumerARN": physical_id})
HANDLERS = [StreamHandler(), StreamConsumerHandler()]
