"""Asynchronous invocation policy: event invoke configs, destinations and dead-letter queues."""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/r"
HANDLER = textwrap.dedent("""
    def handler(event, context):
        if event.get("fail"):
            raise ValueError("failed on purpose " + str(event["id"]))
        return {"done": event["id"]}
""")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("destinations") / "data",
                            env={"CUMULO_RETRY_DELAY_SCALE": "0.005"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def clients(server):
    return server.client("lambda"), server.client("sqs"), server.client("sns")


def function(lambda_client, source: str = HANDLER, **config) -> str:
    name = f"fn-{uuid.uuid4().hex[:8]}"
    lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": make_zip({"app.py": source})}, Timeout=30, **config)
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    return name


def queue(sqs) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def drain(sqs, url: str, count: int, timeout: float = 60) -> list[dict]:
    received: list[dict] = []

    def enough() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           MessageAttributeNames=["All"]).get("Messages", []):
            received.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(received) >= count

    wait_for(enough, timeout=timeout, interval=0, message=f"{count} message(s) on {url}")
    return received


def test_event_invoke_config_crud_and_errors(clients):
    lambda_client, sqs, _ = clients
    name = function(lambda_client)
    _, arn = queue(sqs)
    with pytest.raises(ClientError) as missing:
        lambda_client.get_function_event_invoke_config(FunctionName=name)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    put = lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": arn}})
    assert put["FunctionArn"].endswith(f":{name}:$LATEST")
    assert put["MaximumRetryAttempts"] == 1
    updated = lambda_client.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=600)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 600)
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": arn}
    assert len(lambda_client.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]) == 1
    with pytest.raises(ClientError) as bad_destination:
        lambda_client.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": "arn:aws:s3:::bucket"}})
    assert bad_destination.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as too_many:
        lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=3)
    assert too_many.value.response["Error"]["Code"] == "ValidationException"
    lambda_client.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(ClientError):
        lambda_client.get_function_event_invoke_config(FunctionName=name)


def test_success_and_failure_destinations_get_aws_records(clients):
    lambda_client, sqs, _ = clients
    name = function(lambda_client)
    success_url, success_arn = queue(sqs)
    failure_url, failure_arn = queue(sqs)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={
            "OnSuccess": {"Destination": success_arn}, "OnFailure": {"Destination": failure_arn}})
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"id": 1}')
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"id": 2, "fail": true}')
    [success] = [json.loads(m["Body"]) for m in drain(sqs, success_url, 1)]
    assert success["version"] == "1.0"
    assert success["requestContext"]["condition"] == "Success"
    assert success["requestContext"]["functionArn"].endswith(f":{name}:$LATEST")
    assert success["requestContext"]["approximateInvokeCount"] == 1
    assert success["requestPayload"] == {"id": 1}
    assert success["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert success["responsePayload"] == {"done": 1}
    [failure] = [json.loads(m["Body"]) for m in drain(sqs, failure_url, 1)]
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["responsePayload"]["errorMessage"] == "failed on purpose 2"


def test_event_age_exceeded_for_throttled_events(clients):
    lambda_client, sqs, _ = clients
    name = function(lambda_client)
    url, arn = queue(sqs)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60,
                                                   DestinationConfig={"OnFailure": {"Destination": arn}})
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"id": 3}')
    [record] = [json.loads(m["Body"]) for m in drain(sqs, url, 1)]
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestPayload"] == {"id": 3}


def test_sns_and_lambda_destinations(clients, server):
    lambda_client, sqs, sns = clients
    url, queue_arn = queue(sqs)
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    forwarder = function(lambda_client, textwrap.dedent(f"""
        import json, boto3

        def handler(event, context):
            boto3.client("sqs").send_message(QueueUrl={url!r}, MessageBody=json.dumps({{"via": "lambda",
                                             "condition": event["requestContext"]["condition"]}}))
    """))
    forwarder_arn = lambda_client.get_function(FunctionName=forwarder)["Configuration"]["FunctionArn"]
    name = function(lambda_client)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={
            "OnSuccess": {"Destination": topic}, "OnFailure": {"Destination": forwarder_arn}})
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"id": 4}')
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"id": 5, "fail": true}')
    bodies = [json.loads(m["Body"]) for m in drain(sqs, url, 2)]
    via_sns = next(b for b in bodies if "requestContext" in b)
    assert via_sns["requestContext"]["condition"] == "Success"
    assert {"via": "lambda", "condition": "RetriesExhausted"} in bodies


def test_dead_letter_queue_gets_the_original_event(clients):
    lambda_client, sqs, _ = clients
    url, arn = queue(sqs)
    name = function(lambda_client, DeadLetterConfig={"TargetArn": arn})
    lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"id": 6, "fail": true}')
    [message] = drain(sqs, url, 1)
    assert json.loads(message["Body"]) == {"id": 6, "fail": True}
    attributes = message["MessageAttributes"]
    assert attributes["ErrorMessage"]["StringValue"] == "failed on purpose 6"
    assert attributes["RequestID"]["StringValue"]
    assert attributes["ErrorCode"]["DataType"] == "Number"


def test_eventbridge_destination_emits_the_invocation_result(clients, server):
    lambda_client, sqs, _ = clients
    events = server.client("events")
    url, arn = queue(sqs)
    bus = f"bus-{uuid.uuid4().hex[:8]}"
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    events.put_rule(Name="results", EventBusName=bus,
                    EventPattern=json.dumps({"source": ["lambda"],
                                             "detail-type": ["Lambda Function Invocation Result - Success"]}))
    events.put_targets(Rule="results", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    name = function(lambda_client)
    lambda_client.put_function_event_invoke_config(FunctionName=name,
                                                   DestinationConfig={"OnSuccess": {"Destination": bus_arn}})
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"id": 7}')
    [message] = drain(sqs, url, 1)
    event = json.loads(message["Body"])
    assert event["source"] == "lambda"
    assert event["detail"]["requestContext"]["condition"] == "Success"
    assert event["detail"]["responsePayload"] == {"done": 7}
