"""SQS's query protocol (form-encoded ``Action=`` requests answered in XML), as older SDKs and raw
HTTP clients use it — including requests POSTed to the queue URL itself — and the AWS CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from xml.etree import ElementTree as ET

import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cumulo.protocol.sqs_wire import legacy_model_data
from cumulo.services.sqs.messages import attributes_md5, md5_hex
from tests.server import subprocess_env

NS = {"q": "http://queue.amazonaws.com/doc/2012-11-05/"}


@pytest.fixture(scope="module")
def query_sqs(server, tmp_path_factory):
    """A botocore client that speaks SQS's query protocol (the model edition older SDKs use)."""
    data = botocore.loaders.create_loader().load_service_model("sqs", "service-2")
    folder = tmp_path_factory.mktemp("models")
    target = folder / "sqs" / "2012-11-05"
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(legacy_model_data(data)))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(folder))
    return session.create_client("sqs", endpoint_url=server.url, region_name="us-east-1",
                                 aws_access_key_id="test", aws_secret_access_key="test",
                                 config=Config(retries={"max_attempts": 1}))


def unique(prefix: str = "qq") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def form(server, path: str, fields: dict[str, str], method: str = "POST") -> tuple[int, ET.Element]:
    encoded = urllib.parse.urlencode(fields)
    if method == "GET":
        request = urllib.request.Request(f"{server.url}{path}?{encoded}", method="GET")
    else:
        request = urllib.request.Request(server.url + path, data=encoded.encode(), method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, ET.fromstring(response.read())
    except urllib.error.HTTPError as error:
        return error.code, ET.fromstring(error.read())


def test_query_client_round_trip(query_sqs):
    assert query_sqs.meta.service_model.protocol == "query"
    name = unique()
    url = query_sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"},
                                 tags={"team": "q"})["QueueUrl"]
    assert url.endswith(f"/000000000000/{name}")
    attributes = query_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert query_sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "q"}
    assert url in query_sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    message_attributes = {"s": {"DataType": "String", "StringValue": "v"},
                          "b": {"DataType": "Binary", "BinaryValue": b"\x01\x02"}}
    sent = query_sqs.send_message(QueueUrl=url, MessageBody="<xml & body>", MessageAttributes=message_attributes)
    assert sent["MD5OfMessageBody"] == md5_hex("<xml & body>")
    assert sent["MD5OfMessageAttributes"] == attributes_md5(message_attributes)
    batch = query_sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two", "DelaySeconds": 5000}])
    assert [e["Id"] for e in batch["Successful"]] == ["a"]
    assert batch["Failed"][0]["Code"] == "InvalidParameterValue"
    received = query_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                         MessageAttributeNames=["All"])["Messages"]
    assert sorted(m["Body"] for m in received) == ["<xml & body>", "one"]
    first = next(m for m in received if m["Body"] == "<xml & body>")
    assert first["MessageAttributes"] == message_attributes
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    deleted = query_sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)])
    assert len(deleted["Successful"]) == 2
    query_sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "3"})
    assert query_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])["Attributes"] == {
        "DelaySeconds": "3"}
    query_sqs.delete_queue(QueueUrl=url)


def test_query_errors_use_the_query_codes(query_sqs):
    with pytest.raises(ClientError) as caught:
        query_sqs.get_queue_url(QueueName=unique("missing"))
    error = caught.value.response["Error"]
    assert error["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error["Message"] == "The specified queue does not exist for this wsdl version."
    assert error["Type"] == "Sender"
    url = query_sqs.create_queue(QueueName=unique())["QueueUrl"]
    with pytest.raises(ClientError) as caught:
        query_sqs.send_message_batch(QueueUrl=url, Entries=[])
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.EmptyBatchRequest"


def test_raw_form_posted_to_the_queue_url(server, query_sqs):
    name = unique("raw")
    url = query_sqs.create_queue(QueueName=name)["QueueUrl"]
    path = f"/000000000000/{name}"
    status, root = form(server, path, {"Action": "SendMessage", "MessageBody": "raw body",
                                       "MessageAttribute.1.Name": "k",
                                       "MessageAttribute.1.Value.DataType": "String",
                                       "MessageAttribute.1.Value.StringValue": "v"})
    assert status == 200
    assert root.tag == f"{{{NS['q']}}}SendMessageResponse"
    assert root.findtext("q:SendMessageResult/q:MD5OfMessageBody", namespaces=NS) == md5_hex("raw body")
    assert root.findtext("q:ResponseMetadata/q:RequestId", namespaces=NS)
    status, root = form(server, path, {"Action": "ReceiveMessage", "AttributeName.1": "All",
                                       "MessageAttributeName.1": "All"}, method="GET")
    assert status == 200
    message = root.find("q:ReceiveMessageResult/q:Message", NS)
    assert message.findtext("q:Body", namespaces=NS) == "raw body"
    names = {a.findtext("q:Name", namespaces=NS) for a in message.findall("q:Attribute", NS)}
    assert {"SentTimestamp", "ApproximateReceiveCount", "SenderId"} <= names
    attribute = message.find("q:MessageAttribute", NS)
    assert attribute.findtext("q:Name", namespaces=NS) == "k"
    assert attribute.findtext("q:Value/q:StringValue", namespaces=NS) == "v"
    receipt = message.findtext("q:ReceiptHandle", namespaces=NS)
    status, _ = form(server, path, {"Action": "DeleteMessage", "ReceiptHandle": receipt})
    assert status == 200
    status, root = form(server, "/", {"Action": "GetQueueAttributes", "QueueUrl": url,
                                      "AttributeName.1": "ApproximateNumberOfMessages"})
    assert root.findtext("q:GetQueueAttributesResult/q:Attribute/q:Value", namespaces=NS) == "0"
    status, root = form(server, "/000000000000/does-not-exist", {"Action": "SendMessage", "MessageBody": "x"})
    assert status == 400
    assert root.findtext("q:Error/q:Code", namespaces=NS) == "AWS.SimpleQueueService.NonExistentQueue"
    assert root.findtext("q:Error/q:Type", namespaces=NS) == "Sender"


def test_json_errors_carry_the_query_error_header(server):
    request = urllib.request.Request(server.url + "/", method="POST", data=json.dumps(
        {"QueueName": unique("nope")}).encode(), headers={"X-Amz-Target": "AmazonSQS.GetQueueUrl",
                                                           "Content-Type": "application/x-amz-json-1.0"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert caught.value.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert json.loads(caught.value.read())["__type"] == "QueueDoesNotExist"


def aws(server, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = subprocess_env({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                                  "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""})
    return subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", server.url, *args],
                          capture_output=True, text=True, env=environment, input=stdin, timeout=60)


def test_aws_cli(server):
    name = unique("cli")
    created = aws(server, "sqs", "create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=10")
    assert created.returncode == 0, created.stderr
    url = json.loads(created.stdout)["QueueUrl"]
    sent = aws(server, "sqs", "send-message", "--queue-url", url, "--message-body", "from the cli",
               "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')
    assert sent.returncode == 0, sent.stderr
    received = aws(server, "sqs", "receive-message", "--queue-url", url, "--message-attribute-names", "All",
                   "--wait-time-seconds", "1")
    assert received.returncode == 0, received.stderr
    message = json.loads(received.stdout)["Messages"][0]
    assert message["Body"] == "from the cli"
    assert message["MessageAttributes"]["k"]["StringValue"] == "v"

