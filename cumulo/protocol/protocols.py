"""The wire protocols: each parses a request into the operation's input and writes outputs and errors.

Four families, as botocore's models name them: ``json`` (X-Amz-Target RPC, JSON 1.0/1.1),
``rest-json`` and ``rest-xml`` (HTTP method + URI template, members bound to the path,
query, headers and body) and ``query`` (form-encoded ``Action=`` requests answered in XML).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

import cbor2

from cumulo.protocol import aws_chunked
from cumulo.protocol.errors import AwsError, SerializationError
from cumulo.protocol.eventstream import encode_event
from cumulo.protocol.http import BodyFile, HttpRequest, HttpResponse
from cumulo.protocol.json_codec import MAX_NESTING_DEPTH, check_nesting, load_json, read_json, write_json
from cumulo.protocol.query_codec import fold, read_query, read_scalar
from cumulo.protocol.rest_binding import input_binding, output_binding
from cumulo.protocol.values import decode_blob, encode_blob, format_timestamp
from cumulo.protocol.xml_codec import MalformedXml, parse_document, read_xml, to_bytes, write_members, write_xml

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel, Shape


def error_shape(service: ServiceModel, code: str) -> Shape | None:
    """The modeled error shape for a wire error code, if the service models one."""
    table = service.__dict__.get("_cumulo_errors")
    if table is None:
        table = {}
        for shape in service.error_shapes:
            table[shape.name] = shape
            wire_code = shape.metadata.get("error", {}).get("code")
            if wire_code:
                table[wire_code] = shape
        service.__dict__["_cumulo_errors"] = table
    return table.get(code)


def error_status(service: ServiceModel, error: AwsError) -> int:
    if error.status is not None:
        return error.status
    shape = error_shape(service, error.code)
    if shape is not None:
        return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    return 400 if error.sender_fault else 500


def _message_key(shape: Shape | None, default: str = "message") -> str:
    if shape is not None:
        for name in shape.members:
            if name.lower() == "message":
                return name
    return default


def _error_fields(shape: Shape | None, error: AwsError) -> dict[str, Any]:
    """Error body members: the message, ``Type`` where the shape has one, and extra fields."""
    body: dict[str, Any] = {}
    if shape is not None and "Type" in shape.members:
        body["Type"] = "User" if error.sender_fault else "Service"
    body[_message_key(shape)] = error.message
    for key, value in error.fields.items():
        member = shape.members.get(key) if shape is not None else None
        body[key] = write_json(member, value) if member is not None else value
    return body


def _query_error_header(service: ServiceModel, shape: Shape | None, error: AwsError) -> dict[str, str]:
    """``x-amzn-query-error: Code;Sender`` for services that keep their query protocol's error codes."""
    if "awsQueryCompatible" not in service.metadata:
        return {}
    query_code = error.query_code or (shape.metadata.get("error", {}).get("code") if shape is not None else None)
    return {"x-amzn-query-error": f"{query_code or error.code};{'Sender' if error.sender_fault else 'Receiver'}"}


def _base_headers(request_id: str) -> dict[str, str]:
    return {"x-amzn-RequestId": request_id}


class Protocol:
    name = ""

    def parse(self, request: HttpRequest, operation: OperationModel,
              labels: dict[str, str] | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def serialize(self, operation: OperationModel, result: dict[str, Any] | None,
                  request_id: str) -> HttpResponse:
        raise NotImplementedError

    def serialize_error(self, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
        raise NotImplementedError


def _load_json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    document = load_json(body)
    if not isinstance(document, dict):
        raise SerializationError("Start of structure or map found where not expected.")
    return document


class JsonProtocol(Protocol):
    """``application/x-amz-json-1.0|1.1`` RPC with the operation in ``X-Amz-Target``."""

    name = "json"

    def parse(self, request, operation, labels=None):
        document = _load_json_object(request.body)
        return read_json(operation.input_shape, document) or {}

    def serialize(self, operation, result, request_id):
        version = operation.service_model.metadata.get("jsonVersion", "1.0")
        body = write_json(operation.output_shape, result or {}) if operation.output_shape else {}
        headers = _base_headers(request_id)
        headers["Content-Type"] = f"application/x-amz-json-{version}"
        return HttpResponse(200, headers, json.dumps(body, separators=(",", ":")).encode())

    def serialize_error(self, service, error, request_id):
        version = service.metadata.get("jsonVersion", "1.0")
        shape = error_shape(service, error.code)
        compatible = "awsQueryCompatible" in service.metadata
        code = shape.name if compatible and shape is not None else error.code
        body = {"__type": code, **_error_fields(shape, error)}
        headers = _base_headers(request_id)
        headers["Content-Type"] = f"application/x-amz-json-{version}"
        headers["x-amzn-ErrorType"] = code
        headers.update(_query_error_header(service, shape, error))
        headers.update(error.headers)
        return HttpResponse(error_status(service, error), headers,
                            json.dumps(body, separators=(",", ":"), default=str).encode())


class RestProtocol(Protocol):
    """Shared REST binding of members to URI labels, query string, headers and body."""

    content_type = "application/json"

    def parse(self, request, operation, labels=None):
        binding = input_binding(operation)
        if binding is None:
            return {}
        if binding.payload_shape is not None and binding.payload_shape.type_name == "blob":
            request = aws_chunked.unwrap(request)  # streaming uploads (S3's PutObject, UploadPart)
        params: dict[str, Any] = {}
        if labels:
            for name, wire, member in binding.labels:
                if wire in labels:
                    params[name] = read_scalar(member, labels[wire], wire)
        if request.query_string and (binding.query or binding.query_maps):
            query_multi: dict[str, list[str]] = {}
            for key, value in request.query_items:
                query_multi.setdefault(key, []).append(value)
            for name, wire, member in binding.query:
                values = query_multi.get(wire)
                if values is None:
                    continue
                if member.type_name == "list":
                    params[name] = [read_scalar(member.member, v, wire) for v in values]
                else:
                    params[name] = read_scalar(member, values[0], wire)
            if binding.query_maps:
                rest = {k: v for k, v in query_multi.items() if k not in binding.bound_query}
                for name, member in binding.query_maps:
                    if rest:
                        multi = member.value.type_name == "list"
                        params[name] = {k: (v if multi else v[0]) for k, v in rest.items()}
        headers = request.headers
        for name, lower, wire, member in binding.headers:
            raw = headers.get(lower)
            if raw is not None:
                params[name] = self._read_header(member, raw, wire)
        for name, prefix in binding.header_maps:
            found = {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found
        payload, member = binding.payload, binding.payload_shape
        if member is not None:
            if member.type_name == "blob" and request.spool is not None:
                params[payload] = request.spool  # a large upload stays in its file (S3)
            elif member.type_name in ("blob", "string"):
                if request.body:
                    params[payload] = request.body if member.type_name == "blob" else request.body.decode()
            elif request.body.strip():
                params[payload] = self.read_body(member, request.body)
        else:
            params.update(self.read_body(binding.body_shape, request.body) or {})
        return params

    @staticmethod
    def _read_header(member: Shape, raw: str, wire: str) -> Any:
        if member.type_name == "string" and member.serialization.get("jsonvalue"):
            try:
                return load_json(decode_blob(raw))
            except (ValueError, SerializationError) as exc:
                raise SerializationError(f"Header {wire} is not valid JSON") from exc
        if member.type_name == "list":
            return [read_scalar(member.member, v.strip(), wire) for v in raw.split(",")]
        return read_scalar(member, raw, wire)

    def read_body(self, shape: Shape, body: bytes) -> dict[str, Any] | None:
        raise NotImplementedError

    def write_body(self, shape: Shape, value: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def serialize(self, operation, result, request_id):
        result = result or {}
        headers = _base_headers(request_id)
        # A provider may choose the status where the model has no member for it (S3's 206 Partial Content).
        status = int(result.get("_status") or operation.http.get("responseCode", 200))
        binding = output_binding(operation)
        if binding is None:
            return HttpResponse(status, headers, b"")
        if binding.status is not None and result.get(binding.status) is not None:
            status = int(result[binding.status])
        for name, wire, member in binding.headers:
            value = result.get(name)
            if value is not None:
                headers[wire] = self._write_header(member, value)
        for name, wire in binding.header_maps:
            for key, item in (result.get(name) or {}).items():
                headers[wire + key] = str(item)
        member = binding.payload_shape
        if member is not None and member.serialization.get("eventstream"):
            headers.setdefault("Content-Type", "application/vnd.amazon.eventstream")
            return HttpResponse(status, headers, stream=self._event_stream(member, result.get(binding.payload)))
        if member is not None:
            value = result.get(binding.payload)
            if isinstance(value, BodyFile):  # streamed out by the edge (S3's GetObject)
                headers.setdefault("Content-Type", "application/octet-stream")
                return HttpResponse(status, headers, b"", file=value)
            if member.type_name in ("blob", "string"):
                body = value.encode() if isinstance(value, str) else (value or b"")
                headers.setdefault("Content-Type", "application/octet-stream"
                                   if member.type_name == "blob" else "text/plain")
            else:
                body = self.write_body(member, value) if value is not None else b""
                headers.setdefault("Content-Type", self.content_type)
        else:
            body = self.write_body(binding.body_shape, result)
            headers.setdefault("Content-Type", self.content_type)
        return HttpResponse(status, headers, body)

    async def _event_stream(self, shape: Shape, events: AsyncIterator[tuple[str, dict[str, Any]]]
                            ) -> AsyncIterator[bytes]:
        """A provider's ``(event name, members)`` pairs as event stream messages: an event whose
        member is its ``eventpayload`` blob travels raw, any other as a body of this protocol."""
        async for name, members in events:
            event_shape = shape.members[name]
            raw = next((n for n, m in event_shape.members.items() if m.serialization.get("eventpayload")), None)
            if raw is not None and event_shape.members[raw].type_name == "blob":
                yield encode_event(name, members.get(raw) or b"")
            else:
                yield encode_event(name, self.write_body(event_shape, members), self.content_type)

    @staticmethod
    def _write_header(member: Shape, value: Any) -> str:
        if member.type_name == "timestamp":
            return str(format_timestamp(value, member.serialization.get("timestampFormat", "rfc822")))
        if member.type_name == "boolean":
            return "true" if value else "false"
        if member.type_name == "blob":
            return encode_blob(value)
        if member.type_name == "list":
            return ",".join(str(v) for v in value)
        if member.serialization.get("jsonvalue"):
            return encode_blob(json.dumps(value, separators=(",", ":")).encode())
        return str(value)


class RestJsonProtocol(RestProtocol):
    name = "rest-json"

    def read_body(self, shape, body):
        return read_json(shape, _load_json_object(body))

    def write_body(self, shape, value):
        return json.dumps(write_json(shape, value), separators=(",", ":")).encode()

    def serialize_error(self, service, error, request_id):
        shape = error_shape(service, error.code)
        headers = _base_headers(request_id)
        headers["x-amzn-ErrorType"] = error.code
        headers["Content-Type"] = "application/json"
        if shape is not None:
            for name, member in shape.members.items():
                if member.serialization.get("location") == "header" and name in error.fields:
                    headers[member.serialization.get("name", name)] = str(error.fields[name])
        fields = {k: v for k, v in _error_fields(shape, error).items()
                  if shape is None or k not in shape.members
                  or not shape.members[k].serialization.get("location")}
        headers.update(error.headers)
        return HttpResponse(error_status(service, error), headers,
                            json.dumps(fields, separators=(",", ":"), default=str).encode())


class RestXmlProtocol(RestProtocol):
    name = "rest-xml"
    content_type = "application/xml"

    def parse(self, request, operation, labels=None):
        try:
            return super().parse(request, operation, labels)
        except MalformedXml as error:
            if operation.service_model.service_name == "s3":  # S3 words it its own way
                raise AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                               "against our published schema", status=400) from error
            raise

    def read_body(self, shape, body):
        if not body.strip():
            return {}
        return read_xml(shape, parse_document(body))

    def write_body(self, shape, value):
        root = ET.Element(shape.serialization.get("name", shape.name))
        namespace = shape.serialization.get("xmlNamespace", {})
        if namespace.get("uri"):
            root.set("xmlns", namespace["uri"])
        write_members(root, shape, value)
        return to_bytes(root)

    def serialize_error(self, service, error, request_id):
        root = ET.Element("Error")
        ET.SubElement(root, "Code").text = error.code
        ET.SubElement(root, "Message").text = error.message
        for key, value in error.fields.items():
            ET.SubElement(root, key).text = str(value)
        ET.SubElement(root, "RequestId").text = request_id
        headers = _base_headers(request_id)
        headers["Content-Type"] = "application/xml"
        headers.update(error.headers)
        return HttpResponse(error_status(service, error), headers, to_bytes(root))


class QueryProtocol(Protocol):
    """Form-encoded ``Action=Op&Version=...`` requests, answered in XML."""

    name = "query"

    @staticmethod
    def form_pairs(request: HttpRequest) -> list[tuple[str, str]]:
        pairs = list(request.query_items)
        if request.body and request.method == "POST":
            try:
                pairs += parse_qsl(request.body.decode(), keep_blank_values=True)
            except UnicodeDecodeError as exc:
                raise SerializationError("Request body is not valid form data") from exc
        return pairs

    def parse(self, request, operation, labels=None):
        pairs = [(k, v) for k, v in self.form_pairs(request) if k not in ("Action", "Version")]
        return read_query(operation.input_shape, fold(pairs)) or {}

    def serialize(self, operation, result, request_id):
        service = operation.service_model
        root = ET.Element(f"{operation.name}Response")
        namespace = service.metadata.get("xmlNamespace") or (
            f"http://{service.endpoint_prefix}.amazonaws.com/doc/{service.api_version}/")
        root.set("xmlns", namespace)
        shape = operation.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper", f"{operation.name}Result")
            write_members(ET.SubElement(root, wrapper), shape, result or {})
        metadata = ET.SubElement(root, "ResponseMetadata")
        ET.SubElement(metadata, "RequestId").text = request_id
        headers = _base_headers(request_id)
        headers["Content-Type"] = "text/xml"
        return HttpResponse(200, headers, to_bytes(root))

    def serialize_error(self, service, error, request_id):
        root = ET.Element("ErrorResponse")
        root.set("xmlns", service.metadata.get("xmlNamespace") or (
            f"http://{service.endpoint_prefix}.amazonaws.com/doc/{service.api_version}/"))
        body = ET.SubElement(root, "Error")
        ET.SubElement(body, "Type").text = "Sender" if error.sender_fault else "Receiver"
        shape = error_shape(service, error.code)
        code = error.query_code or (
            shape.metadata.get("error", {}).get("code") if shape is not None else None) or error.code
        ET.SubElement(body, "Code").text = code
        ET.SubElement(body, "Message").text = error.message
        for key, value in error.fields.items():
            member = shape.members.get(key) if shape is not None else None
            if member is not None:
                write_xml(body, key, member, value)
            else:
                ET.SubElement(body, key).text = str(value)
        ET.SubElement(root, "RequestId").text = request_id
        headers = _base_headers(request_id)
        headers["Content-Type"] = "text/xml"
        headers.update(error.headers)
        return HttpResponse(error_status(service, error), headers, to_bytes(root))


class CborProtocol(Protocol):
    """Smithy RPC v2 CBOR: ``POST /service/{Service}/operation/{Operation}`` with CBOR bodies."""

    name = "smithy-rpc-v2-cbor"
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}

    def parse(self, request, operation, labels=None):
        if not request.body:
            return {}
        try:
            document = cbor2.loads(request.body)
        except (cbor2.CBORDecodeError, ValueError, TypeError, EOFError, RecursionError) as exc:
            raise SerializationError(f"Malformed CBOR body: {exc}") from exc
        if len(request.body) > MAX_NESTING_DEPTH:
            check_nesting(document)
        if not isinstance(document, dict):
            raise SerializationError("Start of structure or map found where not expected.")
        return read_json(operation.input_shape, document, native=True) or {}

    def serialize(self, operation, result, request_id):
        headers = {**_base_headers(request_id), **self.headers}
        if operation.output_shape is None:
            return HttpResponse(200, headers, b"")
        body = write_json(operation.output_shape, result or {}, native=True)
        return HttpResponse(200, headers, cbor2.dumps(body, datetime_as_timestamp=True, timezone=dt.UTC))

    def serialize_error(self, service, error, request_id):
        shape = error_shape(service, error.code)
        headers = {**_base_headers(request_id), **self.headers}
        headers.update(_query_error_header(service, shape, error))
        body = {"__type": shape.name if shape is not None else error.code, **_error_fields(shape, error)}
        headers.update(error.headers)
        return HttpResponse(error_status(service, error), headers, cbor2.dumps(body, default=_cbor_default))


class AmzCborProtocol(CborProtocol):
    """JSON-RPC with CBOR bodies (``application/x-amz-cbor-1.1``, the operation in
    ``X-Amz-Target``): what the Java SDK v1 and the KCL send Kinesis by default."""

    name = "amz-cbor-1.1"
    headers = {"Content-Type": "application/x-amz-cbor-1.1"}


def _cbor_default(encoder: cbor2.CBOREncoder, value: Any) -> None:
    encoder.encode(str(value))


PROTOCOLS: dict[str, Protocol] = {
    p.name: p for p in (JsonProtocol(), RestJsonProtocol(), RestXmlProtocol(), QueryProtocol(), CborProtocol(),
                        AmzCborProtocol())
}
