"""What every part of the S3 provider shares: table names, limits, AWS's errors, record helpers."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from cumulo.protocol.errors import AwsError

BUCKETS, OBJECTS, VERSIONS, UPLOADS = "s3.buckets", "s3.objects", "s3.versions", "s3.uploads"
BUCKET_NAME = re.compile(r"^(?!xn--)(?!sthree-)(?!amzn-s3-demo-)(?!.*\.\.)(?!.*-s3alias$)(?!.*--ol-s3$)"
                         r"(?!.*\.mrap$)(?!.*--x-s3$)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_KEYS = 1000
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_OBJECT_SIZE = 5 * 1024 ** 3  # a single PUT
INLINE_BODY = 1024 * 1024  # GET answers up to this size in memory; larger ones are streamed from disk
HEADER_MEMBERS = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl",
                  "Expires", "WebsiteRedirectLocation", "StorageClass", "ServerSideEncryption",
                  "SSEKMSKeyId", "ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus")
CHECKSUMS = {"ChecksumCRC32": "CRC32", "ChecksumCRC32C": "CRC32C", "ChecksumCRC64NVME": "CRC64NVME",
             "ChecksumSHA1": "SHA1", "ChecksumSHA256": "SHA256", "ChecksumSHA512": "SHA512", "ChecksumMD5": "MD5"}
NOT_WELL_FORMED = "The XML you provided was not well-formed or did not validate against our published schema"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def object_key(bucket: str, key: str) -> str:
    return f"{bucket}\x00{key}"


def no_such_bucket(name: str) -> AwsError:
    return AwsError("NoSuchBucket", "The specified bucket does not exist", status=404, fields={"BucketName": name})


def no_such_key(key: str) -> AwsError:
    return AwsError("NoSuchKey", "The specified key does not exist.", status=404, fields={"Key": key})


def malformed_xml() -> AwsError:
    return AwsError("MalformedXML", NOT_WELL_FORMED)


def precondition_failed(condition: str) -> AwsError:
    return AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                    status=412, fields={"Condition": condition})


def checksum_algorithms(params: dict[str, Any]) -> list[str]:
    """The checksums to compute for an upload: those sent, and the one named by the SDK's header."""
    wanted = {CHECKSUMS[member] for member in CHECKSUMS if params.get(member)}
    named = params.get("ChecksumAlgorithm")
    if named:
        wanted.add(named.upper())
    return sorted(wanted)


def claimed_checksums(params: dict[str, Any]) -> dict[str, str]:
    return {CHECKSUMS[member]: params[member] for member in CHECKSUMS if params.get(member)}


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """Inclusive (start, end) of a ``bytes=`` Range header (None to send everything, as AWS does
    for a header it cannot read); AWS's InvalidRange when unsatisfiable."""
    found = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if found is None or found.groups() == ("", ""):
        return None
    first, last = found.groups()
    if first == "":
        if int(last) == 0:
            raise invalid_range(header, size)
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None  # AWS ignores a syntactically invalid range
    if start >= size or start > end:
        raise invalid_range(header, size)
    return start, end


def invalid_range(header: str, size: int) -> AwsError:
    return AwsError("InvalidRange", "The requested range is not satisfiable", status=416,
                    fields={"RangeRequested": header, "ActualObjectSize": str(size)})


def acl_grants(acl: dict[str, Any] | None, owner: dict[str, str]) -> dict[str, Any]:
    """GetBucketAcl/GetObjectAcl's answer for a stored ACL (a canned name or a full policy)."""
    acl = acl or {"Canned": "private"}
    if "Policy" in acl:
        return {"Owner": acl["Policy"].get("Owner") or owner, "Grants": acl["Policy"].get("Grants") or []}
    grants = [{"Grantee": {"Type": "CanonicalUser", **owner}, "Permission": "FULL_CONTROL"}]
    all_users = {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}
    if acl["Canned"] in ("public-read", "public-read-write"):
        grants.append({"Grantee": all_users, "Permission": "READ"})
    if acl["Canned"] == "public-read-write":
        grants.append({"Grantee": all_users, "Permission": "WRITE"})
    return {"Owner": owner, "Grants": grants}
