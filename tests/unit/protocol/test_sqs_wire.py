"""SQS's requests are read by the protocol layer: query wire names, and the queue URL used as the
request path standing for QueueUrl in both protocols."""

from __future__ import annotations

import json

import pytest

from cumulo.protocol.catalog import ServiceCatalog
from cumulo.protocol.http import HttpRequest

CATALOG = ServiceCatalog(["sqs", "sns"])
QUEUE_PATH = "/000000000000/orders"


def _json(path: str, operation: str, body: dict) -> HttpRequest:
    return HttpRequest("POST", path, headers={"x-amz-target": f"AmazonSQS.{operation}",
                                              "content-type": "application/x-amz-json-1.0"},
                       body=json.dumps(body).encode())


def _query(path: str, form: str) -> HttpRequest:
    return HttpRequest("POST", path, headers={"content-type": "application/x-www-form-urlencoded"},
                       body=form.encode())


def _parse(request: HttpRequest) -> dict:
    resolved = CATALOG.resolve(request, "sqs")
    return resolved.protocol.parse(request, resolved.operation, resolved.labels)


@pytest.mark.parametrize("request_", [
    _json(QUEUE_PATH, "SendMessage", {"MessageBody": "hi"}),
    _query(QUEUE_PATH, "Action=SendMessage&MessageBody=hi"),
], ids=["json", "query"])
def test_the_queue_url_as_path_stands_for_queue_url(request_: HttpRequest) -> None:
    assert _parse(request_) == {"QueueUrl": QUEUE_PATH, "MessageBody": "hi"}


def test_an_explicit_queue_url_wins_and_the_root_path_adds_nothing() -> None:
    named = "http://localhost/000000000000/other"
    assert _parse(_json(QUEUE_PATH, "SendMessage", {"QueueUrl": named, "MessageBody": "x"}))["QueueUrl"] == named
    assert "QueueUrl" not in _parse(_query("/", "Action=SendMessage&MessageBody=x"))
    assert _parse(_json(QUEUE_PATH, "ListQueues", {})) == {}  # ListQueues has no QueueUrl


def test_query_requests_use_the_query_wire_names() -> None:
    params = _parse(_query("/", "Action=SetQueueAttributes&QueueUrl=q&Attribute.1.Name=DelaySeconds"
                                "&Attribute.1.Value=5"))
    assert params == {"QueueUrl": "q", "Attributes": {"DelaySeconds": "5"}}
