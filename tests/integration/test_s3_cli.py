"""The AWS CLI's high-level S3 commands, static websites and CORS, against a real server."""

from __future__ import annotations

import http.client
import os
import subprocess
import urllib.request
import uuid

import pytest


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


@pytest.fixture
def bucket(s3) -> str:
    name = f"cli-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def aws(server, tmp_path):
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none")}

    def run(*args: str) -> str:
        result = subprocess.run(["aws", "--endpoint-url", server.url, *args], capture_output=True, text=True,
                                env=environment, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    return run


def request(server, method: str, path: str, host: str, headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request(method, path, headers={"Host": host, **(headers or {})})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_recursive_copy_move_remove_and_a_multipart_upload(aws, s3, bucket, tmp_path):
    source = tmp_path / "tree"
    (source / "a" / "b").mkdir(parents=True)
    (source / "top.txt").write_text("top")
    (source / "a" / "one.txt").write_text("one")
    (source / "a" / "b" / "two with space.txt").write_text("two")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # above the CLI's 8 MB multipart threshold
    aws("s3", "cp", str(source), f"s3://{bucket}/tree", "--recursive")
    aws("s3", "cp", str(big), f"s3://{bucket}/big.bin")
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-2"')
    listing = aws("s3", "ls", f"s3://{bucket}", "--recursive")
    assert "tree/a/b/two with space.txt" in listing and "big.bin" in listing
    aws("s3", "mv", f"s3://{bucket}/tree/top.txt", f"s3://{bucket}/moved/top.txt")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert "moved/top.txt" in keys and "tree/top.txt" not in keys
    aws("s3", "cp", f"s3://{bucket}/big.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
    (source / "a" / "one.txt").write_text("changed")
    (source / "top.txt").unlink()
    synced = aws("s3", "sync", str(source), f"s3://{bucket}/tree", "--delete")
    assert "a/one.txt" in synced
    assert s3.get_object(Bucket=bucket, Key="tree/a/one.txt")["Body"].read() == b"changed"
    aws("s3", "rm", f"s3://{bucket}", "--recursive")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    aws("s3", "rb", f"s3://{bucket}")
    assert bucket not in aws("s3", "ls")


def test_presign_and_website_commands(server, aws, s3, bucket):
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>home</h1>", ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="docs/index.html", Body=b"<h1>docs</h1>", ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="404.html", Body=b"<h1>missing</h1>", ContentType="text/html")
    url = aws("s3", "presign", f"s3://{bucket}/index.html", "--expires-in", "60").strip()
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"<h1>home</h1>"
    aws("s3", "website", f"s3://{bucket}", "--index-document", "index.html", "--error-document", "404.html")
    site = f"{bucket}.s3-website.localhost:{server.port}"
    status, headers, body = request(server, "GET", "/", site)
    assert (status, body, headers["content-type"]) == (200, b"<h1>home</h1>", "text/html")
    assert request(server, "GET", "/docs/", site)[2] == b"<h1>docs</h1>"
    assert request(server, "GET", "/docs", site)[:2][0] == 302
    status, _, body = request(server, "GET", "/nothing-here", site)
    assert (status, body) == (404, b"<h1>missing</h1>")


def test_cors_preflight_and_response_headers(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="data.json", Body=b"{}")
    host = f"127.0.0.1:{server.port}"
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "content-type"}
    status, _, body = request(server, "OPTIONS", f"/{bucket}/data.json", host, preflight)
    assert status == 403 and b"CORS is not enabled" in body
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://*.example"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"],
         "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]})
    status, headers, _ = request(server, "OPTIONS", f"/{bucket}/data.json", host, preflight)
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET, PUT"
    assert headers["access-control-allow-headers"] == "content-type"
    assert headers["access-control-max-age"] == "600"
    denied = request(server, "OPTIONS", f"/{bucket}/data.json", host, {**preflight, "Origin": "https://evil.test"})
    assert denied[0] == 403
    # virtual-hosted addressing answers preflights too
    assert request(server, "OPTIONS", "/data.json", f"{bucket}.s3.localhost:{server.port}", preflight)[0] == 200
    status, headers, _ = request(server, "GET", f"/{bucket}/data.json", host, {
        "Origin": "https://app.example",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=00"})
    assert status == 200 and headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-expose-headers"] == "ETag"
