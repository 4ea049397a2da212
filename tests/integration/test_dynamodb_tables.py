"""DynamoDB's control plane through boto3: tables, indexes added with backfill, TTL settings,
tags, continuous backups, backups and restores, and AWS's errors."""

from __future__ import annotations

import pytest

from tests.integration.dynamodb_support import error_of, make_table, resource, unique


@pytest.fixture(scope="module")
def ddb(server):
    return server.client("dynamodb")


def test_create_describe_list_delete(ddb):
    name = unique()
    created = ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 3},
        Tags=[{"Key": "team", "Value": "core"}], TableClass="STANDARD_INFREQUENT_ACCESS",
        SSESpecification={"Enabled": True})["TableDescription"]
    assert created["TableStatus"] == "ACTIVE"
    assert created["TableArn"] == f"arn:aws:dynamodb:us-east-1:000000000000:table/{name}"
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    described = ddb.describe_table(TableName=name)["Table"]
    assert described["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert described["TableClassSummary"] == {"TableClass": "STANDARD_INFREQUENT_ACCESS"}
    assert described["SSEDescription"]["Status"] == "ENABLED"
    assert name in ddb.list_tables()["TableNames"]
    assert ddb.list_tags_of_resource(ResourceArn=created["TableArn"])["Tags"] == [{"Key": "team", "Value": "core"}]
    error = error_of(lambda: ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST"))
    assert (error["Code"], error["Message"]) == ("ResourceInUseException", f"Table already exists: {name}")
    assert ddb.delete_table(TableName=name)["TableDescription"]["TableStatus"] == "DELETING"
    error = error_of(lambda: ddb.describe_table(TableName=name))
    assert (error["Code"], error["Message"]) == ("ResourceNotFoundException",
                                                 f"Requested resource not found: Table: {name} not found")
    assert name not in ddb.list_tables()["TableNames"]


@pytest.mark.parametrize("arguments, message", [
    ({"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
      "AttributeDefinitions": [{"AttributeName": "other", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"},
     "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. "
     "Keys: [id], AttributeDefinitions: [other]"),
    ({"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
      "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"},
                               {"AttributeName": "x", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"},
     "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of "
     "attributes defined in AttributeDefinitions"),
    ({"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
      "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]},
     "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified "
     "when BillingMode is PROVISIONED"),
])
def test_create_table_errors(ddb, arguments, message):
    name = unique()
    error = error_of(lambda: ddb.create_table(TableName=name, **arguments))
    assert (error["Code"], error["Message"]) == ("ValidationException", message)
    assert name not in ddb.list_tables()["TableNames"]


def test_list_tables_pages(ddb):
    names = sorted(make_table(ddb, unique("page")) for _ in range(3))
    seen, start = [], None
    while True:
        page = ddb.list_tables(Limit=2, **({"ExclusiveStartTableName": start} if start else {}))
        seen += page["TableNames"]
        start = page.get("LastEvaluatedTableName")
        if not start:
            break
    assert [n for n in seen if n in names] == names


def test_add_global_index_backfills_and_remove_it(ddb, server):
    name = make_table(ddb)
    table = resource(server).Table(name)
    for i in range(5):
        table.put_item(Item={"pk": f"p{i}", "sk": i, "colour": "red" if i % 2 else "blue"})
    answer = ddb.update_table(
        TableName=name, AttributeDefinitions=[{"AttributeName": "colour", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "by-colour", "KeySchema": [
            {"AttributeName": "colour", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}}])
    assert answer["TableDescription"]["GlobalSecondaryIndexes"][0]["IndexStatus"] == "CREATING"
    described = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
    assert described["IndexStatus"] == "ACTIVE"
    red = table.query(IndexName="by-colour", KeyConditionExpression="colour = :c",
                      ExpressionAttributeValues={":c": "red"})["Items"]
    assert sorted(i["sk"] for i in red) == [1, 3]
    ddb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-colour"}}])
    assert "GlobalSecondaryIndexes" not in ddb.describe_table(TableName=name)["Table"]
    error = error_of(lambda: table.query(IndexName="by-colour", KeyConditionExpression="colour = :c",
                                         ExpressionAttributeValues={":c": "red"}))
    assert error["Message"] == "The table does not have the specified index: by-colour"


def test_time_to_live_settings(ddb):
    name = make_table(ddb)
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    error = error_of(lambda: ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires"}))
    assert (error["Code"], error["Message"]) == ("ValidationException", "TimeToLive is already enabled")


def test_tags_deletion_protection_and_continuous_backups(ddb):
    name = make_table(ddb, DeletionProtectionEnabled=True)
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    error = error_of(lambda: ddb.delete_table(TableName=name))
    assert error["Code"] == "ValidationException"
    ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    assert ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    ddb.delete_table(TableName=name)


def test_backup_and_restore(ddb, server):
    name = make_table(ddb)
    table = resource(server).Table(name)
    table.put_item(Item={"pk": "a", "sk": 1, "v": "kept"})
    backup = ddb.create_backup(TableName=name, BackupName="nightly")["BackupDetails"]
    table.put_item(Item={"pk": "b", "sk": 2, "v": "after"})
    assert backup["BackupStatus"] == "AVAILABLE"
    assert any(b["BackupArn"] == backup["BackupArn"] for b in ddb.list_backups(TableName=name)["BackupSummaries"])
    restored = unique("restored")
    ddb.restore_table_from_backup(TargetTableName=restored, BackupArn=backup["BackupArn"])
    assert resource(server).Table(restored).scan()["Items"] == [{"pk": "a", "sk": 1, "v": "kept"}]
    assert ddb.describe_backup(BackupArn=backup["BackupArn"])["BackupDescription"]["SourceTableDetails"][
        "ItemCount"] == 1
    ddb.delete_backup(BackupArn=backup["BackupArn"])
    error = error_of(lambda: ddb.describe_backup(BackupArn=backup["BackupArn"]))
    assert error["Code"] == "BackupNotFoundException"


def test_describe_limits_and_endpoints(ddb):
    assert ddb.describe_limits()["TableMaxWriteCapacityUnits"] == 40000
    assert ddb.describe_endpoints()["Endpoints"][0]["CachePeriodInMinutes"] == 1440


def test_export_to_s3(ddb, server):
    import gzip
    import json

    name = make_table(ddb)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "b": {"B": b"\x01"}})
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    error = error_of(lambda: ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="exports"))
    assert error["Code"] == "PointInTimeRecoveryUnavailableException"
    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    s3 = server.client("s3")
    s3.create_bucket(Bucket="exports")
    export = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="exports", S3Prefix="dumps")[
        "ExportDescription"]
    assert (export["ExportStatus"], export["ItemCount"]) == ("COMPLETED", 1)
    assert ddb.describe_export(ExportArn=export["ExportArn"])["ExportDescription"]["ExportArn"] == export["ExportArn"]
    assert export["ExportArn"] in [e["ExportArn"] for e in ddb.list_exports(TableArn=arn)["ExportSummaries"]]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="exports", Prefix="dumps/AWSDynamoDB/")["Contents"]]
    data = next(k for k in keys if k.endswith(".json.gz"))
    lines = gzip.decompress(s3.get_object(Bucket="exports", Key=data)["Body"].read()).decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"Item": {"pk": {"S": "a"}, "sk": {"N": "1"}, "b": {"B": "AQ=="}}}]
