"""Distributed Map data sets in S3: the ``ItemReader`` and ``ResultWriter`` of the Step Functions service.

Both talk to Cumulo's own S3 provider in-process (no HTTP round trip, no credentials), following
AWS's documented behaviour (Step Functions developer guide, "ItemReader (Map)" and
"ResultWriter (Map)"):

``arn:aws:states:::s3:getObject``
    ``Bucket`` + ``Key`` name one object, parsed per ``ReaderConfig.InputType``: ``JSON`` (an
    array; ``ItemsPointer`` selects a nested one), ``JSONL`` (one value per line) or ``CSV``
    (each row an object of header -> *string*; ``CSVHeaderLocation`` ``FIRST_ROW`` or ``GIVEN``
    with ``CSVHeaders``; ``CSVDelimiter`` ``COMMA``/``PIPE``/``SEMICOLON``/``SPACE``/``TAB``). A
    key ending in ``.gz`` is gunzipped first, as AWS does for GZIP-compressed inputs.
``arn:aws:states:::s3:listObjectsV2``
    ``Bucket`` and optional ``Prefix``; every object (all pages) becomes an item shaped as AWS
    hands it to a child workflow - note ``Etag`` (not S3's ``ETag``) and ``LastModified`` in epoch
    seconds. With ``ReaderConfig.Transformation`` ``LOAD_AND_FLATTEN`` the objects' contents are
    read with ``InputType`` instead and their items concatenated.
``arn:aws:states:::s3:putObject`` (ResultWriter)
    ``Bucket`` + ``Prefix``: ``<Prefix>/<map run id>/SUCCEEDED_0.json`` and ``FAILED_0.json``
    (each only when some child ended so) and then ``manifest.json`` listing them; the Map state's
    result is ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key": <manifest key>}}``.
    ``PENDING_n.json`` holds the children a failed or aborted map run never started; Cumulo
    writes results only for a map run that succeeded, so ``PENDING`` is always empty.

MaxItems is applied by the engine, and any exception raised here becomes
``States.ItemReaderFailed`` / ``States.ResultWriterFailed`` with the exception's text as cause.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.arns import split_arn
from cumulo.asl.items import ItemReaderRequest, ResultWriterRequest
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext

if TYPE_CHECKING:
    from cumulo.platform import Platform

GET_OBJECT = "arn:aws:states:::s3:getObject"
LIST_OBJECTS_V2 = "arn:aws:states:::s3:listObjectsV2"
PUT_OBJECT = "arn:aws:states:::s3:putObject"
DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
INPUT_TYPES = ("JSON", "JSONL", "CSV")
#: children of a map run are named by a UUID; derived from the run and the item index so that a
#: result file rewritten after a restart names the same executions
CHILD_NAMESPACE = uuid.UUID("6f1c7e9e-5b0f-4a53-9d0b-2c8f3f0d8a51")


class S3DataSetError(Exception):
    """A data set that cannot be read or written; its text is the Map's failure cause."""


def s3_collaborators(platform: Platform) -> dict[str, Any]:
    """``item_reader``/``result_writer`` keyword arguments for ``Execution``."""
    return {"item_reader": S3ItemReader(platform), "result_writer": S3ResultWriter(platform)}


def _region_account(arn: str) -> tuple[str, str]:
    parsed = split_arn(arn)
    return (parsed.region, parsed.account) if parsed else ("us-east-1", "000000000000")


def _s3_failure(action: str, bucket: str, key: str | None, exc: AwsError) -> S3DataSetError:
    """The cause AWS-style: the S3 message with the service, status and code, and what was accessed."""
    where = f"s3://{bucket}/{key}" if key is not None else f"s3://{bucket}"
    return S3DataSetError(f"{action} {where} failed: {exc.message or exc.code} "
                          f"(Service: S3, Status Code: {exc.status or 400}, Error Code: {exc.code})")


def _fields(parameters: Any, required: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(parameters, dict):
        raise S3DataSetError(f"The {what} parameters must be an object with {', '.join(required)}")
    for name in required:
        if not isinstance(parameters.get(name), str) or not parameters[name]:
            raise S3DataSetError(f"The {what} parameters must include the string field '{name}'")
    return parameters


# ---------------------------------------------------------------------------------- reading


class S3ItemReader:
    """Reads a distributed Map's items from S3 (see the module docstring for the forms)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def read(self, request: ItemReaderRequest) -> list[Any]:
        config = request.reader_config if isinstance(request.reader_config, dict) else {}
        if request.resource == GET_OBJECT:
            params = _fields(request.parameters, ("Bucket", "Key"), "ItemReader")
            return parse_items(self._get(params["Bucket"], params["Key"]), params["Key"], config)
        if request.resource == LIST_OBJECTS_V2:
            params = _fields(request.parameters, ("Bucket",), "ItemReader")
            objects = self._list(params["Bucket"], params.get("Prefix") or "", request.execution_arn)
            if config.get("Transformation", "NONE") == "LOAD_AND_FLATTEN":
                if "InputType" not in config:
                    raise S3DataSetError("ReaderConfig.InputType is required when Transformation is "
                                         "LOAD_AND_FLATTEN")
                items: list[Any] = []
                for entry in objects:
                    if entry["Key"].endswith("/") and entry["Size"] == 0:
                        continue  # a "folder" made by the console holds no data
                    items.extend(parse_items(self._get(params["Bucket"], entry["Key"]), entry["Key"], config))
                return items
            return objects
        raise S3DataSetError(f"Unsupported ItemReader resource '{request.resource}': use {GET_OBJECT} "
                             f"or {LIST_OBJECTS_V2}")

    def _get(self, bucket: str, key: str) -> bytes:
        try:
            return self.platform.objects.read_object(bucket, key)
        except AwsError as exc:
            raise _s3_failure("GetObject on", bucket, key, exc) from None

    def _list(self, bucket: str, prefix: str, execution_arn: str) -> list[dict[str, Any]]:
        """Every object under ``prefix``, in key order, as the items AWS gives to child workflows."""
        provider = self.platform.objects
        region, account = _region_account(execution_arn)
        context = RequestContext.internal(self.platform, "s3", "ListObjectsV2", account, region)
        items: list[dict[str, Any]] = []
        token = None
        while True:
            request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
            if token:
                request["ContinuationToken"] = token
            try:
                page = provider.list_objects_v2(context, request)
            except AwsError as exc:
                raise _s3_failure("ListObjectsV2 on", bucket, None, exc) from None
            for entry in page["Contents"]:
                items.append({"Etag": entry["ETag"], "Key": entry["Key"],
                              "LastModified": _epoch_seconds(entry["LastModified"]),
                              "Size": entry["Size"], "StorageClass": entry.get("StorageClass") or "STANDARD"})
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return items


def _epoch_seconds(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    return int(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())


def parse_items(body: bytes, key: str, config: dict[str, Any]) -> list[Any]:
    """The items of one object's contents, per ``ReaderConfig``."""
    input_type = config.get("InputType", "JSON")
    if input_type not in INPUT_TYPES:
        raise S3DataSetError(f"ReaderConfig.InputType '{input_type}' is not supported by Cumulo; use one of "
                             f"{', '.join(INPUT_TYPES)}")
    if key.endswith(".gz"):
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            raise S3DataSetError(f"s3 object {key} is not valid GZIP: {exc}") from None
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise S3DataSetError(f"s3 object {key} is not UTF-8 text") from None
    if input_type == "JSON":
        return _json_items(text, key, config.get("ItemsPointer"))
    if input_type == "JSONL":
        return _jsonl_items(text, key)
    return _csv_items(text, key, config)


def _json_items(text: str, key: str, pointer: Any) -> list[Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise S3DataSetError(f"s3 object {key} is not valid JSON: {exc}") from None
    if isinstance(pointer, str) and pointer:
        value = _resolve_pointer(value, pointer, key)
    if not isinstance(value, list):
        raise S3DataSetError(f"The JSON in s3 object {key} must be an array (or use ReaderConfig.ItemsPointer "
                             f"to select one), got {type(value).__name__}")
    return value


def _resolve_pointer(value: Any, pointer: str, key: str) -> Any:
    """RFC 6901 JSON Pointer (``/inventory/products``), as ``ItemsPointer`` takes."""
    if not pointer.startswith("/"):
        raise S3DataSetError(f"ReaderConfig.ItemsPointer must start with '/', got '{pointer}'")
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            raise S3DataSetError(f"ReaderConfig.ItemsPointer '{pointer}' does not exist in s3 object {key}")
    return value


def _jsonl_items(text: str, key: str) -> list[Any]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise S3DataSetError(f"Line {number} of s3 object {key} is not valid JSON: {exc}") from None
    return items


def _csv_items(text: str, key: str, config: dict[str, Any]) -> list[dict[str, str]]:
    """Rows as objects of header -> string, with AWS's parsing rules.

    Fields are always strings (AWS suggests ``States.StringToJson`` in an ItemSelector); quoted
    fields may hold delimiters and newlines, ``""`` is a quote, a backslash escapes a backslash,
    a quote or the delimiter. A row shorter than the header gets empty strings, extra fields are
    dropped, blank lines are skipped.
    """
    delimiter_name = config.get("CSVDelimiter", "COMMA")
    if delimiter_name not in DELIMITERS:
        raise S3DataSetError(f"ReaderConfig.CSVDelimiter must be one of {', '.join(DELIMITERS)}, "
                             f"got '{delimiter_name}'")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[delimiter_name], quotechar='"',
                        doublequote=True, escapechar="\\", strict=False)
    location = config.get("CSVHeaderLocation")
    try:
        rows = [row for row in reader if row]
    except csv.Error as exc:
        raise S3DataSetError(f"s3 object {key} is not valid CSV: {exc}") from None
    if location == "FIRST_ROW":
        if not rows:
            return []
        headers, rows = rows[0], rows[1:]
    elif location == "GIVEN":
        headers = config.get("CSVHeaders")
        if not isinstance(headers, list) or not headers or not all(isinstance(h, str) for h in headers):
            raise S3DataSetError("ReaderConfig.CSVHeaders must be a non-empty array of strings when "
                                 "CSVHeaderLocation is GIVEN")
    else:
        raise S3DataSetError("ReaderConfig.CSVHeaderLocation must be FIRST_ROW or GIVEN for a CSV data set")
    if len(set(headers)) != len(headers):
        raise S3DataSetError("CSV headers cannot contain duplicates.")
    return [{header: row[i] if i < len(row) else "" for i, header in enumerate(headers)} for row in rows]


# ---------------------------------------------------------------------------------- writing


class S3ResultWriter:
    """Exports a map run's child results to S3 the way AWS lays them out."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def write(self, request: ResultWriterRequest) -> Any:
        if request.resource != PUT_OBJECT:
            raise S3DataSetError(f"Unsupported ResultWriter resource '{request.resource}': use {PUT_OBJECT}")
        params = _fields(request.parameters, ("Bucket",), "ResultWriter")
        bucket, prefix = params["Bucket"], params.get("Prefix") or ""
        if not isinstance(prefix, str):
            raise S3DataSetError("The ResultWriter parameter 'Prefix' must be a string")
        config = request.writer_config if isinstance(request.writer_config, dict) else {}
        transformation = config.get("Transformation", "NONE")
        output_type = config.get("OutputType", "JSON")
        if transformation not in ("NONE", "COMPACT", "FLATTEN"):
            raise S3DataSetError(f"WriterConfig.Transformation must be NONE, COMPACT or FLATTEN, got "
                                 f"'{transformation}'")
        if output_type not in ("JSON", "JSONL"):
            raise S3DataSetError(f"WriterConfig.OutputType must be JSON or JSONL, got '{output_type}'")

        run_id = request.map_run_arn.rsplit(":", 1)[-1]
        folder = f"{prefix}/" if prefix and not prefix.endswith("/") else prefix
        folder += f"{run_id}/"
        now = _timestamp()
        records: dict[str, list[Any]] = {"SUCCEEDED": [], "FAILED": []}
        for entry in request.results:
            status = "SUCCEEDED" if entry.get("Status") == "SUCCEEDED" else "FAILED"
            records[status].append(_record(request.map_run_arn, entry, now))
        if transformation != "NONE":  # failed children are always exported unchanged (as NONE)
            outputs = [json.loads(r["Output"]) for r in records["SUCCEEDED"]]
            if transformation == "FLATTEN":
                outputs = [v for output in outputs for v in (output if isinstance(output, list) else [output])]
            records["SUCCEEDED"] = outputs

        put = self._putter(bucket, request.map_run_arn)
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        for status in ("SUCCEEDED", "FAILED"):
            if not records[status]:
                continue
            key = f"{folder}{status}_0.json"
            files[status].append({"Key": key, "Size": put(key, _encode(records[status], output_type))})
        manifest_key = f"{folder}manifest.json"
        manifest = {"DestinationBucket": bucket, "MapRunArn": request.map_run_arn, "ResultFiles": files}
        put(manifest_key, json.dumps(manifest, indent=2).encode())
        return {"MapRunArn": request.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}

    def _putter(self, bucket: str, map_run_arn: str) -> Any:
        provider = self.platform.objects
        region, account = _region_account(map_run_arn)
        context = RequestContext.internal(self.platform, "s3", "PutObject", account, region)

        def put(key: str, body: bytes) -> int:
            try:
                provider.put_object(context, {"Bucket": bucket, "Key": key, "Body": body,
                                              "ContentType": "application/json"})
            except AwsError as exc:
                raise _s3_failure("PutObject on", bucket, key, exc) from None
            return len(body)
        return put


def _timestamp() -> str:
    """AWS's form in result files: ISO 8601, milliseconds, ``Z``."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _record(map_run_arn: str, entry: dict[str, Any], now: str) -> dict[str, Any]:
    """One child execution as the ``NONE`` transformation exports it.

    A child of ``mapRun:<machine>/<label>:<run id>`` runs in the state machine
    ``stateMachine:<machine>/<label>`` as ``execution:<machine>/<label>:<name>``. Cumulo runs
    children inside the parent execution, so their names are derived (stable) and both dates are
    the export's. ``Input``/``Output`` are JSON text, as in DescribeExecution.
    """
    prefix, _, _run_id = map_run_arn.rpartition(":")
    machine_arn = prefix.replace(":mapRun:", ":stateMachine:", 1)
    name = str(uuid.uuid5(CHILD_NAMESPACE, f"{map_run_arn}#{entry.get('Index')}"))
    record: dict[str, Any] = {}
    if entry.get("Status") != "SUCCEEDED":
        record.update(Cause=entry.get("Cause") or "", Error=entry.get("Error") or "")
    record.update(ExecutionArn=prefix.replace(":mapRun:", ":execution:", 1) + f":{name}",
                  Input=_compact(entry.get("Input")), InputDetails={"Included": True}, Name=name)
    if entry.get("Status") == "SUCCEEDED":
        record.update(Output=_compact(entry.get("Output")), OutputDetails={"Included": True}, RedriveCount=0,
                      RedriveStatus="NOT_REDRIVABLE",
                      RedriveStatusReason="Execution is SUCCEEDED and cannot be redriven")
    record.update(StartDate=now, StateMachineArn=machine_arn,
                  Status="SUCCEEDED" if entry.get("Status") == "SUCCEEDED" else "FAILED", StopDate=now)
    return record


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _encode(values: list[Any], output_type: str) -> bytes:
    if output_type == "JSONL":
        return "".join(_compact(v) + "\n" for v in values).encode()
    return json.dumps(values, ensure_ascii=False).encode()
