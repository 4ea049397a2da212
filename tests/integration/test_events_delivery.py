"""PutEvents end to end: entry validation, the delivered event, targets, input shaping, cross-bus
routing, retries and dead-letter queues, through a real server and boto3."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/events-role"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("events") / "data",
                            env={"CUMULO_EVENTS_RETRY_TIME_SCALE": "0.001"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def events(server):
    return server.client("events")


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_queue(sqs, name: str | None = None, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name or unique("q"), Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def drain(sqs, url: str, count: int, timeout: float = 10.0, **kwargs) -> list[dict]:
    """Receive (and delete) until ``count`` messages arrived; fails on timeout."""
    received: list[dict] = []

    def more() -> bool:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kwargs)
        for message in answer.get("Messages", []):
            received.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(received) >= count

    wait_for(more, timeout, message=f"{count} messages on {url}")
    return received


def assert_empty(sqs, url: str) -> None:
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None


def route(events, sqs, pattern: dict, bus: str = "default", **target) -> tuple[str, str]:
    """A rule with one SQS target; returns (queue url, rule name)."""
    url, arn = make_queue(sqs)
    rule = unique("rule")
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn, **target}])
    return url, rule


def put(events, *entries: dict) -> dict:
    result = events.put_events(Entries=list(entries))
    return result


def entry(source: str, detail: dict | None = None, **members) -> dict:
    return {"Source": source, "DetailType": members.pop("DetailType", "Thing Happened"),
            "Detail": json.dumps(detail if detail is not None else {"n": 1}), **members}


# ------------------------------------------------------------ the delivered event
def test_delivered_event_shape(events, sqs):
    source = unique("app")
    url, _ = route(events, sqs, {"source": [source]})
    moment = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    result = put(events, entry(source, {"order": {"id": 7, "items": ["a"]}}, Time=moment,
                               Resources=["arn:aws:s3:::bucket", "free text"]))
    assert result["FailedEntryCount"] == 0
    event_id = result["Entries"][0]["EventId"]
    body = drain(sqs, url, 1)[0]["Body"]
    assert list(json.loads(body)) == ["version", "id", "detail-type", "source", "account", "time", "region",
                                      "resources", "detail"]
    assert json.loads(body) == {"version": "0", "id": event_id, "detail-type": "Thing Happened", "source": source,
                                "account": ACCOUNT, "time": "2024-05-06T07:08:09Z", "region": REGION,
                                "resources": ["arn:aws:s3:::bucket", "free text"],
                                "detail": {"order": {"id": 7, "items": ["a"]}}}
    assert body == json.dumps(json.loads(body), separators=(",", ":"))  # compact JSON


def test_time_defaults_to_now(events, sqs):
    source = unique("app")
    url, _ = route(events, sqs, {"source": [source]})
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    put(events, entry(source))
    event = json.loads(drain(sqs, url, 1)[0]["Body"])
    moment = dt.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert before <= moment <= dt.datetime.now(dt.UTC) and event["resources"] == []


# ------------------------------------------------------------ PutEvents validation
def test_entry_errors_do_not_stop_the_batch(events, sqs):
    source = unique("app")
    url, _ = route(events, sqs, {"source": [source]})
    result = put(events, entry(source),
                 {"DetailType": "x", "Detail": "{}"},
                 {"Source": source, "Detail": "{}"},
                 {"Source": source, "DetailType": "x"},
                 {"Source": source, "DetailType": "x", "Detail": "[1, 2]"},
                 {"Source": source, "DetailType": "x", "Detail": "{not json"},
                 entry("aws.ec2"),
                 entry(source))
    assert result["FailedEntryCount"] == 6
    codes = [(e.get("ErrorCode"), e.get("ErrorMessage")) for e in result["Entries"]]
    assert codes == [
        (None, None),
        ("InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."),
        ("InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."),
        ("InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."),
        ("MalformedDetail", "Detail is malformed."),
        ("MalformedDetail", "Detail is malformed."),
        ("NotAuthorizedForSourceException", "Not authorized for the source."),
        (None, None)]
    assert "EventId" in result["Entries"][0] and "EventId" in result["Entries"][7]
    assert len(drain(sqs, url, 2)) == 2


def test_batch_limits(events, server):
    raw = server.client("events", parameter_validation=False)
    with pytest.raises(ClientError) as raised:
        raw.put_events(Entries=[entry("my.app") for _ in range(11)])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have length less than or equal to 10" in raised.value.response["Error"]["Message"]
    big = "x" * (128 * 1024)
    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[entry("my.app", {"a": big}), entry("my.app", {"b": big})])
    assert raised.value.response["Error"] == {
        "Code": "ValidationException", "Message": "Total size of the entries in the request is over the limit."}
    # the limit, as AWS counts: Time 14 bytes + Source + DetailType + Detail + each Resource (UTF-8)

    def sized(total: int, **members) -> dict:
        fixed = len('{"a":""}') + len("s") + len("t") + (14 if "Time" in members else 0)
        fixed += sum(len(r.encode()) for r in members.get("Resources", []))
        return {"Source": "s", "DetailType": "t", "Detail": '{"a":"' + "x" * (total - fixed) + '"}', **members}

    limit = 256 * 1024
    now = dt.datetime.now(dt.UTC)
    assert events.put_events(Entries=[sized(limit)])["FailedEntryCount"] == 0
    assert events.put_events(Entries=[sized(limit, Time=now, Resources=["é"])])["FailedEntryCount"] == 0
    for oversized in (sized(limit + 1), sized(limit + 1, Time=now), sized(limit + 1, Resources=["é"])):
        with pytest.raises(ClientError) as raised:
            events.put_events(Entries=[oversized])
        assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_nonexistent_bus_accepts_and_drops(events, sqs):
    source = unique("app")
    url, _ = route(events, sqs, {"source": [source]})
    result = put(events, entry(source), entry(source, EventBusName=unique("nobus")))
    assert result["FailedEntryCount"] == 0 and all("EventId" in e for e in result["Entries"])
    assert len(drain(sqs, url, 1)) == 1
    assert_empty(sqs, url)


def test_bus_by_name_or_arn(events, sqs):
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    source = unique("app")
    url, _ = route(events, sqs, {"source": [source]}, bus=bus)
    put(events, entry(source, EventBusName=bus), entry(source, EventBusName=bus_arn), entry(source))
    assert len(drain(sqs, url, 2)) == 2
    assert_empty(sqs, url)  # the entry for the default bus does not reach the custom bus


def test_disabled_rules_and_patterns(events, sqs):
    source = unique("app")
    url, rule = route(events, sqs, {"source": [source], "detail": {"n": [{"numeric": [">", 5]}]}})
    put(events, entry(source, {"n": 3}), entry(source, {"n": 9}), entry("other.app", {"n": 9}))
    assert [json.loads(m["Body"])["detail"]["n"] for m in drain(sqs, url, 1)] == [9]
    events.disable_rule(Name=rule)
    put(events, entry(source, {"n": 10}))
    assert_empty(sqs, url)
    events.enable_rule(Name=rule)
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source], "detail": {"n": [1]}}))
    put(events, entry(source, {"n": 10}), entry(source, {"n": 1}))
    assert [json.loads(m["Body"])["detail"]["n"] for m in drain(sqs, url, 1)] == [1]


# ------------------------------------------------------------ input shaping end to end
@pytest.mark.parametrize("shaping, body", [
    ({"Input": '{"fixed": true}'}, '{"fixed": true}'),
    ({"InputPath": "$.detail"}, '{"instance":"i-1","state":"RUNNING","n":2}'),
    ({"InputPath": "$.detail.state"}, '"RUNNING"'),
    ({"InputTransformer": {"InputPathsMap": {"instance": "$.detail.instance", "state": "$.detail.state"},
                           "InputTemplate": '"instance <instance> is in <state>"'}},
     '"instance i-1 is in RUNNING"'),
    ({"InputTransformer": {"InputPathsMap": {"instance": "$.detail.instance", "n": "$.detail.n",
                                             "gone": "$.detail.gone"},
                           "InputTemplate": '{"id": <instance>, "n": <n>, "gone": <gone>, "text": "n is <n>"}'}},
     '{"id":"i-1","n":2,"gone":"","text":"n is 2"}'),
    ({"InputTransformer": {"InputTemplate": "<aws.events.rule-name> fired"}}, "{rule} fired"),
])
def test_input_shaping(events, sqs, shaping, body):
    source = unique("app")
    url, rule = route(events, sqs, {"source": [source]}, **shaping)
    put(events, entry(source, {"instance": "i-1", "state": "RUNNING", "n": 2}))
    assert drain(sqs, url, 1)[0]["Body"] == body.replace("{rule}", rule)


def test_predefined_variables(events, sqs):
    source = unique("app")
    template = ('{"arn": <aws.events.rule-arn>, "name": <aws.events.rule-name>, "at": '
                '<aws.events.event.ingestion-time>, "event": <aws.events.event>, "json": <aws.events.event.json>}')
    url, rule = route(events, sqs, {"source": [source]}, InputTransformer={"InputTemplate": template})
    event_id = put(events, entry(source, {"k": "v"}))["Entries"][0]["EventId"]
    payload = json.loads(drain(sqs, url, 1)[0]["Body"])
    assert payload["arn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}" and payload["name"] == rule
    assert payload["json"]["id"] == event_id and payload["json"]["detail"] == {"k": "v"}
    assert payload["event"]["detailType"] == "Thing Happened" and "detail" not in payload["event"]
    assert payload["at"].endswith("Z")


# ------------------------------------------------------------ targets
def test_fifo_queue_target_uses_the_message_group(events, sqs):
    url, arn = make_queue(sqs, unique("q") + ".fifo", FifoQueue="true")
    source = unique("app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "f", "Arn": arn, "SqsParameters": {"MessageGroupId": "orders"}}])
    ids = [e["EventId"] for e in put(events, entry(source, {"i": 1}), entry(source, {"i": 2}))["Entries"]]
    received = drain(sqs, url, 2, MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"])
    assert {m["Attributes"]["MessageGroupId"] for m in received} == {"orders"}
    assert {m["Attributes"]["MessageDeduplicationId"] for m in received} == set(ids)


def test_cloudwatch_logs_target(events, logs):
    group = f"/aws/events/{unique('g')}"
    logs.create_log_group(logGroupName=group)
    source = unique("app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "l", "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"}])
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    event_id = put(events, entry(source, {"x": 1}, Time=moment))["Entries"][0]["EventId"]
    found = wait_for(lambda: logs.filter_log_events(logGroupName=group, startTime=0)["events"], 10)
    assert found[0]["logStreamName"] == event_id
    assert found[0]["timestamp"] == int(moment.timestamp() * 1000)
    assert json.loads(found[0]["message"])["id"] == event_id


def test_lambda_target_invokes_asynchronously(server, events, logs):
    client = server.client("lambda")
    name = unique("fn")
    code = make_zip({"app.py": textwrap.dedent("""
        import json
        def handler(event, context):
            print("EVENT " + json.dumps(event))
            return {}
    """)})
    client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": code})
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    arn = client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    source = unique("app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": arn}])
    event_id = put(events, entry(source, {"hello": "lambda"}))["Entries"][0]["EventId"]

    def printed():
        try:
            messages = [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return [m for m in messages if m.startswith("EVENT ")]

    received = json.loads(wait_for(printed, 60, interval=0.1)[0][len("EVENT "):])
    assert received["id"] == event_id and received["detail"] == {"hello": "lambda"}


def test_sns_topic_target(server, events, sqs):
    sns = server.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    url, queue = make_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"})
    source = unique("app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "topic", "Arn": topic}])
    event_id = put(events, entry(source, {"via": "sns"}))["Entries"][0]["EventId"]
    event = json.loads(drain(sqs, url, 1)[0]["Body"])
    assert event["id"] == event_id and event["detail"] == {"via": "sns"}


def test_step_functions_target(server, events):
    sfn = server.client("stepfunctions")
    machine = sfn.create_state_machine(name=unique("sm"), roleArn=ROLE, definition=json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    source = unique("app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "sm", "Arn": machine, "RoleArn": ROLE, "InputPath": "$.detail"}])
    put(events, entry(source, {"order": 7}))
    executions = wait_for(lambda: sfn.list_executions(stateMachineArn=machine)["executions"], 10)
    described = wait_for(lambda: (d := sfn.describe_execution(executionArn=executions[0]["executionArn"]))
                         ["status"] == "SUCCEEDED" and d, 10)
    assert json.loads(described["input"]) == {"order": 7}


def test_missing_state_machine_goes_to_the_dlq(events, sqs):
    dlq_url, dlq_arn = make_queue(sqs)
    source = unique("app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "sm", "Arn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:nope",
                                            "DeadLetterConfig": {"Arn": dlq_arn}}])
    put(events, entry(source))
    found = attributes(drain(sqs, dlq_url, 1, MessageAttributeNames=["All"])[0])
    assert found["ERROR_CODE"] == "NO_RESOURCE" and found["RETRY_ATTEMPTS"] == "0"


# ------------------------------------------------------------ cross-bus routing
def test_bus_to_bus_routing(events, sqs):
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    source = unique("app")
    forward = unique("rule")
    events.put_rule(Name=forward, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=forward, Targets=[{"Id": "bus", "Arn": bus_arn, "RoleArn": ROLE}])
    url, _ = route(events, sqs, {"source": [source]}, bus=bus)
    event_id = put(events, entry(source, {"via": "default"}))["Entries"][0]["EventId"]
    event = json.loads(drain(sqs, url, 1)[0]["Body"])
    assert event["id"] == event_id and event["detail"] == {"via": "default"}  # the event arrives unchanged


def test_cross_region_bus_target(server, events, sqs):
    west = server.client("events", region="us-west-2")
    west_sqs = server.client("sqs", region="us-west-2")
    bus = unique("bus")
    bus_arn = west.create_event_bus(Name=bus)["EventBusArn"]
    assert ":us-west-2:" in bus_arn
    url, _ = route(west, west_sqs, {"source": [unique("never")]}, bus=bus)
    source = unique("app")
    west.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": [source]}))
    _, queue = make_queue(west_sqs, unique("west"))
    west.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue}])
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "bus", "Arn": bus_arn, "RoleArn": ROLE}])
    put(events, entry(source))
    west_url = west_sqs.get_queue_url(QueueName=queue.rsplit(":", 1)[1])["QueueUrl"]
    event = json.loads(drain(west_sqs, west_url, 1)[0]["Body"])
    assert event["region"] == REGION  # the event keeps the region it was put in
    assert_empty(west_sqs, url)


def test_no_third_bus_hop(server, events, sqs):
    """EventBridge can't route events received from a sender bus to a third bus: they go to the DLQ."""
    first, second = unique("bus"), unique("bus")
    second_arn = events.create_event_bus(Name=second)["EventBusArn"]
    first_arn = events.create_event_bus(Name=first)["EventBusArn"]
    source = unique("app")
    dlq_url, dlq_arn = make_queue(sqs)
    events.put_rule(Name="hop1", EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule="hop1", Targets=[{"Id": "b", "Arn": first_arn, "RoleArn": ROLE}])
    events.put_rule(Name="hop2", EventBusName=first, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule="hop2", EventBusName=first,
                       Targets=[{"Id": "b", "Arn": second_arn, "RoleArn": ROLE, "DeadLetterConfig": {"Arn": dlq_arn}}])
    url, _ = route(events, sqs, {"source": [source]}, bus=second)
    put(events, entry(source))
    message = drain(sqs, dlq_url, 1, MessageAttributeNames=["All"])[0]
    assert message["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"] == (
        "EventBridge can't route events received from a sender event bus to a third event bus.")
    assert_empty(sqs, url)
    cloudwatch = server.client("cloudwatch")
    wait_for(lambda: metric_sum(cloudwatch, "DeadLetterInvocations", RuleName="hop2") == 1, 10,
             message="DeadLetterInvocations")
    assert metric_sum(cloudwatch, "FailedInvocations", RuleName="hop2") == 0
    events.remove_targets(Rule="hop1", Ids=["b"])


# ------------------------------------------------------------ failures, retries, dead-letter queues
def attributes(message: dict) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}


def test_missing_target_goes_straight_to_the_dlq(events, sqs):
    dlq_url, dlq_arn = make_queue(sqs)
    source = unique("app")
    rule = unique("rule")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
    missing = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{unique('nofn')}"
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}}])
    event_id = put(events, entry(source, {"lost": True}))["Entries"][0]["EventId"]
    message = drain(sqs, dlq_url, 1, MessageAttributeNames=["All"])[0]
    assert json.loads(message["Body"])["id"] == event_id  # the DLQ receives the event itself
    found = attributes(message)
    assert found["RULE_ARN"] == rule_arn and found["TARGET_ARN"] == missing
    assert found["ERROR_CODE"] == "NO_RESOURCE" and found["RETRY_ATTEMPTS"] == "0"
    assert "Function not found" in found["ERROR_MESSAGE"]
    assert "EXHAUSTED_RETRY_CONDITION" not in found


def test_missing_log_group_and_queue_go_to_the_dlq(events, sqs):
    dlq_url, dlq_arn = make_queue(sqs)
    source = unique("app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[
        {"Id": "logs", "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{unique('nogroup')}",
         "DeadLetterConfig": {"Arn": dlq_arn}},
        {"Id": "queue", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique('noqueue')}",
         "DeadLetterConfig": {"Arn": dlq_arn}}])
    put(events, entry(source))
    received = drain(sqs, dlq_url, 2, MessageAttributeNames=["All"])
    assert {attributes(m)["ERROR_CODE"] for m in received} == {"NO_RESOURCE"}


def unavailable_target(server) -> str:
    """An ARN whose service is not in this build: delivery fails with a retryable error."""
    services = server.health()["services"]
    for service, resource in (("firehose", "deliverystream/s"), ("batch", "job-queue/q"),
                              ("codebuild", "project/p")):
        if service not in services:
            return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}-{uuid.uuid4().hex[:6]}"
    pytest.skip("every retryable-failure target service exists in this build")


def test_retries_then_dead_letter_queue(server, events, sqs):
    dlq_url, dlq_arn = make_queue(sqs)
    source = unique("app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    target = unavailable_target(server)
    events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": target, "DeadLetterConfig": {"Arn": dlq_arn},
                                            "RetryPolicy": {"MaximumRetryAttempts": 3,
                                                            "MaximumEventAgeInSeconds": 86400}}])
    put(events, entry(source))
    found = attributes(drain(sqs, dlq_url, 1, MessageAttributeNames=["All"])[0])
    assert found["ERROR_CODE"] == "SDK_CLIENT_ERROR" and found["RETRY_ATTEMPTS"] == "3"
    assert found["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttemptsExhausted"


def test_event_age_limit_then_dead_letter_queue(server, events, sqs):
    dlq_url, dlq_arn = make_queue(sqs)
    source = unique("app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    target = unavailable_target(server)
    # 60 s of event age is 60 ms with CUMULO_EVENTS_RETRY_TIME_SCALE=0.001; 185 retries would take longer
    events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": target, "DeadLetterConfig": {"Arn": dlq_arn},
                                            "RetryPolicy": {"MaximumRetryAttempts": 185,
                                                            "MaximumEventAgeInSeconds": 60}}])
    put(events, entry(source))
    found = attributes(drain(sqs, dlq_url, 1, MessageAttributeNames=["All"])[0])
    assert found["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeExhausted"
    assert 0 < int(found["RETRY_ATTEMPTS"]) < 185


def test_zero_retries(server, events, sqs):
    dlq_url, dlq_arn = make_queue(sqs)
    source = unique("app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": unavailable_target(server),
                                            "DeadLetterConfig": {"Arn": dlq_arn},
                                            "RetryPolicy": {"MaximumRetryAttempts": 0}}])
    put(events, entry(source))
    found = attributes(drain(sqs, dlq_url, 1, MessageAttributeNames=["All"])[0])
    assert found["RETRY_ATTEMPTS"] == "0" and found["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttemptsExhausted"


def test_a_failing_target_does_not_hold_back_the_others(server, events, sqs):
    source = unique("app")
    url, arn = make_queue(sqs)
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "bad", "Arn": unavailable_target(server)},
                                           {"Id": "good", "Arn": arn}])
    put(events, entry(source))
    assert len(drain(sqs, url, 1)) == 1


# ------------------------------------------------------------ metrics (through the CloudWatch API)
def metric_sum(cloudwatch, name: str, **dimensions: str) -> float:
    now = dt.datetime.now(dt.UTC)
    answer = cloudwatch.get_metric_statistics(
        Namespace="AWS/Events", MetricName=name, Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - dt.timedelta(minutes=10), EndTime=now + dt.timedelta(minutes=1), Period=3600,
        Statistics=["Sum"])
    return sum(point["Sum"] for point in answer["Datapoints"])


def test_rule_metrics(server, events, sqs):
    cloudwatch = server.client("cloudwatch")
    dlq_url, dlq_arn = make_queue(sqs)
    source = unique("app")
    url, rule = route(events, sqs, {"source": [source]})
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique('gone')}"
    events.put_targets(Rule=rule, Targets=[{"Id": "gone", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}}])
    put(events, entry(source), entry(source), entry("unmatched.app"))
    drain(sqs, url, 2)
    drain(sqs, dlq_url, 2)
    wait_for(lambda: metric_sum(cloudwatch, "Invocations", RuleName=rule) == 4, 10, message="Invocations")
    assert metric_sum(cloudwatch, "TriggeredRules", RuleName=rule) == 2
    assert metric_sum(cloudwatch, "FailedInvocations", RuleName=rule) == 2
    assert metric_sum(cloudwatch, "InvocationsSentToDlq", RuleName=rule) == 2
    assert metric_sum(cloudwatch, "MatchedEvents", EventBusName="default") >= 2
