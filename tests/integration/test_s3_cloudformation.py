"""AWS::S3::Bucket with its configurations, and SAM's ``Events: Type: S3``, deployed and then
used: the configurations read back through the S3 API, the events reach the function."""

from __future__ import annotations

import json
import uuid

from tests.server import wait_for

WAIT = {"Delay": 0.2, "MaxAttempts": 300}

SAM_S3_EVENTS = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  BucketName: {Type: String}
Resources:
  Out:
    Type: AWS::SQS::Queue
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Ref BucketName
      VersioningConfiguration: {Status: Enabled}
      CorsConfiguration:
        CorsRules:
          - {AllowedMethods: [GET, PUT], AllowedOrigins: ["https://app.example"], MaxAge: 300}
      LifecycleConfiguration:
        Rules:
          - {Id: expire-tmp, Status: Enabled, Prefix: tmp/, ExpirationInDays: 1,
             AbortIncompleteMultipartUpload: {DaysAfterInitiation: 2}}
      PublicAccessBlockConfiguration: {BlockPublicAcls: true, BlockPublicPolicy: true,
                                       IgnorePublicAcls: true, RestrictPublicBuckets: true}
      Tags: [{Key: team, Value: media}]
  Thumbnail:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Environment: {Variables: {OUT: !Ref Out}}
      Policies:
        - S3ReadPolicy: {BucketName: !Ref BucketName}
      InlineCode: |
        import json, os
        import boto3
        def handler(event, context):
            boto3.client("sqs").send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(event))
      Events:
        Photo:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter: {S3Key: {Rules: [{Name: suffix, Value: .jpg}]}}
Outputs:
  Queue: {Value: !Ref Out}
  Arn: {Value: !GetAtt Uploads.Arn}
"""


def test_a_sam_function_gets_the_events_of_a_bucket_with_its_configurations(server):
    cloudformation, s3, sqs = server.client("cloudformation"), server.client("s3"), server.client("sqs")
    bucket, name = f"uploads-{uuid.uuid4().hex[:8]}", f"s3-events-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=name, TemplateBody=SAM_S3_EVENTS,
                                Parameters=[{"ParameterKey": "BucketName", "ParameterValue": bucket}],
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    values = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert values["Arn"] == f"arn:aws:s3:::{bucket}"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["MaxAgeSeconds"] == 300
    rule = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]
    assert (rule["ID"], rule["Expiration"]["Days"], rule["Filter"]) == ("expire-tmp", 1, {"Prefix": "tmp/"})
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "media"}]
    configuration = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert configuration[0]["Events"] == ["s3:ObjectCreated:*"]
    s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"not a photo")
    s3.put_object(Bucket=bucket, Key="cat.jpg", Body=b"photo")
    received = wait_for(lambda: sqs.receive_message(QueueUrl=values["Queue"], WaitTimeSeconds=1).get("Messages"),
                        timeout=60, message="the function's forwarded event")
    (record,) = json.loads(received[0]["Body"])["Records"]
    assert (record["eventName"], record["s3"]["object"]["key"]) == ("ObjectCreated:Put", "cat.jpg")
    assert record["s3"]["bucket"]["name"] == bucket
