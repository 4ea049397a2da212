"""S3's signature rules, code download URLs and the health view, against a server with --require-auth.

Requests are signed by botocore (boto3 itself, its presigners, or its S3 signer on a raw request
for the tampering cases); the chunk signatures of streaming uploads follow AWS's documented chain.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import re
import socket
import urllib.error
import urllib.request
import uuid
import zlib
from urllib.parse import quote

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

KEY, SECRET, REGION = "AKIDEXAMPLE", "secret-one", "eu-central-1"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("s3auth") / "data", extra_args=["--require-auth"],
                            env={"CUMULO_ACCESS_KEYS": f"{KEY}:{SECRET}"}).start()
    yield instance
    instance.stop()


def client(server: CumuloServer, service: str, key: str = KEY, secret: str = SECRET):
    return boto3.client(service, endpoint_url=server.url, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))


@pytest.fixture(scope="module")
def bucket(secured: CumuloServer) -> str:
    name = f"signed-{uuid.uuid4().hex[:8]}"
    client(secured, "s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def s3_signed(server: CumuloServer, method: str, path: str, body: bytes = b"", headers: dict | None = None,
              payload: str | None = None) -> dict[str, str]:
    """The headers botocore's S3 signer adds to a request for ``path`` (already percent-encoded)."""
    aws = AWSRequest(method=method, url=server.url + path, data=body, headers=headers or {})
    signer = S3SigV4Auth(Credentials(KEY, SECRET), "s3", REGION)
    if payload is not None:
        signer.payload = lambda request: payload  # announce a streaming upload instead of the body's hash
    signer.add_auth(aws)
    return dict(aws.headers.items())


def send(server: CumuloServer, method: str, path: str, headers: dict[str, str], body: bytes = b"",
         ) -> tuple[int, bytes]:
    request = urllib.request.Request(server.url + path, data=body if method in ("PUT", "POST") else None,
                                     method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def error_code(body: bytes) -> str:
    found = re.search(rb"<Code>([^<]+)</Code>", body)
    return found.group(1).decode() if found else ""


@pytest.mark.parametrize("key", ["a//b", "a/./b", "with space", "été/ünïcode ✓", "q?and&=%", "trailing/"])
def test_boto3_reads_and_writes_keys_that_need_encoding(secured, bucket, key):
    s3 = client(secured, "s3")
    s3.put_object(Bucket=bucket, Key=key, Body=b"content of " + key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"content of " + key.encode()
    assert key in [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]]


def test_boto3_multipart_copy_and_batch_delete_are_signed_correctly(secured, bucket):
    s3 = client(secured, "s3")
    data = bytes(range(256)) * (6 * 4096)  # 6 MiB: two parts
    s3.upload_fileobj(io.BytesIO(data), bucket, "big file/ü",
                      Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
    assert s3.head_object(Bucket=bucket, Key="big file/ü")["ContentLength"] == len(data)
    s3.copy_object(Bucket=bucket, Key="copy of/ü", CopySource={"Bucket": bucket, "Key": "big file/ü"})
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "big file/ü"}, {"Key": "copy of/ü"}]})
    assert sorted(item["Key"] for item in deleted["Deleted"]) == ["big file/ü", "copy of/ü"]


def test_presigned_get_and_put_urls_work(secured, bucket):
    s3 = client(secured, "s3")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre signed/ü"},
                                        ExpiresIn=300)
    request = urllib.request.Request(put_url, data=b"uploaded by url", method="PUT")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre signed/ü"})
    with urllib.request.urlopen(get_url, timeout=10) as response:
        assert response.read() == b"uploaded by url"


def test_a_presigned_url_for_one_key_does_not_open_another(secured, bucket):
    s3 = client(secured, "s3")
    s3.put_object(Bucket=bucket, Key="secret-b", Body=b"b")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "public-a"})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(url.replace("public-a", "secret-b"), timeout=10)
    body = excinfo.value.read()
    assert excinfo.value.code == 403
    assert error_code(body) == "SignatureDoesNotMatch"
    assert f"<CanonicalRequest>GET\n/{bucket}/secret-b\n".encode() in body
    assert b"<StringToSign>AWS4-HMAC-SHA256\n" in body


def sign_an_hour_ago(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make botocore sign as if it were an hour ago (its own signer and, with awscrt installed,
    the CRT signer it then uses for S3)."""
    then = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)

    def clock(remove_tzinfo: bool = True) -> dt.datetime:
        return then.replace(tzinfo=None) if remove_tzinfo else then

    monkeypatch.setattr("botocore.auth.get_current_datetime", clock)
    monkeypatch.setattr("botocore.crt.auth.get_current_datetime", clock)


def test_expired_presigned_urls_are_denied(secured, bucket, monkeypatch):
    s3 = client(secured, "s3")
    sign_an_hour_ago(monkeypatch)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "any"}, ExpiresIn=60)
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(url, timeout=10)
    body = excinfo.value.read()
    assert excinfo.value.code == 403
    assert error_code(body) == "AccessDenied"
    assert b"<Message>Request has expired</Message>" in body


def test_a_signature_for_one_key_is_not_accepted_for_a_key_that_normalizes_to_it(secured, bucket):
    headers = s3_signed(secured, "GET", f"/{bucket}/x/./y")
    status, body = send(secured, "GET", f"/{bucket}/x/y", headers)
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")


def test_a_captured_put_cannot_be_replayed_with_another_body(secured, bucket):
    headers = s3_signed(secured, "PUT", f"/{bucket}/replayed", b"the original")
    assert send(secured, "PUT", f"/{bucket}/replayed", headers, b"the original")[0] == 200
    status, body = send(secured, "PUT", f"/{bucket}/replayed", headers, b"something else")
    assert (status, error_code(body)) == (400, "XAmzContentSHA256Mismatch")
    assert f"<S3ComputedContentSHA256>{hashlib.sha256(b'something else').hexdigest()}".encode() in body
    assert client(secured, "s3").get_object(Bucket=bucket, Key="replayed")["Body"].read() == b"the original"


def test_unsigned_payloads_are_accepted(secured, bucket):
    headers = s3_signed(secured, "PUT", f"/{bucket}/unsigned", b"any body", payload="UNSIGNED-PAYLOAD")
    assert send(secured, "PUT", f"/{bucket}/unsigned", headers, b"any body")[0] == 200


def _chunk_key() -> bytes:
    key = ("AWS4" + SECRET).encode()
    for part in (dt.datetime.now(dt.UTC).strftime("%Y%m%d"), REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _streaming_body(headers: dict[str, str], chunks: list[bytes], trailer: str | None, signed: bool) -> bytes:
    """Chunks (and a trailer) signed in a chain from the seed signature, as AWS documents it."""
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    previous = re.search(r"Signature=([0-9a-f]+)", headers["Authorization"]).group(1)
    key = _chunk_key()
    empty = hashlib.sha256(b"").hexdigest()
    body = b""
    for data in [*chunks, b""]:
        extension = ""
        if signed:
            text = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty,
                              hashlib.sha256(data).hexdigest()])
            previous = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
            extension = f";chunk-signature={previous}"
        body += f"{len(data):x}{extension}\r\n".encode() + data + (b"\r\n" if data else b"")
    if trailer is not None:
        body += f"{trailer}\r\n".encode()
        if signed:
            text = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous,
                              hashlib.sha256(f"{trailer}\n".encode()).hexdigest()])
            body += f"x-amz-trailer-signature:{hmac.new(key, text.encode(), hashlib.sha256).hexdigest()}\r\n".encode()
    return body + b"\r\n"


def _streaming_put(secured, bucket: str, key: str, mode: str, chunks: list[bytes], trailer: bool,
                   tamper: bool = False) -> tuple[int, bytes]:
    data = b"".join(chunks)
    checksum = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    if trailer:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    path = f"/{bucket}/{quote(key)}"
    signed_headers = s3_signed(secured, "PUT", path, headers=headers, payload=mode)
    body = _streaming_body(signed_headers, chunks, f"x-amz-checksum-crc32:{checksum}" if trailer else None,
                           signed=mode != "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    if tamper:
        body = body.replace(chunks[-1], chunks[-1].upper())
    return send(secured, "PUT", path, signed_headers, body)


@pytest.mark.parametrize(("mode", "trailer"), [("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", False),
                                               ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", True),
                                               ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", True)])
def test_streaming_uploads_are_accepted(secured, bucket, mode, trailer):
    chunks = [b"x" * 8192, b"last chunk"]
    status, body = _streaming_put(secured, bucket, f"streamed {mode}", mode, chunks, trailer)
    assert status == 200, body
    stored = client(secured, "s3").get_object(Bucket=bucket, Key=f"streamed {mode}")["Body"].read()
    assert stored == b"".join(chunks)


@pytest.mark.parametrize(("mode", "trailer"), [("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", False),
                                               ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", True)])
def test_a_changed_chunk_of_a_signed_stream_is_refused(secured, bucket, mode, trailer):
    status, body = _streaming_put(secured, bucket, "tampered stream", mode, [b"x" * 8192, b"last chunk"],
                                  trailer, tamper=True)
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    with pytest.raises(ClientError):
        client(secured, "s3").head_object(Bucket=bucket, Key="tampered stream")


def test_s3_answers_its_own_auth_errors(secured, bucket):
    status, body = send(secured, "GET", f"/{bucket}/anything", {})
    assert (status, error_code(body)) == (403, "AccessDenied")
    with pytest.raises(ClientError) as excinfo:
        client(secured, "s3", "AKIDUNKNOWN", "x").list_buckets()
    assert excinfo.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    with pytest.raises(ClientError) as excinfo:
        client(secured, "s3", KEY, "wrong").list_buckets()
    assert excinfo.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_code_locations_are_presigned_and_verified(secured, monkeypatch):
    lambda_client = client(secured, "lambda")
    code = make_zip({"app.py": "def handler(event, context):\n    return event\n"})
    name = f"fn-{uuid.uuid4().hex[:8]}"
    lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": code})
    location = lambda_client.get_function(FunctionName=name)["Code"]["Location"]
    assert "X-Amz-Expires=600" in location
    with urllib.request.urlopen(location, timeout=10) as response:
        assert response.read() == code
    unsigned = location.split("?", 1)[0]
    tampered = location.replace("X-Amz-Expires=600", "X-Amz-Expires=6000")
    for url in (unsigned, tampered):
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            urllib.request.urlopen(url, timeout=10)
        assert excinfo.value.code == 403
    sign_an_hour_ago(monkeypatch)
    expired = client(secured, "s3").generate_presigned_url("get_object", ExpiresIn=600, Params={
        "Bucket": "_cumulo", "Key": unsigned.split("/_cumulo/", 1)[1]})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(expired, timeout=10)
    assert (excinfo.value.code, error_code(excinfo.value.read())) == (403, "AccessDenied")


def _outward_address() -> str:
    """This machine's address on its default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def test_health_details_are_for_local_or_signed_callers(tmp_path):
    address = _outward_address()
    if address.startswith("127."):
        pytest.skip("no non-loopback address to call from")
    server = CumuloServer(tmp_path / "data", extra_args=["--host", "0.0.0.0"],
                          env={"CUMULO_ACCESS_KEYS": f"{KEY}:{SECRET}"}).start()
    try:
        url = f"http://{address}:{server.port}/_cumulo/health"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert set(json.loads(response.read())) == {"status", "version"}
        aws = AWSRequest(method="GET", url=url)
        S3SigV4Auth(Credentials(KEY, SECRET), "s3", REGION).add_auth(aws)
        with urllib.request.urlopen(urllib.request.Request(url, headers=dict(aws.headers.items())),
                                    timeout=5) as response:
            assert json.loads(response.read())["authRequired"] is True
        assert "dataDir" in server.health()  # from loopback
    finally:
        server.stop()


def _form_post(server: CumuloServer, url: str, fields: dict[str, str], content: bytes) -> tuple[int, bytes]:
    boundary = uuid.uuid4().hex
    body = b""
    for name, value in [*fields.items(), ("file", None)]:
        disposition = f'form-data; name="{name}"' + ('; filename="photo.jpg"' if value is None else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += (content if value is None else value.encode()) + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_presigned_post_uploads_within_its_policy(secured, bucket):
    s3 = client(secured, "s3")
    post = s3.generate_presigned_post(bucket, "uploads/${filename}", Conditions=[
        ["starts-with", "$key", "uploads/"], ["content-length-range", 1, 100], {"success_action_status": "201"}],
        Fields={"success_action_status": "201"}, ExpiresIn=300)
    status, body = _form_post(secured, post["url"], post["fields"], b"form upload")
    assert status == 201, body
    assert b"<Key>uploads/photo.jpg</Key>" in body
    assert s3.get_object(Bucket=bucket, Key="uploads/photo.jpg")["Body"].read() == b"form upload"


def test_presigned_post_refuses_what_its_policy_does_not_allow(secured, bucket):
    s3 = client(secured, "s3")
    post = s3.generate_presigned_post(bucket, "fixed-key", Conditions=[["content-length-range", 1, 5]])
    too_large = _form_post(secured, post["url"], post["fields"], b"more than five bytes")
    assert (too_large[0], error_code(too_large[1])) == (400, "EntityTooLarge")
    other_key = _form_post(secured, post["url"], {**post["fields"], "key": "other-key"}, b"1")
    assert (other_key[0], error_code(other_key[1])) == (403, "AccessDenied")
    extra_field = _form_post(secured, post["url"], {**post["fields"], "x-amz-meta-owner": "me"}, b"1")
    assert (extra_field[0], error_code(extra_field[1])) == (403, "AccessDenied")
    assert b"Extra input fields: x-amz-meta-owner" in extra_field[1]
    forged = _form_post(secured, post["url"], {**post["fields"], "x-amz-signature": "0" * 64}, b"1")
    assert (forged[0], error_code(forged[1])) == (403, "SignatureDoesNotMatch")
    unsigned = _form_post(secured, post["url"], {"key": "fixed-key"}, b"1")
    assert (unsigned[0], error_code(unsigned[1])) == (403, "AccessDenied")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="other-key")
    assert _form_post(secured, post["url"], post["fields"], b"ok")[0] == 204


def test_expired_presigned_post_is_refused(secured, bucket, monkeypatch):
    an_hour_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    monkeypatch.setattr("botocore.signers.get_current_datetime", lambda *args, **kwargs: an_hour_ago)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *args, **kwargs: an_hour_ago)
    post = client(secured, "s3").generate_presigned_post(bucket, "late", ExpiresIn=60)
    status, body = _form_post(secured, post["url"], post["fields"], b"late")
    assert (status, error_code(body)) == (403, "AccessDenied")
    assert b"Policy expired" in body


@pytest.mark.parametrize("tamper", [False, True])
def test_streaming_uploads_beyond_the_spool_threshold_are_checked_from_disk(secured, bucket, tamper):
    chunks = [os.urandom(1024 * 1024) for _ in range(11)] + [b"last chunk"]
    key = f"large stream {tamper}"
    status, body = _streaming_put(secured, bucket, key, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", chunks,
                                  trailer=True, tamper=tamper)
    s3 = client(secured, "s3")
    if tamper:
        assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key=key)
        return
    assert status == 200, body
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(chunks)
    assert got["ChecksumCRC32"] == base64.b64encode(zlib.crc32(b"".join(chunks)).to_bytes(4, "big")).decode()


def test_a_large_signed_payload_is_hashed_from_disk(secured, bucket):
    data = os.urandom(11 * 1024 * 1024)
    s3 = client(secured, "s3")
    s3.put_object(Bucket=bucket, Key="large signed", Body=data)
    assert s3.get_object(Bucket=bucket, Key="large signed")["Body"].read() == data
    status, body = send(secured, "PUT", f"/{bucket}/replayed", s3_signed(
        secured, "PUT", f"/{bucket}/replayed", body=data), data[:-1] + b"!")
    assert (status, error_code(body)) == (400, "XAmzContentSHA256Mismatch")


def test_a_form_upload_is_notified_as_a_post(secured):
    s3, sqs = client(secured, "s3"), client(secured, "sqs")
    bucket = f"form-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    url = sqs.create_queue(QueueName=f"form-events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": arn, "Events": ["s3:ObjectCreated:Post"]}]})
    post = s3.generate_presigned_post(bucket, "in/${filename}", ExpiresIn=300)
    status, body = _form_post(secured, post["url"], post["fields"], b"from a browser")
    assert status == 204, body
    records = []

    def notified() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []):
            records.extend(json.loads(message["Body"]).get("Records", []))
        return bool(records)

    wait_for(notified, timeout=30, message="the ObjectCreated:Post notification")
    assert (records[0]["eventName"], records[0]["s3"]["object"]["key"]) == ("ObjectCreated:Post", "in/photo.jpg")
