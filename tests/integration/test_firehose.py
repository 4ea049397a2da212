"""Firehose (minimal): a DirectPut delivery stream buffers records and writes them to S3 as one
object under AWS's key layout once the buffering interval has passed."""

from __future__ import annotations

import re
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.server import wait_for


def test_direct_put_records_reach_s3_in_aws_key_layout(server):
    firehose, s3 = server.client("firehose"), server.client("s3")
    bucket, name = f"fh-{uuid.uuid4().hex[:8]}", f"fh-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    firehose.create_delivery_stream(DeliveryStreamName=name, DeliveryStreamType="DirectPut",
                                    ExtendedS3DestinationConfiguration={
                                        "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "raw/",
                                        "RoleARN": "arn:aws:iam::000000000000:role/r",
                                        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}})
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b"one\n"})
    answer = firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"two\n"}, {"Data": b"three\n"}])
    assert answer["FailedPutCount"] == 0 and len(answer["RequestResponses"]) == 2
    objects = wait_for(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="raw/").get("Contents"), timeout=30,
                       message="delivered object")
    assert re.fullmatch(rf"raw/\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}}/{name}-1-\d{{4}}(-\d{{2}}){{5}}-[0-9a-f-]{{36}}",
                        objects[0]["Key"])
    assert s3.get_object(Bucket=bucket, Key=objects[0]["Key"])["Body"].read() == b"one\ntwo\nthree\n"
    description = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert description["DeliveryStreamStatus"] == "ACTIVE"
    firehose.delete_delivery_stream(DeliveryStreamName=name)
    with pytest.raises(ClientError) as missing:
        firehose.put_record(DeliveryStreamName=name, Record={"Data": b"x"})
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
