"""Delivery retry policies: AWS's defaults per endpoint kind, HTTP/S ``DeliveryPolicy`` documents,
and the delay before each retry.

A policy has four phases (AWS's words): immediate retries (``numNoDelayRetries``), pre-backoff
retries ``minDelayTarget`` apart (``numMinDelayRetries``), backoff retries growing from
``minDelayTarget`` to ``maxDelayTarget`` along ``backoffFunction``, and post-backoff retries
``maxDelayTarget`` apart (``numMaxDelayRetries``); ``numRetries`` counts them all.

* AWS-managed endpoints (SQS, Lambda): 3 immediate, 2 one second apart, 10 backing off from
  1 s to 20 s, then 100,000 twenty seconds apart — 100,015 retries over 23 days.
* HTTP/S by default: 3 retries 20 seconds apart; a topic or subscription ``DeliveryPolicy``
  changes it (at most 3,600 s of retrying in total, as AWS enforces).
"""

from __future__ import annotations

import json
from typing import Any

from cumulo.protocol.errors import AwsError

BACKOFF_FUNCTIONS = ("linear", "arithmetic", "geometric", "exponential")
MAX_TOTAL_S = 3600
MAX_RETRIES = 100
DEFAULT_CONTENT_TYPE = "text/plain; charset=UTF-8"

HTTP_DEFAULT = {"minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
                "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear"}
AWS_MANAGED = {"minDelayTarget": 1, "maxDelayTarget": 20, "numRetries": 100_015, "numMaxDelayRetries": 100_000,
               "numNoDelayRetries": 3, "numMinDelayRetries": 2, "backoffFunction": "exponential"}
TOPIC_EFFECTIVE_DEFAULT = {"http": {"defaultHealthyRetryPolicy": HTTP_DEFAULT,
                                    "disableSubscriptionOverrides": False,
                                    "defaultRequestPolicy": {"headerContentType": DEFAULT_CONTENT_TYPE}}}


def retry_delay(policy: dict[str, Any], retry: int) -> float | None:
    """Seconds to wait before retry number ``retry`` (1-based); None once the policy is exhausted."""
    total = int(policy.get("numRetries", 0))
    if retry > total:
        return None
    immediate = int(policy.get("numNoDelayRetries", 0))
    pre = int(policy.get("numMinDelayRetries", 0))
    post = int(policy.get("numMaxDelayRetries", 0))
    low = float(policy.get("minDelayTarget", 20))
    high = float(policy.get("maxDelayTarget", 20))
    backoff = max(0, total - immediate - pre - post)
    if retry <= immediate:
        return 0.0
    if retry <= immediate + pre:
        return low
    if retry <= immediate + pre + backoff:
        step = retry - immediate - pre
        return _backoff(policy.get("backoffFunction", "linear"), step, backoff, low, high)
    return high


def _backoff(function: str, step: int, steps: int, low: float, high: float) -> float:
    if steps <= 0 or high <= low:
        return low
    fraction = step / steps
    if function == "exponential":
        return low + (high - low) * (2.0 ** step - 1) / (2.0 ** steps - 1)
    if function == "geometric":
        return low * (high / max(low, 1e-9)) ** fraction if low > 0 else high * fraction
    if function == "arithmetic":
        return low + (high - low) * (step * (step + 1)) / (steps * (steps + 1))
    return low + (high - low) * fraction


def total_seconds(policy: dict[str, Any]) -> float:
    return sum(retry_delay(policy, retry) or 0.0 for retry in range(1, int(policy.get("numRetries", 0)) + 1))


def _invalid(prefix: str, reason: str) -> AwsError:
    return AwsError("InvalidParameter", f"Invalid parameter: {prefix}DeliveryPolicy: {reason}")


def check_retry_policy(policy: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(policy, dict):
        raise _invalid(prefix, "healthyRetryPolicy must be an object")
    merged = {**HTTP_DEFAULT, **policy}
    for name in ("minDelayTarget", "maxDelayTarget", "numRetries", "numNoDelayRetries", "numMinDelayRetries",
                 "numMaxDelayRetries"):
        value = merged[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _invalid(prefix, f"{name} must be a non-negative integer")
    if merged["minDelayTarget"] < 1:
        raise _invalid(prefix, "minDelayTarget must be at least 1")
    if merged["maxDelayTarget"] < merged["minDelayTarget"]:
        raise _invalid(prefix, "maxDelayTarget must be greater than or equal to minDelayTarget")
    if merged["numRetries"] > MAX_RETRIES:
        raise _invalid(prefix, f"numRetries must be at most {MAX_RETRIES}")
    phases = merged["numNoDelayRetries"] + merged["numMinDelayRetries"] + merged["numMaxDelayRetries"]
    if phases > merged["numRetries"]:
        raise _invalid(prefix, "numRetries must be at least the sum of the phase retries")
    if merged["backoffFunction"] not in BACKOFF_FUNCTIONS:
        raise _invalid(prefix, f"backoffFunction must be one of {', '.join(BACKOFF_FUNCTIONS)}")
    if total_seconds(merged) > MAX_TOTAL_S:
        raise _invalid(prefix, f"The total retry time must be at most {MAX_TOTAL_S} seconds")
    return merged


def check_subscription_policy(text: str, prefix: str = "") -> str:
    """Validate a subscription DeliveryPolicy; returns it as compact JSON ("" clears it)."""
    if not text:
        return ""
    try:
        document = json.loads(text)
    except ValueError:
        raise _invalid(prefix, "failed to parse JSON") from None
    if not isinstance(document, dict):
        raise _invalid(prefix, "must be a JSON object")
    if "healthyRetryPolicy" in document:
        check_retry_policy(document["healthyRetryPolicy"], prefix)
    throttle = document.get("throttlePolicy")
    if throttle is not None and (not isinstance(throttle, dict) or not isinstance(
            throttle.get("maxReceivesPerSecond", 1), int) or throttle.get("maxReceivesPerSecond", 1) < 1):
        raise _invalid(prefix, "maxReceivesPerSecond must be a positive integer")
    return json.dumps(document, separators=(",", ":"))


def check_topic_policy(text: str) -> str:
    """Validate a topic DeliveryPolicy (``{"http": {"defaultHealthyRetryPolicy": ...}}``)."""
    if not text:
        return ""
    try:
        document = json.loads(text)
    except ValueError:
        raise _invalid("", "failed to parse JSON") from None
    if not isinstance(document, dict):
        raise _invalid("", "must be a JSON object")
    http = document.get("http", {})
    if not isinstance(http, dict):
        raise _invalid("", "http must be a JSON object")
    if "defaultHealthyRetryPolicy" in http:
        check_retry_policy(http["defaultHealthyRetryPolicy"])
    return json.dumps(document, separators=(",", ":"))


def topic_effective(topic_policy: str | None) -> dict[str, Any]:
    effective = json.loads(json.dumps(TOPIC_EFFECTIVE_DEFAULT))
    if topic_policy:
        http = json.loads(topic_policy).get("http") or {}
        target = effective["http"]
        if "defaultHealthyRetryPolicy" in http:
            target["defaultHealthyRetryPolicy"] = {**HTTP_DEFAULT, **http["defaultHealthyRetryPolicy"]}
        for key in ("disableSubscriptionOverrides", "defaultThrottlePolicy", "defaultRequestPolicy"):
            if key in http:
                target[key] = http[key]
    return effective


def http_policy(topic_policy: str | None, subscription_policy: str | None) -> tuple[dict[str, Any], str]:
    """(retry policy, Content-Type) for an HTTP/S subscription: the subscription's own policy
    unless the topic disables overrides, then the topic's default, then AWS's."""
    effective = topic_effective(topic_policy)["http"]
    retry = dict(effective["defaultHealthyRetryPolicy"])
    content_type = (effective.get("defaultRequestPolicy") or {}).get("headerContentType", DEFAULT_CONTENT_TYPE)
    if subscription_policy and not effective.get("disableSubscriptionOverrides"):
        document = json.loads(subscription_policy)
        if "healthyRetryPolicy" in document:
            retry = {**HTTP_DEFAULT, **document["healthyRetryPolicy"]}
        content_type = (document.get("requestPolicy") or {}).get("headerContentType", content_type)
    return retry, content_type


def subscription_effective(topic_policy: str | None, subscription_policy: str | None) -> dict[str, Any]:
    retry, content_type = http_policy(topic_policy, subscription_policy)
    effective: dict[str, Any] = {"healthyRetryPolicy": retry, "sicklyRetryPolicy": None, "throttlePolicy": None,
                                 "guaranteed": False}
    if content_type != DEFAULT_CONTENT_TYPE:
        effective["requestPolicy"] = {"headerContentType": content_type}
    return effective
