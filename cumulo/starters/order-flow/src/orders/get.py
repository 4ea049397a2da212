"""GET /orders/{id}: the order and its status history."""

import json

import order_store


def handler(event, context):
    order = order_store.load(event["pathParameters"]["id"])
    if order is None:
        return {"statusCode": 404, "body": json.dumps({"message": "no such order"})}
    return order  # payload format 2.0: a plain result becomes a 200 JSON response
