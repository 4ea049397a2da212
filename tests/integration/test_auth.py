"""SigV4 verification against a server started with --require-auth."""

from __future__ import annotations

import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.server import CumuloServer


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("auth") / "data", extra_args=["--require-auth"],
                            env={"CUMULO_ACCESS_KEYS": "AKIDEXAMPLE:secret-one,AKIDOTHER:secret-two"}).start()
    yield instance
    instance.stop()


def client(server: CumuloServer, service: str, key: str, secret: str):
    return boto3.client(service, endpoint_url=server.url, region_name="eu-central-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def test_valid_signatures_are_accepted_and_the_region_comes_from_the_scope(secured):
    logs = client(secured, "logs", "AKIDEXAMPLE", "secret-one")
    logs.create_log_group(logGroupName="signed")
    group = logs.describe_log_groups(logGroupNamePrefix="signed")["logGroups"][0]
    assert group["arn"].startswith("arn:aws:logs:eu-central-1:")
    assert client(secured, "lambda", "AKIDOTHER", "secret-two").list_functions()["Functions"] == []


def test_wrong_secret_is_an_invalid_signature(secured):
    with pytest.raises(ClientError) as excinfo:
        client(secured, "logs", "AKIDEXAMPLE", "wrong").describe_log_groups()
    assert excinfo.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_access_key_is_unrecognized(secured):
    with pytest.raises(ClientError) as excinfo:
        client(secured, "lambda", "AKIDUNKNOWN", "x").list_functions()
    assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_unsigned_requests_are_rejected(secured):
    request = urllib.request.Request(secured.url + "/2015-03-31/functions", method="GET")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=5)
    assert excinfo.value.code == 403
    assert excinfo.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_presigned_urls_are_verified(secured):
    signer = client(secured, "lambda", "AKIDEXAMPLE", "secret-one")
    url = signer.generate_presigned_url("list_functions", ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(tampered, timeout=5)
    assert excinfo.value.code == 403


def test_health_needs_no_signature(secured):
    assert secured.health()["authRequired"] is True
