"""An order placed through the deployed HTTP API goes through the whole workflow."""

import json
import time
import unittest
import urllib.request

from tests.stack import output


def call(method, path, body=None, content_type="application/json"):
    request = urllib.request.Request(output("ApiUrl") + path, method=method, data=body and json.dumps(body).encode(),
                                     headers={"content-type": content_type})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


class OrderFlowTest(unittest.TestCase):
    def wait_for_status(self, order_id, final):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            order = call("GET", f"/orders/{order_id}")
            if order["status"] == final:
                return order
            time.sleep(0.5)
        self.fail(f"order {order_id} is still {order['status']}, not {final}")

    def test_an_order_is_fulfilled(self):
        placed = call("POST", "/orders", {"items": [{"sku": "book", "quantity": 2, "price": 12.5}]})
        self.assertEqual(placed["total"], 25.0)
        order = self.wait_for_status(placed["orderId"], "fulfilled")
        self.assertEqual([step["status"] for step in order["history"]][:2], ["placed", "reserved"])

    def test_a_form_encoded_body_is_read_too(self):  # what curl -d sends
        placed = call("POST", "/orders", {"items": [{"sku": "pen", "quantity": 1, "price": 2}]},
                      content_type="application/x-www-form-urlencoded")
        self.assertEqual(placed["status"], "placed")
