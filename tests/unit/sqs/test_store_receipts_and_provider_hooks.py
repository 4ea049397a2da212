"""Shared code SQS and SNS rely on, tested where it lives: the store's
``find_by_receipt``, ``next_visible_at(after=)`` and receive order; ``AwsError.query_code`` in both
wire protocols; the providers' ``validate_input`` and ``http_route`` hooks."""

from __future__ import annotations

import asyncio
import json
from xml.etree import ElementTree as ET

import botocore.session
import pytest

from cumulo.gateway.app import GatewayApp
from cumulo.platform import Platform
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest
from cumulo.protocol.protocols import PROTOCOLS
from cumulo.settings import Settings, load_settings
from cumulo.store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path):
    instance = SqliteStore(tmp_path / "state.db")
    yield instance
    instance.close()


def test_find_by_receipt_sees_only_the_current_lease(store):
    store.enqueue("q", b"body", message_id="m", now=0.0)
    [first] = store.receive("q", 1, 10, now=1.0)
    found = store.find_by_receipt("q", first.receipt)
    assert found is not None and found.message_id == "m" and found.visible_at == 11.0
    [second] = store.receive("q", 1, 10, now=12.0)
    assert store.find_by_receipt("q", first.receipt) is None
    assert store.find_by_receipt("other", second.receipt) is None
    store.delete_message("q", second.receipt)
    assert store.find_by_receipt("q", second.receipt) is None


def test_next_visible_at_after_ignores_what_is_already_visible(store):
    store.enqueue("q", b"now", message_id="a", now=0.0)
    store.enqueue("q", b"later", message_id="b", delay_s=5, now=0.0)
    assert store.next_visible_at("q") == 0.0
    assert store.next_visible_at("q", after=1.0) == 5.0
    assert store.next_visible_at("q", after=6.0) is None


def test_standard_receive_follows_visibility_order_and_fifo_sequence(store):
    store.enqueue("q", b"delayed", message_id="a", delay_s=10, now=0.0)
    store.enqueue("q", b"at once", message_id="b", now=1.0)
    assert [m.message_id for m in store.receive("q", 10, 30, now=20.0)] == ["b", "a"]
    store.enqueue("f", b"1", message_id="1", group_id="g", now=0.0)
    store.enqueue("f", b"2", message_id="2", group_id="h", now=1.0)
    assert [m.message_id for m in store.receive("f", 10, 30, fifo=True, now=2.0)] == ["1", "2"]


def _sqs_model():
    return botocore.session.get_session().get_service_model("sqs")


def test_query_code_goes_in_the_json_header_and_the_query_code():
    model = _sqs_model()
    error = AwsError("QueueDoesNotExist", "gone", query_code="AWS.SimpleQueueService.NonExistentQueue")
    response = PROTOCOLS["json"].serialize_error(model, error, "req")
    assert response.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert json.loads(response.body)["__type"] == "QueueDoesNotExist"
    xml = ET.fromstring(PROTOCOLS["query"].serialize_error(model, error, "req").body)
    assert xml.find("{*}Error/{*}Code").text == "AWS.SimpleQueueService.NonExistentQueue"
    plain = PROTOCOLS["json"].serialize_error(model, AwsError("InvalidParameterValue", "bad"), "req")
    assert plain.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"


def test_float_settings_and_the_sns_retry_scale():
    assert load_settings(environ={"CUMULO_SNS_RETRY_DELAY_SCALE": "0.25"}).sns_retry_delay_scale == 0.25
    assert Settings().sns_retry_delay_scale == 1.0


def test_provider_hooks_validate_input_and_http_route(tmp_path):
    platform = Platform(Settings(data_dir=tmp_path / "data"))
    app = GatewayApp(platform)

    async def scenario() -> None:
        await platform.start()
        try:
            # SQS words its own input errors: no model ValidationException for a missing QueueName.
            request = HttpRequest("POST", "/", headers={"x-amz-target": "AmazonSQS.GetQueueUrl",
                                                        "content-type": "application/x-amz-json-1.0"}, body=b"{}")
            response, _ = await app._route(request)
            assert response.status == 400
            assert json.loads(response.body)["message"] == "The request must contain the parameter QueueName."
            # SNS serves its signing certificate as a plain HTTP route.
            path = platform.providers["sns"].signer.cert_path()
            response, label = await app._route(HttpRequest("GET", path))
            assert (response.status, label) == (200, "mount")
            assert response.body.startswith(b"-----BEGIN CERTIFICATE-----")
        finally:
            await platform.stop()

    asyncio.run(scenario())
