"""Amazon EventBridge Schema Registry (service ``schemas``): registries, schemas and their versions,
search, discoverers and code bindings.

* A schema's content is an OpenAPI 3 (``OpenApi3``) or JSONSchema Draft 4 (``JSONSchemaDraft4``)
  JSON document; CreateSchema writes version 1, each UpdateSchema with new content the next
  version. DescribeSchema/ExportSchema read the latest or a given version.
* SearchSchemas finds the schemas of a registry whose name contains every keyword (case
  insensitive).
* A discoverer watches an event bus (``SourceArn``): while it is ``STARTED``, every event put
  on the bus is described by ``infer.infer_event_schema`` and written to the
  ``discovered-schemas`` registry as ``source@DetailType``, a new version when the shape
  changed. Discovery runs inside PutEvents' transaction; shapes already seen are remembered in
  memory, so an event of a known shape costs one dictionary lookup.
* PutCodeBinding generates the models at once (``CREATE_COMPLETE``); GetCodeBindingSource returns
  the zip archive (``codegen``).

Tables (keys scoped by ``account:region:``): ``schemas.registries`` ``{scope}{registry}``,
``schemas.schemas`` ``{scope}{registry}|{schema}`` (metadata, latest version, code bindings),
``schemas.versions`` ``{scope}{registry}|{schema}|{version:010d}`` (content, type, date),
``schemas.discoverers`` ``{scope}{id}``.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext
from cumulo.services.pagination import decode_token, encode_token
from cumulo.services.schemas import codegen
from cumulo.services.schemas.discovery import DISCOVERERS, DiscovererOperations
from cumulo.services.schemas.infer import DISCOVERED_REGISTRY, canonical, discovered_name, infer_event_schema

if TYPE_CHECKING:
    from cumulo.platform import Platform

REGISTRIES, SCHEMAS, VERSIONS = "schemas.registries", "schemas.schemas", "schemas.versions"
TYPES = ("OpenApi3", "JSONSchemaDraft4")
DEFAULT_LIMIT = 100


def not_found(message: str) -> AwsError:
    return AwsError("NotFoundException", message, status=404)


def bad_request(message: str) -> AwsError:
    return AwsError("BadRequestException", message, status=400)


def conflict(message: str) -> AwsError:
    return AwsError("ConflictException", message, status=409)


class SchemasProvider(DiscovererOperations, Provider):
    service = "schemas"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self._watched: dict[str, set[str]] | None = None  # bus ARN -> discoverer ids, STARTED ones only
        self._seen: set[tuple[str, str]] = set()  # (schema key, canonical content) already the latest

    async def start(self) -> None:
        self.platform.events.add_event_observer(self._observe)

    @staticmethod
    def _scope(context: RequestContext) -> str:
        return f"{context.account_id}:{context.region}:"

    def _arn(self, context: RequestContext, resource: str) -> str:
        return f"arn:aws:schemas:{context.region}:{context.account_id}:{resource}"

    # ------------------------------------------------------------ registries
    def _registry(self, scope: str, name: str) -> dict[str, Any]:
        record = self.platform.store.get(REGISTRIES, scope + name)
        if record is None:
            raise not_found(f"Registry with name {name} does not exist.")
        return record

    @staticmethod
    def _public_registry(record: dict[str, Any]) -> dict[str, Any]:
        return {k: record[k] for k in ("RegistryArn", "RegistryName", "Description", "Tags") if k in record}

    def _ensure_registry(self, context: RequestContext, name: str, description: str | None = None,
                         tags: dict[str, str] | None = None) -> tuple[dict[str, Any], bool]:
        record = {"RegistryName": name, "RegistryArn": self._arn(context, f"registry/{name}"), "Tags": tags or {}}
        if description is not None:
            record["Description"] = description
        created = self.platform.store.insert(REGISTRIES, self._scope(context) + name, record)
        return (record if created else self._registry(self._scope(context), name)), created

    def create_registry(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record, created = self._ensure_registry(context, params["RegistryName"], params.get("Description"),
                                                params.get("Tags"))
        if not created:
            raise conflict(f"Registry with name {params['RegistryName']} already exists.")
        return self._public_registry(record)

    def describe_registry(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._public_registry(self._registry(self._scope(context), params["RegistryName"]))

    def update_registry(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            record = self._registry(self._scope(context), params["RegistryName"])
            if params.get("Description") is not None:
                record["Description"] = params["Description"]
            self.platform.store.put(REGISTRIES, self._scope(context) + record["RegistryName"], record)
        return self._public_registry(record)

    def delete_registry(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope, name = self._scope(context), params["RegistryName"]
        with self.platform.store.transaction():
            self._registry(scope, name)
            self.platform.store.delete_prefix(VERSIONS, f"{scope}{name}|")
            self.platform.store.delete_prefix(SCHEMAS, f"{scope}{name}|")
            self.platform.store.delete(REGISTRIES, scope + name)
        self._seen.clear()
        return {}

    def list_registries(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rows = [r for _, r in self.platform.store.scan(REGISTRIES, self._scope(context) +
                                                       (params.get("RegistryNamePrefix") or ""))]
        return self._page(rows, params, "Registries", "RegistryName", self._public_registry)

    # ------------------------------------------------------------ schemas
    def _schema(self, scope: str, registry: str, name: str) -> dict[str, Any]:
        self._registry(scope, registry)
        record = self.platform.store.get(SCHEMAS, f"{scope}{registry}|{name}")
        if record is None:
            raise not_found(f"Schema with name {name} does not exist.")
        return record

    @staticmethod
    def _content(params: dict[str, Any], kind: str) -> dict[str, Any]:
        if kind not in TYPES:
            raise bad_request(f"Invalid schema type {kind}: it must be one of {', '.join(TYPES)}.")
        try:
            document = json.loads(params["Content"])
        except ValueError as exc:
            raise bad_request("Invalid schema content: it is not valid JSON.") from exc
        if not isinstance(document, dict) or (kind == "OpenApi3" and "openapi" not in document):
            raise bad_request(f"Invalid schema content: it is not a {kind} document.")
        return document

    def _write_version(self, scope: str, registry: str, record: dict[str, Any], content: str, kind: str) -> None:
        """Add the next version of a schema (the caller's transaction)."""
        now = time.time()
        version = record.get("_latest", 0) + 1
        record.update(_latest=version, SchemaVersion=str(version), LastModified=now, VersionCreatedDate=now,
                      Type=kind, VersionCount=record.get("VersionCount", 0) + 1)
        key = f"{scope}{registry}|{record['SchemaName']}"
        self.platform.store.put(VERSIONS, f"{key}|{version:010d}",
                                {"Content": content, "Type": kind, "SchemaVersion": str(version), "Created": now})
        self.platform.store.put(SCHEMAS, key, record)

    @staticmethod
    def _public_schema(record: dict[str, Any], version: dict[str, Any] | None = None) -> dict[str, Any]:
        view = {k: record[k] for k in ("Description", "LastModified", "SchemaArn", "SchemaName", "SchemaVersion",
                                       "Tags", "Type", "VersionCreatedDate") if k in record}
        if version is not None:
            view.update(Content=version["Content"], SchemaVersion=version["SchemaVersion"], Type=version["Type"],
                        VersionCreatedDate=version["Created"])
        return view

    def create_schema(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope, registry, name = self._scope(context), params["RegistryName"], params["SchemaName"]
        self._content(params, params["Type"])
        with self.platform.store.transaction():
            self._registry(scope, registry)
            if self.platform.store.get(SCHEMAS, f"{scope}{registry}|{name}") is not None:
                raise conflict(f"Schema with name {name} already exists.")
            record = {"SchemaName": name, "SchemaArn": self._arn(context, f"schema/{registry}/{name}"),
                      "Tags": params.get("Tags") or {}}
            if params.get("Description") is not None:
                record["Description"] = params["Description"]
            self._write_version(scope, registry, record, params["Content"], params["Type"])
        return self._public_schema(record)

    def update_schema(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope, registry = self._scope(context), params["RegistryName"]
        with self.platform.store.transaction():
            record = self._schema(scope, registry, params["SchemaName"])
            if params.get("Description") is not None:
                record["Description"] = params["Description"]
            if params.get("Content") is not None:
                kind = params.get("Type") or record["Type"]
                self._content(params, kind)
                self._write_version(scope, registry, record, params["Content"], kind)
            else:
                self.platform.store.put(SCHEMAS, f"{scope}{registry}|{record['SchemaName']}", record)
        return self._public_schema(record)

    def _version(self, scope: str, registry: str, record: dict[str, Any], version: str | None) -> dict[str, Any]:
        number = record["_latest"] if version is None else (int(version) if version.isdigit() else -1)
        found = self.platform.store.get(VERSIONS, f"{scope}{registry}|{record['SchemaName']}|{number:010d}")
        if found is None:
            raise not_found(f"Schema version {version} does not exist.")
        return found

    def describe_schema(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope, registry = self._scope(context), params["RegistryName"]
        record = self._schema(scope, registry, params["SchemaName"])
        return self._public_schema(record, self._version(scope, registry, record, params.get("SchemaVersion")))

    def export_schema(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope, registry = self._scope(context), params["RegistryName"]
        record = self._schema(scope, registry, params["SchemaName"])
        version = self._version(scope, registry, record, params.get("SchemaVersion"))
        if params["Type"] != version["Type"]:
            raise bad_request(f"Schema {record['SchemaName']} is of type {version['Type']}; it can only be exported "
                              "as that type.")
        return {"Content": version["Content"], "SchemaArn": record["SchemaArn"], "SchemaName": record["SchemaName"],
                "SchemaVersion": version["SchemaVersion"], "Type": version["Type"]}

    def delete_schema(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope, registry = self._scope(context), params["RegistryName"]
        with self.platform.store.transaction():
            record = self._schema(scope, registry, params["SchemaName"])
            key = f"{scope}{registry}|{record['SchemaName']}"
            self.platform.store.delete_prefix(VERSIONS, key + "|")
            self.platform.store.delete(SCHEMAS, key)
        self._seen.clear()
        return {}

    def delete_schema_version(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope, registry = self._scope(context), params["RegistryName"]
        with self.platform.store.transaction():
            record = self._schema(scope, registry, params["SchemaName"])
            version = self._version(scope, registry, record, params["SchemaVersion"])
            if version["SchemaVersion"] == record["SchemaVersion"]:
                raise bad_request("The latest version of a schema cannot be deleted; delete the schema instead.")
            key = f"{scope}{registry}|{record['SchemaName']}"
            self.platform.store.delete(VERSIONS, f"{key}|{int(version['SchemaVersion']):010d}")
            record["VersionCount"] -= 1
            self.platform.store.put(SCHEMAS, key, record)
        return {}

    def list_schemas(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope, registry = self._scope(context), params["RegistryName"]
        self._registry(scope, registry)
        rows = [r for _, r in self.platform.store.scan(SCHEMAS, f"{scope}{registry}|" +
                                                       (params.get("SchemaNamePrefix") or ""))]
        return self._page(rows, params, "Schemas", "SchemaName", lambda r: {
            k: r[k] for k in ("LastModified", "SchemaArn", "SchemaName", "Tags", "VersionCount") if k in r})

    def list_schema_versions(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope, registry = self._scope(context), params["RegistryName"]
        record = self._schema(scope, registry, params["SchemaName"])
        rows = [v for _, v in self.platform.store.scan(VERSIONS, f"{scope}{registry}|{record['SchemaName']}|")]
        return self._page(rows, params, "SchemaVersions", "SchemaVersion", lambda v: {
            "SchemaArn": record["SchemaArn"], "SchemaName": record["SchemaName"],
            "SchemaVersion": v["SchemaVersion"], "Type": v["Type"]})

    def search_schemas(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope, registry = self._scope(context), params["RegistryName"]
        self._registry(scope, registry)
        keywords = params["Keywords"].lower().split()
        rows = [r for _, r in self.platform.store.scan(SCHEMAS, f"{scope}{registry}|")
                if all(word in r["SchemaName"].lower() for word in keywords)]

        def view(record: dict[str, Any]) -> dict[str, Any]:
            versions = self.platform.store.scan(VERSIONS, f"{scope}{registry}|{record['SchemaName']}|")
            return {"RegistryName": registry, "SchemaArn": record["SchemaArn"], "SchemaName": record["SchemaName"],
                    "SchemaVersions": [{"CreatedDate": v["Created"], "SchemaVersion": v["SchemaVersion"],
                                        "Type": v["Type"]} for _, v in versions]}

        return self._page(rows, params, "Schemas", "SchemaName", view)

    def get_discovered_schema(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            event = json.loads(params["Events"][0])
        except (ValueError, IndexError) as exc:
            raise bad_request("Events must hold at least one JSON event.") from exc
        if not isinstance(event, dict):
            raise bad_request("Events must hold JSON events.")
        return {"Content": json.dumps(infer_event_schema(event, params["Type"]))}

    # ------------------------------------------------------------ code bindings
    def _binding_target(self, context: RequestContext, params: dict[str, Any]) -> tuple[dict[str, Any],
                                                                                         dict[str, Any]]:
        if params["Language"] not in codegen.LANGUAGES:
            raise bad_request(f"Invalid language {params['Language']}: it must be one of "
                              f"{', '.join(codegen.LANGUAGES)}.")
        scope, registry = self._scope(context), params["RegistryName"]
        record = self._schema(scope, registry, params["SchemaName"])
        return record, self._version(scope, registry, record, params.get("SchemaVersion"))

    def put_code_binding(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record, version = self._binding_target(context, params)
        now = time.time()
        binding = {"CreationDate": now, "LastModified": now, "SchemaVersion": version["SchemaVersion"],
                   "Status": "CREATE_COMPLETE"}
        with self.platform.store.transaction():
            record.setdefault("_bindings", {})[f"{params['Language']}|{version['SchemaVersion']}"] = binding
            self.platform.store.put(SCHEMAS, f"{self._scope(context)}{params['RegistryName']}|{record['SchemaName']}",
                                    record)
        return binding

    def _binding(self, context: RequestContext, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        record, version = self._binding_target(context, params)
        binding = record.get("_bindings", {}).get(f"{params['Language']}|{version['SchemaVersion']}")
        if binding is None:
            raise not_found(f"Code binding for language {params['Language']} does not exist for schema "
                            f"{record['SchemaName']} version {version['SchemaVersion']}.")
        return binding, version

    def describe_code_binding(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._binding(context, params)[0]

    def get_code_binding_source(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, version = self._binding(context, params)
        return {"Body": codegen.code_binding_zip(params["SchemaName"], json.loads(version["Content"]),
                                                 params["Language"])}

    # ------------------------------------------------------------ tags
    def _tagged(self, context: RequestContext, arn: str) -> tuple[str, str, dict[str, Any]]:
        """(table, key, record) of a registry, schema or discoverer ARN."""
        scope = self._scope(context)
        resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
        kind, _, rest = resource.partition("/")
        table, key = {"registry": (REGISTRIES, scope + rest), "schema": (SCHEMAS, scope + rest.replace("/", "|", 1)),
                      "discoverer": (DISCOVERERS, scope + rest)}.get(kind, ("", ""))
        record = self.platform.store.get(table, key) if table else None
        if record is None:
            raise not_found(f"Resource {arn} does not exist.")
        return table, key, record

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            table, key, record = self._tagged(context, params["ResourceArn"])
            record["Tags"] = {**record.get("Tags", {}), **params["Tags"]}
            self.platform.store.put(table, key, record)
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            table, key, record = self._tagged(context, params["ResourceArn"])
            record["Tags"] = {k: v for k, v in record.get("Tags", {}).items() if k not in params["TagKeys"]}
            self.platform.store.put(table, key, record)
        return {}

    def list_tags_for_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": self._tagged(context, params["ResourceArn"])[2].get("Tags", {})}

    # ------------------------------------------------------------ listing
    @staticmethod
    def _page(rows: list[dict[str, Any]], params: dict[str, Any], member: str, key: str, view: Any) -> dict[str, Any]:
        after = decode_token(params.get("NextToken"), f"schemas-{member}", "BadRequestException",
                             "The NextToken provided is invalid.")
        if after is not None:
            rows = [r for r in rows if str(r[key]) > after] if key != "SchemaVersion" else [
                r for r in rows if int(r[key]) > int(after)]
        limit = params.get("Limit") or DEFAULT_LIMIT
        result: dict[str, Any] = {member: [view(r) for r in rows[:limit]]}
        if len(rows) > limit:
            result["NextToken"] = encode_token(f"schemas-{member}", str(rows[limit - 1][key]))
        return result

    # ------------------------------------------------------------ discovery (operations: discovery.py)
    def _record_discovered(self, account: str, region: str, event: dict[str, Any]) -> None:
        """Write ``event``'s shape to the discovered-schemas registry unless it is the latest version."""
        name = discovered_name(str(event.get("source")), str(event.get("detail-type")))
        document = canonical(infer_event_schema(event))
        scope = f"{account}:{region}:"
        key = f"{scope}{DISCOVERED_REGISTRY}|{name}"
        if (key, document) in self._seen:
            return
        context = RequestContext.internal(self.platform, "schemas", "Discovery", account, region)
        self._ensure_registry(context, DISCOVERED_REGISTRY, "Schemas discovered on event buses.")
        record = self.platform.store.get(SCHEMAS, key)
        if record is None:
            record = {"SchemaName": name, "SchemaArn": self._arn(context, f"schema/{DISCOVERED_REGISTRY}/{name}"),
                      "Tags": {}}
        latest = self.platform.store.get(VERSIONS, f"{key}|{record.get('_latest', 0):010d}")
        if latest is None or canonical(json.loads(latest["Content"])) != document:
            self._write_version(scope, DISCOVERED_REGISTRY, record, document, "OpenApi3")
        self._seen.add((key, document))

