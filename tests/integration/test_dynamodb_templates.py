"""DynamoDB in templates: AWS::DynamoDB::Table (indexes, stream, TTL, tags; GetAtt Arn and
StreamArn), AWS::DynamoDB::GlobalTable as a single-region table, AWS::Serverless::SimpleTable
and a function with the DynamoDBCrudPolicy template, deployed, updated and deleted."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

WAIT = {"Delay": 0.2, "MaxAttempts": 300}

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Reads:
    Type: Number
    Default: 5
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PROVISIONED
      ProvisionedThroughput: {ReadCapacityUnits: !Ref Reads, WriteCapacityUnits: 2}
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: N}
        - {AttributeName: status, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: by-status
          KeySchema: [{AttributeName: status, KeyType: HASH}]
          Projection: {ProjectionType: KEYS_ONLY}
          ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: expires, Enabled: true}
      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
      Tags: [{Key: app, Value: shop}]
  Global:
    Type: AWS::DynamoDB::GlobalTable
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: KEYS_ONLY}
      Replicas:
        - Region: us-east-1
          Tags: [{Key: replica, Value: home}]
  Simple:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey: {Name: id, Type: Number}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      InlineCode: "def handler(event, context):\\n    return 'ok'\\n"
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref Simple}
        - DynamoDBReadPolicy: {TableName: !Ref Orders}
      Environment:
        Variables: {TABLE: !Ref Simple}
Outputs:
  OrdersName: {Value: !Ref Orders}
  OrdersArn: {Value: !GetAtt Orders.Arn}
  OrdersStream: {Value: !GetAtt Orders.StreamArn}
  GlobalName: {Value: !Ref Global}
  GlobalStream: {Value: !GetAtt Global.StreamArn}
  SimpleName: {Value: !Ref Simple}
"""


@pytest.fixture(scope="module")
def cloudformation(server):
    return server.client("cloudformation")


def outputs(cloudformation, name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_tables_deploy_update_and_delete(server, cloudformation):
    ddb = server.client("dynamodb")
    name = f"ddb-{uuid.uuid4().hex[:8]}"
    capabilities = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    cloudformation.create_stack(StackName=name, TemplateBody=TEMPLATE, Capabilities=capabilities)
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    values = outputs(cloudformation, name)
    orders = ddb.describe_table(TableName=values["OrdersName"])["Table"]
    assert values["OrdersArn"] == orders["TableArn"]
    assert values["OrdersStream"] == orders["LatestStreamArn"]
    assert orders["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert orders["GlobalSecondaryIndexes"][0]["IndexName"] == "by-status"
    assert orders["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert ddb.describe_time_to_live(TableName=values["OrdersName"])["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    assert ddb.list_tags_of_resource(ResourceArn=orders["TableArn"])["Tags"] == [{"Key": "app", "Value": "shop"}]
    global_table = ddb.describe_table(TableName=values["GlobalName"])["Table"]
    assert global_table["LatestStreamArn"] == values["GlobalStream"]
    assert ddb.list_tags_of_resource(ResourceArn=global_table["TableArn"])["Tags"] == [
        {"Key": "replica", "Value": "home"}]
    simple = ddb.describe_table(TableName=values["SimpleName"])["Table"]
    assert simple["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert simple["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "N"}]
    ddb.put_item(TableName=values["SimpleName"], Item={"id": {"N": "1"}})

    cloudformation.update_stack(StackName=name, TemplateBody=TEMPLATE, Capabilities=capabilities,
                                Parameters=[{"ParameterKey": "Reads", "ParameterValue": "9"}])
    cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    updated = ddb.describe_table(TableName=values["OrdersName"])["Table"]
    assert updated["ProvisionedThroughput"]["ReadCapacityUnits"] == 9
    assert updated["TableArn"] == orders["TableArn"]

    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    for table in (values["OrdersName"], values["GlobalName"], values["SimpleName"]):
        with pytest.raises(ClientError):
            ddb.describe_table(TableName=table)
