"""S3 multipart uploads: create, upload part (and copy part), list parts, complete, abort, list.

Each part is a stored body; completing joins the chosen parts into one new body off the event
loop, in one pass that also computes its digests. The object's ETag is S3's: the MD5 of the
parts' MD5s and ``-<count>``; with a checksum algorithm, the checksum is composite in the same
way (the checksum of the parts' checksums, ``-<count>``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.s3.common import (
    CHECKSUMS,
    MIN_PART_SIZE,
    UPLOADS,
    byte_range,
    checksum_algorithms,
    claimed_checksums,
    malformed_xml,
    now,
)
from cumulo.services.s3.objects import ObjectOperations, parse_copy_source
from cumulo.services.s3.storage import check_digests, digest

if TYPE_CHECKING:
    from cumulo.services.s3.storage import Staged

MAX_PARTS = 10_000
_ALGORITHM_MEMBERS = {algorithm: member for member, algorithm in CHECKSUMS.items()}


def no_such_upload(upload_id: str) -> AwsError:
    return AwsError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the "
                    "upload may have been aborted or completed.", status=404, fields={"UploadId": upload_id})


class MultipartOperations(ObjectOperations):
    def create_multipart_upload(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        upload_id = uuid.uuid4().hex
        algorithm = (params.get("ChecksumAlgorithm") or "").upper() or None
        self.platform.store.put(UPLOADS, upload_id, {
            "Bucket": params["Bucket"], "Key": params["Key"], "parts": {}, "attributes": self._attributes(params),
            "Initiated": now().isoformat(), "ChecksumAlgorithm": algorithm})
        out = {"Bucket": params["Bucket"], "Key": params["Key"], "UploadId": upload_id}
        if algorithm:
            out.update({"ChecksumAlgorithm": algorithm, "ChecksumType": "COMPOSITE"})
        return out

    def _upload(self, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        upload = self.platform.store.get(UPLOADS, params["UploadId"])
        if upload is None or (upload["Bucket"], upload["Key"]) != (params["Bucket"], params["Key"]):
            raise no_such_upload(params["UploadId"])
        return upload

    async def _add_part(self, params: dict[str, Any], staged: Staged) -> dict[str, Any]:
        """Record a staged part (replacing a part of the same number); returns the part."""
        part = {"body": staged.sha256, "ETag": staged.etag, "Size": staged.size,
                "LastModified": now().isoformat(), "checksums": staged.checksums}
        store = self.platform.store
        released: list[str | None] = [staged.sha256]
        self.bodies.commit(staged)
        try:
            with store.transaction():
                upload = self._upload(params)
                previous = upload["parts"].get(str(params["PartNumber"]))
                self.bodies.retain(staged.sha256)
                if previous:
                    released.append(self.bodies.release(previous["body"]))
                upload["parts"][str(params["PartNumber"])] = part
                store.put(UPLOADS, params["UploadId"], upload)
        finally:
            self.bodies.delete_unreferenced(released)
        return part

    @staticmethod
    def _part_number(params: dict[str, Any]) -> None:
        if not 1 <= params["PartNumber"] <= MAX_PARTS:
            raise AwsError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                           fields={"ArgumentName": "partNumber", "ArgumentValue": str(params["PartNumber"])})

    async def upload_part(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._part_number(params)
        upload = self._upload(params)
        algorithms = checksum_algorithms(params)
        if upload.get("ChecksumAlgorithm") and upload["ChecksumAlgorithm"] not in algorithms:
            algorithms.append(upload["ChecksumAlgorithm"])
        staged = await self._stage(params.get("Body"), algorithms)
        try:
            check_digests(staged, params.get("ContentMD5"), claimed_checksums(params))
        except AwsError:
            self.bodies.discard(staged)
            raise
        part = await self._add_part(params, staged)
        return {"ETag": part["ETag"], **{_ALGORITHM_MEMBERS[a]: v for a, v in staged.checksums.items()}}

    async def upload_part_copy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._part_number(params)
        upload = self._upload(params)
        source_bucket, source_key, source_version = parse_copy_source(params["CopySource"])
        source = self._version(source_bucket, source_key, source_version)
        start, end = 0, source["Size"] - 1
        if params.get("CopySourceRange"):
            requested = byte_range(params["CopySourceRange"], source["Size"])
            if requested is None:
                raise AwsError("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                               "bytes=first-last where first and last are the zero-based offsets of the first and "
                               "last bytes to copy")
            start, end = requested
        algorithms = [upload["ChecksumAlgorithm"]] if upload.get("ChecksumAlgorithm") else []
        staged = await asyncio.to_thread(self.bodies.stage_concat, [(source["body"], start, end - start + 1)],
                                         algorithms)
        part = await self._add_part(params, staged)
        out: dict[str, Any] = {"CopyPartResult": {"ETag": part["ETag"], "LastModified": part["LastModified"]}}
        if source.get("VersionId", "null") != "null":
            out["CopySourceVersionId"] = source["VersionId"]
        return out

    def list_parts(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        upload = self._upload(params)
        marker = params.get("PartNumberMarker") or 0
        limit = min(params.get("MaxParts") or 1000, 1000)
        numbers = sorted(int(n) for n in upload["parts"] if int(n) > int(marker))
        chosen = numbers[:limit]
        parts = []
        for number in chosen:
            stored = upload["parts"][str(number)]
            parts.append({"PartNumber": number, "ETag": stored["ETag"], "Size": stored["Size"],
                          "LastModified": stored["LastModified"],
                          **{_ALGORITHM_MEMBERS[a]: v for a, v in stored.get("checksums", {}).items()}})
        out: dict[str, Any] = {"Bucket": params["Bucket"], "Key": params["Key"], "UploadId": params["UploadId"],
                               "Parts": parts, "IsTruncated": len(numbers) > limit, "MaxParts": limit,
                               "PartNumberMarker": int(marker), "StorageClass": "STANDARD",
                               "Initiator": {"ID": context.account_id}, "Owner": {"ID": context.account_id}}
        if upload.get("ChecksumAlgorithm"):
            out.update({"ChecksumAlgorithm": upload["ChecksumAlgorithm"], "ChecksumType": "COMPOSITE"})
        if chosen:
            out["NextPartNumberMarker"] = chosen[-1]
        return out

    async def complete_multipart_upload(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        upload = self._upload(params)
        requested = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not requested:
            raise malformed_xml()
        numbers = [p["PartNumber"] for p in requested]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise AwsError("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered "
                           "by part number.")
        chosen = []
        for index, part in enumerate(requested):
            stored = upload["parts"].get(str(part["PartNumber"]))
            if stored is None or stored["ETag"].strip('"') != (part.get("ETag") or "").strip('"'):
                raise AwsError("InvalidPart", "One or more of the specified parts could not be found. The part may "
                               "not have been uploaded, or the specified entity tag may not match the part's entity "
                               "tag.", fields={"PartNumber": str(part["PartNumber"]), "ETag": part.get("ETag", "")})
            if index < len(requested) - 1 and stored["Size"] < MIN_PART_SIZE:
                raise AwsError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
                               fields={"ProposedSize": str(stored["Size"]), "MinSizeAllowed": str(MIN_PART_SIZE)})
            chosen.append(stored)
        staged = await asyncio.to_thread(self.bodies.stage_concat, [(p["body"], 0, p["Size"]) for p in chosen])
        etag_digest = hashlib.md5(b"".join(bytes.fromhex(p["ETag"].strip('"')) for p in chosen)).hexdigest()
        record = self._new_record(params["Key"], staged, upload["attributes"],
                                  etag=f'"{etag_digest}-{len(chosen)}"')
        record["PartsCount"] = len(chosen)
        record["Parts"] = [{"Size": p["Size"]} for p in chosen]
        algorithm = upload.get("ChecksumAlgorithm")
        if algorithm and all(algorithm in p.get("checksums", {}) for p in chosen):
            joined = b"".join(base64.b64decode(p["checksums"][algorithm]) for p in chosen)
            record[_ALGORITHM_MEMBERS[algorithm]] = (f"{base64.b64encode(digest(algorithm, joined)).decode()}"
                                                     f"-{len(chosen)}")
        self._write(params["Bucket"], params["Key"], record, staged, "ObjectCreated:CompleteMultipartUpload",
                    context, params)
        self._finish_upload(params["UploadId"])
        out = {"Location": f"{context.base_url}/{params['Bucket']}/{params['Key']}", "Bucket": params["Bucket"],
               "Key": params["Key"], "ETag": record["ETag"],
               **{m: record[m] for m in CHECKSUMS if m in record}}
        if record["VersionId"] != "null":
            out["VersionId"] = record["VersionId"]
        return out

    def _finish_upload(self, upload_id: str) -> None:
        """Remove an upload and release its parts (completed or aborted)."""
        store = self.platform.store
        released: list[str | None] = []
        with store.transaction():
            upload = store.get(UPLOADS, upload_id)
            if upload is None:
                return
            store.delete(UPLOADS, upload_id)
            released = [self.bodies.release(part["body"]) for part in upload["parts"].values()]
        self.bodies.delete_unreferenced(released)

    def abort_multipart_upload(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._upload(params)
        self._finish_upload(params["UploadId"])
        return {}

    def list_multipart_uploads(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._bucket(params["Bucket"])
        prefix = params.get("Prefix") or ""
        owner = {"ID": context.account_id, "DisplayName": "cumulo"}
        uploads = sorted(({"UploadId": upload_id, "Key": u["Key"], "Initiated": u["Initiated"],
                           "StorageClass": "STANDARD", "Owner": owner, "Initiator": owner}
                          for upload_id, u in self.platform.store.scan(UPLOADS)
                          if u["Bucket"] == params["Bucket"] and u["Key"].startswith(prefix)),
                         key=lambda u: (u["Key"], u["Initiated"]))
        limit = min(params.get("MaxUploads") or 1000, 1000)
        return {"Bucket": params["Bucket"], "Uploads": uploads[:limit], "IsTruncated": len(uploads) > limit,
                "MaxUploads": limit, "Prefix": prefix, "KeyMarker": params.get("KeyMarker") or "",
                "UploadIdMarker": params.get("UploadIdMarker") or ""}
