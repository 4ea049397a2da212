"""POST /orders: validate an order, store it, and announce it on the order bus."""

import base64
import json
import os
import uuid

import boto3
import order_store

EVENTS = boto3.client("events")
BUS = os.environ["ORDER_BUS"]


def response(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def handler(event, context):
    body = event.get("body") or "{}"
    if event.get("isBase64Encoded"):  # HTTP APIs base64-encode bodies that are not text/JSON (curl -d sends a form)
        body = base64.b64decode(body)
    try:
        order = json.loads(body)
    except ValueError:
        return response(400, {"message": "the body must be JSON"})
    items = order.get("items")
    if not isinstance(items, list) or not items or not all(
            isinstance(i, dict) and i.get("sku") and isinstance(i.get("quantity"), int) and i["quantity"] > 0
            and isinstance(i.get("price"), (int, float)) for i in items):
        return response(400, {"message": "items must be a non-empty list of {sku, quantity, price}"})
    order_id = str(uuid.uuid4())
    record = {"orderId": order_id, "items": items, "flaky": bool(order.get("flaky")),
              "total": round(sum(i["quantity"] * i["price"] for i in items), 2), "status": "placed",
              "history": [{"status": "placed"}]}
    order_store.save(record)
    EVENTS.put_events(Entries=[{"EventBusName": BUS, "Source": "shop.orders", "DetailType": "OrderPlaced",
                                "Detail": json.dumps(record)}])
    return response(202, {"orderId": order_id, "status": "placed", "total": record["total"]})
