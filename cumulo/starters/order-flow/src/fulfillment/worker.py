"""The fulfilment worker: ships confirmed orders that arrive on the fulfilment queue."""

import json

import order_store


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            order = json.loads(record["body"])
            order_store.advance(order["orderId"], "fulfilled")
        except Exception as error:
            print(f"could not fulfil {record['messageId']}: {error}")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
