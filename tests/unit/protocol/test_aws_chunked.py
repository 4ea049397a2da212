"""aws-chunked request bodies are unwrapped by the protocol layer: operations see the plain payload,
and checksums sent as trailers as if they had come as headers."""

from __future__ import annotations

import pytest

from cumulo.protocol.catalog import ServiceCatalog
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest
from cumulo.protocol.protocols import PROTOCOLS

CATALOG = ServiceCatalog(["s3"])
SIGNED = "chunk-signature=" + "0" * 64
BODY = (f"5;{SIGNED}\r\nhello\r\n6;{SIGNED}\r\n world\r\n0;{SIGNED}\r\n"
        "x-amz-checksum-crc32:yZRlqg==\r\nx-amz-trailer-signature:abc\r\n\r\n").encode()


def _parse(operation: str, request: HttpRequest, labels: dict[str, str]) -> dict:
    return PROTOCOLS["rest-xml"].parse(request, CATALOG.model("s3").operation_model(operation), labels)


def _streaming(path: str, query: str = "", body: bytes = BODY) -> HttpRequest:
    headers = {"host": "localhost", "content-encoding": "aws-chunked",
               "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-trailer": "x-amz-checksum-crc32"}
    return HttpRequest("PUT", path, query, headers, body)


def test_put_object_gets_the_decoded_body_and_the_trailing_checksum() -> None:
    params = _parse("PutObject", _streaming("/bucket/key"), {"Bucket": "bucket", "Key": "key"})
    assert params["Body"] == b"hello world"
    assert params["ChecksumCRC32"] == "yZRlqg=="


def test_upload_part_gets_the_decoded_body() -> None:
    params = _parse("UploadPart", _streaming("/bucket/key", "partNumber=1&uploadId=u"),
                    {"Bucket": "bucket", "Key": "key"})
    assert params["Body"] == b"hello world"
    assert params["PartNumber"] == 1 and params["ChecksumCRC32"] == "yZRlqg=="


def test_a_plain_body_is_left_alone() -> None:
    request = HttpRequest("PUT", "/bucket/key", "", {"host": "localhost"}, b"5\r\nhello\r\n0\r\n\r\n")
    assert _parse("PutObject", request, {"Bucket": "bucket", "Key": "key"})["Body"] == request.body


def test_a_truncated_body_is_an_incomplete_body() -> None:
    with pytest.raises(AwsError) as raised:
        _parse("PutObject", _streaming("/bucket/key", body=b"5\r\nhello\r\n"), {"Bucket": "bucket", "Key": "key"})
    assert raised.value.code == "IncompleteBody"
