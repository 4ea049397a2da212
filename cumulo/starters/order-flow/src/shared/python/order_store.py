"""Orders kept as JSON objects in the shop's S3 bucket (one object per order)."""

import json
import os
import time

import boto3

S3 = boto3.client("s3")
BUCKET = os.environ["ORDERS_BUCKET"]


def key(order_id):
    return f"orders/{order_id}.json"


def load(order_id):
    try:
        body = S3.get_object(Bucket=BUCKET, Key=key(order_id))["Body"].read()
    except S3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def save(order):
    S3.put_object(Bucket=BUCKET, Key=key(order["orderId"]), Body=json.dumps(order).encode(),
                  ContentType="application/json")
    return order


def advance(order_id, status, **details):
    """Record a new status (and when it happened) on an order."""
    order = load(order_id)
    order["status"] = status
    order.setdefault("history", []).append({"status": status, "at": round(time.time(), 3), **details})
    return save(order)
