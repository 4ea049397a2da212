"""Amazon S3, the subset serverless applications and their tools use.

Buckets, objects (put, get with ranges, head, copy, delete, batch delete), listings (v1 and v2
with prefixes, delimiters and continuation), multipart uploads, and bucket/object tags: enough
for ``aws s3 cp/ls/sync``, boto3's transfer manager, SAM/CloudFormation packaging and Lambda
code in S3. Object bodies live in the blob store, their metadata in records; an object exists
once its record is committed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest, HttpResponse
from cumulo.protocol.xml_error import xml_error
from cumulo.services.base import Provider, RequestContext
from cumulo.services.s3 import post_object
from cumulo.store.blobs import BlobStore

if TYPE_CHECKING:
    from cumulo.platform import Platform

BUCKETS, OBJECTS, UPLOADS = "s3.buckets", "s3.objects", "s3.uploads"
BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_KEYS = 1000
MIN_PART_SIZE = 5 * 1024 * 1024
HEADER_MEMBERS = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl",
                  "Expires", "WebsiteRedirectLocation", "StorageClass")
CHECKSUMS = ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def no_such_bucket(name: str) -> AwsError:
    return AwsError("NoSuchBucket", "The specified bucket does not exist", status=404, fields={"BucketName": name})


def no_such_key(key: str) -> AwsError:
    return AwsError("NoSuchKey", "The specified key does not exist.", status=404, fields={"Key": key})


class S3Provider(Provider):
    service = "s3"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.blobs = BlobStore(platform.settings.data_dir / "s3")

    async def start(self) -> None:
        """Delete object bodies that no committed object or upload part references (a crash
        between writing a body and committing its record leaves one)."""
        def referenced() -> set[str]:
            blobs = {o["blob"] for _, o in self.platform.store.scan(OBJECTS)}
            for _, upload in self.platform.store.scan(UPLOADS):
                blobs |= {part["blob"] for part in upload["parts"].values()}
            return blobs
        self.blobs.sweep(referenced)

    async def http_route(self, request: HttpRequest) -> HttpResponse | None:
        """Browser form uploads (POST Object), which the S3 API model does not describe."""
        bucket = post_object.form_upload_bucket(request)
        if bucket is None:
            return None
        settings = self.platform.settings
        try:
            upload = post_object.read_upload(request, bucket, settings.access_keys if settings.auth_required else None)
            self._bucket(bucket)
            record = self._store_object(bucket, upload.key, upload.body, upload.params)
        except AwsError as error:
            return xml_error(error)
        return post_object.upload_response(upload, bucket, record["ETag"], f"http://{request.host}")

    # ------------------------------------------------------------ helpers
    def _bucket(self, name: str) -> dict[str, Any]:
        bucket = self.platform.store.get(BUCKETS, name)
        if bucket is None:
            raise no_such_bucket(name)
        return bucket

    def _object(self, bucket: str, key: str) -> dict[str, Any]:
        self._bucket(bucket)
        record = self.platform.store.get(OBJECTS, f"{bucket}\x00{key}")
        if record is None:
            raise no_such_key(key)
        return record

    @staticmethod
    def _body(params: dict[str, Any]) -> bytes:
        body = params.get("Body") or b""
        md5 = params.get("ContentMD5")
        if md5 and base64.b64encode(hashlib.md5(body).digest()).decode() != md5:
            raise AwsError("BadDigest", "The Content-MD5 you specified did not match what we received.")
        return body

    def _store_object(self, bucket: str, key: str, body: bytes, params: dict[str, Any],
                      etag: str | None = None, parts: int | None = None) -> dict[str, Any]:
        blob = self.blobs.put(body)
        record: dict[str, Any] = {
            "Key": key, "Size": len(body), "ETag": etag or f'"{hashlib.md5(body).hexdigest()}"',
            "LastModified": _now().isoformat(), "blob": blob, "Metadata": params.get("Metadata") or {},
            "StorageClass": params.get("StorageClass") or "STANDARD",
            "ContentType": params.get("ContentType") or "binary/octet-stream",
        }
        for member in (*HEADER_MEMBERS, *CHECKSUMS):
            if member not in record and params.get(member):
                value = params[member]
                record[member] = value.isoformat() if isinstance(value, dt.datetime) else value
        if parts:
            record["PartsCount"] = parts
        tagging = params.get("Tagging")
        if tagging:
            record["Tags"] = {unquote(k): unquote(v) for k, _, v in (p.partition("=") for p in tagging.split("&"))}
        store = self.platform.store
        with store.transaction():
            self._bucket(bucket)
            previous = store.get(OBJECTS, f"{bucket}\x00{key}")
            store.put(OBJECTS, f"{bucket}\x00{key}", record)
        if previous is not None:
            self.blobs.delete(previous["blob"])
        return record

    # ------------------------------------------------------------ buckets
    def create_bucket(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        if not BUCKET_NAME.match(name):
            raise AwsError("InvalidBucketName", "The specified bucket is not valid.", fields={"BucketName": name})
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        region = constraint or "us-east-1"
        if region != context.region:
            raise AwsError("IllegalLocationConstraintException",
                           f"The {constraint or 'unspecified'} location constraint is incompatible for the region "
                           "specific endpoint this request was sent to.")
        existing = self.platform.store.get(BUCKETS, name)
        if existing is not None:
            if existing["Account"] == context.account_id:
                raise AwsError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket "
                               "succeeded and you already own it.", status=409, fields={"BucketName": name})
            raise AwsError("BucketAlreadyExists", "The requested bucket name is not available.", status=409)
        self.platform.store.put(BUCKETS, name, {"Name": name, "CreationDate": _now().isoformat(),
                                                 "Region": region, "Account": context.account_id, "Tags": []})
        return {"Location": f"/{name}", "BucketArn": f"arn:aws:s3:::{name}"}

    def head_bucket(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.platform.store.get(BUCKETS, params["Bucket"])
        if bucket is None:
            raise AwsError("NotFound", "", status=404)
        return {"BucketRegion": bucket["Region"], "BucketArn": f"arn:aws:s3:::{bucket['Name']}"}

    def get_bucket_location(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        region = self._bucket(params["Bucket"])["Region"]
        return {"LocationConstraint": None if region == "us-east-1" else region}

    def list_buckets(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        buckets = [b for _, b in self.platform.store.scan(BUCKETS) if b["Account"] == context.account_id]
        if params.get("Prefix"):
            buckets = [b for b in buckets if b["Name"].startswith(params["Prefix"])]
        return {"Buckets": [{"Name": b["Name"], "CreationDate": b["CreationDate"], "BucketRegion": b["Region"]}
                            for b in buckets],
                "Owner": {"ID": context.account_id, "DisplayName": "cumulo"}}

    def delete_bucket(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        store = self.platform.store
        with store.transaction():
            self._bucket(name)
            if store.scan(OBJECTS, f"{name}\x00", limit=1):
                raise AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty", status=409,
                               fields={"BucketName": name})
            store.delete(BUCKETS, name)
        return {}

    def put_bucket_tagging(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            bucket = self._bucket(params["Bucket"])
            bucket["Tags"] = params["Tagging"]["TagSet"]
            self.platform.store.put(BUCKETS, bucket["Name"], bucket)
        return {}

    def get_bucket_tagging(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags = self._bucket(params["Bucket"]).get("Tags")
        if not tags:
            raise AwsError("NoSuchTagSet", "The TagSet does not exist", status=404)
        return {"TagSet": tags}

    def delete_bucket_tagging(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            bucket = self._bucket(params["Bucket"])
            bucket["Tags"] = []
            self.platform.store.put(BUCKETS, bucket["Name"], bucket)
        return {}

    # ------------------------------------------------------------ objects
    def put_object(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        body = self._body(params)
        record = self._store_object(params["Bucket"], params["Key"], body, params)
        return {"ETag": record["ETag"], **{m: record[m] for m in CHECKSUMS if m in record}}

    def _object_headers(self, record: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"ETag": record["ETag"], "LastModified": record["LastModified"],
                               "ContentLength": record["Size"], "AcceptRanges": "bytes",
                               "Metadata": record.get("Metadata") or {}}
        for member in HEADER_MEMBERS:
            if record.get(member):
                out[member] = record[member]
        if out.get("StorageClass") == "STANDARD":
            del out["StorageClass"]
        if params.get("ChecksumMode") == "ENABLED":
            out.update({m: record[m] for m in CHECKSUMS if m in record})
        if record.get("PartsCount"):
            out["PartsCount"] = record["PartsCount"]
        if record.get("Tags"):
            out["TagCount"] = len(record["Tags"])
        return out

    def _check_conditions(self, record: dict[str, Any], params: dict[str, Any]) -> None:
        modified = dt.datetime.fromisoformat(record["LastModified"])
        if params.get("IfMatch") and params["IfMatch"] not in (record["ETag"], "*"):
            raise AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                           status=412)
        if params.get("IfUnmodifiedSince") and modified > params["IfUnmodifiedSince"]:
            raise AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                           status=412)
        if params.get("IfNoneMatch") and params["IfNoneMatch"] in (record["ETag"], "*"):
            raise AwsError("NotModified", "Not Modified", status=304)
        if params.get("IfModifiedSince") and modified <= params["IfModifiedSince"]:
            raise AwsError("NotModified", "Not Modified", status=304)

    def get_object(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._object(params["Bucket"], params["Key"])
        self._check_conditions(record, params)
        out = self._object_headers(record, params)
        size = record["Size"]
        requested = params.get("Range")
        if requested:
            start, end = _byte_range(requested, size)
            for member in CHECKSUMS:  # a checksum describes the whole object, never a range of it
                out.pop(member, None)
            out.update({"Body": self.blobs.read(record["blob"], start, end + 1), "ContentLength": end - start + 1,
                        "ContentRange": f"bytes {start}-{end}/{size}", "_status": 206})
        else:
            out["Body"] = self.blobs.read(record["blob"])
        for header in ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "ContentType",
                       "Expires"):
            override = params.get("Response" + header)
            if override:
                out[header] = override
        return out

    def head_object(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        record = self.platform.store.get(OBJECTS, f"{params['Bucket']}\x00{params['Key']}")
        if record is None:
            raise AwsError("NotFound", "Not Found", status=404)
        self._check_conditions(record, params)
        return self._object_headers(record, params)

    def delete_object(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        record = self.platform.store.get(OBJECTS, f"{params['Bucket']}\x00{params['Key']}")
        if record is not None:
            self.platform.store.delete(OBJECTS, f"{params['Bucket']}\x00{params['Key']}")
            self.blobs.delete(record["blob"])
        return {}

    def delete_objects(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        objects = params["Delete"].get("Objects") or []
        if len(objects) > 1000:
            raise AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                           "our published schema")
        deleted = []
        for item in objects:
            self.delete_object(context, {"Bucket": params["Bucket"], "Key": item["Key"]})
            deleted.append({"Key": item["Key"]})
        return {} if params["Delete"].get("Quiet") else {"Deleted": deleted}

    def copy_object(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        source = unquote(params["CopySource"]).lstrip("/").split("?versionId=", 1)[0]
        source_bucket, _, source_key = source.partition("/")
        record = self._object(source_bucket, source_key)
        self._bucket(params["Bucket"])
        replace = params.get("MetadataDirective") == "REPLACE"
        if (source_bucket, source_key) == (params["Bucket"], params["Key"]) and not replace:
            raise AwsError("InvalidRequest", "This copy request is illegal because it is trying to copy an object to "
                           "itself without changing the object's metadata, storage class, website redirect location "
                           "or encryption attributes.")
        if replace:
            copied = dict(params)
        else:
            copied = {m: record.get(m) for m in (*HEADER_MEMBERS, "Metadata")}
            copied["StorageClass"] = params.get("StorageClass") or record.get("StorageClass")
        new = self._store_object(params["Bucket"], params["Key"], self.blobs.read(record["blob"]), copied,
                                 etag=record["ETag"])
        return {"CopyObjectResult": {"ETag": new["ETag"], "LastModified": new["LastModified"]}}

    def put_object_tagging(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            record = self._object(params["Bucket"], params["Key"])
            record["Tags"] = {t["Key"]: t["Value"] for t in params["Tagging"]["TagSet"]}
            self.platform.store.put(OBJECTS, f"{params['Bucket']}\x00{params['Key']}", record)
        return {}

    def get_object_tagging(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._object(params["Bucket"], params["Key"])
        return {"TagSet": [{"Key": k, "Value": v} for k, v in (record.get("Tags") or {}).items()]}

    # ------------------------------------------------------------ listings
    def _listing(self, bucket: str, prefix: str, delimiter: str | None, after: str | None,
                 limit: int) -> tuple[list[dict[str, Any]], list[str], bool, str | None]:
        """Objects and common prefixes after ``after``, up to ``limit`` entries in all."""
        contents: list[dict[str, Any]] = []
        prefixes: list[str] = []
        last = None
        scan_after = f"{bucket}\x00{after}" if after else None
        for key, record in self.platform.store.scan(OBJECTS, f"{bucket}\x00{prefix}", start_after=scan_after):
            name = key.split("\x00", 1)[1]
            if delimiter:
                cut = name.find(delimiter, len(prefix))
                if cut >= 0:
                    common = name[:cut + len(delimiter)]
                    if prefixes and prefixes[-1] == common:
                        continue
                    if after and common <= after:
                        continue
                    if len(contents) + len(prefixes) == limit:
                        return contents, prefixes, True, last
                    prefixes.append(common)
                    last = common
                    continue
            if len(contents) + len(prefixes) == limit:
                return contents, prefixes, True, last
            contents.append({"Key": name, "LastModified": record["LastModified"], "ETag": record["ETag"],
                             "Size": record["Size"], "StorageClass": record.get("StorageClass", "STANDARD")})
            last = name
        return contents, prefixes, False, last

    def list_objects_v2(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        limit = min(params.get("MaxKeys", MAX_KEYS), MAX_KEYS)
        token = params.get("ContinuationToken")
        after = base64.urlsafe_b64decode(token.encode()).decode() if token else params.get("StartAfter")
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter")
        contents, prefixes, truncated, last = self._listing(params["Bucket"], prefix, delimiter, after, limit)
        result: dict[str, Any] = {
            "Name": params["Bucket"], "Prefix": prefix, "MaxKeys": limit, "KeyCount": len(contents) + len(prefixes),
            "IsTruncated": truncated, "Contents": contents, "CommonPrefixes": [{"Prefix": p} for p in prefixes]}
        for member in ("Delimiter", "ContinuationToken", "StartAfter", "EncodingType"):
            if params.get(member):
                result[member] = params[member]
        if truncated and last:
            result["NextContinuationToken"] = base64.urlsafe_b64encode(last.encode()).decode()
        return result

    def list_objects(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        limit = min(params.get("MaxKeys", MAX_KEYS), MAX_KEYS)
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter")
        contents, prefixes, truncated, last = self._listing(params["Bucket"], prefix, delimiter,
                                                            params.get("Marker"), limit)
        result: dict[str, Any] = {"Name": params["Bucket"], "Prefix": prefix, "MaxKeys": limit,
                                  "IsTruncated": truncated, "Contents": contents, "Marker": params.get("Marker", ""),
                                  "CommonPrefixes": [{"Prefix": p} for p in prefixes]}
        if delimiter:
            result["Delimiter"] = delimiter
            if truncated:
                result["NextMarker"] = last
        return result

    # ------------------------------------------------------------ multipart uploads
    def create_multipart_upload(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        upload_id = uuid.uuid4().hex
        attributes = {m: params[m] for m in (*HEADER_MEMBERS, "Metadata", "Tagging") if params.get(m)}
        attributes = {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in attributes.items()}
        self.platform.store.put(UPLOADS, upload_id, {"Bucket": params["Bucket"], "Key": params["Key"],
                                                     "parts": {}, "attributes": attributes,
                                                     "Initiated": _now().isoformat()})
        return {"Bucket": params["Bucket"], "Key": params["Key"], "UploadId": upload_id}

    def _upload(self, params: dict[str, Any]) -> dict[str, Any]:
        upload = self.platform.store.get(UPLOADS, params["UploadId"])
        if upload is None or (upload["Bucket"], upload["Key"]) != (params["Bucket"], params["Key"]):
            raise AwsError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or "
                           "the upload may have been aborted or completed.", status=404,
                           fields={"UploadId": params["UploadId"]})
        return upload

    def upload_part(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        number = params["PartNumber"]
        if not 1 <= number <= 10000:
            raise AwsError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        body = self._body(params)
        blob = self.blobs.put(body)
        etag = f'"{hashlib.md5(body).hexdigest()}"'
        with self.platform.store.transaction():
            upload = self._upload(params)
            previous = upload["parts"].get(str(number))
            upload["parts"][str(number)] = {"blob": blob, "ETag": etag, "Size": len(body)}
            self.platform.store.put(UPLOADS, params["UploadId"], upload)
        if previous:
            self.blobs.delete(previous["blob"])
        return {"ETag": etag}

    def list_parts(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        upload = self._upload(params)
        parts = [{"PartNumber": int(n), "ETag": p["ETag"], "Size": p["Size"]}
                 for n, p in sorted(upload["parts"].items(), key=lambda item: int(item[0]))]
        return {"Bucket": params["Bucket"], "Key": params["Key"], "UploadId": params["UploadId"], "Parts": parts,
                "IsTruncated": False}

    def complete_multipart_upload(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        upload = self._upload(params)
        requested = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not requested:
            raise AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                           "published schema")
        numbers = [p["PartNumber"] for p in requested]
        if numbers != sorted(numbers):
            raise AwsError("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered "
                           "by part number.")
        chosen = []
        for index, part in enumerate(requested):
            stored = upload["parts"].get(str(part["PartNumber"]))
            if stored is None or stored["ETag"].strip('"') != part.get("ETag", "").strip('"'):
                raise AwsError("InvalidPart", "One or more of the specified parts could not be found. The part may "
                               "not have been uploaded, or the specified entity tag may not match the part's entity "
                               "tag.")
            if index < len(requested) - 1 and stored["Size"] < MIN_PART_SIZE:
                raise AwsError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
            chosen.append(stored)
        body = b"".join(self.blobs.read(part["blob"]) for part in chosen)
        digest = hashlib.md5(b"".join(bytes.fromhex(p["ETag"].strip('"')) for p in chosen)).hexdigest()
        etag = f'"{digest}-{len(chosen)}"'
        self._store_object(params["Bucket"], params["Key"], body, upload["attributes"], etag=etag, parts=len(chosen))
        self.platform.store.delete(UPLOADS, params["UploadId"])
        for part in upload["parts"].values():
            self.blobs.delete(part["blob"])
        return {"Location": f"{context.base_url}/{params['Bucket']}/{params['Key']}", "Bucket": params["Bucket"],
                "Key": params["Key"], "ETag": etag}

    def abort_multipart_upload(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        upload = self._upload(params)
        self.platform.store.delete(UPLOADS, params["UploadId"])
        for part in upload["parts"].values():
            self.blobs.delete(part["blob"])
        return {}

    def list_multipart_uploads(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        uploads = [{"UploadId": upload_id, "Key": u["Key"], "Initiated": u["Initiated"]}
                   for upload_id, u in self.platform.store.scan(UPLOADS) if u["Bucket"] == params["Bucket"]]
        return {"Bucket": params["Bucket"], "Uploads": uploads, "IsTruncated": False}

    # ------------------------------------------------------------ internal API
    def read_object(self, bucket: str, key: str) -> bytes:
        """An object's bytes for other services (Lambda code from S3, Step Functions item readers)."""
        return self.blobs.read(self._object(bucket, key)["blob"])


def _byte_range(header: str, size: int) -> tuple[int, int]:
    """Inclusive (start, end) of a ``bytes=`` Range header; AWS's InvalidRange when unsatisfiable."""
    found = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if found is None or found.groups() == ("", ""):
        return 0, size - 1
    first, last = found.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise AwsError("InvalidRange", "The requested range is not satisfiable", status=416,
                       fields={"RangeRequested": header, "ActualObjectSize": str(size)})
    return start, end
