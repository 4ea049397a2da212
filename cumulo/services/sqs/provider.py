"""Amazon SQS: standard and FIFO queues on the store's durable queues, over both wire protocols.

Current SDKs speak JSON (``X-Amz-Target: AmazonSQS.SendMessage``); older ones and raw HTTP
clients speak the query protocol, often POSTing to the queue URL itself. Both reach the same
methods with the same input dicts: the protocol layer reads and writes the query protocol's
wire names (``cumulo/protocol/sqs_wire.py``).

Every acknowledged send is committed before the answer leaves. Long polls wait on the
notifier channel of their queue and are woken by sends, deletes (FIFO groups unblock) and
visibility changes, and by a timer for the next delayed or in-flight message to surface.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext
from cumulo.services.pagination import decode_token, encode_token
from cumulo.services.sqs import attributes as attrs
from cumulo.services.sqs import messages as msgs
from cumulo.services.sqs.batches import MAX_BATCH, batch_failure, check_batch, check_batch_size, per_receipt
from cumulo.services.sqs.errors import (
    invalid_parameter,
    invalid_value,
    missing,
    queue_not_found,
    sqs_error,
    unknown_attribute,
)
from cumulo.services.sqs.moves import MoveTasks
from cumulo.services.sqs.queues import (
    ATTEMPTS,
    Queue,
    QueueRepository,
    check_name,
    decode_receipt,
    encode_receipt,
    parse_url,
    queue_url,
)
from cumulo.services.tagging import MAX_TAGS, TagProblem, TagRules, add_tags, remove_tags, tags_of
from cumulo.store.base import DeadLetterPolicy, QueueMessage

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.sqs")
MAX_WAIT_S = 20
MAX_VISIBILITY_S = 43_200
MAX_DELAY_S = 900
MAX_LIST = 1000
TAG_RULES = TagRules(lambda: invalid_value(f"Too many tags added for queue. Maximum is {MAX_TAGS}."),
                     invalid_tag=lambda _, problems: invalid_value(
                         "Tag keys must be between 1 and 128 characters and values at most 256 characters."
                         if problems & {TagProblem.KEY_LENGTH, TagProblem.VALUE_LENGTH}
                         else "Tag keys can't start with 'aws:'."))
DEDUP_WINDOW_S = 300.0
PURGE_INTERVAL_S = 60.0
RETENTION_CHECK_S = 5.0
RETENTION_SWEEP_S = 10.0
SYSTEM_ATTRIBUTES = ("SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp",
                     "SequenceNumber", "MessageDeduplicationId", "MessageGroupId", "AWSTraceHeader",
                     "DeadLetterQueueSourceArn")
ACTIONS = ("*", "ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl",
           "ListDeadLetterSourceQueues", "PurgeQueue", "ReceiveMessage", "SendMessage", "ListQueueTags")


def _now_ms() -> int:
    return int(time.time() * 1000)


class SqsProvider(Provider):
    service = "sqs"
    validate_input = False  # SQS words its own input errors (MissingParameter, InvalidAttributeName...)

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.queues = QueueRepository(platform.store)
        self.moves = MoveTasks(self)
        self._expired_at: dict[str, float] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_retention())
        self.moves.resume()

    async def stop(self) -> None:
        await self.moves.stop()
        if self._sweeper:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    # ------------------------------------------------------------ lookups
    def _queue(self, context: RequestContext, params: dict[str, Any]) -> Queue:
        """The queue a request names (the protocol layer fills QueueUrl from a queue URL used as the path)."""
        url = params.get("QueueUrl")
        if not url:
            raise missing("QueueUrl")
        account, name = parse_url(url)
        return self.queues.get(account, context.region, name)

    def url(self, context: RequestContext, queue: Queue) -> str:
        return queue_url(context.base_url or self.platform.settings.endpoint_url, queue.account, queue.name)

    @staticmethod
    def _require(params: dict[str, Any], *names: str) -> None:
        for name in names:
            if params.get(name) is None:
                raise missing(name)

    # ------------------------------------------------------------ queues
    def create_queue(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "QueueName")
        name = params["QueueName"]
        requested = dict(params.get("Attributes") or {})
        fifo_flag = None if requested.get("FifoQueue") is None else str(requested["FifoQueue"]).strip().lower()
        fifo = fifo_flag == "true"
        if fifo_flag == "false":
            raise unknown_attribute("FifoQueue")  # as on AWS: FifoQueue only exists on FIFO queues
        if fifo_flag is not None and not fifo:
            raise attrs.invalid_attribute("FifoQueue")
        check_name(name, fifo)
        changes = attrs.normalize(requested, fifo, creating=True)
        tags = params.get("tags") or {}
        TAG_RULES.check(tags)
        existing = self.queues.find(context.account_id, context.region, name)
        if existing is not None:
            differs = attrs.differing(existing.attributes, changes, existing.fifo)
            if differs is None and existing.fifo != fifo and fifo_flag is not None:
                differs = "FifoQueue"
            if differs:
                raise sqs_error("QueueNameExists", "A queue already exists with the same name and a different "
                                                   f"value for attribute {differs}")
            return {"QueueUrl": self.url(context, existing)}
        if self.platform.settings.sqs_queue_deleted_recently and \
                self.queues.deleted_recently(context.account_id, context.region, name):
            raise sqs_error("QueueDeletedRecently", "You must wait 60 seconds after deleting a queue before you "
                                                    "can create another with the same name.")
        queue = Queue(context.account_id, context.region, name)
        self._check_redrive(queue, changes, fifo)
        now = int(time.time())
        queue.record = {"fifo": fifo, "attributes": attrs.apply(attrs.defaults(fifo), changes), "tags": tags,
                        "created": now, "modified": now, "purged_at": None}
        if not self.queues.create(queue):
            return self.create_queue(context, params)  # raced with another create: compare with it
        return {"QueueUrl": self.url(context, queue)}

    def get_queue_url(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "QueueName")
        account = params.get("QueueOwnerAWSAccountId") or context.account_id
        queue = self.queues.get(account, context.region, params["QueueName"])
        return {"QueueUrl": self.url(context, queue)}

    def delete_queue(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        self.queues.delete(queue)
        self.platform.notifier.notify(queue.channel)
        return {}

    def list_queues(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = params.get("MaxResults")
        if limit is not None and not 1 <= limit <= MAX_LIST:
            raise invalid_parameter("MaxResults", limit, "MaxResults must be an integer between 1 and 1000.")
        after = decode_token(params.get("NextToken"), "sqs-queues", "InvalidParameterValue",
                             "Invalid NextToken value.")
        prefix = params.get("QueueNamePrefix") or ""
        page = self.queues.scan(context.account_id, context.region, prefix, after, (limit or MAX_LIST) + 1)
        result: dict[str, Any] = {}
        shown = page[: limit or MAX_LIST]
        if shown:
            result["QueueUrls"] = [self.url(context, q) for q in shown]
        if limit is not None and len(page) > limit:
            result["NextToken"] = encode_token("sqs-queues", shown[-1].name)
        return result

    def get_queue_attributes(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        names = list(params.get("AttributeNames") or [])
        for name in names:
            if name != "All" and name not in attrs.ALL_NAMES:
                raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")
        if not names:
            return {}
        values = self._attribute_values(queue)
        if "All" not in names:
            values = {k: v for k, v in values.items() if k in names}
        return {"Attributes": attrs.ordered(values)} if values else {}

    def _attribute_values(self, queue: Queue) -> dict[str, str]:
        self._expire(queue)
        stats = self.platform.store.queue_stats(queue.store_queue)
        values = {k: v for k, v in queue.attributes.items() if queue.fifo or k not in attrs.FIFO_ONLY}
        values.update({
            "QueueArn": queue.arn,
            "ApproximateNumberOfMessages": str(stats.visible),
            "ApproximateNumberOfMessagesNotVisible": str(stats.in_flight),
            "ApproximateNumberOfMessagesDelayed": str(stats.delayed),
            "CreatedTimestamp": str(queue.record["created"]),
            "LastModifiedTimestamp": str(queue.record["modified"]),
        })
        return values

    def set_queue_attributes(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        self._require(params, "Attributes")
        changes = attrs.normalize(dict(params["Attributes"]), queue.fifo, creating=False)
        self._check_redrive(queue, changes, queue.fifo)
        with self.platform.store.transaction():
            current = self.queues.get(queue.account, queue.region, queue.name)
            current.record["attributes"] = attrs.apply(current.attributes, changes)
            current.record["modified"] = int(time.time())
            self.queues.save(current)
        self.platform.notifier.notify(queue.channel)
        return {}

    def _check_redrive(self, queue: Queue, changes: dict[str, str], fifo: bool) -> None:
        policy = changes.get("RedrivePolicy")
        if not policy:
            return
        document = json.loads(policy)
        target = self.queues.by_arn(document["deadLetterTargetArn"])
        if target is None:
            raise invalid_parameter("RedrivePolicy", policy, "Dead letter target does not exist.")
        if target.fifo != fifo:
            raise invalid_parameter("RedrivePolicy", policy,
                                    "Dead-letter queue must be same type of queue as the source..")
        if not attrs.redrive_allows(target.attributes.get("RedriveAllowPolicy"), queue.arn):
            raise invalid_parameter("RedrivePolicy", policy, f"Queue {target.arn} does not allow this queue to "
                                                             "use it as a dead-letter queue.")

    def purge_queue(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        now = time.time()
        with self.platform.store.transaction():
            current = self.queues.get(queue.account, queue.region, queue.name)
            purged = current.record.get("purged_at")
            if purged is not None and now - purged < PURGE_INTERVAL_S:
                raise sqs_error("PurgeQueueInProgress",
                                f"Only one PurgeQueue operation on {queue.name} is allowed every 60 seconds.")
            current.record["purged_at"] = now
            self.queues.save(current)
            self.platform.store.purge(queue.store_queue)
        return {}

    def list_dead_letter_source_queues(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        limit = params.get("MaxResults")
        if limit is not None and not 1 <= limit <= MAX_LIST:
            raise invalid_parameter("MaxResults", limit, "MaxResults must be an integer between 1 and 1000.")
        after = decode_token(params.get("NextToken"), "sqs-dlq-sources", "InvalidParameterValue",
                             "Invalid NextToken value.")
        sources = [q for q in self.queues.scan(queue.account, queue.region, start_after=after)
                   if self.dead_letter_target(q) == queue.arn]
        shown = sources[: limit or MAX_LIST]
        result: dict[str, Any] = {"queueUrls": [self.url(context, q) for q in shown]}
        if limit is not None and len(sources) > limit:
            result["NextToken"] = encode_token("sqs-dlq-sources", shown[-1].name)
        return result

    @staticmethod
    def dead_letter_target(queue: Queue) -> str | None:
        policy = queue.attributes.get("RedrivePolicy")
        return json.loads(policy)["deadLetterTargetArn"] if policy else None

    # ------------------------------------------------------------ tags and permissions
    def tag_queue(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        self._require(params, "Tags")
        rules = replace(TAG_RULES, too_many=lambda: invalid_value(f"Too many tags added for queue {queue.name}."))
        with self.platform.store.transaction():
            current = self.queues.get(queue.account, queue.region, queue.name)
            add_tags(current.record, params["Tags"], rules)
            self.queues.save(current)
        return {}

    def untag_queue(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        self._require(params, "TagKeys")
        with self.platform.store.transaction():
            current = self.queues.get(queue.account, queue.region, queue.name)
            remove_tags(current.record, params["TagKeys"])
            self.queues.save(current)
        return {}

    def list_queue_tags(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        tags = tags_of(queue.record)
        return {"Tags": tags} if tags else {}

    def add_permission(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        self._require(params, "Label", "AWSAccountIds", "Actions")
        label, accounts, actions = params["Label"], params["AWSAccountIds"], params["Actions"]
        if not accounts:
            raise missing("AWSAccountId")
        if not actions:
            raise missing("ActionName")
        for action in actions:
            if action not in ACTIONS:
                raise invalid_parameter("ActionName", f"SQS:{action}",
                                        "Please refer to the appropriate WSDL for a list of valid actions.")
        with self.platform.store.transaction():
            current = self.queues.get(queue.account, queue.region, queue.name)
            policy = json.loads(current.attributes.get("Policy") or "null") or {
                "Version": "2012-10-17", "Id": f"{queue.arn}/SQSDefaultPolicy", "Statement": []}
            statements = policy.setdefault("Statement", [])
            if any(s.get("Sid") == label for s in statements):
                raise invalid_parameter("Label", label, "Already exists.")
            principals = [f"arn:aws:iam::{a}:root" for a in accounts]
            sqs_actions = [f"SQS:{a}" for a in actions]
            statements.append({"Sid": label, "Effect": "Allow",
                               "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
                               "Action": sqs_actions[0] if len(sqs_actions) == 1 else sqs_actions,
                               "Resource": queue.arn})
            current.attributes["Policy"] = json.dumps(policy, separators=(",", ":"))
            current.record["modified"] = int(time.time())
            self.queues.save(current)
        return {}

    def remove_permission(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        self._require(params, "Label")
        label = params["Label"]
        with self.platform.store.transaction():
            current = self.queues.get(queue.account, queue.region, queue.name)
            policy = json.loads(current.attributes.get("Policy") or "null") or {}
            statements = policy.get("Statement") or []
            kept = [s for s in statements if s.get("Sid") != label]
            if len(kept) == len(statements):
                raise invalid_parameter("Label", label, "can't find label on existing policy.")
            if kept:
                policy["Statement"] = kept
                current.attributes["Policy"] = json.dumps(policy, separators=(",", ":"))
            else:
                current.attributes.pop("Policy", None)
            self.queues.save(current)
        return {}

    # ------------------------------------------------------------ sending
    def send_message(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        self._require(params, "MessageBody")
        prepared = self._prepare(queue, params, self._sender(context), context.trace_header)
        result = self._enqueue(queue, [prepared])[0]
        self.platform.notifier.notify(queue.channel)
        return result

    def send_message_batch(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        entries = check_batch(params, "SendMessageBatchRequestEntry")
        check_batch_size(entries)
        sender = self._sender(context)
        trace = context.trace_header
        prepared, failed, ids = [], [], []
        for entry in entries:
            try:
                prepared.append(self._prepare(queue, entry, sender, trace))
                ids.append(entry["Id"])
            except AwsError as error:
                failed.append(batch_failure(entry["Id"], error))
        successful = []
        for entry_id, result in zip(ids, self._enqueue(queue, prepared), strict=True):
            successful.append({"Id": entry_id, **result})
        if successful:
            self.platform.notifier.notify(queue.channel)
        return {"Successful": successful, "Failed": failed}

    @staticmethod
    def _sender(context: RequestContext) -> str:
        return context.account_id  # AWS reports the caller's IAM user id; here the account is the caller

    def _prepare(self, queue: Queue, entry: dict[str, Any], sender: str, trace: str | None) -> dict[str, Any]:
        """Validate one message for ``queue``; returns what ``_enqueue`` writes."""
        body = msgs.check_body(entry.get("MessageBody"))
        user = msgs.check_message_attributes(entry.get("MessageAttributes"))
        system = msgs.check_system_attributes(entry.get("MessageSystemAttributes"))
        limit = queue.int_attribute("MaximumMessageSize")
        size = len(body) + msgs.attributes_size(entry.get("MessageAttributes"))
        if size > limit:
            raise invalid_value(f"One or more parameters are invalid. Reason: Message must be shorter than {limit} "
                                "bytes.")
        delay = entry.get("DelaySeconds")
        if delay is not None and not 0 <= delay <= MAX_DELAY_S:
            raise invalid_parameter("DelaySeconds", delay, "DelaySeconds must be >= 0 and <= 900.")
        group = entry.get("MessageGroupId")
        dedup = entry.get("MessageDeduplicationId")
        if group is not None:
            msgs.check_fifo_id(group, "MessageGroupId")
        if dedup is not None:
            msgs.check_fifo_id(dedup, "MessageDeduplicationId")
        if queue.fifo:
            if delay:
                raise invalid_parameter("DelaySeconds", delay, "The request include parameter that is not valid "
                                                               "for this queue type.")
            if group is None:
                raise missing("MessageGroupId")
            if dedup is None:
                if queue.attributes.get("ContentBasedDeduplication") != "true":
                    raise invalid_value("The queue should either have ContentBasedDeduplication enabled or "
                                        "MessageDeduplicationId provided explicitly")
                dedup = msgs.content_dedup_id(body)
        elif dedup is not None:
            raise invalid_parameter("MessageDeduplicationId", dedup, "The request includes a parameter that is not "
                                                                     "valid for this queue type.")
        if trace and "AWSTraceHeader" not in system:
            system = {**system, "AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
        return {"body": body, "user": user, "system": system, "group": group, "dedup": dedup,
                "delay": queue.int_attribute("DelaySeconds") if delay is None else delay, "sender": sender,
                "md5_system": msgs.attributes_md5(entry.get("MessageSystemAttributes"))}

    def _enqueue(self, queue: Queue, prepared: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write prepared messages in one transaction; returns their SendMessage results."""
        results = []
        store = self.platform.store
        by_group = queue.attributes.get("DeduplicationScope") == "messageGroup"
        with store.transaction():
            for item in prepared:
                stored = {"sent": _now_ms(), "sender": item["sender"]}
                if item["user"]:
                    stored["user"] = item["user"]
                if item["system"]:
                    stored["system"] = item["system"]
                if item["group"] is not None:
                    stored["group"] = item["group"]
                if item["dedup"] is not None:
                    stored["dedup"] = item["dedup"]
                dedup_key = None
                if queue.fifo:
                    dedup_key = f"{item['group']}\x00{item['dedup']}" if by_group else item["dedup"]
                result = store.enqueue(queue.store_queue, item["body"], message_id=str(uuid.uuid4()),
                                       delay_s=float(item["delay"]), attributes=stored,
                                       group_id=item["group"] if queue.fifo else None, dedup_id=dedup_key,
                                       dedup_window_s=DEDUP_WINDOW_S)
                answer = {"MessageId": result.message_id, "MD5OfMessageBody": msgs.md5_hex(item["body"])}
                md5_user = msgs.attributes_md5(item["user"] and msgs.wire_attributes(item["user"]))
                if md5_user:
                    answer["MD5OfMessageAttributes"] = md5_user
                if item["md5_system"]:
                    answer["MD5OfMessageSystemAttributes"] = item["md5_system"]
                if queue.fifo:
                    answer["SequenceNumber"] = sequence_number(result.sequence)
                results.append(answer)
        return results

    def deliver(self, queue_arn: str, body: str, *, message_attributes: dict[str, Any] | None = None,
                group_id: str | None = None, dedup_id: str | None = None, sender: str | None = None) -> str:
        """Send a message on behalf of another service (SNS, EventBridge, Lambda destinations).

        Returns the message id; raises QueueDoesNotExist, or an InvalidParameterValue-style
        error for a message the queue refuses. Joins the caller's open store transaction.
        """
        queue = self.queues.by_arn(queue_arn)
        if queue is None:
            raise queue_not_found()
        entry: dict[str, Any] = {"MessageBody": body, "MessageAttributes": message_attributes or None,
                                 "MessageGroupId": group_id if queue.fifo else None,
                                 "MessageDeduplicationId": dedup_id if queue.fifo else None}
        prepared = self._prepare(queue, entry, sender or self.platform.settings.account_id, None)
        result = self._enqueue(queue, [prepared])[0]
        self.platform.notifier.notify(queue.channel)
        return result["MessageId"]

    def fifo_queue(self, queue_arn: str) -> bool | None:
        """Whether a queue is FIFO, for another service's checks (None: no such queue)."""
        queue = self.queues.by_arn(queue_arn)
        return None if queue is None else queue.fifo

    # ------------------------------------------------------------ receiving
    async def receive_message(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        count = params.get("MaxNumberOfMessages")
        if count is not None and not 1 <= count <= MAX_BATCH:
            raise invalid_parameter("MaxNumberOfMessages", count, "Must be between 1 and 10, if provided.")
        wait = params.get("WaitTimeSeconds")
        if wait is not None and not 0 <= wait <= MAX_WAIT_S:
            raise invalid_parameter("WaitTimeSeconds", wait, "Must be >= 0 and <= 20, if provided.")
        visibility = params.get("VisibilityTimeout")
        if visibility is not None and not 0 <= visibility <= MAX_VISIBILITY_S:
            raise invalid_parameter("VisibilityTimeout", visibility, "Must be >= 0 and <= 43200, if provided.")
        system_names = set(params.get("AttributeNames") or []) | set(params.get("MessageSystemAttributeNames") or [])
        attempt = params.get("ReceiveRequestAttemptId") if queue.fifo else None
        if attempt is not None:
            msgs.check_fifo_id(attempt, "ReceiveRequestAttemptId")
            replayed = self._replay_attempt(queue, attempt, visibility)
            if replayed is not None:
                return self._received(queue, replayed, system_names, params.get("MessageAttributeNames"))
        wait_s = float(queue.int_attribute("ReceiveMessageWaitTimeSeconds") if wait is None else wait)
        deadline = time.monotonic() + wait_s
        while True:
            leased = self._lease(queue, count or 1, visibility)
            remaining = deadline - time.monotonic()
            if leased or remaining <= 0:
                break
            next_at = self.platform.store.next_visible_at(queue.store_queue, after=time.time())
            timeout = remaining if next_at is None else min(remaining, max(0.0, next_at - time.time()) + 0.002)
            await self.platform.notifier.wait(queue.channel, timeout)
            refreshed = self.queues.find(queue.account, queue.region, queue.name)
            if refreshed is None:
                return {}
            queue = refreshed
        if attempt is not None and leased:
            self.platform.store.put(ATTEMPTS, f"{queue.key}\x00{attempt}", {
                "at": time.time(), "leases": [m.receipt for m in leased], "visible": [m.visible_at for m in leased]})
        return self._received(queue, leased, system_names, params.get("MessageAttributeNames"))

    def _received(self, queue: Queue, leased: list[QueueMessage], system_names: set[str],
                  attribute_names: list[str] | None) -> dict[str, Any]:
        messages = [self._message(queue, m, system_names, attribute_names) for m in leased]
        return {"Messages": messages} if messages else {}

    def _replay_attempt(self, queue: Queue, attempt: str, visibility: int | None) -> list[QueueMessage] | None:
        """A FIFO receive retried with the same ReceiveRequestAttemptId within 5 minutes gets the same
        messages and receipt handles again (visibility reset), unless one was deleted or changed since."""
        store = self.platform.store
        key = f"{queue.key}\x00{attempt}"
        record = store.get(ATTEMPTS, key)
        now = time.time()
        if record is None or not record["leases"] or now - record["at"] > DEDUP_WINDOW_S:
            return None
        found = [store.find_by_receipt(queue.store_queue, lease) for lease in record["leases"]]
        if any(m is None or m.visible_at != seen or m.visible_at <= now
               for m, seen in zip(found, record["visible"], strict=True)):
            return None
        timeout = float(queue.int_attribute("VisibilityTimeout") if visibility is None else visibility)
        replayed = []
        with store.transaction():
            for message in found:
                assert message is not None
                store.change_visibility(queue.store_queue, message.receipt or "", timeout, now=now)
                message.visible_at = now + timeout
                replayed.append(message)
            store.put(ATTEMPTS, key, {**record, "visible": [m.visible_at for m in replayed]})
        return replayed

    def _lease(self, queue: Queue, count: int, visibility: int | None) -> list[QueueMessage]:
        self._expire(queue)
        timeout = float(queue.int_attribute("VisibilityTimeout") if visibility is None else visibility)
        dead_letter = self._dead_letter_policy(queue)
        leased = self.platform.store.receive(queue.store_queue, count, timeout, fifo=queue.fifo,
                                             dead_letter=dead_letter[0] if dead_letter else None)
        if dead_letter:
            self.platform.notifier.notify(dead_letter[1].channel)
        return leased

    def _dead_letter_policy(self, queue: Queue) -> tuple[DeadLetterPolicy, Queue] | None:
        policy = queue.attributes.get("RedrivePolicy")
        if not policy:
            return None
        document = json.loads(policy)
        target = self.queues.by_arn(document["deadLetterTargetArn"])
        if target is None:
            return None
        return DeadLetterPolicy(target.store_queue, int(document["maxReceiveCount"]), {"dlq": queue.arn}), target

    def _message(self, queue: Queue, message: QueueMessage, system_names: set[str],
                 attribute_names: list[str] | None) -> dict[str, Any]:
        stored = message.attributes
        body = message.body.decode("utf-8", "surrogatepass")
        result: dict[str, Any] = {
            "MessageId": message.message_id,
            "ReceiptHandle": encode_receipt(queue, message.message_id, message.receipt or ""),
            "MD5OfBody": msgs.md5_hex(message.body),
            "Body": body,
        }
        if system_names:
            every = "All" in system_names
            available = {
                "SenderId": stored.get("sender", queue.account),
                "SentTimestamp": str(stored.get("sent", int(message.sent_at * 1000))),
                "ApproximateReceiveCount": str(message.receive_count),
                "ApproximateFirstReceiveTimestamp": str(int((message.first_received_at or time.time()) * 1000)),
            }
            trace = (stored.get("system") or {}).get("AWSTraceHeader")
            if trace:
                available["AWSTraceHeader"] = trace["StringValue"]
            if stored.get("group") is not None:
                available["MessageGroupId"] = stored["group"]
            if queue.fifo:
                available["MessageDeduplicationId"] = stored.get("dedup", "")
                available["SequenceNumber"] = sequence_number(message.sequence)
            if stored.get("dlq"):
                available["DeadLetterQueueSourceArn"] = stored["dlq"]
            chosen = {k: v for k, v in available.items() if every or k in system_names}
            if chosen:
                result["Attributes"] = chosen
        user = msgs.select_attributes(stored.get("user") or {}, attribute_names)
        if user:
            wire = msgs.wire_attributes(user)
            result["MessageAttributes"] = wire
            result["MD5OfMessageAttributes"] = msgs.attributes_md5(wire)
        return result

    # ------------------------------------------------------------ deleting and visibility
    def delete_message(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        self._require(params, "ReceiptHandle")
        self._delete(queue, params["ReceiptHandle"])
        if queue.fifo:
            self.platform.notifier.notify(queue.channel)
        return {}

    def _delete(self, queue: Queue, receipt: str) -> None:
        _message_id, lease = decode_receipt(queue, receipt)
        store = self.platform.store
        if queue.fifo:
            found = store.find_by_receipt(queue.store_queue, lease)
            if found is None or found.visible_at <= time.time():
                raise invalid_parameter("ReceiptHandle", receipt, "The receipt handle has expired.")
        # A standard queue accepts a stale receipt handle: the message may already be gone.
        store.delete_message(queue.store_queue, lease)

    def delete_message_batch(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        entries = check_batch(params, "DeleteMessageBatchRequestEntry")
        successful, failed = per_receipt(self.platform.store, entries,
                                         lambda entry: self._delete(queue, entry["ReceiptHandle"]))
        if queue.fifo and successful:
            self.platform.notifier.notify(queue.channel)
        return {"Successful": successful, "Failed": failed}

    def change_message_visibility(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        self._require(params, "ReceiptHandle", "VisibilityTimeout")
        self._change_visibility(queue, params["ReceiptHandle"], params["VisibilityTimeout"])
        self.platform.notifier.notify(queue.channel)
        return {}

    def _change_visibility(self, queue: Queue, receipt: str, timeout: int) -> None:
        _message_id, lease = decode_receipt(queue, receipt)
        if timeout < 0:
            raise invalid_parameter("VisibilityTimeout", timeout, "Must be >= 0.")
        if timeout > MAX_VISIBILITY_S:
            raise invalid_parameter("VisibilityTimeout", timeout, "Total VisibilityTimeout for the message is "
                                                                  f"beyond the limit [{MAX_VISIBILITY_S} seconds]")
        store = self.platform.store
        found = store.find_by_receipt(queue.store_queue, lease)
        if found is None:
            raise invalid_parameter("ReceiptHandle", receipt, "Message does not exist or is not available for "
                                                              "visibility timeout change.")
        if found.visible_at <= time.time():
            raise sqs_error("MessageNotInflight", "The specified message isn't in flight.")
        store.change_visibility(queue.store_queue, lease, float(timeout))

    def change_message_visibility_batch(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(context, params)
        entries = check_batch(params, "ChangeMessageVisibilityBatchRequestEntry")
        successful, failed = per_receipt(self.platform.store, entries, lambda entry: self._change_visibility(
            queue, entry["ReceiptHandle"], int(entry.get("VisibilityTimeout") or 0)))
        self.platform.notifier.notify(queue.channel)
        return {"Successful": successful, "Failed": failed}

    # ------------------------------------------------------------ message move tasks
    def start_message_move_task(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "SourceArn")
        return self.moves.start(params["SourceArn"], params.get("DestinationArn"),
                                params.get("MaxNumberOfMessagesPerSecond"))

    def cancel_message_move_task(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "TaskHandle")
        return self.moves.cancel(params["TaskHandle"])

    def list_message_move_tasks(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "SourceArn")
        return self.moves.list(params["SourceArn"], params.get("MaxResults"))

    # ------------------------------------------------------------ retention
    def _expire(self, queue: Queue, force: bool = False) -> None:
        """Drop messages older than the retention period (checked at most every 5 seconds per queue)."""
        now = time.time()
        if not force and now - self._expired_at.get(queue.store_queue, 0.0) < RETENTION_CHECK_S:
            return
        self._expired_at[queue.store_queue] = now
        self.platform.store.expire(queue.store_queue, now - queue.int_attribute("MessageRetentionPeriod"))

    async def _sweep_retention(self) -> None:
        while True:
            await asyncio.sleep(RETENTION_SWEEP_S)
            try:
                for queue in self.queues.all():
                    self._expire(queue)
                stale = time.time() - DEDUP_WINDOW_S
                for key, record in self.platform.store.scan(ATTEMPTS):
                    if record["at"] < stale:
                        self.platform.store.delete(ATTEMPTS, key)
            except Exception:
                log.exception("SQS retention sweep failed")


def sequence_number(sequence: int) -> str:
    """FIFO sequence numbers: large, increasing, 20 digits like SQS's."""
    return str(10**19 + sequence)
