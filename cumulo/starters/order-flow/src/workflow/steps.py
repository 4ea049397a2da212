"""The steps of the order workflow (each a Lambda task of the state machine)."""

import order_store

DECLINE_ABOVE = 1000


class PaymentDeclined(Exception):
    """The card was refused: not worth retrying (the workflow compensates)."""


class PaymentGatewayBusy(Exception):
    """A transient failure: the workflow retries it."""


def reserve(order, context):
    order_store.advance(order["orderId"], "reserved", skus=[i["sku"] for i in order["items"]])
    return {"reserved": len(order["items"])}


def charge(order, context):
    current = order_store.load(order["orderId"])
    attempts = sum(1 for h in current.get("history", []) if h["status"] == "charging") + 1
    order_store.advance(order["orderId"], "charging", attempt=attempts)
    if order.get("flaky") and attempts == 1:
        raise PaymentGatewayBusy("the payment gateway is busy, try again")
    if order["total"] > DECLINE_ABOVE:
        raise PaymentDeclined(f"a charge of {order['total']} was declined")
    order_store.advance(order["orderId"], "charged", amount=order["total"])
    return {"charged": order["total"], "attempts": attempts}


def release(order, context):
    order_store.advance(order["orderId"], "payment-failed", reason=order["error"]["Error"])
    return {"released": len(order["items"])}
