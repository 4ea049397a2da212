"""S3's SigV4 rules: AWS's documented streaming example, and requests signed by botocore's S3 signer."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cumulo.gateway.auth import read_signature
from cumulo.gateway.s3_auth import verify_s3
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest

# "Example: PUT Object" of AWS's "Transferring Payload in Multiple Chunks" (sigv4-streaming).
DOC_SECRETS = {"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
DOC_TIME = dt.datetime(2013, 5, 24, tzinfo=dt.UTC)
DOC_SIGNATURES = ("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                  "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                  "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")
SECRETS = {"AKID": "secret"}


def documented_streaming_put(chunk_signatures: tuple[str, ...] = DOC_SIGNATURES) -> HttpRequest:
    body = (f"10000;chunk-signature={chunk_signatures[0]}\r\n".encode() + b"a" * 65536 + b"\r\n"
            + f"400;chunk-signature={chunk_signatures[1]}\r\n".encode() + b"a" * 1024 + b"\r\n"
            + f"0;chunk-signature={chunk_signatures[2]}\r\n\r\n".encode())
    headers = {
        "host": "s3.amazonaws.com", "x-amz-date": "20130524T000000Z", "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                         "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                         "x-amz-decoded-content-length;x-amz-storage-class,"
                         "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560", "content-length": str(len(body))}
    return HttpRequest("PUT", "/examplebucket/chunkObject.txt", "", headers, body)


def test_the_documented_streaming_upload_verifies():
    request = documented_streaming_put()
    verify_s3(request, read_signature(request), DOC_SECRETS, now=DOC_TIME)


def test_a_streaming_upload_with_a_changed_chunk_fails():
    request = documented_streaming_put()
    request.body = request.body.replace(b"a" * 1024, b"b" * 1024)
    with pytest.raises(AwsError) as excinfo:
        verify_s3(request, read_signature(request), DOC_SECRETS, now=DOC_TIME)
    assert excinfo.value.code == "SignatureDoesNotMatch"


def test_streaming_chunks_out_of_chain_fail():
    request = documented_streaming_put((DOC_SIGNATURES[1], DOC_SIGNATURES[0], DOC_SIGNATURES[2]))
    with pytest.raises(AwsError) as excinfo:
        verify_s3(request, read_signature(request), DOC_SECRETS, now=DOC_TIME)
    assert excinfo.value.code == "SignatureDoesNotMatch"


def s3_request(method: str, url: str, body: bytes = b"", presign: bool = False) -> HttpRequest:
    aws = AWSRequest(method=method, url=url, data=body)
    credentials = Credentials("AKID", "secret")
    signer = S3SigV4QueryAuth(credentials, "s3", "us-east-1", expires=60) if presign else \
        S3SigV4Auth(credentials, "s3", "us-east-1")
    signer.add_auth(aws)
    parts = urlsplit(aws.url)
    headers = {k.lower(): v for k, v in aws.headers.items()}
    headers["host"] = parts.netloc
    return HttpRequest(method, parts.path, parts.query, headers, body)


@pytest.mark.parametrize("path", ["/bucket/a//b", "/bucket/a/./b", "/bucket/a/../b", "/bucket/with%20space",
                                  "/bucket/%C3%A9t%C3%A9", "/bucket/q%3Fand%26"])
def test_keys_are_signed_as_sent(path):
    request = s3_request("GET", "http://127.0.0.1:4566" + path)
    verify_s3(request, read_signature(request), SECRETS)


def test_a_signature_for_one_key_does_not_verify_a_key_that_normalizes_to_it():
    request = s3_request("GET", "http://127.0.0.1:4566/bucket/a/./b")
    request.path = "/bucket/a/b"
    with pytest.raises(AwsError) as excinfo:
        verify_s3(request, read_signature(request), SECRETS)
    assert excinfo.value.code == "SignatureDoesNotMatch"
    assert excinfo.value.fields["CanonicalRequest"].startswith("GET\n/bucket/a/b\n")


def test_the_body_must_match_its_signed_hash():
    request = s3_request("PUT", "http://127.0.0.1:4566/bucket/key", b"original")
    request.body = b"replaced"
    with pytest.raises(AwsError) as excinfo:
        verify_s3(request, read_signature(request), SECRETS)
    assert (excinfo.value.code, excinfo.value.status) == ("XAmzContentSHA256Mismatch", 400)


def test_presigned_urls_expire():
    request = s3_request("GET", "http://127.0.0.1:4566/bucket/key", presign=True)
    verify_s3(request, read_signature(request), SECRETS)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)
    with pytest.raises(AwsError) as excinfo:
        verify_s3(request, read_signature(request), SECRETS, now=later)
    assert (excinfo.value.code, excinfo.value.message) == ("AccessDenied", "Request has expired")
