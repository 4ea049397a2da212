"""Accepted events survive kill -9: what PutEvents acknowledged is delivered after a restart."""

from __future__ import annotations

import json
import signal

from tests.server import CumuloServer, wait_for

REGION = "us-east-1"
ACCOUNT = "000000000000"


def test_events_accepted_before_kill_9_are_delivered_after_restart(tmp_path):
    data = tmp_path / "data"
    # No delivery workers: every accepted event is still queued when the process dies.
    first = CumuloServer(data, env={"CUMULO_EVENTS_DELIVERY_WORKERS": "0"}).start()
    events, sqs, logs = first.client("events"), first.client("sqs"), first.client("logs")
    url = sqs.create_queue(QueueName="durable")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    logs.create_log_group(logGroupName="/aws/events/durable")
    events.create_event_bus(Name="orders")
    events.put_rule(Name="all-orders", EventBusName="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="all-orders", EventBusName="orders", Targets=[
        {"Id": "queue", "Arn": queue_arn},
        {"Id": "logs", "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/durable"}])
    accepted = []
    for batch in range(3):
        result = events.put_events(Entries=[
            {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"n": batch * 10 + i}),
             "EventBusName": "orders"} for i in range(10)])
        assert result["FailedEntryCount"] == 0
        accepted += [e["EventId"] for e in result["Entries"]]
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    second = CumuloServer(data).start()
    try:
        sqs, logs, events = second.client("sqs"), second.client("logs"), second.client("events")
        delivered: list[str] = []

        def all_delivered() -> bool:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in answer.get("Messages", []):
                delivered.append(json.loads(message["Body"])["id"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return len(delivered) >= len(accepted)

        wait_for(all_delivered, 30, message="the queued events")
        assert sorted(delivered) == sorted(accepted)
        streams = wait_for(lambda: len(logs.describe_log_streams(logGroupName="/aws/events/durable")["logStreams"])
                           == len(accepted) or None, 30)
        assert streams
        # the rules were restored too: new events are routed
        new_id = events.put_events(Entries=[{"Source": "shop", "DetailType": "Order", "Detail": "{}",
                                             "EventBusName": "orders"}])["Entries"][0]["EventId"]
        message = wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), 10)
        assert json.loads(message[0]["Body"])["id"] == new_id
    finally:
        second.stop()


def test_scheduled_rules_survive_kill_9(tmp_path):
    data = tmp_path / "data"
    speed = {"CUMULO_SCHEDULE_CLOCK_SPEED": "120"}  # a schedule minute in half a second
    first = CumuloServer(data, env=speed).start()
    sqs, events = first.client("sqs"), first.client("events")
    url = sqs.create_queue(QueueName="ticks")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tick", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule="tick", Targets=[{"Id": "q", "Arn": queue_arn}])
    wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), 10)
    first.stop(signal.SIGKILL)
    second = CumuloServer(data, env=speed).start()
    try:
        sqs = second.client("sqs")
        sqs.purge_queue(QueueUrl=url)
        ticks = wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), 10)
        event = json.loads(ticks[0]["Body"])
        assert event["detail-type"] == "Scheduled Event" and event["resources"][0].endswith(":rule/tick")
    finally:
        second.stop()
