"""SNS publishing: Publish, PublishBatch, publishing for other services, and the fan-out to
subscriptions (SQS inside the publishing transaction, through ``cumulo.targets``; HTTP/S and
Lambda through the durable ``delivery.Deliveries`` queue).

Mixed into ``SnsProvider``.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.patterns.sns import compile_filter_policy, policy_matches
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.sns import messages as fmt
from cumulo.services.sns import policies
from cumulo.services.sns.messages import invalid
from cumulo.services.sns.resources import DEDUP
from cumulo.targets.errors import TargetError
from cumulo.targets.send import Delivery, send_now

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.sns")
MAX_BATCH = 10
DEDUP_WINDOW_S = 300.0
SNS_SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"  # the principal SQS reports for messages SNS delivers
BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
E164 = re.compile(r"^\+[1-9]\d{1,14}$")


class PublishOperations:
    """Needs the SNS provider's ``repo``, ``deliveries``, ``signer`` and topic look-ups."""

    platform: Platform

    def _prepare(self, topic: dict[str, Any] | None, entry: dict[str, Any]) -> dict[str, Any]:
        """Validate one message (Publish or a PublishBatch entry); returns what ``_publish`` fans out."""
        fmt.check_subject(entry.get("Subject"))
        per_protocol = fmt.check_message(entry.get("Message"), entry.get("MessageStructure"))
        attributes = fmt.check_attributes(entry.get("MessageAttributes"))
        if fmt.message_size(entry["Message"], entry.get("MessageAttributes")) > fmt.MAX_MESSAGE_BYTES:
            raise invalid("Message too long")
        group, dedup = entry.get("MessageGroupId"), entry.get("MessageDeduplicationId")
        if topic is not None and topic["fifo"]:
            if not group:
                raise invalid("The MessageGroupId parameter is required for FIFO topics")
            if not dedup:
                if topic["attributes"].get("ContentBasedDeduplication") != "true":
                    raise invalid("The topic should either have ContentBasedDeduplication enabled or "
                                  "MessageDeduplicationId provided explicitly")
                dedup = fmt.content_dedup_id(entry["Message"])
        elif dedup:
            raise invalid("MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter "
                          "that is not valid for this topic type")
        return {"id": str(uuid.uuid4()), "message": entry["Message"], "per_protocol": per_protocol,
                "subject": entry.get("Subject"), "attributes": attributes, "group": group, "dedup": dedup}

    def publish(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        target = params.get("TopicArn") or params.get("TargetArn")
        phone = params.get("PhoneNumber")
        if target and phone:
            raise invalid("TopicArn or TargetArn Reason: Only one of PhoneNumber, TopicArn or TargetArn allowed")
        if not target and not phone:
            raise invalid("TopicArn or TargetArn Reason: no value for required parameter")
        if phone is not None:
            if not E164.match(phone):
                raise invalid(f"PhoneNumber Reason: {phone} is not valid to publish to")
            prepared = self._prepare(None, params)
            log.info("SNS SMS to %s recorded, not sent: %r", phone, prepared["message"])
            return {"MessageId": prepared["id"]}
        if ":endpoint/" in (target or ""):
            raise invalid("TargetArn Reason: No endpoint found for the target arn specified")
        topic = self._topic(target)
        prepared = self._prepare(topic, params)
        result = self._publish(self._base(context), topic, [prepared])[0]
        return result

    def publish_batch(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        entries = params.get("PublishBatchRequestEntries") or []
        if not entries:
            raise AwsError("EmptyBatchRequest", "The batch request doesn't contain any entries.")
        if len(entries) > MAX_BATCH:
            raise AwsError("TooManyEntriesInBatchRequest", "The batch request contains more entries than "
                                                           "permissible.")
        ids = [e["Id"] for e in entries]
        if len(set(ids)) != len(ids):
            raise AwsError("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")
        for entry_id in ids:
            if not BATCH_ID.match(entry_id):
                raise AwsError("InvalidBatchEntryId", "The Id of a batch entry in the batch request contains an "
                                                      f"impermissible character: {entry_id}")
        if sum(fmt.message_size(e.get("Message") or "", e.get("MessageAttributes")) for e in entries) \
                > fmt.MAX_MESSAGE_BYTES:
            raise AwsError("BatchRequestTooLong", "The length of all the messages put together is more than the "
                                                  "limit.")
        prepared, failed, accepted_ids = [], [], []
        for entry in entries:
            try:
                prepared.append(self._prepare(topic, entry))
                accepted_ids.append(entry["Id"])
            except AwsError as error:
                failed.append({"Id": entry["Id"], "Code": error.code, "Message": error.message, "SenderFault": True})
        successful = [{"Id": entry_id, **result}
                      for entry_id, result in zip(accepted_ids, self._publish(self._base(context), topic, prepared),
                                                              strict=True)]
        return {"Successful": successful, "Failed": failed}

    def publish_message(self, topic_arn: str, message: str, *, subject: str | None = None,
                        message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                        dedup_id: str | None = None, base_url: str | None = None) -> dict[str, Any]:
        """Publish on behalf of another service (Lambda destinations, EventBridge targets, Step
        Functions). Same checks and deliveries as Publish; joins the caller's store transaction.
        Returns ``{"MessageId": ...}`` (and ``SequenceNumber`` on FIFO topics); raises AwsError."""
        topic = self._topic(topic_arn)
        prepared = self._prepare(topic, {"Message": message, "Subject": subject,
                                         "MessageAttributes": message_attributes, "MessageGroupId": group_id,
                                         "MessageDeduplicationId": dedup_id})
        return self._publish((base_url or self.platform.settings.endpoint_url).rstrip("/"), topic, [prepared])[0]

    def _publish(self, base: str, topic: dict[str, Any], prepared: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Commit every delivery of the prepared messages, then acknowledge them."""
        results: list[dict[str, Any]] = []
        if not prepared:
            return results
        store = self.platform.store
        queued = False
        with store.transaction():
            subscriptions = [s for s in self.repo.subscriptions_of(topic["arn"]) if not s["pending"]]
            if topic["fifo"]:
                topic = self.repo.topic(topic["arn"])
            for message in prepared:
                message.update({"topic": topic["arn"], "ts": time.time()})
                if topic["fifo"]:
                    duplicate = self._deduplicate(topic, message)
                    if duplicate is not None:
                        results.append(duplicate)
                        continue
                for subscription in subscriptions:
                    queued |= self._fan_out(topic, subscription, message, base)
                result = {"MessageId": message["id"]}
                if topic["fifo"]:
                    result["SequenceNumber"] = message["seq"]
                results.append(result)
            if topic["fifo"]:
                self.repo.save_topic(topic)
        if queued:
            self.deliveries.wake()
        return results

    def _deduplicate(self, topic: dict[str, Any], message: dict[str, Any]) -> dict[str, Any] | None:
        """FIFO: the original's result for a duplicate within 5 minutes; otherwise number the message."""
        scope = message["group"] if topic["attributes"].get("FifoThroughputScope") == "MessageGroup" else ""
        key = f"{topic['arn']}\x00{scope}\x00{message['dedup']}"
        now = message["ts"]
        seen = self.platform.store.get(DEDUP, key)
        if seen is not None and seen["expires"] > now:
            return {"MessageId": seen["id"], "SequenceNumber": seen["seq"]}
        topic["seq"] = topic.get("seq", 0) + 1
        message["seq"] = str(10**19 + topic["seq"] * 1000)
        self.platform.store.put(DEDUP, key, {"id": message["id"], "seq": message["seq"],
                                             "expires": now + DEDUP_WINDOW_S})
        return None

    def _fan_out(self, topic: dict[str, Any], subscription: dict[str, Any], message: dict[str, Any],
                 base: str) -> bool:
        """Deliver (SQS) or queue (HTTP/S, Lambda) one message for one subscription; True when queued."""
        protocol = subscription["protocol"]
        body = (message["per_protocol"] or {}).get(protocol, message["message"]) if message["per_protocol"] \
            else message["message"]
        attributes = subscription["attributes"]
        policy = attributes.get("FilterPolicy")
        if policy:
            compiled = compile_filter_policy(policy, scope=attributes.get("FilterPolicyScope") or "MessageAttributes")
            if not policy_matches(compiled, message_attributes=message["attributes"], message=body):
                return False
        delivered = {"id": message["id"], "topic": topic["arn"], "body": body, "subject": message["subject"],
                     "ts": message["ts"], "attributes": message["attributes"], "seq": message.get("seq"),
                     "group": message.get("group"), "dedup": message.get("dedup")}
        raw = attributes.get("RawMessageDelivery") == "true"
        dlq = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"] if attributes.get("RedrivePolicy") \
            else None
        signature_version = topic["attributes"].get("SignatureVersion", "1")
        if protocol == "sqs":
            envelope = body if raw else fmt.dumps(fmt.notification(
                delivered, subscription["arn"], base, None if topic["fifo"] else self.signer, signature_version))
            self._deliver_sqs(subscription["endpoint"], envelope, delivered, raw, dlq)
            return False
        if protocol in ("http", "https", "lambda"):
            retry, content_type = (policies.http_policy(topic["attributes"].get("DeliveryPolicy"),
                                                        attributes.get("DeliveryPolicy"))
                                   if protocol != "lambda" else (policies.AWS_MANAGED, ""))
            self.deliveries.enqueue({"kind": "Notification", "protocol": protocol, "endpoint": subscription["endpoint"],
                                     "sub": subscription["arn"], "topic": topic["arn"], "base": base, "msg": delivered,
                                     "raw": raw, "policy": retry, "content_type": content_type, "dlq": dlq,
                                     "sigv": signature_version})
            return True
        log.info("SNS %s delivery to %s recorded, not sent (message %s)", protocol, subscription["endpoint"],
                 message["id"])
        return False

    def _deliver_sqs(self, queue_arn: str, body: str, message: dict[str, Any], raw: bool, dlq: str | None) -> None:
        try:
            self._to_queue(queue_arn, body, message, raw)
        except TargetError as error:
            # A missing or refusing queue is a client-side error: no retries, the DLQ if there is one.
            log.info("SNS delivery to %s failed: %s", queue_arn, error.message)
            if dlq:
                self.dead_letter(dlq, body, message, raw)

    def dead_letter(self, dlq_arn: str, body: str, message: dict[str, Any], raw: bool | None) -> None:
        """Put an undeliverable message into a subscription's dead-letter queue (or drop it)."""
        try:
            self._to_queue(dlq_arn, body, message, raw)
        except TargetError as error:
            log.warning("SNS dead-letter queue %s refused message %s (dropped): %s", dlq_arn, message["id"], error)

    def _to_queue(self, queue_arn: str, body: str, message: dict[str, Any], raw: bool | None) -> None:
        attributes = fmt.sqs_attributes(message["attributes"]) if raw else None
        send_now(self.platform, queue_arn, body, Delivery(message_attributes=attributes, group_id=message.get("group"),
                                                          dedup_id=message.get("dedup"), sender=SNS_SENDER_ID))
