"""CreateTable/UpdateTable input checks and the table description DynamoDB answers with."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from cumulo.services.base import RequestContext
from cumulo.services.dynamodb.errors import invalid_parameter, validation
from cumulo.services.dynamodb.tables import now


def _throughput(params: dict[str, Any], billing: str, what: str = "") -> dict[str, Any]:
    given = params.get("ProvisionedThroughput")
    if billing == "PAY_PER_REQUEST":
        if given:
            raise invalid_parameter("Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                                    f"BillingMode is PAY_PER_REQUEST{what}")
        return {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
    if not given:
        raise invalid_parameter(f"ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode "
                                f"is PROVISIONED{what}")
    return {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": given["ReadCapacityUnits"],
            "WriteCapacityUnits": given["WriteCapacityUnits"]}


def _check_key_schema(schema: list[dict], defined: dict[str, str], where: str = "") -> None:
    hashes = [e for e in schema if e["KeyType"] == "HASH"]
    ranges = [e for e in schema if e["KeyType"] == "RANGE"]
    if len(hashes) != 1 or schema[0]["KeyType"] != "HASH" or len(ranges) > 1 or len(schema) > 2:
        raise invalid_parameter(f"Invalid KeySchema: The first KeySchemaElement is not a HASH key type{where}"
                                if schema[0]["KeyType"] != "HASH" else
                                f"Too many hash keys or range keys specified{where}")
    if len(schema) == 2 and schema[0]["AttributeName"] == schema[1]["AttributeName"]:
        raise invalid_parameter("Both the Hash Key and the Range Key element in the KeySchema have the same "
                                f"name{where}")
    missing = [e["AttributeName"] for e in schema if e["AttributeName"] not in defined]
    if missing:
        raise invalid_parameter("Some index key attributes are not defined in AttributeDefinitions. Keys: "
                                f"[{', '.join(missing)}], AttributeDefinitions: [{', '.join(defined)}]")


def _index(spec: dict[str, Any], context: RequestContext, table_arn: str, billing: str | None,
           is_global: bool) -> dict[str, Any]:
    projection = spec["Projection"]
    if projection.get("ProjectionType") != "INCLUDE" and projection.get("NonKeyAttributes"):
        raise validation("One or more parameter values were invalid: ProjectionType is "
                         f"{projection.get('ProjectionType')}, but NonKeyAttributes is specified")
    description: dict[str, Any] = {"IndexName": spec["IndexName"], "KeySchema": spec["KeySchema"],
                                   "Projection": projection, "IndexSizeBytes": 0, "ItemCount": 0,
                                   "IndexArn": f"{table_arn}/index/{spec['IndexName']}"}
    if is_global:
        description["IndexStatus"] = "ACTIVE"
        description["ProvisionedThroughput"] = _throughput(spec, billing or "PROVISIONED",
                                                           f" (index {spec['IndexName']})")
    return description


def stream_fields(spec: dict[str, Any] | None, table_arn: str) -> dict[str, Any]:
    if not spec:
        return {}
    if not spec.get("StreamEnabled"):
        return {"StreamSpecification": {"StreamEnabled": False}}
    if spec.get("StreamViewType") is None:
        raise validation("One or more parameter values were invalid: StreamViewType is required when "
                         "StreamEnabled is true")
    label = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": spec["StreamViewType"]},
            "LatestStreamLabel": label, "LatestStreamArn": f"{table_arn}/stream/{label}"}


def new_table(context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The record of a table CreateTable makes (checks its input first)."""
    name = params["TableName"]
    defined = {d["AttributeName"]: d["AttributeType"] for d in params["AttributeDefinitions"]}
    if len(defined) != len(params["AttributeDefinitions"]):
        raise invalid_parameter("Duplicate AttributeName in AttributeDefinitions")
    _check_key_schema(params["KeySchema"], defined)
    billing = params.get("BillingMode", "PROVISIONED")
    arn = context.arn("dynamodb", f"table/{name}")
    description: dict[str, Any] = {
        "TableName": name, "TableId": str(uuid.uuid4()), "TableArn": arn, "TableStatus": "ACTIVE",
        "CreationDateTime": now(), "KeySchema": params["KeySchema"],
        "AttributeDefinitions": params["AttributeDefinitions"],
        "ProvisionedThroughput": _throughput(params, billing), "TableSizeBytes": 0, "ItemCount": 0,
        "DeletionProtectionEnabled": bool(params.get("DeletionProtectionEnabled", False)),
    }
    if billing == "PAY_PER_REQUEST":
        description["BillingModeSummary"] = {"BillingMode": "PAY_PER_REQUEST",
                                             "LastUpdateToPayPerRequestDateTime": now()}
    used = {e["AttributeName"] for e in params["KeySchema"]}
    names: set[str] = set()
    table_hash = params["KeySchema"][0]["AttributeName"]
    for source, is_global in (("GlobalSecondaryIndexes", True), ("LocalSecondaryIndexes", False)):
        specs = params.get(source) or []
        if source in params and not specs:
            raise validation(f"One or more parameter values were invalid: List of {source} is empty")
        built = []
        for spec in specs:
            _check_key_schema(spec["KeySchema"], defined, f" for index {spec['IndexName']}")
            if spec["IndexName"] in names:
                raise invalid_parameter(f"Duplicate index name: {spec['IndexName']}")
            names.add(spec["IndexName"])
            if not is_global and (spec["KeySchema"][0]["AttributeName"] != table_hash or len(spec["KeySchema"]) != 2):
                raise invalid_parameter(f"Index KeySchema does not have a range key for index: {spec['IndexName']}"
                                        if len(spec["KeySchema"]) != 2 else
                                        "Table KeySchema does not have a range key, which is required when "
                                        "specifying a LocalSecondaryIndex")
            if not is_global and len(params["KeySchema"]) != 2:
                raise invalid_parameter("Table KeySchema does not have a range key, which is required when "
                                        "specifying a LocalSecondaryIndex")
            used |= {e["AttributeName"] for e in spec["KeySchema"]}
            built.append(_index(spec, context, arn, billing, is_global))
        if built:
            description[source] = built
    if set(defined) - used:
        raise invalid_parameter("Number of attributes in KeySchema does not exactly match number of attributes "
                                "defined in AttributeDefinitions")
    description.update(stream_fields(params.get("StreamSpecification"), arn))
    if params.get("SSESpecification", {}).get("Enabled"):
        sse = params["SSESpecification"]
        description["SSEDescription"] = {"Status": "ENABLED", "SSEType": sse.get("SSEType", "KMS"),
                                         "KMSMasterKeyArn": sse.get("KMSMasterKeyId")
                                         or context.arn("kms", "key/aws-dynamodb")}
    if params.get("TableClass"):
        description["TableClassSummary"] = {"TableClass": params["TableClass"]}
    return {"id": description["TableId"], "description": description,
            "tags": {t["Key"]: t["Value"] for t in params.get("Tags", [])},
            "ttl": {"TimeToLiveStatus": "DISABLED"}, "pitr": False}


def public(description: dict[str, Any], count: int | None = None, size: int | None = None) -> dict[str, Any]:
    """The description as DescribeTable answers (item count and size when known)."""
    answer = dict(description)
    if count is not None:
        answer["ItemCount"], answer["TableSizeBytes"] = count, size or 0
    if answer.get("StreamSpecification", {}).get("StreamEnabled") is False:
        answer.pop("StreamSpecification")
    return answer
