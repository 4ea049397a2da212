"""S3 object operations: put, get, head, delete (one and many), copy, tagging, attributes.

Bodies go through ``storage.BodyStore`` (hashed and synced off the event loop, then renamed into
place and referenced in the same transaction as the object's record); versions through
``versions.Versions``; every change that S3 reports as an event is handed to ``_emit`` inside
that transaction, so an acknowledged write and its notifications are committed together.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import BodyFile
from cumulo.services.base import RequestContext
from cumulo.services.s3.common import (
    BUCKETS,
    CHECKSUMS,
    HEADER_MEMBERS,
    INLINE_BODY,
    MAX_OBJECT_SIZE,
    OBJECTS,
    VERSIONS,
    acl_grants,
    byte_range,
    checksum_algorithms,
    claimed_checksums,
    malformed_xml,
    no_such_bucket,
    no_such_key,
    now,
    object_key,
    precondition_failed,
)
from cumulo.services.s3.storage import Staged, check_digests
from cumulo.services.s3.versions import Versions, new_version_id

if TYPE_CHECKING:
    from cumulo.platform import Platform
    from cumulo.services.s3.storage import BodyStore

STAGE_IN_THREAD = 256 * 1024  # bodies above this are hashed and written off the event loop
ARCHIVED = ("GLACIER", "DEEP_ARCHIVE")  # storage classes read only once restored
MAX_TAGS = 10


def _etags(header: str) -> set[str]:
    return {part.strip().strip('"') for part in header.split(",")}


def _timestamp(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def tags_from_header(header: str) -> dict[str, str]:
    tags = dict(parse_qsl(header, keep_blank_values=True))
    if len(tags) > MAX_TAGS:
        raise AwsError("BadRequest", "Object tags cannot be greater than 10")
    return tags


class ObjectOperations:
    platform: Platform
    bodies: BodyStore
    versions: Versions
    # Queues the bucket's notifications of an event (bucket, event, key, record, context), inside the
    # caller's transaction: NotificationOperations._emit.
    _emit: Callable[[dict[str, Any], str, str, dict[str, Any], RequestContext | None], None]

    # ------------------------------------------------------------ shared helpers
    def _bucket(self, name: str) -> dict[str, Any]:
        bucket = self.platform.store.get(BUCKETS, name)
        if bucket is None:
            raise no_such_bucket(name)
        return bucket

    def _version(self, bucket: str, key: str, version_id: str | None, method: str = "GET") -> dict[str, Any]:
        """The object a read names; AWS's errors for a missing key, version or a delete marker."""
        self._bucket(bucket)
        if version_id is None:
            record = self.versions.current(bucket, key)
            if record is None:
                raise no_such_key(key)
            if record.get("DeleteMarker"):
                raise AwsError("NoSuchKey", "The specified key does not exist.", status=404, fields={"Key": key},
                               headers={"x-amz-delete-marker": "true", "x-amz-version-id": record["VersionId"]})
            return record
        record = self.versions.find(bucket, key, version_id)
        if record is None:
            if version_id != "null" and not _valid_version_id(version_id):
                raise AwsError("InvalidArgument", "Invalid version id specified", fields={
                    "ArgumentName": "versionId", "ArgumentValue": version_id})
            raise AwsError("NoSuchVersion", "The specified version does not exist.", status=404,
                           fields={"Key": key, "VersionId": version_id})
        if record.get("DeleteMarker"):
            raise AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.",
                           status=405, fields={"Method": method, "ResourceType": "DeleteMarker"},
                           headers={"x-amz-delete-marker": "true", "x-amz-version-id": version_id})
        return record

    async def _stage(self, body: bytes | BodyFile | None, algorithms: list[str]) -> Staged:
        if isinstance(body, BodyFile):
            return await asyncio.to_thread(self.bodies.stage_spool, body, algorithms)
        body = body or b""
        if len(body) > STAGE_IN_THREAD:
            return await asyncio.to_thread(self.bodies.stage_bytes, body, algorithms)
        return self.bodies.stage_bytes(body, algorithms)


    def _write(self, bucket_name: str, key: str, record: dict[str, Any], staged: Staged | None, event: str,
               context: RequestContext | None, conditions: dict[str, Any] | None = None) -> dict[str, Any]:
        """Commit ``record`` as the key's current version (its body renamed into place first)."""
        store = self.platform.store
        released: list[str | None] = []
        if staged is not None:
            record["body"] = self.bodies.commit(staged)
        try:
            with store.transaction():
                bucket = self._bucket(bucket_name)
                _check_write_conditions(self.versions.current(bucket_name, key), conditions or {}, key)
                record["VersionId"] = new_version_id(bucket)
                if record.get("body"):
                    self.bodies.retain(record["body"])
                released = self.versions.write(bucket, key, record)
                self._emit(bucket, event, key, record, context)
        finally:
            if staged is not None:
                released.append(record["body"])  # kept when referenced: the file of a failed write goes
            self.bodies.delete_unreferenced(released)
        return record

    @staticmethod
    def _attributes(params: dict[str, Any]) -> dict[str, Any]:
        """What an upload records about the object besides its body."""
        record: dict[str, Any] = {"Metadata": params.get("Metadata") or {},
                                  "ContentType": params.get("ContentType") or "binary/octet-stream"}
        for member in HEADER_MEMBERS:
            if params.get(member) and member not in record:
                record[member] = _timestamp(params[member])
        record.setdefault("StorageClass", "STANDARD")
        if params.get("Tagging"):
            record["Tags"] = tags_from_header(params["Tagging"])
        return record

    def _new_record(self, key: str, staged: Staged, params: dict[str, Any], etag: str | None = None) -> dict[str, Any]:
        record = {"Key": key, "Size": staged.size, "ETag": etag or staged.etag, "LastModified": now().isoformat(),
                  **self._attributes(params)}
        for member, algorithm in CHECKSUMS.items():
            if algorithm in staged.checksums:
                record[member] = staged.checksums[algorithm]
        return record

    # ------------------------------------------------------------ put / get / head
    def put_object(self, context: RequestContext, params: dict[str, Any]) -> Any:
        """A body in memory is stored at once, so in-process callers (Step Functions' result
        writer) call this synchronously; a spooled body is hashed off the event loop, so for one
        this returns an awaitable (which the operation runner awaits)."""
        bucket, key = params["Bucket"], params["Key"]
        self._bucket(bucket)
        body = params.get("Body")
        size = body.size if isinstance(body, BodyFile) else len(body or b"")
        if size > MAX_OBJECT_SIZE:
            raise AwsError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                           fields={"ProposedSize": str(size), "MaxSizeAllowed": str(MAX_OBJECT_SIZE)})
        _check_write_conditions(self.versions.current(bucket, key), params, key)
        if isinstance(body, BodyFile):
            return self._put_spooled(context, params, body)
        return self._put_staged(context, params, self.bodies.stage_bytes(body or b"", checksum_algorithms(params)))

    async def _put_spooled(self, context: RequestContext, params: dict[str, Any], body: BodyFile) -> dict[str, Any]:
        staged = await asyncio.to_thread(self.bodies.stage_spool, body, checksum_algorithms(params))
        return self._put_staged(context, params, staged)

    def _put_staged(self, context: RequestContext, params: dict[str, Any], staged: Staged) -> dict[str, Any]:
        try:
            check_digests(staged, params.get("ContentMD5"), claimed_checksums(params))
        except AwsError:
            self.bodies.discard(staged)
            raise
        record = self._write(params["Bucket"], params["Key"], self._new_record(params["Key"], staged, params), staged,
                             "ObjectCreated:Put", context, params)
        return self._write_result(record)

    @staticmethod
    def _write_result(record: dict[str, Any]) -> dict[str, Any]:
        out = {"ETag": record["ETag"], **{m: record[m] for m in CHECKSUMS if m in record}}
        if record["VersionId"] != "null":
            out["VersionId"] = record["VersionId"]
        return out

    def _object_headers(self, record: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"ETag": record["ETag"], "LastModified": record["LastModified"],
                               "ContentLength": record["Size"], "AcceptRanges": "bytes",
                               "Metadata": record.get("Metadata") or {}}
        for member in HEADER_MEMBERS:
            if record.get(member):
                out[member] = record[member]
        if out.get("StorageClass") == "STANDARD":
            del out["StorageClass"]
        if record.get("VersionId", "null") != "null":
            out["VersionId"] = record["VersionId"]
        if params.get("ChecksumMode") == "ENABLED":
            out.update({m: record[m] for m in CHECKSUMS if m in record})
            if any(m in record for m in CHECKSUMS):
                out["ChecksumType"] = "COMPOSITE" if record.get("PartsCount") else "FULL_OBJECT"
        if record.get("PartsCount"):
            out["PartsCount"] = record["PartsCount"]
        if record.get("Restore"):
            out["Restore"] = record["Restore"]
        if record.get("Tags"):
            out["TagCount"] = len(record["Tags"])
        return out

    def get_object(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._version(params["Bucket"], params["Key"], params.get("VersionId"))
        if record.get("StorageClass") in ARCHIVED and not record.get("Restore"):
            raise AwsError("InvalidObjectState", "The operation is not valid for the object's storage class",
                           status=403, fields={"StorageClass": record["StorageClass"]})
        _check_read_conditions(record, params)
        out = self._object_headers(record, params)
        size = record["Size"]
        start, end = 0, size - 1
        requested = byte_range(params["Range"], size) if params.get("Range") and size else None
        if requested is not None:
            start, end = requested
            for member in CHECKSUMS:  # a checksum describes the whole object, never a range of it
                out.pop(member, None)
            out.update({"ContentLength": end - start + 1, "ContentRange": f"bytes {start}-{end}/{size}",
                        "_status": 206})
        length = end - start + 1
        if length <= 0:
            out["Body"] = b""
        elif length <= INLINE_BODY:
            out["Body"] = self.bodies.read(record["body"], start, end + 1)
        else:
            out["Body"] = self.bodies.open(record["body"], start, length)
        for header in ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "ContentType",
                       "Expires"):
            override = params.get("Response" + header)
            if override:
                out[header] = override
        return out

    def head_object(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            record = self._version(params["Bucket"], params["Key"], params.get("VersionId"), "HEAD")
        except AwsError as error:
            if error.code in ("NoSuchKey", "NoSuchVersion"):  # a HEAD answer has no body to name the code
                raise AwsError("NotFound", "Not Found", status=404, headers=error.headers) from error
            raise
        _check_read_conditions(record, params)
        out = self._object_headers(record, params)
        if params.get("Range") and record["Size"]:
            requested = byte_range(params["Range"], record["Size"])
            if requested is not None:
                out.update({"ContentLength": requested[1] - requested[0] + 1, "_status": 206,
                            "ContentRange": f"bytes {requested[0]}-{requested[1]}/{record['Size']}"})
        return out

    def get_object_attributes(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._version(params["Bucket"], params["Key"], params.get("VersionId"))
        wanted = set(params.get("ObjectAttributes") or [])
        out: dict[str, Any] = {"LastModified": record["LastModified"]}
        if record.get("VersionId", "null") != "null":
            out["VersionId"] = record["VersionId"]
        if "ETag" in wanted:
            out["ETag"] = record["ETag"].strip('"')
        if "ObjectSize" in wanted:
            out["ObjectSize"] = record["Size"]
        if "StorageClass" in wanted:
            out["StorageClass"] = record.get("StorageClass", "STANDARD")
        if "Checksum" in wanted and any(m in record for m in CHECKSUMS):
            out["Checksum"] = {m: record[m] for m in CHECKSUMS if m in record}
            out["Checksum"]["ChecksumType"] = "COMPOSITE" if record.get("PartsCount") else "FULL_OBJECT"
        if "ObjectParts" in wanted and record.get("Parts"):
            parts = record["Parts"]
            out["ObjectParts"] = {"TotalPartsCount": len(parts), "PartNumberMarker": 0, "IsTruncated": False,
                                  "MaxParts": params.get("MaxParts", 1000),
                                  "Parts": [{"PartNumber": i + 1, "Size": p["Size"]} for i, p in enumerate(parts)]}
        return out

    # ------------------------------------------------------------ delete
    def delete_object(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket_name, key, version_id = params["Bucket"], params["Key"], params.get("VersionId")
        store = self.platform.store
        released: list[str | None] = []
        out: dict[str, Any] = {}
        with store.transaction():
            bucket = self._bucket(bucket_name)
            current = self.versions.current(bucket_name, key)
            if params.get("IfMatch") and (current is None or current.get("DeleteMarker")
                                          or current["ETag"].strip('"') not in _etags(params["IfMatch"])):
                if current is None or current.get("DeleteMarker"):
                    raise no_such_key(key)
                raise precondition_failed("If-Match")
            if version_id is None and bucket.get("Versioning") in ("Enabled", "Suspended"):
                marker = {"Key": key, "DeleteMarker": True, "LastModified": now().isoformat(),
                          "VersionId": new_version_id(bucket)}
                released = self.versions.write(bucket, key, marker)
                self._emit(bucket, "ObjectRemoved:DeleteMarkerCreated", key, marker, context)
                out = {"DeleteMarker": True}
                if marker["VersionId"] != "null":
                    out["VersionId"] = marker["VersionId"]
            else:
                removed, released = self.versions.remove(bucket_name, key, version_id)
                if removed is not None:
                    self._emit(bucket, "ObjectRemoved:Delete", key, removed, context)
                    if removed.get("DeleteMarker"):
                        out["DeleteMarker"] = True
                if version_id is not None:
                    out["VersionId"] = version_id
        self.bodies.delete_unreferenced(released)
        return out

    def delete_objects(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        objects = params["Delete"].get("Objects") or []
        if not objects or len(objects) > 1000:
            raise malformed_xml()
        deleted, errors = [], []
        for item in objects:
            try:
                result = self.delete_object(context, {"Bucket": params["Bucket"], "Key": item["Key"],
                                                      "VersionId": item.get("VersionId")})
            except AwsError as error:
                errors.append({"Key": item["Key"], "Code": error.code, "Message": error.message,
                               **({"VersionId": item["VersionId"]} if item.get("VersionId") else {})})
                continue
            entry: dict[str, Any] = {"Key": item["Key"]}
            if item.get("VersionId"):
                entry["VersionId"] = item["VersionId"]
            if result.get("DeleteMarker"):
                entry["DeleteMarker"] = True
                if result.get("VersionId") and not item.get("VersionId"):
                    entry["DeleteMarkerVersionId"] = result["VersionId"]
            deleted.append(entry)
        out: dict[str, Any] = {"Errors": errors} if errors else {}
        if not params["Delete"].get("Quiet"):
            out["Deleted"] = deleted
        return out

    # ------------------------------------------------------------ copy
    def copy_object(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        source_bucket, source_key, source_version = parse_copy_source(params["CopySource"])
        source = self._version(source_bucket, source_key, source_version)
        _check_copy_conditions(source, params)
        self._bucket(params["Bucket"])
        replace = params.get("MetadataDirective") == "REPLACE"
        same = (source_bucket, source_key) == (params["Bucket"], params["Key"])
        changes = replace or params.get("StorageClass") or params.get("WebsiteRedirectLocation") or params.get(
            "ServerSideEncryption")
        if same and not changes and source_version is None:
            raise AwsError("InvalidRequest", "This copy request is illegal because it is trying to copy an object to "
                           "itself without changing the object's metadata, storage class, website redirect location "
                           "or encryption attributes.")
        attributes = self._attributes(params) if replace else {
            **{m: source[m] for m in (*HEADER_MEMBERS, "Metadata") if source.get(m)},
            **{m: params[m] for m in ("StorageClass", "WebsiteRedirectLocation", "ServerSideEncryption")
               if params.get(m)}}
        if params.get("TaggingDirective") == "REPLACE":
            attributes["Tags"] = tags_from_header(params.get("Tagging") or "")
        elif source.get("Tags"):
            attributes["Tags"] = dict(source["Tags"])
        record = {"Key": params["Key"], "Size": source["Size"], "ETag": source["ETag"], "body": source["body"],
                  "LastModified": now().isoformat(), **attributes,
                  **{m: source[m] for m in CHECKSUMS if m in source}}
        record = self._write(params["Bucket"], params["Key"], record, None, "ObjectCreated:Copy", context, params)
        out: dict[str, Any] = {"CopyObjectResult": {"ETag": record["ETag"], "LastModified": record["LastModified"],
                                                    **{m: record[m] for m in CHECKSUMS if m in record}}}
        if record["VersionId"] != "null":
            out["VersionId"] = record["VersionId"]
        if source.get("VersionId", "null") != "null":
            out["CopySourceVersionId"] = source["VersionId"]
        return out

    # ------------------------------------------------------------ tagging, ACLs, retention
    def _change_version(self, context: RequestContext, params: dict[str, Any], change: Callable[[dict], None],
                        event: str | None = None) -> dict[str, Any]:
        """Apply ``change`` to the version a request names (the current one by default) in place."""
        store = self.platform.store
        with store.transaction():
            record = self._version(params["Bucket"], params["Key"], params.get("VersionId"))
            change(record)
            current = self.versions.current(params["Bucket"], params["Key"])
            if current is not None and current.get("VersionId") == record.get("VersionId"):
                store.put(OBJECTS, object_key(params["Bucket"], params["Key"]), record)
            else:
                for store_key, noncurrent in self.versions.noncurrent(params["Bucket"], params["Key"]):
                    if noncurrent.get("VersionId") == record.get("VersionId"):
                        store.put(VERSIONS, store_key, record)
            if event:
                self._emit(self._bucket(params["Bucket"]), event, params["Key"], record, context)
        return record

    def _retag(self, context: RequestContext, params: dict[str, Any], tags: dict[str, str], event: str) -> dict:
        record = self._change_version(context, params, lambda r: r.__setitem__("Tags", tags), event)
        return {"VersionId": record["VersionId"]} if record.get("VersionId", "null") != "null" else {}

    def put_object_acl(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        acl = ({"Policy": params["AccessControlPolicy"]} if params.get("AccessControlPolicy")
               else {"Canned": params.get("ACL") or "private"})
        self._change_version(context, params, lambda r: r.__setitem__("Acl", acl))
        return {}

    def get_object_acl(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._version(params["Bucket"], params["Key"], params.get("VersionId"))
        return acl_grants(record.get("Acl"), {"ID": context.account_id, "DisplayName": "cumulo"})

    def _locked_bucket(self, name: str) -> None:
        if not self._bucket(name).get("ObjectLock"):
            raise AwsError("InvalidRequest", "Bucket is missing Object Lock Configuration")

    def put_object_retention(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._locked_bucket(params["Bucket"])
        retention = params.get("Retention") or {}

        def change(record: dict[str, Any]) -> None:
            record["ObjectLockMode"] = retention.get("Mode")
            record["ObjectLockRetainUntilDate"] = _timestamp(retention.get("RetainUntilDate"))
        self._change_version(context, params, change)
        return {}

    def get_object_retention(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._version(params["Bucket"], params["Key"], params.get("VersionId"))
        if not record.get("ObjectLockMode"):
            raise AwsError("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock "
                           "configuration", status=404)
        return {"Retention": {"Mode": record["ObjectLockMode"], "RetainUntilDate": record["ObjectLockRetainUntilDate"]}}

    def put_object_legal_hold(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._locked_bucket(params["Bucket"])
        status = (params.get("LegalHold") or {}).get("Status")
        self._change_version(context, params, lambda r: r.__setitem__("ObjectLockLegalHoldStatus", status))
        return {}

    def get_object_legal_hold(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._version(params["Bucket"], params["Key"], params.get("VersionId"))
        if not record.get("ObjectLockLegalHoldStatus"):
            raise AwsError("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock "
                           "configuration", status=404)
        return {"LegalHold": {"Status": record["ObjectLockLegalHoldStatus"]}}

    def restore_object(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Archived objects (GLACIER, DEEP_ARCHIVE) are restored at once: there is one storage class
        on disk. Both ObjectRestore events are sent; 202 the first time, 200 while restored."""
        record = self._version(params["Bucket"], params["Key"], params.get("VersionId"))
        if record.get("StorageClass") not in ARCHIVED:
            raise AwsError("InvalidObjectState", "Restore is not allowed for the object's current storage class",
                           status=403, fields={"StorageClass": record.get("StorageClass", "STANDARD")})
        days = (params.get("RestoreRequest") or {}).get("Days") or 1
        expiry = now() + dt.timedelta(days=days)
        restored = bool(record.get("Restore"))
        self._change_version(context, params, lambda r: r.__setitem__(
            "Restore", f'ongoing-request="false", expiry-date="{_http_date(expiry)}"'), "ObjectRestore:Post")
        self._change_version(context, params, lambda r: None, "ObjectRestore:Completed")
        return {"_status": 200 if restored else 202}

    def put_object_tagging(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tag_set = params["Tagging"]["TagSet"]
        if len(tag_set) > MAX_TAGS:
            raise AwsError("BadRequest", "Object tags cannot be greater than 10")
        if len({t["Key"] for t in tag_set}) != len(tag_set):
            raise AwsError("InvalidTag", "Cannot provide multiple Tags with the same key")
        return self._retag(context, params, {t["Key"]: t["Value"] for t in tag_set}, "ObjectTagging:Put")

    def delete_object_tagging(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._retag(context, params, {}, "ObjectTagging:Delete")

    def get_object_tagging(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._version(params["Bucket"], params["Key"], params.get("VersionId"))
        out: dict[str, Any] = {"TagSet": [{"Key": k, "Value": v} for k, v in (record.get("Tags") or {}).items()]}
        if record.get("VersionId", "null") != "null":
            out["VersionId"] = record["VersionId"]
        return out


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """(bucket, key, version id) of ``x-amz-copy-source`` (``bucket/key[?versionId=...]``, URL-encoded)."""
    path, _, query = value.partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    version = dict(parse_qsl(query)).get("versionId") if query else None
    if not bucket or not key:
        raise AwsError("InvalidArgument", "Invalid copy source object key", fields={
            "ArgumentName": "x-amz-copy-source", "ArgumentValue": value})
    return bucket, key, version


def _valid_version_id(version_id: str) -> bool:
    return len(version_id) == 32 and all(c in "0123456789abcdef" for c in version_id)


def _modified(record: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(record["LastModified"])


def _check_read_conditions(record: dict[str, Any], params: dict[str, Any]) -> None:
    """RFC 7232 as S3 applies it: If-Match wins over If-Unmodified-Since, If-None-Match over
    If-Modified-Since."""
    etag = record["ETag"].strip('"')
    if params.get("IfMatch"):
        if not {etag, "*"} & _etags(params["IfMatch"]):
            raise precondition_failed("If-Match")
    elif params.get("IfUnmodifiedSince") and _modified(record) > params["IfUnmodifiedSince"]:
        raise precondition_failed("If-Unmodified-Since")
    not_modified = AwsError("NotModified", "Not Modified", status=304,
                            headers={"ETag": record["ETag"], "Last-Modified": _http_date(_modified(record))})
    if params.get("IfNoneMatch"):
        if {etag, "*"} & _etags(params["IfNoneMatch"]):
            raise not_modified
    elif params.get("IfModifiedSince") and _modified(record) <= params["IfModifiedSince"]:
        raise not_modified


def _check_copy_conditions(record: dict[str, Any], params: dict[str, Any]) -> None:
    etag = record["ETag"].strip('"')
    if params.get("CopySourceIfMatch"):
        if etag not in _etags(params["CopySourceIfMatch"]):
            raise precondition_failed("x-amz-copy-source-If-Match")
    elif params.get("CopySourceIfUnmodifiedSince") and _modified(record) > params["CopySourceIfUnmodifiedSince"]:
        raise precondition_failed("x-amz-copy-source-If-Unmodified-Since")
    if params.get("CopySourceIfNoneMatch") and etag in _etags(params["CopySourceIfNoneMatch"]):
        raise precondition_failed("x-amz-copy-source-If-None-Match")
    if params.get("CopySourceIfModifiedSince") and _modified(record) <= params["CopySourceIfModifiedSince"]:
        raise precondition_failed("x-amz-copy-source-If-Modified-Since")


def _check_write_conditions(current: dict[str, Any] | None, params: dict[str, Any], key: str) -> None:
    """Conditional writes: ``If-None-Match: *`` (create only) and ``If-Match`` (replace that ETag)."""
    live = current is not None and not current.get("DeleteMarker")
    if params.get("IfNoneMatch"):
        if params["IfNoneMatch"].strip() != "*":
            raise AwsError("NotImplemented", "A header you provided implies functionality that is not implemented",
                           status=501, fields={"Header": "If-None-Match"})
        if live:
            raise precondition_failed("If-None-Match")
    if params.get("IfMatch"):
        if not live:
            raise no_such_key(key)
        assert current is not None
        if current["ETag"].strip('"') not in _etags(params["IfMatch"]):
            raise precondition_failed("If-Match")


def _http_date(value: dt.datetime) -> str:
    return value.strftime("%a, %d %b %Y %H:%M:%S GMT")
