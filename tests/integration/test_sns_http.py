"""SNS HTTP/S subscriptions against a real local HTTP listener: the confirmation handshake, AWS's
signed message format verified as AWS documents it, raw delivery, retry policies, dead-letter
queues, unsubscribe confirmations, and deliveries that survive ``kill -9``."""

from __future__ import annotations

import base64
import json
import signal
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.server import CumuloServer, free_port, wait_for

SCALE = "0.01"  # retry delays: 1% of AWS's (a 20 s retry takes 0.2 s)


class Listener:
    """An HTTP endpoint recording every POST; ``respond`` picks each answer's status."""

    def __init__(self, port: int | None = None) -> None:
        self.requests: list[dict] = []
        self.respond: Callable[[dict], int] = lambda request: 200
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                           "body": body.decode()}
                listener.requests.append(request)
                self.send_response(listener.respond(request))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/sns") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def of_type(self, kind: str, path: str | None = None) -> list[dict]:
        return [r for r in self.requests if r["headers"].get("x-amz-sns-message-type") == kind
                and (path is None or r["path"] == path)]

    def wait(self, kind: str, count: int = 1, path: str | None = None, timeout: float = 10) -> list[dict]:
        return wait_for(lambda: len(self.of_type(kind, path)) >= count and self.of_type(kind, path), timeout=timeout,
                        message=f"{count} {kind} request(s)")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[CumuloServer]:
    instance = CumuloServer(tmp_path_factory.mktemp("sns-http") / "data",
                            env={"CUMULO_SNS_RETRY_DELAY_SCALE": SCALE}).start()
    yield instance
    instance.stop()


@pytest.fixture
def listener() -> Iterator[Listener]:
    instance = Listener()
    yield instance
    instance.close()


@pytest.fixture
def sns(server):
    return server.client("sns")


@pytest.fixture
def sqs(server):
    return server.client("sqs")


def verify(document: dict) -> None:
    """AWS's documented verification: fetch the certificate at SigningCertURL, rebuild the string to
    sign from the message type's fields, and check the RSA signature (SHA1 for 1, SHA256 for 2)."""
    with urllib.request.urlopen(document["SigningCertURL"], timeout=5) as response:
        certificate = x509.load_pem_x509_certificate(response.read())
    if document["Type"] == "Notification":
        fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{name}\n{document[name]}\n" for name in fields if name in document)
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}[document["SignatureVersion"]]
    certificate.public_key().verify(base64.b64decode(document["Signature"]), text.encode(), padding.PKCS1v15(),
                                    algorithm)


def subscribe_confirmed(sns, topic: str, listener: Listener, path: str, **attributes: str) -> str:
    answer = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=listener.url(path), Attributes=attributes)
    assert answer["SubscriptionArn"] == "pending confirmation"
    (request,) = listener.wait("SubscriptionConfirmation", path=path)
    confirmation = json.loads(request["body"])
    with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=5) as response:
        assert response.status == 200
        assert b"<SubscriptionArn>" in response.read()
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    return next(s["SubscriptionArn"] for s in listed if s["Endpoint"] == listener.url(path))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_confirmation_handshake_and_signed_notifications(sns, listener):
    topic = sns.create_topic(Name=unique("http"))["TopicArn"]
    answer = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=listener.url("/hook"), ReturnSubscriptionArn=True)
    subscription = answer["SubscriptionArn"]
    assert sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]["PendingConfirmation"] == "true"
    (request,) = listener.wait("SubscriptionConfirmation")
    assert request["headers"]["x-amz-sns-topic-arn"] == topic
    assert request["headers"]["content-type"] == "text/plain; charset=UTF-8"
    assert request["headers"]["user-agent"] == "Amazon Simple Notification Service Agent"
    confirmation = json.loads(request["body"])
    assert confirmation["Type"] == "SubscriptionConfirmation"
    assert confirmation["TopicArn"] == topic
    assert confirmation["Token"] and confirmation["Message"].startswith("You have chosen to subscribe")
    assert request["headers"]["x-amz-sns-message-id"] == confirmation["MessageId"]
    verify(confirmation)
    # Publishing before the confirmation reaches nobody.
    sns.publish(TopicArn=topic, Message="too early")
    with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=5) as response:
        assert response.status == 200
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"
    assert json.loads(attributes["EffectiveDeliveryPolicy"])["healthyRetryPolicy"]["numRetries"] == 3
    published = sns.publish(TopicArn=topic, Message="hello http", Subject="Hi", MessageAttributes={
        "k": {"DataType": "String", "StringValue": "v"}})
    (notification,) = listener.wait("Notification")
    headers = notification["headers"]
    assert headers["x-amz-sns-message-id"] == published["MessageId"]
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["x-amz-sns-subscription-arn"] == subscription
    body = json.loads(notification["body"])
    assert body["Message"] == "hello http" and body["Subject"] == "Hi"
    assert body["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    assert body["SignatureVersion"] == "1"
    verify(body)
    assert [json.loads(r["body"])["Message"] for r in listener.of_type("Notification")] == ["hello http"]
    # SignatureVersion 2 signs with SHA256.
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=topic, Message="sha256")
    second = json.loads(listener.wait("Notification", 2)[1]["body"])
    assert second["SignatureVersion"] == "2"
    verify(second)
    # ConfirmSubscription through the API is idempotent; a wrong token is refused.
    assert sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])["SubscriptionArn"] == subscription
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.confirm_subscription(TopicArn=topic, Token="nope")


def test_unsubscribe_sends_an_unsubscribe_confirmation(sns, listener):
    topic = sns.create_topic(Name=unique("unsub"))["TopicArn"]
    subscription = subscribe_confirmed(sns, topic, listener, "/u")
    sns.unsubscribe(SubscriptionArn=subscription)
    (request,) = listener.wait("UnsubscribeConfirmation")
    document = json.loads(request["body"])
    assert document["Message"].startswith(f"You have chosen to deactivate subscription {subscription}")
    assert request["headers"]["x-amz-sns-subscription-arn"] == subscription
    verify(document)


def test_raw_delivery_and_content_type(sns, listener):
    topic = sns.create_topic(Name=unique("raw"))["TopicArn"]
    policy = json.dumps({"requestPolicy": {"headerContentType": "application/json"}})
    subscribe_confirmed(sns, topic, listener, "/raw", RawMessageDelivery="true", DeliveryPolicy=policy)
    sns.publish(TopicArn=topic, Message='{"just": "the body"}')
    (request,) = listener.wait("Notification")
    assert request["body"] == '{"just": "the body"}'
    assert request["headers"]["x-amz-sns-rawdelivery"] == "true"
    assert request["headers"]["content-type"] == "application/json"


def test_default_retry_policy_retries_three_times(sns, listener):
    topic = sns.create_topic(Name=unique("retry"))["TopicArn"]
    subscribe_confirmed(sns, topic, listener, "/flaky")
    failures = {"left": 3}

    def respond(request: dict) -> int:
        if request["headers"].get("x-amz-sns-message-type") != "Notification":
            return 200
        failures["left"] -= 1
        return 500 if failures["left"] >= 0 else 200

    listener.respond = respond
    published = sns.publish(TopicArn=topic, Message="eventually")
    attempts = listener.wait("Notification", 4)
    assert {r["headers"]["x-amz-sns-message-id"] for r in attempts} == {published["MessageId"]}
    assert len({r["body"] for r in attempts}) == 1  # the same signed message every time


def test_exhausted_retries_and_client_errors_go_to_the_dead_letter_queue(sns, sqs, listener):
    topic = sns.create_topic(Name=unique("dead"))["TopicArn"]
    dlq_url = sqs.create_queue(QueueName=unique("sns-dlq"))["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 1, "maxDelayTarget": 1}})
    redrive = json.dumps({"deadLetterTargetArn": dlq})
    subscribe_confirmed(sns, topic, listener, "/down", DeliveryPolicy=policy, RedrivePolicy=redrive)
    subscribe_confirmed(sns, topic, listener, "/gone", RedrivePolicy=redrive)
    listener.respond = lambda request: {"/down": 503, "/gone": 404}.get(request["path"], 200) \
        if request["headers"].get("x-amz-sns-message-type") == "Notification" else 200
    published = sns.publish(TopicArn=topic, Message="undeliverable")
    dead = []
    wait_for(lambda: dead.extend(sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                                 .get("Messages", [])) or len(dead) >= 2, timeout=15, message="two dead letters")
    assert [json.loads(m["Body"])["MessageId"] for m in dead] == [published["MessageId"]] * 2
    assert len(listener.of_type("Notification", "/down")) == 3  # the first attempt and two retries
    assert len(listener.of_type("Notification", "/gone")) == 1  # a 4xx is not retried


def test_http_deliveries_survive_sigkill(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    first = CumuloServer(data, env={"CUMULO_SNS_RETRY_DELAY_SCALE": "0.05"}).start()
    listener = Listener(port)
    try:
        sns = first.client("sns")
        topic = sns.create_topic(Name="durable")["TopicArn"]
        subscribe_confirmed(sns, topic, listener, "/durable")
    finally:
        listener.close()  # the endpoint goes away: deliveries now fail and are retried
    try:
        published = [sns.publish(TopicArn=topic, Message=f"m{i}")["MessageId"] for i in range(5)]
    finally:
        first.stop(signal.SIGKILL)
    listener = Listener(port)
    second = CumuloServer(data, port=first.port, env={"CUMULO_SNS_RETRY_DELAY_SCALE": "0.05"}).start()
    try:
        listener.wait("Notification", 5, timeout=20)
        delivered = {r["headers"]["x-amz-sns-message-id"] for r in listener.of_type("Notification")}
        assert delivered == set(published)
        assert all(json.loads(r["body"])["TopicArn"] == topic for r in listener.of_type("Notification"))
    finally:
        second.stop()
        listener.close()
