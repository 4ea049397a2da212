"""Amazon Data Firehose, as applications use it: DirectPut delivery streams with an S3
destination. Records are committed to a buffer in the store before PutRecord(Batch) answers; a
flusher writes each stream's buffer as one S3 object (AWS's key layout
``<prefix>YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>``) once it holds ``SizeInMBs`` or
its oldest record is ``IntervalInSeconds`` old. Lambda transformation is not implemented."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import time
import uuid
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext

STREAMS = "firehose_streams"
BUFFER = "firehose_buffer"
FLUSH_EVERY_S = 0.5


class FirehoseProvider(Provider):
    service = "firehose"

    def __init__(self, platform: Any) -> None:
        super().__init__(platform)
        self._flusher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._flusher = asyncio.get_running_loop().create_task(self._flush_forever(), name="firehose flusher")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher

    def _stream(self, context: RequestContext, name: str) -> tuple[str, dict[str, Any]]:
        key = f"{context.account_id}/{context.region}/{name}"
        stream = self.platform.store.get(STREAMS, key)
        if stream is None:
            raise AwsError("ResourceNotFoundException", f"Firehose {name} under account {context.account_id} not "
                           "found.", status=400)
        return key, stream

    def create_delivery_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["DeliveryStreamName"]
        kind = params.get("DeliveryStreamType") or "DirectPut"
        destination = params.get("ExtendedS3DestinationConfiguration") or params.get("S3DestinationConfiguration")
        if kind != "DirectPut" or destination is None:
            raise AwsError("InvalidArgumentException", "Cumulo's Firehose supports DirectPut delivery streams with an "
                           "S3 destination only.", status=400)
        if destination.get("ProcessingConfiguration", {}).get("Enabled"):
            raise AwsError("InvalidArgumentException", "Lambda record transformation is not supported by Cumulo's "
                           "Firehose yet.", status=400)
        hints = destination.get("BufferingHints") or {}
        stream = {"name": name, "arn": context.arn("firehose", f"deliverystream/{name}"), "created": time.time(),
                  "bucket": destination["BucketARN"].split(":::", 1)[-1], "prefix": destination.get("Prefix") or "",
                  "size": hints.get("SizeInMBs", 5) * 1024 * 1024, "interval": hints.get("IntervalInSeconds", 300),
                  "destination": destination, "counter": 0, "account": context.account_id, "region": context.region}
        if not self.platform.store.insert(STREAMS, f"{context.account_id}/{context.region}/{name}", stream):
            raise AwsError("ResourceInUseException", f"Firehose {name} under accountId {context.account_id} already "
                           "exists", status=400)
        return {"DeliveryStreamARN": stream["arn"]}

    def describe_delivery_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, stream = self._stream(context, params["DeliveryStreamName"])
        destination = {"DestinationId": "destinationId-000000000001", "ExtendedS3DestinationDescription": {
            **{k: v for k, v in stream["destination"].items() if k in ("BucketARN", "Prefix", "RoleARN",
                                                                         "ErrorOutputPrefix", "CompressionFormat")},
            "BufferingHints": {"SizeInMBs": stream["size"] // (1024 * 1024), "IntervalInSeconds": stream["interval"]},
            "CompressionFormat": stream["destination"].get("CompressionFormat", "UNCOMPRESSED"),
            "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
            "RoleARN": stream["destination"].get("RoleARN", "")}}
        return {"DeliveryStreamDescription": {
            "DeliveryStreamName": stream["name"], "DeliveryStreamARN": stream["arn"], "DeliveryStreamStatus": "ACTIVE",
            "DeliveryStreamType": "DirectPut", "VersionId": "1", "CreateTimestamp": stream["created"],
            "Destinations": [destination], "HasMoreDestinations": False}}

    def list_delivery_streams(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = f"{context.account_id}/{context.region}/"
        names = [value["name"] for _, value in self.platform.store.scan(STREAMS, prefix)]
        limit = params.get("Limit", 10)
        return {"DeliveryStreamNames": names[:limit], "HasMoreDeliveryStreams": len(names) > limit}

    def delete_delivery_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, _ = self._stream(context, params["DeliveryStreamName"])
        with self.platform.store.transaction():
            self.platform.store.delete(STREAMS, key)
            self.platform.store.delete_prefix(BUFFER, key + "/")
        return {}

    def put_record(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ids = self._buffer(context, params["DeliveryStreamName"], [params["Record"]["Data"]])
        return {"RecordId": ids[0], "Encrypted": False}

    def put_record_batch(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ids = self._buffer(context, params["DeliveryStreamName"], [r["Data"] for r in params["Records"]])
        return {"FailedPutCount": 0, "Encrypted": False, "RequestResponses": [{"RecordId": i} for i in ids]}

    def _buffer(self, context: RequestContext, name: str, items: list[bytes]) -> list[str]:
        key, stream = self._stream(context, name)
        now, ids, rows = time.time(), [], []
        for data in items:
            stream["counter"] += 1
            ids.append(uuid.uuid4().hex * 2)
            rows.append((f"{key}/{stream['counter']:020d}", {"d": base64.b64encode(data).decode(), "t": now}))
        with self.platform.store.transaction():
            self.platform.store.put_many(BUFFER, rows)
            self.platform.store.put(STREAMS, key, stream)
        return ids

    # ------------------------------------------------------------ delivery
    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            for key, stream in self.platform.store.scan(STREAMS):
                try:
                    self._flush(key, stream)
                except Exception:  # a missing bucket: the records wait in the buffer, as AWS retries
                    continue

    def _flush(self, key: str, stream: dict[str, Any]) -> None:
        rows = self.platform.store.scan(BUFFER, key + "/", limit=100_000)
        if not rows:
            return
        size = sum(len(v["d"]) * 3 // 4 for _, v in rows)
        if size < stream["size"] and time.time() - rows[0][1]["t"] < stream["interval"]:
            return
        body = b"".join(base64.b64decode(v["d"]) for _, v in rows)
        at = dt.datetime.now(dt.UTC)
        object_key = (f"{stream['prefix']}{at:%Y/%m/%d/%H}/{stream['name']}-1-{at:%Y-%m-%d-%H-%M-%S}-"
                      f"{uuid.uuid4()}")
        context = RequestContext.internal(self.platform, "s3", "PutObject", stream["account"], stream["region"])
        self.platform.objects.put_object(context, {"Bucket": stream["bucket"], "Key": object_key, "Body": body})
        with self.platform.store.transaction():
            for row_key, _ in rows:
                self.platform.store.delete(BUFFER, row_key)
