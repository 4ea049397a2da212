"""S3 bucket features: name rules, stored configurations read back as AWS returns them, their
errors, and lifecycle rules carried out (on a server whose lifecycle day is one second)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.server import CumuloServer, wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("s3-buckets") / "data",
                            env={"CUMULO_S3_LIFECYCLE_DAY_SECONDS": "1"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


@pytest.fixture
def bucket(s3) -> str:
    name = f"buckets-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.mark.parametrize("name", ["ab", "UPPER-case", "under_score", "-leading", "trailing-", "a..b",
                                  "192.168.1.1", "xn--punycode", "name-s3alias", "x" * 64])
def test_bucket_name_rules(s3, name):
    with pytest.raises(ClientError) as invalid:
        s3.create_bucket(Bucket=name)
    assert code(invalid) == "InvalidBucketName"


def test_configurations_are_stored_and_returned(s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "MaxAgeSeconds": 60}]})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["AllowedOrigins"] == ["*"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                       "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert {g["Permission"] for g in grants} == {"FULL_CONTROL", "READ"}
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/k"}}]})
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"},
                                                               "ErrorDocument": {"Key": "404.html"}})
    assert s3.get_bucket_website(Bucket=bucket)["IndexDocument"] == {"Suffix": "index.html"}
    s3.delete_bucket_cors(Bucket=bucket)
    s3.delete_bucket_policy(Bucket=bucket)
    s3.delete_bucket_website(Bucket=bucket)
    s3.delete_public_access_block(Bucket=bucket)
    for call, expected in ((s3.get_bucket_cors, "NoSuchCORSConfiguration"),
                           (s3.get_bucket_policy, "NoSuchBucketPolicy"),
                           (s3.get_bucket_website, "NoSuchWebsiteConfiguration"),
                           (s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration"),
                           (s3.get_bucket_lifecycle_configuration, "NoSuchLifecycleConfiguration"),
                           (s3.get_object_lock_configuration, "ObjectLockConfigurationNotFoundError")):
        with pytest.raises(ClientError) as missing:
            call(Bucket=bucket)
        assert code(missing) == expected


def test_invalid_configurations_are_refused(s3, bucket):
    with pytest.raises(ClientError) as malformed:
        s3.put_bucket_policy(Bucket=bucket, Policy="not json")
    assert code(malformed) == "MalformedPolicy"
    with pytest.raises(ClientError) as method:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]}]})
    assert code(method) == "InvalidRequest"
    with pytest.raises(ClientError) as not_versioned:
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert code(not_versioned) == "InvalidBucketState"


def test_object_lock_buckets_are_versioned_and_keep_their_settings(s3):
    name = f"locked-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    rule = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]["Rule"]
    assert rule["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}
    version = s3.put_object(Bucket=name, Key="record", Body=b"x")["VersionId"]
    with pytest.raises(ClientError) as none_yet:
        s3.get_object_retention(Bucket=name, Key="record")
    assert code(none_yet) == "NoSuchObjectLockConfiguration"
    until = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    s3.put_object_retention(Bucket=name, Key="record", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until})
    s3.put_object_legal_hold(Bucket=name, Key="record", LegalHold={"Status": "ON"})
    assert s3.get_object_retention(Bucket=name, Key="record", VersionId=version)["Retention"] == {
        "Mode": "GOVERNANCE", "RetainUntilDate": until}
    assert s3.get_object_legal_hold(Bucket=name, Key="record")["LegalHold"] == {"Status": "ON"}
    head = s3.head_object(Bucket=name, Key="record")
    assert (head["ObjectLockMode"], head["ObjectLockLegalHoldStatus"]) == ("GOVERNANCE", "ON")


def test_object_acls_are_stored_and_returned(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert [g["Permission"] for g in s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]] == ["FULL_CONTROL"]
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert {g["Permission"] for g in s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]} == {"FULL_CONTROL", "READ"}
    with pytest.raises(ClientError) as unlocked:
        s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "ON"})
    assert code(unlocked) == "InvalidRequest"


def test_lifecycle_rules_expire_objects_versions_and_uploads(s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 2},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"] == "tmp"
    s3.put_object(Bucket=bucket, Key="tmp/scratch", Body=b"x")
    s3.put_object(Bucket=bucket, Key="keep/me", Body=b"x")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="tmp/partial")["UploadId"]
    wait_for(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="tmp/")["KeyCount"] == 0, timeout=15,
             message="tmp/scratch expired")
    wait_for(lambda: not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"), timeout=15,
             message="the upload aborted")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep/me"]
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=bucket, Key="tmp/partial", UploadId=upload)
    assert code(gone) == "NoSuchUpload"


def test_lifecycle_expires_noncurrent_versions(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="doc", Body=b"old")
    latest = s3.put_object(Bucket=bucket, Key="doc", Body=b"new")["VersionId"]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "old-versions", "Status": "Enabled", "Filter": {}, "NoncurrentVersionExpiration": {
            "NoncurrentDays": 1}}]})
    wait_for(lambda: [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == [latest],
             timeout=15, message="the noncurrent version expired")
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"new"
