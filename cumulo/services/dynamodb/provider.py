"""DynamoDB: tables, items with the full expression language, indexes, transactions, batches,
PartiQL, TTL, streams (read through ``platform.streams``) and backups."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext
from cumulo.services.dynamodb import control, exports, partiql
from cumulo.services.dynamodb.batches import Batches
from cumulo.services.dynamodb.errors import resource_in_use, validation
from cumulo.services.dynamodb.reads import ItemReads
from cumulo.services.dynamodb.storage import ItemStore
from cumulo.services.dynamodb.streams import SERVICE_IDENTITY, StreamLog, shard_id, stream_id
from cumulo.services.dynamodb.tables import BACKUPS, TABLES, Table, TableRepository, load_indexes, now
from cumulo.services.dynamodb.values import from_stored, to_stored
from cumulo.services.dynamodb.writes import ItemWrites

log = logging.getLogger("cumulo.dynamodb")
SWEEP_INTERVAL_S = 1.0
TTL_BATCH = 200


class DynamoDbProvider(Provider):
    service = "dynamodb"

    def __init__(self, platform: Any) -> None:
        super().__init__(platform)
        store = platform.store
        self.tables = TableRepository(store)
        self.stream_log = StreamLog(store)
        self.items = ItemStore(store, self.stream_log)
        self.writes = ItemWrites(self.tables, self.items)
        self.reads = ItemReads(self.tables, self.items)
        self.batches = Batches(self.writes)
        self._sweeper: asyncio.Task | None = None

    async def start(self) -> None:
        self._sweeper = self.platform.spawn(self._sweep_forever(), "dynamodb-ttl")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()

    # ------------------------------------------------------------ tables
    def _table(self, context: RequestContext, name: str, detailed: bool = True) -> Table:
        return self.tables.get(context.account_id, context.region, _table_name(name), detailed)

    def create_table(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = control.new_table(context, params)
        table = Table(context.account_id, context.region, params["TableName"], record,
                      load_indexes(record["description"]))
        if not self.platform.store.insert(TABLES, table.key, record):
            raise resource_in_use(f"Table already exists: {params['TableName']}")
        return {"TableDescription": control.public(record["description"])}

    def describe_table(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table(context, params["TableName"])
        return {"Table": control.public(table.description)}

    def list_tables(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        names = sorted(t.name for t in self.tables.all(context.account_id, context.region))
        start = params.get("ExclusiveStartTableName")
        if start:
            names = [n for n in names if n > start]
        limit = params.get("Limit", 100)
        answer: dict[str, Any] = {"TableNames": names[:limit]}
        if len(names) > limit:
            answer["LastEvaluatedTableName"] = names[limit - 1]
        return answer

    def delete_table(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table(context, params["TableName"])
        if table.description.get("DeletionProtectionEnabled"):
            raise validation("Resource cannot be deleted as it is currently protected against deletion. Disable "
                             "deletion protection first.")
        with self.platform.store.transaction():
            self.items.drop_table(table)
            self.platform.store.delete(TABLES, table.key)
            if table.stream is not None:
                self.stream_log.drop(stream_id(table.id, table.description["LatestStreamLabel"]))
        return {"TableDescription": {**control.public(table.description), "TableStatus": "DELETING"}}

    def update_table(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table(context, params["TableName"])
        description = table.description
        creating: list[str] = []
        with self.platform.store.transaction():
            if "AttributeDefinitions" in params:
                known = {d["AttributeName"]: d for d in description["AttributeDefinitions"]}
                known.update({d["AttributeName"]: d for d in params["AttributeDefinitions"]})
                description["AttributeDefinitions"] = list(known.values())
            if "BillingMode" in params:
                if params["BillingMode"] == "PAY_PER_REQUEST":
                    description["BillingModeSummary"] = {"BillingMode": "PAY_PER_REQUEST",
                                                         "LastUpdateToPayPerRequestDateTime": now()}
                    description["ProvisionedThroughput"] = {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0,
                                                            "WriteCapacityUnits": 0}
                else:
                    description["BillingModeSummary"] = {"BillingMode": "PROVISIONED"}
            if "ProvisionedThroughput" in params:
                description["ProvisionedThroughput"].update(params["ProvisionedThroughput"])
            if "DeletionProtectionEnabled" in params:
                description["DeletionProtectionEnabled"] = params["DeletionProtectionEnabled"]
            if "TableClass" in params:
                description["TableClassSummary"] = {"TableClass": params["TableClass"]}
            if "SSESpecification" in params:
                description["SSEDescription"] = {"Status": "ENABLED" if params["SSESpecification"].get("Enabled")
                                                 else "DISABLED"}
            if "StreamSpecification" in params:
                self._update_stream(table, params["StreamSpecification"])
            for update in params.get("GlobalSecondaryIndexUpdates", []):
                creating += self._update_index(context, table, update)
            self.tables.save(table)
            for name in creating:
                fresh = Table(table.account, table.region, table.name, table.record,
                              load_indexes(table.description))
                self.items.reindex(fresh, fresh.indexes[name])
        answer = control.public(description)
        if creating:
            answer["GlobalSecondaryIndexes"] = [{**index, "IndexStatus": "CREATING"} if index["IndexName"] in creating
                                                else index for index in answer["GlobalSecondaryIndexes"]]
        return {"TableDescription": answer}

    def _update_stream(self, table: Table, spec: dict[str, Any]) -> None:
        description = table.description
        enabled = table.stream is not None
        if spec.get("StreamEnabled") and enabled:
            raise validation(f"Table already has an enabled stream: {table.description['LatestStreamArn']}")
        if not spec.get("StreamEnabled") and not enabled:
            raise validation("Table does not have a stream enabled")
        if spec.get("StreamEnabled"):
            description.update(control.stream_fields(spec, table.arn))
        else:
            label = description["LatestStreamLabel"]
            table.record.setdefault("closedStreams", {})[label] = now()
            table.record.setdefault("closedViewTypes", {})[label] = table.stream["StreamViewType"]
            description["StreamSpecification"] = {"StreamEnabled": False}

    def _update_index(self, context: RequestContext, table: Table, update: dict[str, Any]) -> list[str]:
        description = table.description
        indexes = description.setdefault("GlobalSecondaryIndexes", [])
        if "Create" in update:
            spec = update["Create"]
            if any(i["IndexName"] == spec["IndexName"] for i in indexes) or spec["IndexName"] in table.indexes:
                raise validation("Attempting to create an index which already exists")
            defined = {d["AttributeName"] for d in description["AttributeDefinitions"]}
            missing = [e["AttributeName"] for e in spec["KeySchema"] if e["AttributeName"] not in defined]
            if missing:
                raise validation("One or more parameter values were invalid: Some index key attributes are not "
                                 f"defined in AttributeDefinitions. Keys: [{', '.join(missing)}], "
                                 f"AttributeDefinitions: [{', '.join(sorted(defined))}]")
            billing = description.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
            indexes.append(control._index(spec, context, table.arn, billing, True))
            return [spec["IndexName"]]
        if "Delete" in update:
            name = update["Delete"]["IndexName"]
            if not any(i["IndexName"] == name for i in indexes):
                raise AwsError("ResourceNotFoundException", f"Requested resource not found: Index: {name} not found")
            description["GlobalSecondaryIndexes"] = [i for i in indexes if i["IndexName"] != name]
            if not description["GlobalSecondaryIndexes"]:
                del description["GlobalSecondaryIndexes"]
            self.items.drop_index(table, name)
            return []
        name = update["Update"]["IndexName"]
        for index in indexes:
            if index["IndexName"] == name:
                index["ProvisionedThroughput"].update(update["Update"].get("ProvisionedThroughput", {}))
                return []
        raise AwsError("ResourceNotFoundException", f"Requested resource not found: Index: {name} not found")

    def describe_limits(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
                "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000}

    def describe_endpoints(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        host = context.base_url.split("://", 1)[-1]
        return {"Endpoints": [{"Address": host, "CachePeriodInMinutes": 1440}]}

    # ------------------------------------------------------------- TTL
    def update_time_to_live(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table(context, params["TableName"])
        spec = params["TimeToLiveSpecification"]
        current = table.record.get("ttl", {})
        if spec["Enabled"] and current.get("TimeToLiveStatus") == "ENABLED":
            raise validation("TimeToLive is already enabled")
        if not spec["Enabled"] and current.get("TimeToLiveStatus") != "ENABLED":
            raise validation("TimeToLive is already disabled")
        with self.platform.store.transaction():
            table.record["ttl"] = ({"TimeToLiveStatus": "ENABLED", "AttributeName": spec["AttributeName"]}
                                   if spec["Enabled"] else {"TimeToLiveStatus": "DISABLED"})
            self.tables.save(table)
            if spec["Enabled"]:
                self.items.index_ttl(table)
            else:
                self.platform.store.delete_prefix("dynamodb.ttl", f"{table.id}/")
        return {"TimeToLiveSpecification": spec}

    def describe_time_to_live(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table(context, params["TableName"])
        return {"TimeToLiveDescription": table.record.get("ttl", {"TimeToLiveStatus": "DISABLED"})}

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                self.sweep(time.time())
            except Exception:
                log.exception("the TTL sweep failed")

    def sweep(self, at: float) -> int:
        """Delete expired items (each with a REMOVE stream record from the service) and old stream records."""
        deleted = 0
        for table in self.tables.all():
            if table.stream is not None:
                self.stream_log.trim(stream_id(table.id, table.description["LatestStreamLabel"]), at)
            if table.ttl_attribute is None:
                continue
            for entry, store_key in self.items.expired(table, int(at), TTL_BATCH):
                with self.platform.store.transaction():
                    self.platform.store.delete("dynamodb.ttl", entry)
                    item = self.items.load(store_key)
                    if item is not None:
                        self.items.write(table, table.schema.key_of(item), item, None, SERVICE_IDENTITY)
                        deleted += 1
        return deleted

    # ------------------------------------------------------------ tags, backups, settings
    def _table_by_arn(self, context: RequestContext, arn: str) -> Table:
        table = self.tables.find(context.account_id, context.region, _table_name(arn))
        if table is None:
            raise AwsError("ResourceNotFoundException", f"Requested resource not found: ResourcArn: {arn} not found")
        return table

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table_by_arn(context, params["ResourceArn"])
        table.record.setdefault("tags", {}).update({t["Key"]: t["Value"] for t in params["Tags"]})
        self.tables.save(table)
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table_by_arn(context, params["ResourceArn"])
        for key in params["TagKeys"]:
            table.record.setdefault("tags", {}).pop(key, None)
        self.tables.save(table)
        return {}

    def list_tags_of_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table_by_arn(context, params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(table.record.get("tags", {}).items())]}

    def describe_continuous_backups(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table(context, params["TableName"])
        return {"ContinuousBackupsDescription": _backups(table)}

    def update_continuous_backups(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table(context, params["TableName"])
        table.record["pitr"] = bool(params["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])
        self.tables.save(table)
        return {"ContinuousBackupsDescription": _backups(table)}

    def create_backup(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table(context, params["TableName"])
        arn = f"{table.arn}/backup/{int(time.time() * 1000):017d}-{uuid.uuid4().hex[:8]}"
        items = [to_stored(item) for item in self.items.all_items(table)]
        details = {"BackupArn": arn, "BackupName": params["BackupName"], "BackupSizeBytes": 0,
                   "BackupStatus": "AVAILABLE", "BackupType": "USER", "BackupCreationDateTime": now()}
        self.platform.store.put(BACKUPS, arn, {"details": details, "table": table.name, "tableArn": table.arn,
                                               "tableId": table.id, "description": table.description,
                                               "account": context.account_id, "region": context.region,
                                               "items": items})
        return {"BackupDetails": details}

    def _backup(self, arn: str) -> dict[str, Any]:
        record = self.platform.store.get(BACKUPS, arn)
        if record is None:
            raise AwsError("BackupNotFoundException", f"Backup not found: {arn}")
        return record

    def describe_backup(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._backup(params["BackupArn"])
        source = record["description"]
        return {"BackupDescription": {"BackupDetails": record["details"], "SourceTableDetails": {
            "TableName": record["table"], "TableId": record["tableId"], "TableArn": record["tableArn"],
            "KeySchema": source["KeySchema"], "TableCreationDateTime": source["CreationDateTime"],
            "ProvisionedThroughput": {k: v for k, v in source["ProvisionedThroughput"].items()
                                      if k != "NumberOfDecreasesToday"},
            "ItemCount": len(record["items"])}}}

    def list_backups(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        summaries = []
        for _, record in self.platform.store.scan(BACKUPS):
            if record["account"] != context.account_id or record["region"] != context.region:
                continue
            if params.get("TableName") and record["table"] != params["TableName"]:
                continue
            summaries.append({**record["details"], "TableName": record["table"], "TableArn": record["tableArn"],
                              "TableId": record["tableId"]})
        return {"BackupSummaries": summaries}

    def delete_backup(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._backup(params["BackupArn"])
        self.platform.store.delete(BACKUPS, params["BackupArn"])
        return {"BackupDescription": {"BackupDetails": {**record["details"], "BackupStatus": "DELETED"}}}

    def restore_table_from_backup(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._backup(params["BackupArn"])
        source = record["description"]
        create = {"TableName": params["TargetTableName"], "KeySchema": source["KeySchema"],
                  "AttributeDefinitions": source["AttributeDefinitions"],
                  "BillingMode": params.get("BillingModeOverride")
                  or source.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")}
        if create["BillingMode"] == "PROVISIONED":
            create["ProvisionedThroughput"] = {k: source["ProvisionedThroughput"][k]
                                               for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if source.get(kind):
                create[kind] = [{k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection",
                                                                        "ProvisionedThroughput")}
                                for index in source[kind]]
                if create["BillingMode"] == "PAY_PER_REQUEST":
                    for index in create[kind]:
                        index.pop("ProvisionedThroughput", None)
                elif kind == "GlobalSecondaryIndexes":
                    for index in create[kind]:
                        index["ProvisionedThroughput"] = {k: index["ProvisionedThroughput"][k] for k in
                                                          ("ReadCapacityUnits", "WriteCapacityUnits")}
        with self.platform.store.transaction():
            answer = self.create_table(context, create)
            table = self._table(context, params["TargetTableName"])
            for item in record["items"]:
                self.items.put_raw(table, from_stored(item))
        answer["TableDescription"]["RestoreSummary"] = {"SourceBackupArn": params["BackupArn"],
                                                        "SourceTableArn": record["tableArn"],
                                                        "RestoreDateTime": now(), "RestoreInProgress": False}
        return answer

    def export_table_to_point_in_time(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table(context, params["TableArn"])
        return exports.export_table(self.platform.store, self.items, self.platform.objects, context, table, params)

    def describe_export(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return exports.describe_export(self.platform.store, params["ExportArn"])

    def list_exports(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return exports.list_exports(self.platform.store, context, params)

    # ------------------------------------------------------------- items
    def put_item(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.writes.put_item(context, params)

    def get_item(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.writes.get_item(context, params)

    def update_item(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.writes.update_item(context, params)

    def delete_item(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.writes.delete_item(context, params)

    def query(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.reads.query(context, params)

    def scan(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.reads.scan(context, params)

    def batch_get_item(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batches.batch_get_item(context, params)

    def batch_write_item(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batches.batch_write_item(context, params)

    def transact_get_items(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batches.transact_get_items(context, params)

    def transact_write_items(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batches.transact_write_items(context, params)

    def execute_statement(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return partiql.execute(self, context, params)

    def batch_execute_statement(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return partiql.execute_batch(self, context, params)

    def execute_transaction(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return partiql.execute_transaction(self, context, params)

    # ------------------------------------------- the stream reader (platform.streams)
    def stream_tables(self, account: str, region: str) -> list[dict[str, Any]]:
        """Every stream of the account and region, current and closed: StreamArn, TableName, StreamLabel."""
        streams = []
        for table in self.tables.all(account, region):
            labels = list(table.record.get("closedStreams", {}))
            if table.description.get("LatestStreamLabel") and table.stream is not None:
                labels.append(table.description["LatestStreamLabel"])
            for label in labels:
                streams.append({"StreamArn": f"{table.arn}/stream/{label}", "TableName": table.name,
                                "StreamLabel": label})
        return streams

    def describe_table_stream(self, account: str, region: str, stream_arn: str) -> dict[str, Any] | None:
        """The StreamDescription of a stream (None when there is no such stream)."""
        sid = self._stream_key(account, region, stream_arn)
        if sid is None:
            return None
        table_name, _, label = stream_arn.split(":table/", 1)[-1].partition("/stream/")
        table = self.tables.get(account, region, table_name)
        current = table.stream is not None and table.description.get("LatestStreamLabel") == label
        first, last = self.stream_log.bounds(sid)
        shard: dict[str, Any] = {"ShardId": shard_id(label),
                                 "SequenceNumberRange": {"StartingSequenceNumber": first or "100000000000000000001"}}
        if not current:
            shard["SequenceNumberRange"]["EndingSequenceNumber"] = last or shard["SequenceNumberRange"][
                "StartingSequenceNumber"]
        spec = table.description.get("StreamSpecification", {})
        return {"StreamArn": stream_arn, "StreamLabel": label, "StreamStatus": "ENABLED" if current else "DISABLED",
                "StreamViewType": spec.get("StreamViewType", "NEW_AND_OLD_IMAGES") if current else
                table.record.get("closedViewTypes", {}).get(label, "NEW_AND_OLD_IMAGES"),
                "CreationRequestDateTime": table.description["CreationDateTime"], "TableName": table.name,
                "KeySchema": table.description["KeySchema"], "Shards": [shard]}

    def _stream_key(self, account: str, region: str, stream_arn: str) -> str | None:
        table_name, _, label = stream_arn.split(":table/", 1)[-1].partition("/stream/")
        table = self.tables.find(account, region, table_name)
        if table is None:
            return None
        if table.description.get("LatestStreamLabel") != label and label not in table.record.get("closedStreams", {}):
            return None
        return stream_id(table.id, label)

    def latest_sequence(self, account: str, region: str, stream_arn: str) -> str | None:
        stream_key = self._stream_key(account, region, stream_arn)
        return self.stream_log.bounds(stream_key)[1] if stream_key else None

    def read_stream(self, account: str, region: str, stream_arn: str, after_sequence: str | None,
                    limit: int) -> list[dict[str, Any]] | None:
        """Records after a sequence number (AWS's shape), oldest first; None when there is no such stream."""
        stream_key = self._stream_key(account, region, stream_arn)
        if stream_key is None:
            return None
        records = self.stream_log.read(stream_key, after_sequence, limit)
        for record in records:
            record.pop("at", None)
            body = record["dynamodb"]
            for name in ("Keys", "NewImage", "OldImage"):
                if name in body:
                    body[name] = from_stored(body[name])
        return records


def _table_name(name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn.split(":table/", 1)[-1].split("/", 1)[0]
    return name_or_arn


def _backups(table: Table) -> dict[str, Any]:
    return {"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": {
        "PointInTimeRecoveryStatus": "ENABLED" if table.record.get("pitr") else "DISABLED"}}

