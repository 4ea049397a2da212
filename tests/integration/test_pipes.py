"""EventBridge Pipes through boto3: lifecycle, SQS sources, filters, enrichment, targets, partial failures."""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import wait_for

ROLE = "arn:aws:iam::000000000000:role/pipe-role"


@pytest.fixture(scope="module")
def pipes(server):
    return server.client("pipes")


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


@pytest.fixture(scope="module")
def lambda_client(server):
    return server.client("lambda")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_queue(sqs, fifo: bool = False, **attributes: str) -> tuple[str, str]:
    attrs = {"VisibilityTimeout": "30", **attributes, **({"FifoQueue": "true"} if fifo else {})}
    url = sqs.create_queue(QueueName=unique("q") + (".fifo" if fifo else ""), Attributes=attrs)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def function(lambda_client, body: str) -> str:
    """A Python function whose handler body is ``body`` (``event`` is the batch)."""
    name = unique("pipefn")
    source = "import json, boto3\n\ndef handler(event, context):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    arn = lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                        Code={"ZipFile": make_zip({"app.py": source})}, Timeout=30)["FunctionArn"]
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    return arn


def drain(sqs, url: str, count: int, timeout: float = 30) -> list[str]:
    bodies: list[str] = []

    def enough() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= count

    wait_for(enough, timeout=timeout, interval=0, message=f"{count} messages")
    return bodies


def state(pipes, name: str, wanted: str) -> dict:
    return wait_for(lambda: (p := pipes.describe_pipe(Name=name))["CurrentState"] == wanted and p,
                    message=f"pipe {wanted}")


def error(raised: pytest.ExceptionInfo) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_lifecycle_tags_and_errors(pipes, sqs):
    _, source = make_queue(sqs)
    target_url, target = make_queue(sqs)
    name = unique("pipe")
    created = pipes.create_pipe(Name=name, Source=source, Target=target, RoleArn=ROLE, DesiredState="STOPPED",
                                Tags={"team": "a"}, Description="d")
    assert (created["CurrentState"], created["DesiredState"]) == ("CREATING", "STOPPED")
    assert created["Arn"] == f"arn:aws:pipes:us-east-1:000000000000:pipe/{name}"
    described = state(pipes, name, "STOPPED")
    assert (described["Source"], described["Target"], described["Description"]) == (source, target, "d")
    with pytest.raises(ClientError) as raised:
        pipes.create_pipe(Name=name, Source=source, Target=target, RoleArn=ROLE)
    assert error(raised) == ("ConflictException", f"Pipe {name} already exists.")
    with pytest.raises(ClientError) as raised:
        pipes.describe_pipe(Name=unique("missing"))
    assert error(raised)[0] == "NotFoundException"
    with pytest.raises(ClientError) as raised:
        pipes.create_pipe(Name=unique("bad"), Source=source, Target=target, RoleArn=ROLE,
                          SourceParameters={"FilterCriteria": {"Filters": [{"Pattern": "{not json"}]}})
    assert error(raised)[0] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        pipes.create_pipe(Name=unique("bad"), Source=source + "-missing", Target=target, RoleArn=ROLE)
    assert error(raised)[0] == "ValidationException"

    assert pipes.start_pipe(Name=name)["CurrentState"] == "STARTING"
    state(pipes, name, "RUNNING")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=source.rsplit(":", 1)[1])["QueueUrl"], MessageBody="hi")
    assert json.loads(drain(sqs, target_url, 1)[0])["body"] == "hi"

    pipes.tag_resource(resourceArn=created["Arn"], tags={"env": "dev"})
    pipes.untag_resource(resourceArn=created["Arn"], tagKeys=["team"])
    assert pipes.list_tags_for_resource(resourceArn=created["Arn"])["tags"] == {"env": "dev"}
    listed = pipes.list_pipes(NamePrefix=name)["Pipes"]
    assert [(p["Name"], p["CurrentState"]) for p in listed] == [(name, "RUNNING")]
    assert pipes.list_pipes(NamePrefix=name, CurrentState="STOPPED")["Pipes"] == []

    assert pipes.delete_pipe(Name=name)["CurrentState"] == "DELETING"
    wait_for(lambda: not pipes.list_pipes(NamePrefix=name)["Pipes"], message="pipe deleted")


def test_filter_lambda_enrichment_and_input_template_to_sqs(pipes, sqs, lambda_client):
    source_url, source = make_queue(sqs)
    target_url, target = make_queue(sqs)
    enrich = function(lambda_client, """
        return [{"id": r["messageId"], "order": json.loads(r["body"]), "size": len(event)} for r in event]
    """)
    name = unique("pipe")
    pipes.create_pipe(
        Name=name, Source=source, Target=target, RoleArn=ROLE, Enrichment=enrich,
        SourceParameters={"SqsQueueParameters": {"BatchSize": 5},
                          "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]}},
        TargetParameters={"InputTemplate": '{"pipe": <aws.pipes.pipe-name>, "item": <$.order.item>, '
                                           '"label": "item <$.order.item> of <aws.pipes.pipe-name>"}'})
    state(pipes, name, "RUNNING")
    for index in range(4):
        sqs.send_message(QueueUrl=source_url, MessageBody=json.dumps({"kind": "order", "item": index}))
    sqs.send_message(QueueUrl=source_url, MessageBody=json.dumps({"kind": "other", "item": 99}))
    delivered = [json.loads(b) for b in drain(sqs, target_url, 4)]
    assert sorted(d["item"] for d in delivered) == [0, 1, 2, 3]
    assert all(d["pipe"] == name and d["label"] == f"item {d['item']} of {name}" for d in delivered)
    # the filtered-out message and the delivered ones are all gone from the source
    wait_for(lambda: sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessagesNotVisible"] == "0", message="source drained")
    assert "Messages" not in sqs.receive_message(QueueUrl=source_url, WaitTimeSeconds=0)
    pipes.delete_pipe(Name=name)


def test_lambda_target_partial_batch_failure(pipes, sqs, lambda_client):
    source_url, source = make_queue(sqs)
    sink_url, _ = make_queue(sqs)
    target = function(lambda_client, f"""
        sqs = boto3.client("sqs")
        for r in event:
            sqs.send_message(QueueUrl={sink_url!r}, MessageBody=r["body"])
        bad = [r["messageId"] for r in event if r["body"].startswith("bad")]
        return {{"batchItemFailures": [{{"itemIdentifier": i}} for i in bad]}}
    """)
    name = unique("pipe")
    pipes.create_pipe(Name=name, Source=source, Target=target, RoleArn=ROLE,
                      SourceParameters={"SqsQueueParameters": {"BatchSize": 10}})
    state(pipes, name, "RUNNING")
    sqs.send_message_batch(QueueUrl=source_url, Entries=[
        {"Id": str(i), "MessageBody": body} for i, body in enumerate(["ok1", "bad1", "ok2"])])
    assert sorted(drain(sqs, sink_url, 3)) == ["bad1", "ok1", "ok2"]

    def held() -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    # the two successes are deleted; the failed one stays on the queue (in flight until its visibility ends)
    wait_for(lambda: held() == 1, message="only the failed message left")
    pipes.stop_pipe(Name=name)
    state(pipes, name, "STOPPED")
    assert held() == 1
    pipes.delete_pipe(Name=name)


def test_step_functions_express_enrichment_and_standard_target(pipes, sqs, server):
    states = server.client("stepfunctions")
    source_url, source = make_queue(sqs)
    express = states.create_state_machine(
        name=unique("enrich"), roleArn=ROLE, type="EXPRESS",
        definition=json.dumps({"StartAt": "P", "States": {"P": {
            "Type": "Pass", "Parameters": {"count.$": "States.ArrayLength($)", "first.$": "$[0].body"},
            "End": True}}}))["stateMachineArn"]
    standard = states.create_state_machine(
        name=unique("target"), roleArn=ROLE,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    name = unique("pipe")
    pipes.create_pipe(Name=name, Source=source, Target=standard, Enrichment=express, RoleArn=ROLE,
                      TargetParameters={"StepFunctionStateMachineParameters": {"InvocationType": "FIRE_AND_FORGET"}})
    state(pipes, name, "RUNNING")
    sqs.send_message(QueueUrl=source_url, MessageBody="hello")
    executions = wait_for(lambda: states.list_executions(stateMachineArn=standard)["executions"],
                          timeout=30, message="an execution")
    described = states.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(described["input"]) == [{"count": 1, "first": "hello"}]
    pipes.delete_pipe(Name=name)


def test_stopped_pipe_leaves_messages_and_start_resumes(pipes, sqs):
    source_url, source = make_queue(sqs)
    target_url, target = make_queue(sqs)
    name = unique("pipe")
    pipes.create_pipe(Name=name, Source=source, Target=target, RoleArn=ROLE)
    state(pipes, name, "RUNNING")
    assert pipes.stop_pipe(Name=name)["CurrentState"] == "STOPPING"
    state(pipes, name, "STOPPED")
    sqs.send_message(QueueUrl=source_url, MessageBody="waiting")
    held = sqs.receive_message(QueueUrl=source_url, WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in held] == ["waiting"]  # nobody else took it
    sqs.change_message_visibility(QueueUrl=source_url, ReceiptHandle=held[0]["ReceiptHandle"], VisibilityTimeout=0)
    pipes.start_pipe(Name=name)
    state(pipes, name, "RUNNING")
    assert json.loads(drain(sqs, target_url, 1)[0])["body"] == "waiting"
    pipes.delete_pipe(Name=name)


def test_fifo_source_keeps_order_to_fifo_target(pipes, sqs):
    source_url, source = make_queue(sqs, fifo=True, ContentBasedDeduplication="true")
    target_url, target = make_queue(sqs, fifo=True, ContentBasedDeduplication="true")
    name = unique("pipe")
    pipes.create_pipe(Name=name, Source=source, Target=target, RoleArn=ROLE,
                      TargetParameters={"SqsQueueParameters": {"MessageGroupId": "g"},
                                        "InputTemplate": "<$.body>"})
    state(pipes, name, "RUNNING")
    for index in range(6):
        sqs.send_message(QueueUrl=source_url, MessageBody=f"m{index}", MessageGroupId="g")
    assert drain(sqs, target_url, 6) == [f"m{i}" for i in range(6)]
    pipes.delete_pipe(Name=name)


def test_template_pipe_to_log_group(server, sqs):
    cloudformation, pipes, logs = server.client("cloudformation"), server.client("pipes"), server.client("logs")
    stack = unique("pipes")
    group = f"/pipes/{stack}"
    template = {"Resources": {
        "Source": {"Type": "AWS::SQS::Queue"},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": group}},
        "Pipe": {"Type": "AWS::Pipes::Pipe", "Properties": {
            "Source": {"Fn::GetAtt": ["Source", "Arn"]},
            "Target": {"Fn::GetAtt": ["Logs", "Arn"]}, "RoleArn": ROLE,
            "SourceParameters": {"SqsQueueParameters": {"BatchSize": "2"}},
            "Tags": {"team": "a"},
            "TargetParameters": {"CloudWatchLogsParameters": {"LogStreamName": "s"}}}}},
        "Outputs": {"Name": {"Value": {"Ref": "Pipe"}}, "Queue": {"Value": {"Ref": "Source"}},
                    "State": {"Value": {"Fn::GetAtt": ["Pipe", "CurrentState"]}}}}
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    cloudformation.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 0.2})
    outputs = {o["OutputKey"]: o["OutputValue"] for o in
               cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
    name = outputs["Name"]
    assert pipes.describe_pipe(Name=name)["SourceParameters"]["SqsQueueParameters"]["BatchSize"] == 2
    state(pipes, name, "RUNNING")
    sqs.send_message(QueueUrl=outputs["Queue"], MessageBody="to logs")
    events = wait_for(lambda: logs.filter_log_events(logGroupName=group).get("events"), timeout=30,
                      message="a log event")
    assert json.loads(events[0]["message"])["body"] == "to logs"

    pipe = template["Resources"]["Pipe"]["Properties"]
    pipe["SourceParameters"]["SqsQueueParameters"]["BatchSize"] = "5"
    pipe["Tags"] = {"team": "b"}
    cloudformation.update_stack(StackName=stack, TemplateBody=json.dumps(template))
    cloudformation.get_waiter("stack_update_complete").wait(StackName=stack, WaiterConfig={"Delay": 0.2})
    described = pipes.describe_pipe(Name=name)
    assert described["SourceParameters"]["SqsQueueParameters"]["BatchSize"] == 5
    assert described["Tags"] == {"team": "b"}
    cloudformation.delete_stack(StackName=stack)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 0.2})
    with pytest.raises(ClientError):
        pipes.describe_pipe(Name=name)


def test_event_bus_target_with_whole_event_variables(pipes, sqs, server):
    events = server.client("events")
    source_url, source = make_queue(sqs)
    sink_url, sink = make_queue(sqs)
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    name = unique("pipe")
    events.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": [f"Pipe {name}"]}))
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": sink}])
    pipes.create_pipe(Name=name, Source=source, Target=bus_arn, RoleArn=ROLE, TargetParameters={
        "InputTemplate": '{"whole": <aws.pipes.event.json>, "text": "<aws.pipes.event>", "src": '
                         '<aws.pipes.source-arn>}'})
    state(pipes, name, "RUNNING")
    sqs.send_message(QueueUrl=source_url, MessageBody='{"a": 1}')
    event = json.loads(drain(sqs, sink_url, 1)[0])
    assert (event["source"], event["detail-type"]) == (f"Pipe {name}", "Event from aws:sqs")
    detail = event["detail"]
    assert detail["src"] == source and detail["whole"]["body"] == '{"a": 1}'
    assert json.loads(detail["text"])["messageId"] == detail["whole"]["messageId"]
    pipes.delete_pipe(Name=name)


def test_sns_target_and_async_lambda_target(pipes, sqs, lambda_client, server):
    sns = server.client("sns")
    source_url, source = make_queue(sqs)
    sink_url, sink = make_queue(sqs)
    topic = sns.create_topic(Name=unique("t"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sink, Attributes={"RawMessageDelivery": "true"})
    to_topic = unique("pipe")
    pipes.create_pipe(Name=to_topic, Source=source, Target=topic, RoleArn=ROLE,
                      TargetParameters={"InputTemplate": '{"got": "<$.body>"}'})
    async_source_url, async_source = make_queue(sqs)
    recorder = function(lambda_client, f"""
        boto3.client("sqs").send_message(QueueUrl={sink_url!r}, MessageBody=json.dumps({{"batch": len(event)}}))
    """)
    to_function = unique("pipe")
    pipes.create_pipe(Name=to_function, Source=async_source, Target=recorder, RoleArn=ROLE, TargetParameters={
        "LambdaFunctionParameters": {"InvocationType": "FIRE_AND_FORGET"}})
    state(pipes, to_topic, "RUNNING")
    state(pipes, to_function, "RUNNING")
    sqs.send_message(QueueUrl=source_url, MessageBody="x")
    sqs.send_message(QueueUrl=async_source_url, MessageBody="y")
    received = [json.loads(b) for b in drain(sqs, sink_url, 2)]
    assert sorted(received, key=json.dumps) == [{"batch": 1}, {"got": "x"}]
    pipes.delete_pipe(Name=to_topic)
    pipes.delete_pipe(Name=to_function)


def test_dynamodb_stream_source_with_filter_in_order(pipes, sqs, server):
    dynamodb = server.client("dynamodb")
    table = unique("tbl")
    stream = dynamodb.create_table(
        TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    dynamodb.put_item(TableName=table, Item={"id": {"S": "before"}})  # TRIM_HORIZON reaches it
    target_url, target = make_queue(sqs)
    name = unique("pipe")
    with pytest.raises(ClientError) as raised:
        pipes.create_pipe(Name=name, Source=stream, Target=target, RoleArn=ROLE)
    assert error(raised) == ("ValidationException", "StartingPosition is required for DynamoDB stream sources.")
    pipes.create_pipe(Name=name, Source=stream, Target=target, RoleArn=ROLE, SourceParameters={
        "DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 2},
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]}},
        TargetParameters={"InputTemplate": '{"id": <$.dynamodb.Keys.id.S>, "source": <$.eventSource>}'})
    state(pipes, name, "RUNNING")
    for key in ("a", "b", "c"):
        dynamodb.put_item(TableName=table, Item={"id": {"S": key}})
    dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "v": {"N": "1"}})  # a MODIFY, filtered out
    delivered = [json.loads(b) for b in drain(sqs, target_url, 4)]
    assert [d["id"] for d in delivered] == ["before", "a", "b", "c"]
    assert {d["source"] for d in delivered} == {"aws:dynamodb"}
    pipes.delete_pipe(Name=name)


def test_dynamodb_stream_partial_failure_retries_then_dead_letters(pipes, sqs, lambda_client, server):
    dynamodb = server.client("dynamodb")
    table = unique("tbl")
    stream = dynamodb.create_table(
        TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]["LatestStreamArn"]
    sink_url, _ = make_queue(sqs)
    dlq_url, dlq = make_queue(sqs)
    target = function(lambda_client, f"""
        sqs = boto3.client("sqs")
        keys = [r["dynamodb"]["Keys"]["id"]["S"] for r in event]
        sqs.send_message(QueueUrl={sink_url!r}, MessageBody=json.dumps(keys))
        bad = [r["dynamodb"]["SequenceNumber"] for r in event if r["dynamodb"]["Keys"]["id"]["S"] == "bad"]
        return {{"batchItemFailures": [{{"itemIdentifier": s}} for s in bad]}}
    """)
    name = unique("pipe")
    pipes.create_pipe(Name=name, Source=stream, Target=target, RoleArn=ROLE, SourceParameters={
        "DynamoDBStreamParameters": {"StartingPosition": "LATEST", "BatchSize": 10,
                                     "MaximumBatchingWindowInSeconds": 1, "MaximumRetryAttempts": 1,
                                     "DeadLetterConfig": {"Arn": dlq}}})
    state(pipes, name, "RUNNING")
    for key in ("ok", "bad", "after"):
        dynamodb.put_item(TableName=table, Item={"id": {"S": key}})
    # the whole batch first, then a retry from the first failed record on; then the batch is dead-lettered
    assert [json.loads(b) for b in drain(sqs, sink_url, 2)] == [["ok", "bad", "after"], ["bad", "after"]]
    info = json.loads(drain(sqs, dlq_url, 1)[0])
    assert info["DDBStreamBatchInfo"]["streamArn"] == stream and info["DDBStreamBatchInfo"]["batchSize"] == 2
    pipes.delete_pipe(Name=name)


def test_pipes_and_stream_checkpoints_survive_a_restart(tmp_path):
    from tests.server import CumuloServer

    instance = CumuloServer(tmp_path / "data").start()
    try:
        sqs, pipes, dynamodb = instance.client("sqs"), instance.client("pipes"), instance.client("dynamodb")
        source_url, source = make_queue(sqs)
        target_url, target = make_queue(sqs)
        stream = dynamodb.create_table(
            TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        )["TableDescription"]["LatestStreamArn"]
        pipes.create_pipe(Name="queue", Source=source, Target=target, RoleArn=ROLE)
        pipes.create_pipe(Name="stream", Source=stream, Target=target, RoleArn=ROLE,
                          SourceParameters={"DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON"}},
                          TargetParameters={"InputTemplate": "<$.dynamodb.Keys.id.S>"})
        state(pipes, "queue", "RUNNING")
        state(pipes, "stream", "RUNNING")
        dynamodb.put_item(TableName="t", Item={"id": {"S": "first"}})
        assert drain(sqs, target_url, 1) == ["first"]
        instance.stop()
        instance.start()
        assert {p["Name"]: p["CurrentState"] for p in pipes.list_pipes()["Pipes"]} == {"queue": "RUNNING",
                                                                                      "stream": "RUNNING"}
        dynamodb.put_item(TableName="t", Item={"id": {"S": "second"}})
        sqs.send_message(QueueUrl=source_url, MessageBody="after restart")
        delivered = drain(sqs, target_url, 2)
        bodies = {b if not b.startswith("{") else json.loads(b)["body"] for b in delivered}
        assert bodies == {"second", "after restart"}  # the stream resumed after "first", not from the start
    finally:
        instance.stop()


def test_express_state_machine_target_sync_partial_failure(pipes, sqs, server):
    states = server.client("stepfunctions")
    source_url, source = make_queue(sqs)
    express = states.create_state_machine(
        name=unique("target"), roleArn=ROLE, type="EXPRESS",
        definition=json.dumps({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$[0].body", "StringEquals": "bad", "Next": "Fail"}],
                  "Default": "Ok"},
            "Fail": {"Type": "Pass", "Parameters": {"batchItemFailures": [{"itemIdentifier.$": "$[0].messageId"}]},
                     "End": True},
            "Ok": {"Type": "Pass", "Result": {"batchItemFailures": []}, "End": True}}}))["stateMachineArn"]
    name = unique("pipe")
    pipes.create_pipe(Name=name, Source=source, Target=express, RoleArn=ROLE,
                      SourceParameters={"SqsQueueParameters": {"BatchSize": 1}},
                      TargetParameters={"StepFunctionStateMachineParameters": {"InvocationType": "REQUEST_RESPONSE"}})
    state(pipes, name, "RUNNING")

    def held() -> tuple[str, str]:
        attributes = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["All"])["Attributes"]
        return attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]

    sqs.send_message(QueueUrl=source_url, MessageBody="good")
    wait_for(lambda: held() == ("0", "0"), message="the good message deleted")
    sqs.send_message(QueueUrl=source_url, MessageBody="bad")
    # the execution ran synchronously and named the record as failed: it stays in flight, not deleted
    wait_for(lambda: held() == ("0", "1"), message="the message in flight")
    pipes.stop_pipe(Name=name)
    state(pipes, name, "STOPPED")
    assert held() == ("0", "1")
    pipes.delete_pipe(Name=name)


def test_batch_size_above_the_targets_is_refused(pipes, sqs):
    _, source = make_queue(sqs)
    _, target = make_queue(sqs)
    with pytest.raises(ClientError) as raised:
        pipes.create_pipe(Name=unique("pipe"), Source=source, Target=target, RoleArn=ROLE, SourceParameters={
            "SqsQueueParameters": {"BatchSize": 11, "MaximumBatchingWindowInSeconds": 1}})
    assert error(raised) == ("ValidationException",
                             "BatchSize 11 is larger than the maximum batch size of the target (10).")


def test_api_gateway_endpoint_enrichment(pipes, sqs, lambda_client, server):
    apigateway = server.client("apigateway")
    source_url, source = make_queue(sqs)
    target_url, target = make_queue(sqs)
    backend = function(lambda_client, """
        record = json.loads(event["body"])
        return {"statusCode": 200, "body": json.dumps({"seen": record["body"], "path": event["path"],
                                                       "who": event["headers"].get("x-caller")})}
    """)
    api = apigateway.create_rest_api(name=unique("enrich"))["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    resource = apigateway.create_resource(restApiId=api, parentId=root, pathPart="{kind}")["id"]
    apigateway.put_method(restApiId=api, resourceId=resource, httpMethod="POST", authorizationType="NONE")
    apigateway.put_integration(
        restApiId=api, resourceId=resource, httpMethod="POST", type="AWS_PROXY", integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{backend}/invocations")
    apigateway.create_deployment(restApiId=api, stageName="prod")
    name = unique("pipe")
    pipes.create_pipe(Name=name, Source=source, Target=target, RoleArn=ROLE,
                      Enrichment=f"arn:aws:execute-api:us-east-1:000000000000:{api}/prod/POST/*",
                      EnrichmentParameters={"HttpParameters": {"PathParameterValues": ["orders"],
                                                               "HeaderParameters": {"x-caller": "pipe"}}},
                      SourceParameters={"SqsQueueParameters": {"BatchSize": 1}})
    state(pipes, name, "RUNNING")
    sqs.send_message(QueueUrl=source_url, MessageBody="order 1")
    assert json.loads(drain(sqs, target_url, 1)[0]) == {"seen": "order 1", "path": "/orders", "who": "pipe"}
    pipes.delete_pipe(Name=name)
