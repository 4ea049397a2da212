"""S3 listings: ListObjects, ListObjectsV2 and ListObjectVersions, with prefixes, delimiters,
pagination and ``encoding-type=url`` (keys, prefixes, delimiters and markers percent-encoded, as
AWS does so that keys with characters XML 1.0 cannot carry survive the trip)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.s3.common import MAX_KEYS, OBJECTS, VERSIONS

if TYPE_CHECKING:
    from cumulo.platform import Platform

_OWNER_NAME = "cumulo"


def _encoder(params: dict[str, Any]) -> Any:
    if params.get("EncodingType") == "url":
        return lambda value: quote(value, safe="/") if value is not None else None
    if params.get("EncodingType"):
        raise AwsError("InvalidArgument", "Invalid Encoding Method specified in Request", fields={
            "ArgumentName": "encoding-type", "ArgumentValue": params["EncodingType"]})
    return lambda value: value


def _max_keys(params: dict[str, Any]) -> int:
    value = params.get("MaxKeys", MAX_KEYS)
    if value < 0:
        raise AwsError("InvalidArgument", "max-keys cannot be negative", fields={
            "ArgumentName": "max-keys", "ArgumentValue": str(value)})
    return min(value, MAX_KEYS)


class ListingOperations:
    platform: Platform
    _bucket: Callable[[str], dict[str, Any]]  # from ObjectOperations


    def _keys(self, bucket: str, prefix: str, after: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
        """(key, current version) of live objects after ``after``, in key order."""
        scan_after = f"{bucket}\x00{after}" if after else None
        for store_key, record in self.platform.store.scan(OBJECTS, f"{bucket}\x00{prefix}", start_after=scan_after):
            if not record.get("DeleteMarker"):
                yield store_key.split("\x00", 1)[1], record

    @staticmethod
    def _group(entries: Iterator[tuple[str, Any]], prefix: str, delimiter: str | None, after: str | None,
               limit: int) -> tuple[list[tuple[str, Any]], list[str], bool, str | None]:
        """Entries and common prefixes (rolled up at ``delimiter``), up to ``limit`` in all."""
        contents: list[tuple[str, Any]] = []
        prefixes: list[str] = []
        last = None
        for name, value in entries:
            if delimiter:
                cut = name.find(delimiter, len(prefix))
                if cut >= 0:
                    common = name[:cut + len(delimiter)]
                    if (prefixes and prefixes[-1] == common) or (after and common <= after):
                        continue
                    if len(contents) + len(prefixes) == limit:
                        return contents, prefixes, True, last
                    prefixes.append(common)
                    last = common
                    continue
            if len(contents) + len(prefixes) == limit:
                return contents, prefixes, True, last
            contents.append((name, value))
            last = name
        return contents, prefixes, False, last

    @staticmethod
    def _entry(name: str, record: dict[str, Any], encode: Any, owner: dict[str, str] | None) -> dict[str, Any]:
        entry = {"Key": encode(name), "LastModified": record["LastModified"], "ETag": record["ETag"],
                 "Size": record["Size"], "StorageClass": record.get("StorageClass", "STANDARD")}
        algorithms = [member[len("Checksum"):] for member in record if member.startswith("Checksum")]
        if algorithms:
            entry["ChecksumAlgorithm"] = algorithms
            entry["ChecksumType"] = "COMPOSITE" if record.get("PartsCount") else "FULL_OBJECT"
        if owner:
            entry["Owner"] = owner
        return entry

    def list_objects_v2(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = params["Bucket"]
        self._bucket(bucket)
        encode, limit = _encoder(params), _max_keys(params)
        token = params.get("ContinuationToken")
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
                raise AwsError("InvalidArgument", "The continuation token provided is incorrect", fields={
                    "ArgumentName": "continuation-token"}) from exc
        else:
            after = params.get("StartAfter")
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter")
        owner = {"ID": context.account_id, "DisplayName": _OWNER_NAME} if params.get("FetchOwner") else None
        contents, prefixes, truncated, last = self._group(self._keys(bucket, prefix, after), prefix, delimiter,
                                                          after, limit)
        result: dict[str, Any] = {
            "Name": bucket, "Prefix": encode(prefix), "MaxKeys": limit, "KeyCount": len(contents) + len(prefixes),
            "IsTruncated": truncated, "Contents": [self._entry(n, r, encode, owner) for n, r in contents],
            "CommonPrefixes": [{"Prefix": encode(p)} for p in prefixes]}
        if delimiter:
            result["Delimiter"] = encode(delimiter)
        if token:
            result["ContinuationToken"] = token
        if params.get("StartAfter"):
            result["StartAfter"] = encode(params["StartAfter"])
        if params.get("EncodingType"):
            result["EncodingType"] = params["EncodingType"]
        if truncated and last:
            result["NextContinuationToken"] = base64.urlsafe_b64encode(last.encode()).decode()
        return result

    def list_objects(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = params["Bucket"]
        self._bucket(bucket)
        encode, limit = _encoder(params), _max_keys(params)
        prefix, delimiter, marker = params.get("Prefix") or "", params.get("Delimiter"), params.get("Marker")
        owner = {"ID": context.account_id, "DisplayName": _OWNER_NAME}
        contents, prefixes, truncated, last = self._group(self._keys(bucket, prefix, marker), prefix, delimiter,
                                                          marker, limit)
        result: dict[str, Any] = {"Name": bucket, "Prefix": encode(prefix), "MaxKeys": limit,
                                  "IsTruncated": truncated, "Marker": encode(marker or ""),
                                  "Contents": [self._entry(n, r, encode, owner) for n, r in contents],
                                  "CommonPrefixes": [{"Prefix": encode(p)} for p in prefixes]}
        if params.get("EncodingType"):
            result["EncodingType"] = params["EncodingType"]
        if delimiter:
            result["Delimiter"] = encode(delimiter)
            if truncated:
                result["NextMarker"] = encode(last)
        return result

    def _all_versions(self, bucket: str, prefix: str, key_marker: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
        """(key, version) of every version, keys in order and each key's versions newest first."""
        store = self.platform.store
        scan_after = f"{bucket}\x00{key_marker}" if key_marker else None
        for store_key, current in store.scan(OBJECTS, f"{bucket}\x00{prefix}", start_after=scan_after):
            name = store_key.split("\x00", 1)[1]
            versions = [current, *(r for _, r in store.scan(VERSIONS, f"{bucket}\x00{name}\x00"))]
            for index, record in enumerate(versions):
                yield name, {**record, "IsLatest": index == 0}

    def list_object_versions(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = params["Bucket"]
        self._bucket(bucket)
        encode, limit = _encoder(params), _max_keys(params)
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter")
        key_marker, version_marker = params.get("KeyMarker"), params.get("VersionIdMarker")
        entries = self._versions_after(bucket, prefix, key_marker, version_marker)
        contents, prefixes, truncated, _ = self._group(entries, prefix, delimiter, key_marker, limit)
        owner = {"ID": context.account_id, "DisplayName": _OWNER_NAME}
        versions, markers = [], []
        for name, record in contents:
            common = {"Key": encode(name), "VersionId": record.get("VersionId", "null"),
                      "IsLatest": record["IsLatest"], "LastModified": record["LastModified"], "Owner": owner}
            if record.get("DeleteMarker"):
                markers.append(common)
            else:
                versions.append({**common, "ETag": record["ETag"], "Size": record["Size"],
                                 "StorageClass": record.get("StorageClass", "STANDARD")})
        result: dict[str, Any] = {"Name": bucket, "Prefix": encode(prefix), "MaxKeys": limit,
                                  "IsTruncated": truncated, "Versions": versions, "DeleteMarkers": markers,
                                  "CommonPrefixes": [{"Prefix": encode(p)} for p in prefixes],
                                  "KeyMarker": encode(key_marker or ""), "VersionIdMarker": version_marker or ""}
        if delimiter:
            result["Delimiter"] = encode(delimiter)
        if params.get("EncodingType"):
            result["EncodingType"] = params["EncodingType"]
        if truncated and contents:
            name, record = contents[-1]
            result["NextKeyMarker"] = encode(name)
            result["NextVersionIdMarker"] = record.get("VersionId", "null")
        return result

    def _versions_after(self, bucket: str, prefix: str, key_marker: str | None,
                        version_marker: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every version after (``key_marker``, ``version_marker``): the marker key's older
        versions first when a version marker is given, then the keys after it."""
        store = self.platform.store
        if key_marker and version_marker:
            current = store.get(OBJECTS, f"{bucket}\x00{key_marker}")
            versions = [current] if current else []
            versions += [r for _, r in store.scan(VERSIONS, f"{bucket}\x00{key_marker}\x00")]
            seen = False
            for index, record in enumerate(versions):
                if seen:
                    yield key_marker, {**record, "IsLatest": index == 0}
                seen = seen or record.get("VersionId", "null") == version_marker
        yield from self._all_versions(bucket, prefix, key_marker)
