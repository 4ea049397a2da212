"""S3 objects as applications use them: large bodies streamed through, checksums, conditional
requests, versions, listings with any key, and AWS's error answers, through boto3."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.client
import os
import urllib.parse
import uuid
import zlib

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


@pytest.fixture
def bucket(s3) -> str:
    name = f"objects-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def status(excinfo: pytest.ExceptionInfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_large_object_is_streamed_in_and_out_whole_and_by_range(server, s3, bucket):
    body = os.urandom(11 * 1024 * 1024 + 7)  # above the edge's spool threshold and the inline GET size
    s3.put_object(Bucket=bucket, Key="large.bin", Body=body)
    got = s3.get_object(Bucket=bucket, Key="large.bin")
    assert got["ContentLength"] == len(body)
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest()
    tail = s3.get_object(Bucket=bucket, Key="large.bin", Range="bytes=-3000000")
    assert tail["Body"].read() == body[-3000000:]
    assert tail["ContentRange"] == f"bytes {len(body) - 3000000}-{len(body) - 1}/{len(body)}"
    # the same content under another key is stored once and read back by either
    s3.copy_object(Bucket=bucket, Key="copy.bin", CopySource={"Bucket": bucket, "Key": "large.bin"})
    s3.delete_object(Bucket=bucket, Key="large.bin")
    assert s3.get_object(Bucket=bucket, Key="copy.bin", Range="bytes=5-9")["Body"].read() == body[5:10]
    assert not list((server.data_dir / "spool").glob("body-*"))  # spooled bodies do not linger


def test_headers_applications_rely_on_round_trip(s3, bucket):
    expires = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"<p>x</p>", ContentType="text/html",
                  ContentEncoding="identity", CacheControl="max-age=60", ContentDisposition="inline",
                  ContentLanguage="en", Expires=expires, Metadata={"Owner": "ann", "x": "y z"},
                  StorageClass="STANDARD_IA", Tagging="team=web&env=dev")
    head = s3.head_object(Bucket=bucket, Key="page.html")
    assert (head["ContentType"], head["ContentEncoding"], head["CacheControl"], head["ContentDisposition"],
            head["ContentLanguage"]) == ("text/html", "identity", "max-age=60", "inline", "en")
    assert head["Expires"] == expires
    assert head["Metadata"] == {"owner": "ann", "x": "y z"}
    assert head["StorageClass"] == "STANDARD_IA"
    assert s3.get_object(Bucket=bucket, Key="page.html")["TagCount"] == 2
    tags = s3.get_object_tagging(Bucket=bucket, Key="page.html")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "web")]
    overridden = s3.get_object(Bucket=bucket, Key="page.html", ResponseContentType="text/plain",
                               ResponseCacheControl="no-cache")
    assert (overridden["ContentType"], overridden["CacheControl"]) == ("text/plain", "no-cache")


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_checksums_are_computed_verified_and_returned(s3, bucket, algorithm):
    body = b"checksummed body " * 1000
    put = s3.put_object(Bucket=bucket, Key=f"c-{algorithm}", Body=body, ChecksumAlgorithm=algorithm)
    member = f"Checksum{algorithm}"
    assert put[member]
    if algorithm == "CRC32":
        assert put[member] == base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    if algorithm == "SHA256":
        assert put[member] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    got = s3.get_object(Bucket=bucket, Key=f"c-{algorithm}", ChecksumMode="ENABLED")
    assert got[member] == put[member]
    assert got["Body"].read() == body
    attributes = s3.get_object_attributes(Bucket=bucket, Key=f"c-{algorithm}",
                                          ObjectAttributes=["Checksum", "ObjectSize", "ETag"])
    assert attributes["Checksum"][member] == put[member] and attributes["ObjectSize"] == len(body)


def test_a_body_that_does_not_match_its_digest_is_refused_and_nothing_changes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"original")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as bad_md5:
        s3.put_object(Bucket=bucket, Key="k", Body=b"changed", ContentMD5=wrong)
    assert code(bad_md5) == "BadDigest"
    with pytest.raises(ClientError) as bad_sha:
        s3.put_object(Bucket=bucket, Key="k", Body=b"changed",
                      ChecksumSHA256=base64.b64encode(hashlib.sha256(b"other").digest()).decode())
    assert code(bad_sha) == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"original"


def test_conditional_reads(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as failed:
        s3.get_object(Bucket=bucket, Key="k", IfMatch='"0000"')
    assert (code(failed), status(failed)) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as not_modified:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=etag)
    assert status(not_modified) == 304
    with pytest.raises(ClientError) as unchanged:
        s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=modified + dt.timedelta(seconds=5))
    assert status(unchanged) == 304
    with pytest.raises(ClientError) as changed:
        s3.get_object(Bucket=bucket, Key="k", IfUnmodifiedSince=modified - dt.timedelta(days=1))
    assert status(changed) == 412
    # If-Match that holds wins over an If-Unmodified-Since that does not
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag,
                         IfUnmodifiedSince=modified - dt.timedelta(days=1))["ETag"] == etag


def test_conditional_writes(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as exists:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert (code(exists), status(exists)) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as stale:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfMatch='"0000"')
    assert code(stale) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfMatch=first)
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"second"
    with pytest.raises(ClientError) as missing:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=first)
    assert code(missing) == "NoSuchKey"


def test_ranges(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=2-4")["Body"].read() == b"234"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=7-")["Body"].read() == b"789"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-2")["Body"].read() == b"89"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=8-100")["ContentRange"] == "bytes 8-9/10"
    with pytest.raises(ClientError) as unsatisfiable:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-")
    assert (code(unsatisfiable), status(unsatisfiable)) == ("InvalidRange", 416)


def test_versions_delete_markers_and_reads_by_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)["Body"].read() == b"one"
    deleted = s3.delete_object(Bucket=bucket, Key="doc")
    assert deleted["DeleteMarker"] is True
    with pytest.raises(ClientError) as hidden:
        s3.get_object(Bucket=bucket, Key="doc")
    assert code(hidden) == "NoSuchKey"
    assert hidden.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    listed = s3.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [(v2, False), (v1, False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(deleted["VersionId"], True)]
    with pytest.raises(ClientError) as no_version:
        s3.get_object(Bucket=bucket, Key="doc", VersionId="f" * 32)
    assert code(no_version) == "NoSuchVersion"
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=deleted["VersionId"])  # undelete
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=v2)
    assert s3.get_object(Bucket=bucket, Key="doc")["VersionId"] == v1
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="doc", Body=b"null version")
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == ["null", v1]
    with pytest.raises(ClientError) as not_empty:
        s3.delete_bucket(Bucket=bucket)
    assert code(not_empty) == "BucketNotEmpty"


@pytest.mark.parametrize("key", ["with space.txt", "ünïcödé/ключ/キー.txt", "a//b", "percent%2F+plus&amp"])
def test_any_key_round_trips_and_lists_url_encoded(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"x"
    # boto3 asks for encoding-type=url by itself and decodes the keys it gets
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == [key]
    assert [v["Key"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == [key]
    explicit = s3.list_objects_v2(Bucket=bucket, EncodingType="url")  # asked for: left encoded
    assert [urllib.parse.unquote(o["Key"]) for o in explicit["Contents"]] == [key]


def test_listings_encode_keys_on_the_wire_when_asked(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a b/ü", Body=b"x")
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    connection.request("GET", f"/{bucket}?list-type=2&encoding-type=url", headers={"Host": "127.0.0.1"})
    document = connection.getresponse().read().decode()
    connection.close()
    assert "<Key>a%20b/%C3%BC</Key>" in document


def test_malformed_xml_is_answered_as_s3_does(server, bucket):
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    connection.request("POST", f"/{bucket}?delete", body=b"<Delete><Object>", headers={"Host": "127.0.0.1"})
    response = connection.getresponse()
    document = response.read().decode()
    connection.close()
    assert response.status == 400 and "<Code>MalformedXML</Code>" in document


def test_multipart_with_checksums_copy_part_and_attributes(s3, bucket):
    part_size = 5 * 1024 * 1024
    source = os.urandom(part_size + 1000)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="joined", ChecksumAlgorithm="SHA256")["UploadId"]
    first = s3.upload_part_copy(Bucket=bucket, Key="joined", UploadId=upload, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "source"},
                                CopySourceRange=f"bytes=0-{part_size - 1}")["CopyPartResult"]["ETag"]
    second = s3.upload_part(Bucket=bucket, Key="joined", UploadId=upload, PartNumber=2, Body=b"tail",
                            ChecksumAlgorithm="SHA256")
    parts = s3.list_parts(Bucket=bucket, Key="joined", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, part_size), (2, 4)]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [upload]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="joined", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": first, "ChecksumSHA256": parts[0]["ChecksumSHA256"]},
        {"PartNumber": 2, "ETag": second["ETag"], "ChecksumSHA256": second["ChecksumSHA256"]}]})
    assert done["ETag"].endswith('-2"') and done["ChecksumSHA256"].endswith("-2")
    assert s3.get_object(Bucket=bucket, Key="joined")["Body"].read() == source[:part_size] + b"tail"
    attributes = s3.get_object_attributes(Bucket=bucket, Key="joined", ObjectAttributes=["ObjectParts"])
    assert attributes["ObjectParts"]["TotalPartsCount"] == 2
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_error_answers(s3, bucket):
    with pytest.raises(ClientError) as no_bucket:
        s3.put_object(Bucket=f"missing-{uuid.uuid4().hex[:8]}", Key="k", Body=b"x")
    assert (code(no_bucket), status(no_bucket)) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as no_key:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "absent"})
    assert code(no_key) == "NoSuchKey"
    with pytest.raises(ClientError) as to_itself:
        s3.put_object(Bucket=bucket, Key="same", Body=b"x")
        s3.copy_object(Bucket=bucket, Key="same", CopySource={"Bucket": bucket, "Key": "same"})
    assert code(to_itself) == "InvalidRequest"
    with pytest.raises(ClientError) as too_many_tags:
        s3.put_object_tagging(Bucket=bucket, Key="same", Tagging={"TagSet": [
            {"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    assert code(too_many_tags) == "BadRequest"
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "same"}, {"Key": "never-was"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["never-was", "same"]
