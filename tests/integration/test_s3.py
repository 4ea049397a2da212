"""S3 through boto3, its transfer manager and the AWS CLI."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def s3(server):
    return server.client("s3")


@pytest.fixture
def bucket(s3) -> str:
    name = f"bucket-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_buckets_create_list_head_delete(s3):
    name = f"bucket-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    with pytest.raises(ClientError) as exists:
        s3.create_bucket(Bucket=name)
    assert code(exists) == "BucketAlreadyOwnedByYou"
    with pytest.raises(ClientError) as invalid:
        s3.create_bucket(Bucket="Invalid_Name")
    assert code(invalid) == "InvalidBucketName"
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as not_empty:
        s3.delete_bucket(Bucket=name)
    assert code(not_empty) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as gone:
        s3.head_bucket(Bucket=name)
    assert gone.value.response["Error"]["Code"] == "404"


def test_objects_round_trip_with_metadata_ranges_and_conditions(s3, bucket):
    body = bytes(range(256)) * 100
    put = s3.put_object(Bucket=bucket, Key="dir/data.bin", Body=body, ContentType="application/x-test",
                        Metadata={"owner": "ann"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/data.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"owner": "ann"}
    assert got["ContentLength"] == len(body)
    head = s3.head_object(Bucket=bucket, Key="dir/data.bin")
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]
    part = s3.get_object(Bucket=bucket, Key="dir/data.bin", Range="bytes=10-19")
    assert part["Body"].read() == body[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    with pytest.raises(ClientError) as unsatisfiable:
        s3.get_object(Bucket=bucket, Key="dir/data.bin", Range=f"bytes={len(body)}-")
    assert code(unsatisfiable) == "InvalidRange"
    with pytest.raises(ClientError) as precondition:
        s3.get_object(Bucket=bucket, Key="dir/data.bin", IfMatch='"nope"')
    assert precondition.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="nope")
    assert code(missing) == "NoSuchKey"
    with pytest.raises(ClientError) as missing_head:
        s3.head_object(Bucket=bucket, Key="nope")
    assert missing_head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as no_bucket:
        s3.get_object(Bucket=bucket + "-x", Key="k")
    assert code(no_bucket) == "NoSuchBucket"


def test_listing_with_prefix_delimiter_and_pagination(s3, bucket):
    keys = ["a/1", "a/2", "a/b/3", "c", "d/4"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(keys)
    assert listed["KeyCount"] == 5
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["c"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "d/"]
    nested = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in nested["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["a/b/"]
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}))
    assert [[o["Key"] for o in p.get("Contents", [])] for p in pages] == [["a/1", "a/2"], ["a/b/3", "c"], ["d/4"]]
    v1 = list(s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 3}))
    assert sum(len(p.get("Contents", [])) for p in v1) == 5


def test_copy_delete_batch_and_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", Metadata={"m": "1"})
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    copied = s3.get_object(Bucket=bucket, Key="dst")
    assert copied["Body"].read() == b"payload" and copied["Metadata"] == {"m": "1"}
    s3.put_object_tagging(Bucket=bucket, Key="dst", Tagging={"TagSet": [{"Key": "t", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="dst")["TagSet"] == [{"Key": "t", "Value": "v"}]
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "src"}, {"Key": "dst"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["dst", "src"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "x"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "x"}]


def test_multipart_upload_through_the_transfer_manager(s3, bucket):
    data = os.urandom(12 * 1024 * 1024)
    from boto3.s3.transfer import TransferConfig
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_fileobj(io.BytesIO(data), bucket, "big.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    target = io.BytesIO()
    s3.download_fileobj(bucket, "big.bin", target, Config=config)
    assert target.getvalue() == data


def test_multipart_errors(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"small")["ETag"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=2, Body=b"tail")
    with pytest.raises(ClientError) as too_small:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": etag}, {"PartNumber": 2, "ETag": '"x"'}]})
    assert code(too_small) in ("EntityTooSmall", "InvalidPart")
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="k", UploadId=upload)["Parts"]] == [1, 2]
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload)
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=bucket, Key="k", UploadId=upload)
    assert code(gone) == "NoSuchUpload"


def test_virtual_hosted_style_addressing(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="vhost.txt", Body=b"hi")
    # *.localhost names do not resolve everywhere, so send the Host header a resolver would produce.
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    connection.request("GET", "/vhost.txt", headers={
        "Host": f"{bucket}.s3.localhost:{server.port}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=00"})
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"hi")
    connection.close()


def test_aws_cli_copies_lists_and_syncs(server, bucket, tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / "site" / "app.js").write_text("console.log(1)")
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none")}

    def aws(*args: str) -> str:
        result = subprocess.run(["aws", "--endpoint-url", server.url, *args], capture_output=True, text=True,
                                env=environment, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    aws("s3", "sync", str(tmp_path / "site"), f"s3://{bucket}/site")
    listing = aws("s3", "ls", f"s3://{bucket}/site/")
    assert "index.html" in listing and "app.js" in listing
    aws("s3", "cp", f"s3://{bucket}/site/index.html", str(tmp_path / "copy.html"))
    assert (tmp_path / "copy.html").read_text() == "<h1>hi</h1>"
    described = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "site/app.js"))
    assert described["ContentLength"] == len("console.log(1)")


def test_lambda_code_and_layers_from_s3(server, s3, bucket):
    from tests.conftest import make_zip

    s3.put_object(Bucket=bucket, Key="code/fn.zip",
                  Body=make_zip({"app.py": "def handler(e, c):\n    return 'from s3'\n"}))
    lambda_client = server.client("lambda")
    name = f"s3code-{uuid.uuid4().hex[:8]}"
    lambda_client.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler",
                                  Role="arn:aws:iam::000000000000:role/r",
                                  Code={"S3Bucket": bucket, "S3Key": "code/fn.zip"})
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    assert json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read()) == "from s3"
    with pytest.raises(ClientError) as missing:
        lambda_client.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="code/missing.zip")
    assert code(missing) == "InvalidParameterValueException"
    assert "NoSuchKey" in missing.value.response["Error"]["Message"]
