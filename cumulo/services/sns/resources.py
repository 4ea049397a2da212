"""Where SNS topics and subscriptions live in the store.

Tables:

* ``sns.topics``         ``account:region:name`` -> the topic (type, attributes, tags, counters);
* ``sns.subscriptions``  ``topic-arn NUL subscription-id`` -> a subscription, so a topic's
  subscriptions are one prefix scan and an account's are a scan of its topic ARNs;
* ``sns.tokens``         confirmation token -> subscription ARN (HTTP/S and email handshakes);
* ``sns.dedup``          ``topic-arn NUL deduplication-id`` -> FIFO deduplication within 5 minutes.
"""

from __future__ import annotations

import re
from typing import Any

from cumulo.arns import split_arn
from cumulo.protocol.errors import AwsError
from cumulo.store.base import Store

TOPICS, SUBSCRIPTIONS, TOKENS, DEDUP = "sns.topics", "sns.subscriptions", "sns.tokens", "sns.dedup"
TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
FIFO_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,251}\.fifo$")


def topic_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{account}:{name}"


def parse_topic_arn(arn: str | None, parameter: str = "TopicArn") -> tuple[str, str, str]:
    """(region, account, name) of a topic ARN; InvalidParameter when it is not one."""
    text = arn or ""
    if arn_elements(text) < 6:
        raise AwsError("InvalidParameter", f"Invalid parameter: {parameter} Reason: An ARN must have at least 6 "
                                           f"elements, not {arn_elements(text)}")
    parsed = split_arn(text)
    if parsed is None or parsed.service != "sns" or not parsed.resource or ":" in parsed.resource:
        raise AwsError("InvalidParameter", f"Invalid parameter: {parameter}")
    return parsed.region, parsed.account, parsed.resource


def arn_elements(text: str) -> int:
    """How many ``:``-separated elements ``text`` has (SNS names the count when there are too few)."""
    return text.count(":") + 1


def subscription_key(arn: str) -> str | None:
    """``topic-arn NUL id`` for a subscription ARN (``topic-arn:id``), None when malformed."""
    parsed = split_arn(arn)
    topic, _, subscription_id = arn.rpartition(":")
    if parsed is None or parsed.service != "sns" or parsed.resource.count(":") != 1 or not subscription_id:
        return None
    return f"{topic}\x00{subscription_id}"


def not_found_topic() -> AwsError:
    return AwsError("NotFound", "Topic does not exist")


class SnsRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------ topics
    def topic(self, arn: str) -> dict[str, Any]:
        found = self.find_topic(arn)
        if found is None:
            raise not_found_topic()
        return found

    def find_topic(self, arn: str) -> dict[str, Any] | None:
        parsed = split_arn(arn)
        if parsed is None or ":" in parsed.resource:
            return None
        return self.store.get(TOPICS, self._topic_key(arn))

    def save_topic(self, record: dict[str, Any]) -> None:
        self.store.put(TOPICS, self._topic_key(record["arn"]), record)

    def create_topic(self, record: dict[str, Any]) -> bool:
        return self.store.insert(TOPICS, self._topic_key(record["arn"]), record)

    def delete_topic(self, arn: str) -> bool:
        with self.store.transaction():
            self.store.delete_prefix(SUBSCRIPTIONS, arn + "\x00")
            self.store.delete_prefix(DEDUP, arn + "\x00")
            return self.store.delete(TOPICS, self._topic_key(arn))

    @staticmethod
    def _topic_key(arn: str) -> str:
        parsed = split_arn(arn)
        assert parsed is not None, arn
        return f"{parsed.account}:{parsed.region}:{parsed.resource}"

    def topics(self, account: str, region: str, start_after: str | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        scope = f"{account}:{region}:"
        rows = self.store.scan(TOPICS, scope, start_after=scope + start_after if start_after else None, limit=limit)
        return [record for _, record in rows]

    # ------------------------------------------------------------ subscriptions
    def subscription(self, arn: str) -> dict[str, Any] | None:
        key = subscription_key(arn)
        return self.store.get(SUBSCRIPTIONS, key) if key else None

    def save_subscription(self, record: dict[str, Any]) -> None:
        key = subscription_key(record["arn"])
        assert key is not None
        self.store.put(SUBSCRIPTIONS, key, record)

    def delete_subscription(self, arn: str) -> bool:
        key = subscription_key(arn)
        return bool(key) and self.store.delete(SUBSCRIPTIONS, key)

    def subscriptions_of(self, topic: str, start_after: str | None = None,
                         limit: int | None = None) -> list[dict[str, Any]]:
        after = subscription_key(start_after) if start_after else None
        return [record for _, record in self.store.scan(SUBSCRIPTIONS, topic + "\x00", start_after=after,
                                                        limit=limit)]

    def subscriptions_in(self, account: str, region: str, start_after: str | None = None,
                         limit: int | None = None) -> list[dict[str, Any]]:
        prefix = f"arn:aws:sns:{region}:{account}:"
        after = subscription_key(start_after) if start_after else None
        return [record for _, record in self.store.scan(SUBSCRIPTIONS, prefix, start_after=after, limit=limit)]

    # ------------------------------------------------------------ confirmation tokens
    def save_token(self, token: str, subscription: str) -> None:
        self.store.put(TOKENS, token, {"subscription": subscription})

    def token(self, token: str) -> str | None:
        record = self.store.get(TOKENS, token)
        return record["subscription"] if record else None
