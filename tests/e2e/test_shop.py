"""The shop example, deployed from its SAM template with `cumulo deploy` and used over HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.server import PROJECT_ROOT, subprocess_env, wait_for

SHOP = PROJECT_ROOT / "examples" / "shop"


def cumulo(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cumulo.cli.main", *args, "--endpoint-url", server.url],
                          capture_output=True, text=True, timeout=300, env=subprocess_env())


def call(method: str, url: str, body: object | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def shop(server, tmp_path_factory: pytest.TempPathFactory):
    copy = tmp_path_factory.mktemp("shop") / "shop"
    shutil.copytree(SHOP, copy, ignore=shutil.ignore_patterns(".cumulo", ".cumulo-build", "__pycache__"))
    deployed = cumulo(server, "deploy", "--template", str(copy / "template.yaml"), "--stack-name", "shop-e2e")
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    stack = server.client("cloudformation").describe_stacks(StackName="shop-e2e")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    yield copy, outputs
    s3 = server.client("s3")  # as on AWS, a bucket must be emptied before its stack can delete it
    for item in s3.list_objects_v2(Bucket=outputs["OrdersBucket"]).get("Contents", []):
        s3.delete_object(Bucket=outputs["OrdersBucket"], Key=item["Key"])
    deleted = cumulo(server, "delete", "--stack-name", "shop-e2e")
    assert deleted.returncode == 0, deleted.stderr


def status_history(api: str, order_id: str) -> list[str]:
    return [h["status"] for h in call("GET", f"{api}/orders/{order_id}")[1]["history"]]


def test_an_order_is_reserved_charged_and_fulfilled(shop):
    _, outputs = shop
    api = outputs["ApiUrl"]
    status, placed = call("POST", f"{api}/orders", {"items": [{"sku": "book", "quantity": 2, "price": 12.5}]})
    assert status == 202 and placed["total"] == 25.0
    wait_for(lambda: call("GET", f"{api}/orders/{placed['orderId']}")[1]["status"] == "fulfilled", timeout=90,
             interval=0.2, message="the order to be fulfilled")
    assert status_history(api, placed["orderId"]) == ["placed", "reserved", "charging", "charged", "fulfilled"]


def test_a_declined_payment_is_compensated(shop, server):
    _, outputs = shop
    api = outputs["ApiUrl"]
    _, placed = call("POST", f"{api}/orders", {"items": [{"sku": "car", "quantity": 1, "price": 25000}]})
    wait_for(lambda: call("GET", f"{api}/orders/{placed['orderId']}")[1]["status"] == "payment-failed", timeout=90,
             interval=0.2, message="the payment to fail")
    sfn = server.client("stepfunctions")
    failed = sfn.list_executions(stateMachineArn=outputs["OrderFlowArn"], statusFilter="FAILED")["executions"]
    assert failed, "the workflow execution ends FAILED with PaymentDeclined"
    assert sfn.describe_execution(executionArn=failed[0]["executionArn"])["error"] == "PaymentDeclined"


def test_a_transient_payment_failure_is_retried(shop):
    _, outputs = shop
    api = outputs["ApiUrl"]
    _, placed = call("POST", f"{api}/orders", {"items": [{"sku": "pen", "quantity": 1, "price": 1}], "flaky": True})
    wait_for(lambda: call("GET", f"{api}/orders/{placed['orderId']}")[1]["status"] == "fulfilled", timeout=90,
             interval=0.2, message="the retried order to be fulfilled")
    assert status_history(api, placed["orderId"]).count("charging") == 2


def test_bad_requests_and_missing_orders(shop):
    _, outputs = shop
    api = outputs["ApiUrl"]
    assert call("POST", f"{api}/orders", {"items": []})[0] == 400
    assert call("GET", f"{api}/orders/nope")[0] == 404
    assert call("GET", f"{api}/no-such-route")[0] == 404


def test_a_code_change_redeploys_only_what_changed(shop, server):
    copy, outputs = shop
    source = copy / "src" / "orders" / "get.py"
    source.write_text(source.read_text().replace("return order  #", "order['served_by'] = 'v2'\n    return order  #"))
    redeployed = cumulo(server, "deploy", "--template", str(copy / "template.yaml"), "--stack-name", "shop-e2e")
    assert redeployed.returncode == 0, redeployed.stderr + redeployed.stdout
    updated = [line for line in redeployed.stdout.splitlines() if "UPDATE_COMPLETE" in line and "AWS::Lambda" in line]
    assert any("GetOrder" in line for line in updated)
    assert not any("ReserveInventory" in line or "FulfillOrder" in line for line in updated)
    api = outputs["ApiUrl"]
    _, placed = call("POST", f"{api}/orders", {"items": [{"sku": "cup", "quantity": 1, "price": 3}]})
    assert call("GET", f"{api}/orders/{placed['orderId']}")[1]["served_by"] == "v2"
