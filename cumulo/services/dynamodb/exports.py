"""ExportTableToPointInTime into Cumulo's S3 (DynamoDB JSON, as AWS lays it out), and the export
records DescribeExport and ListExports answer. The export is taken at request time, from the
current items, and is COMPLETED when the call returns."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
import uuid
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.dynamodb.errors import validation
from cumulo.services.dynamodb.storage import ItemStore
from cumulo.services.dynamodb.tables import Table, now
from cumulo.services.dynamodb.values import to_stored
from cumulo.store.base import Store

EXPORTS = "dynamodb.exports"


def export_table(store: Store, items: ItemStore, objects: Any, context: RequestContext, table: Table,
                 params: dict[str, Any]) -> dict[str, Any]:
    if not table.record.get("pitr"):
        raise AwsError("PointInTimeRecoveryUnavailableException",
                       f"Point in time recovery is not enabled for table '{table.name}'")
    if params.get("ExportFormat", "DYNAMODB_JSON") != "DYNAMODB_JSON":
        raise validation("Cumulo exports in DYNAMODB_JSON only")
    started = now()
    export_id = f"{int(started * 1000):017d}-{uuid.uuid4().hex[:8]}"
    base = f"{params['S3Prefix'].rstrip('/')}/" if params.get("S3Prefix") else ""
    base += f"AWSDynamoDB/{export_id}/"
    lines = [json.dumps({"Item": to_stored(item)}, separators=(",", ":")) for item in items.all_items(table)]
    data = gzip.compress(("\n".join(lines) + ("\n" if lines else "")).encode())
    data_key = f"{base}data/{uuid.uuid4().hex}.json.gz"
    bucket = params["S3Bucket"]
    objects.put_object(context, {"Bucket": bucket, "Key": data_key, "Body": data})
    md5 = hashlib.md5(data).hexdigest()
    files = json.dumps({"itemCount": len(lines), "md5Checksum": md5, "etag": md5,
                        "dataFileS3Key": data_key})
    objects.put_object(context, {"Bucket": bucket, "Key": f"{base}manifest-files.json", "Body": files.encode()})
    arn = f"{table.arn}/export/{export_id}"
    description = {
        "ExportArn": arn, "ExportStatus": "COMPLETED", "StartTime": started, "EndTime": now(),
        "ExportManifest": f"{base}manifest-summary.json", "TableArn": table.arn, "TableId": table.id,
        "ExportTime": params.get("ExportTime") or started, "ClientToken": params.get("ClientToken") or export_id,
        "S3Bucket": bucket, "S3Prefix": params.get("S3Prefix"), "S3SseAlgorithm": "AES256",
        "ExportFormat": "DYNAMODB_JSON", "BilledSizeBytes": len(data), "ItemCount": len(lines),
        "ExportType": params.get("ExportType", "FULL_EXPORT")}
    summary = {"version": "2020-06-30", "exportArn": arn, "startTime": _iso(started), "endTime": _iso(now()),
               "tableArn": table.arn, "tableId": table.id, "exportTime": _iso(started), "s3Bucket": bucket,
               "s3Prefix": params.get("S3Prefix"), "s3SseAlgorithm": "AES256", "manifestFilesS3Key":
               f"{base}manifest-files.json", "billedSizeBytes": len(data), "itemCount": len(lines),
               "outputFormat": "DYNAMODB_JSON"}
    objects.put_object(context, {"Bucket": bucket, "Key": f"{base}manifest-summary.json",
                                 "Body": json.dumps(summary).encode()})
    store.put(EXPORTS, arn, {"description": {k: v for k, v in description.items() if v is not None},
                             "account": context.account_id, "region": context.region})
    return {"ExportDescription": description}


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"


def describe_export(store: Store, arn: str) -> dict[str, Any]:
    record = store.get(EXPORTS, arn)
    if record is None:
        raise AwsError("ExportNotFoundException", f"Export not found: {arn}")
    return {"ExportDescription": record["description"]}


def list_exports(store: Store, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    summaries = []
    for _, record in store.scan(EXPORTS):
        description = record["description"]
        if (record["account"], record["region"]) != (context.account_id, context.region):
            continue
        if params.get("TableArn") and description["TableArn"] != params["TableArn"]:
            continue
        summaries.append({"ExportArn": description["ExportArn"], "ExportStatus": description["ExportStatus"],
                          "ExportType": description["ExportType"]})
    return {"ExportSummaries": summaries}
