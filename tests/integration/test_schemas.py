"""The EventBridge schema registry through boto3 against a real server: registries, schemas and
versions, search, discovery on a bus, and code bindings that compile/run."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.server import CumuloServer, wait_for

ORDER_SCHEMA = {"openapi": "3.0.0", "info": {"version": "1.0.0", "title": "Order"}, "paths": {},
                "components": {"schemas": {"Order": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "string"}, "total": {"type": "number"},
                    "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}}}},
                    "Line": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}}}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("schemas") / "data").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def schemas(server):
    return server.client("schemas")


@pytest.fixture(scope="module")
def events(server):
    return server.client("events")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def code(raised: pytest.ExceptionInfo) -> str:
    return raised.value.response["Error"]["Code"]


def test_registries_schemas_versions_and_search(schemas):
    registry = unique("reg")
    created = schemas.create_registry(RegistryName=registry, Description="shop", Tags={"team": "a"})
    assert created["RegistryArn"] == f"arn:aws:schemas:us-east-1:000000000000:registry/{registry}"
    assert schemas.describe_registry(RegistryName=registry)["Description"] == "shop"
    assert registry in [r["RegistryName"] for r in schemas.list_registries(RegistryNamePrefix=registry)["Registries"]]
    with pytest.raises(ClientError) as raised:
        schemas.create_registry(RegistryName=registry)
    assert code(raised) == "ConflictException"

    first = schemas.create_schema(RegistryName=registry, SchemaName="OrderPlaced", Type="OpenApi3",
                                  Content=json.dumps(ORDER_SCHEMA))
    assert first["SchemaVersion"] == "1"
    changed = {**ORDER_SCHEMA, "info": {"version": "2.0.0", "title": "Order"}}
    second = schemas.update_schema(RegistryName=registry, SchemaName="OrderPlaced", Content=json.dumps(changed))
    assert second["SchemaVersion"] == "2"
    latest = schemas.describe_schema(RegistryName=registry, SchemaName="OrderPlaced")
    assert latest["SchemaVersion"] == "2" and json.loads(latest["Content"]) == changed
    old = schemas.describe_schema(RegistryName=registry, SchemaName="OrderPlaced", SchemaVersion="1")
    assert json.loads(old["Content"]) == ORDER_SCHEMA
    versions = schemas.list_schema_versions(RegistryName=registry, SchemaName="OrderPlaced")["SchemaVersions"]
    assert [v["SchemaVersion"] for v in versions] == ["1", "2"]
    schemas.create_schema(RegistryName=registry, SchemaName="InvoiceSent", Type="JSONSchemaDraft4",
                          Content=json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}}))
    arn = first["SchemaArn"]
    schemas.tag_resource(ResourceArn=arn, Tags={"stage": "dev", "team": "b"})
    schemas.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert schemas.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"stage": "dev"}
    assert schemas.list_tags_for_resource(ResourceArn=created["RegistryArn"])["Tags"] == {"team": "a"}
    found = schemas.search_schemas(RegistryName=registry, Keywords="order")["Schemas"]
    assert [(s["SchemaName"], len(s["SchemaVersions"])) for s in found] == [("OrderPlaced", 2)]
    listed = schemas.list_schemas(RegistryName=registry)["Schemas"]
    assert [(s["SchemaName"], s["VersionCount"]) for s in listed] == [("InvoiceSent", 1), ("OrderPlaced", 2)]

    with pytest.raises(ClientError) as raised:
        schemas.create_schema(RegistryName=registry, SchemaName="Bad", Type="OpenApi3", Content="{not json")
    assert code(raised) == "BadRequestException"
    with pytest.raises(ClientError) as raised:
        schemas.describe_schema(RegistryName=registry, SchemaName="OrderPlaced", SchemaVersion="9")
    assert code(raised) == "NotFoundException"
    schemas.delete_schema_version(RegistryName=registry, SchemaName="OrderPlaced", SchemaVersion="1")
    assert schemas.list_schemas(RegistryName=registry)["Schemas"][1]["VersionCount"] == 1
    schemas.delete_schema(RegistryName=registry, SchemaName="InvoiceSent")
    schemas.delete_registry(RegistryName=registry)
    with pytest.raises(ClientError) as raised:
        schemas.describe_registry(RegistryName=registry)
    assert code(raised) == "NotFoundException"


def test_code_bindings_for_three_languages(schemas):
    registry = unique("reg")
    schemas.create_registry(RegistryName=registry)
    schemas.create_schema(RegistryName=registry, SchemaName="Order", Type="OpenApi3", Content=json.dumps(ORDER_SCHEMA))
    with pytest.raises(ClientError) as raised:
        schemas.get_code_binding_source(RegistryName=registry, SchemaName="Order", Language="Python36")
    assert code(raised) == "NotFoundException"
    sources = {}
    for language in ("Python36", "TypeScript3", "Java8"):
        put = schemas.put_code_binding(RegistryName=registry, SchemaName="Order", Language=language)
        assert put["Status"] == "CREATE_COMPLETE" and put["SchemaVersion"] == "1"
        assert schemas.describe_code_binding(RegistryName=registry, SchemaName="Order",
                                             Language=language)["Status"] == "CREATE_COMPLETE"
        body = schemas.get_code_binding_source(RegistryName=registry, SchemaName="Order", Language=language)["Body"]
        data = body.read() if hasattr(body, "read") else body
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sources[language] = {name: archive.read(name).decode() for name in archive.namelist()}
    namespace: dict = {}
    exec(sources["Python36"]["order/models.py"], namespace)  # the generated module runs
    order = namespace["Order"].from_dict({"id": "o-1", "lines": [{"sku": "a", "qty": 2}]})
    assert order.lines[0].qty == 2 and order.to_dict() == {"id": "o-1", "lines": [{"sku": "a", "qty": 2}]}
    assert "export interface Order {\n  id: string;\n  total?: number;\n  lines?: Line[];\n}" in \
        sources["TypeScript3"]["order/models.ts"]
    java = sources["Java8"]["src/main/java/schema/order/Order.java"]
    assert "public class Order {" in java and "public java.util.List<Line> getLines()" in java


def test_discoverer_writes_and_versions_schemas_from_events(schemas, events):
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    discoverer = schemas.create_discoverer(SourceArn=bus_arn, Description="shop bus")
    assert discoverer["State"] == "STARTED" and discoverer["DiscovererId"] == f"events-event-bus-{bus}"
    source = unique("shop")

    def put(detail: dict) -> None:
        events.put_events(Entries=[{"Source": source, "DetailType": "Order Placed", "EventBusName": bus,
                                    "Detail": json.dumps(detail)}])

    put({"id": "o-1", "total": 12.5})
    put({"id": "o-2", "total": 3.0})  # same shape: no new version
    name = f"{source}@OrderPlaced"
    described = wait_for(lambda: schemas.describe_schema(RegistryName="discovered-schemas", SchemaName=name), 5)
    assert described["SchemaVersion"] == "1" and described["Type"] == "OpenApi3"
    content = json.loads(described["Content"])
    assert content["components"]["schemas"]["AWSEvent"]["x-amazon-events-source"] == source
    assert content["components"]["schemas"]["OrderPlaced"]["properties"]["total"]["type"] == "number"
    put({"id": "o-3", "total": 1.0, "customer": {"email": "a@b.c"}})  # a new shape: version 2
    assert schemas.describe_schema(RegistryName="discovered-schemas", SchemaName=name)["SchemaVersion"] == "2"
    schemas.stop_discoverer(DiscovererId=discoverer["DiscovererId"])
    put({"other": True})
    assert schemas.describe_schema(RegistryName="discovered-schemas", SchemaName=name)["SchemaVersion"] == "2"
    assert schemas.describe_discoverer(DiscovererId=discoverer["DiscovererId"])["State"] == "STOPPED"
    schemas.delete_discoverer(DiscovererId=discoverer["DiscovererId"])
    assert not schemas.list_discoverers(DiscovererIdPrefix=discoverer["DiscovererId"])["Discoverers"]


def test_registry_schema_and_discoverer_in_a_template(server, schemas):
    cloudformation = server.client("cloudformation")
    stack, registry = unique("schemas-stack"), unique("reg")
    template = {"Resources": {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": unique("bus")}},
        "Registry": {"Type": "AWS::EventSchemas::Registry", "Properties": {"RegistryName": registry}},
        "Schema": {"Type": "AWS::EventSchemas::Schema", "Properties": {
            "RegistryName": {"Fn::GetAtt": ["Registry", "RegistryName"]}, "SchemaName": "Order", "Type": "OpenApi3",
            "Content": json.dumps(ORDER_SCHEMA)}},
        "Discoverer": {"Type": "AWS::EventSchemas::Discoverer", "Properties": {
            "SourceArn": {"Fn::GetAtt": ["Bus", "Arn"]}}}},
        "Outputs": {"SchemaArn": {"Value": {"Ref": "Schema"}},
                    "DiscovererId": {"Value": {"Fn::GetAtt": ["Discoverer", "DiscovererId"]}}}}
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    described = wait_for(lambda: (lambda s: s if s["StackStatus"].endswith("COMPLETE") else None)(
        cloudformation.describe_stacks(StackName=stack)["Stacks"][0]), 30, message="stack")
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert outputs["SchemaArn"] == f"arn:aws:schemas:us-east-1:000000000000:schema/{registry}/Order"
    assert schemas.describe_discoverer(DiscovererId=outputs["DiscovererId"])["State"] == "STARTED"
    assert schemas.describe_schema(RegistryName=registry, SchemaName="Order")["SchemaVersion"] == "1"
    cloudformation.delete_stack(StackName=stack)
    wait_for(lambda: not schemas.list_registries(RegistryNamePrefix=registry)["Registries"], 30, message="deletion")
