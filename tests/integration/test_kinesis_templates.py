"""Kinesis in templates: AWS::Kinesis::Stream (Ref, GetAtt Arn, shard count and retention
updates), AWS::Kinesis::StreamConsumer and SAM `Events: Type: Kinesis` / `Type: DynamoDB` feeding a real function."""

from __future__ import annotations

import json
import uuid

from tests.server import wait_for

WAIT = {"Delay": 0.2, "MaxAttempts": 300}

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Shards:
    Type: Number
    Default: 1
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: !Ref Shards
      RetentionPeriodHours: 48
      Tags: [{Key: app, Value: clicks}]
  Reader:
    Type: AWS::Kinesis::StreamConsumer
    Properties:
      StreamARN: !GetAtt Clicks.Arn
      ConsumerName: reader
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Sink:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Environment:
        Variables: {SINK: !Ref Sink}
      InlineCode: |
        import json, os, boto3
        SQS = boto3.client("sqs")
        def handler(event, context):
            SQS.send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps(
                [r["eventSource"] for r in event["Records"]]))
      Events:
        FromStream:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            MaximumRetryAttempts: 2
            BisectBatchOnFunctionError: true
            ParallelizationFactor: 2
        FromTable:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
            MaximumRecordAgeInSeconds: 600
Outputs:
  StreamName: {Value: !Ref Clicks}
  StreamArn: {Value: !GetAtt Clicks.Arn}
  TableName: {Value: !Ref Orders}
  SinkUrl: {Value: !Ref Sink}
  ConsumerArn: {Value: !GetAtt Reader.ConsumerARN}
"""


def outputs(cloudformation, name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_stream_and_stream_events_deploy_deliver_update_and_delete(server):
    cloudformation, kinesis, sqs = server.client("cloudformation"), server.client("kinesis"), server.client("sqs")
    name = f"kin-{uuid.uuid4().hex[:8]}"
    capabilities = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    cloudformation.create_stack(StackName=name, TemplateBody=TEMPLATE, Capabilities=capabilities)
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    out = outputs(cloudformation, name)
    summary = kinesis.describe_stream_summary(StreamName=out["StreamName"])["StreamDescriptionSummary"]
    assert summary["StreamARN"] == out["StreamArn"] and summary["RetentionPeriodHours"] == 48
    assert summary["OpenShardCount"] == 1 and summary["ConsumerCount"] == 1
    assert out["ConsumerArn"].startswith(out["StreamArn"] + "/consumer/reader:")
    assert kinesis.list_tags_for_stream(StreamName=out["StreamName"])["Tags"] == [{"Key": "app", "Value": "clicks"}]
    mappings = server.client("lambda").list_event_source_mappings(EventSourceArn=out["StreamArn"])
    mapping = mappings["EventSourceMappings"][0]
    assert (mapping["BatchSize"], mapping["MaximumRetryAttempts"], mapping["BisectBatchOnFunctionError"],
            mapping["ParallelizationFactor"], mapping["StartingPosition"]) == (10, 2, True, 2, "TRIM_HORIZON")

    kinesis.put_record(StreamName=out["StreamName"], Data=b"click", PartitionKey="u1")
    server.client("dynamodb").put_item(TableName=out["TableName"], Item={"pk": {"S": "o1"}})
    sources: list[str] = []

    def both_arrived() -> bool:
        for message in sqs.receive_message(QueueUrl=out["SinkUrl"], WaitTimeSeconds=1,
                                           MaxNumberOfMessages=10).get("Messages", []):
            sources.extend(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=out["SinkUrl"], ReceiptHandle=message["ReceiptHandle"])
        return {"aws:kinesis", "aws:dynamodb"} <= set(sources)

    wait_for(both_arrived, timeout=60, interval=0, message="records from both streams")

    cloudformation.update_stack(StackName=name, TemplateBody=TEMPLATE, Capabilities=capabilities,
                                Parameters=[{"ParameterKey": "Shards", "ParameterValue": "2"}])
    cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert kinesis.describe_stream_summary(StreamName=out["StreamName"])["StreamDescriptionSummary"][
        "OpenShardCount"] == 2
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert out["StreamName"] not in kinesis.list_streams()["StreamNames"]
