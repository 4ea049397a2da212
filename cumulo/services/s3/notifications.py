"""S3 event notifications: to Lambda functions, SQS queues and SNS topics, and to EventBridge.

``PutBucketNotificationConfiguration`` checks each destination (queues and topics receive AWS's
``s3:TestEvent``, functions must exist) and stores the configuration. Every object change then
calls ``_emit`` inside the transaction that commits it: each matching configuration (event type
and prefix/suffix filter) gets one durable job in the S3 delivery queue
(``targets.delivery_queue``), and with ``EventBridgeConfiguration`` so does the default event
bus. Workers deliver the jobs through ``targets.send``, retrying as EventBridge does; a function
is invoked asynchronously, so its own retry policy and destinations apply. The payloads are
AWS's: a ``Records`` list (event version 2.1) for functions, queues and topics, and the
"Object Created"/"Object Deleted"/... detail for EventBridge.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from cumulo.arns import parse_arn, service_of
from cumulo.protocol.errors import AwsError
from cumulo.services.api_calls import ServiceUnavailable, call_api
from cumulo.services.base import RequestContext
from cumulo.targets.dead_letters import delivery_failure_attributes
from cumulo.targets.delivery_queue import Job
from cumulo.targets.errors import TargetError
from cumulo.targets.send import BusEvent, Delivery, can_send_now, send, send_now

if TYPE_CHECKING:
    from cumulo.platform import Platform
    from cumulo.targets.delivery_queue import DeliveryQueue

QUEUE = "s3.notifications"
EVENT_TYPES = frozenset({
    "s3:ReducedRedundancyLostObject", "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete", "s3:Replication:*",
    "s3:Replication:OperationFailedReplication", "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold", "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleExpiration:*", "s3:LifecycleExpiration:Delete", "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition", "s3:IntelligentTiering", "s3:ObjectTagging:*", "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete", "s3:ObjectAcl:Put"})
KINDS = (("LambdaFunctionConfigurations", "LambdaFunctionArn"), ("QueueConfigurations", "QueueArn"),
         ("TopicConfigurations", "TopicArn"))
# EventBridge's detail types and the reason S3 gives, per event.
_BRIDGE = {
    "ObjectCreated:Put": ("Object Created", "PutObject"), "ObjectCreated:Post": ("Object Created", "PostObject"),
    "ObjectCreated:Copy": ("Object Created", "CopyObject"),
    "ObjectCreated:CompleteMultipartUpload": ("Object Created", "CompleteMultipartUpload"),
    "ObjectRemoved:Delete": ("Object Deleted", "DeleteObject"),
    "ObjectRemoved:DeleteMarkerCreated": ("Object Deleted", "DeleteObject"),
    "LifecycleExpiration:Delete": ("Object Deleted", "Lifecycle Expiration"),
    "LifecycleExpiration:DeleteMarkerCreated": ("Object Deleted", "Lifecycle Expiration"),
    "ObjectTagging:Put": ("Object Tags Added", "PutObjectTagging"),
    "ObjectTagging:Delete": ("Object Tags Deleted", "DeleteObjectTagging"),
    "ObjectRestore:Post": ("Object Restore Initiated", "RestoreObject"),
    "ObjectRestore:Completed": ("Object Restore Completed", "RestoreObject"),
}


def _invalid(message: str, name: str = "", value: str = "") -> AwsError:
    fields = {"ArgumentName": name, "ArgumentValue": value} if name else {}
    return AwsError("InvalidArgument", message, fields=fields)


def _iso(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _filters(configuration: dict[str, Any]) -> tuple[str, str]:
    """The (prefix, suffix) of a configuration's key filter."""
    prefix = suffix = ""
    for rule in ((configuration.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []:
        name = (rule.get("Name") or "").lower()
        if name == "prefix":
            prefix = rule.get("Value") or ""
        elif name == "suffix":
            suffix = rule.get("Value") or ""
    return prefix, suffix


def _matches(configuration: dict[str, Any], event: str, key: str) -> bool:
    family = event.split(":", 1)[0]
    if not any(e in (f"s3:{event}", f"s3:{family}:*") for e in configuration.get("Events", [])):
        return False
    prefix, suffix = _filters(configuration)
    return key.startswith(prefix) and key.endswith(suffix)


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two configurations that could both match one event (AWS refuses them)."""
    def types(configuration: dict[str, Any]) -> set[str]:
        return {e.rsplit(":", 1)[0] if e.endswith(":*") else e for e in configuration.get("Events", [])}

    shared = any(x == y or x.startswith(y + ":") or y.startswith(x + ":") for x in types(a) for y in types(b))
    (prefix_a, suffix_a), (prefix_b, suffix_b) = _filters(a), _filters(b)
    prefixes = prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a)
    suffixes = suffix_a.endswith(suffix_b) or suffix_b.endswith(suffix_a)
    return shared and prefixes and suffixes


class NotificationOperations:
    platform: Platform
    notifications: DeliveryQueue
    _bucket: Callable[[str], dict[str, Any]]  # from ObjectOperations
    _set: Callable[[str, str, Any], None]  # from BucketOperations



    # ------------------------------------------------------------ configuration
    async def put_bucket_notification_configuration(self, context: RequestContext,
                                                    params: dict[str, Any]) -> dict[str, Any]:
        bucket = self._bucket(params["Bucket"])
        configuration = params.get("NotificationConfiguration") or {}
        stored: dict[str, Any] = {}
        every: list[dict[str, Any]] = []
        for kind, arn_member in KINDS:
            entries = []
            for entry in configuration.get(kind) or []:
                entry = {**entry, "Id": entry.get("Id") or str(uuid.uuid4())}
                self._check_entry(entry, arn_member)
                entries.append(entry)
            if entries:
                stored[kind] = entries
                every += entries
        for index, entry in enumerate(every):
            if any(_overlap(entry, other) for other in every[index + 1:]):
                raise _invalid("Configurations overlap. Configurations on the same bucket cannot share a common "
                               "event type.", "Event", entry["Events"][0])
        if configuration.get("EventBridgeConfiguration") is not None:
            stored["EventBridgeConfiguration"] = {}
        await self._validate_destinations(bucket, stored, context, params.get("SkipDestinationValidation"))
        self._set(params["Bucket"], "Notifications", stored or None)
        return {}

    @staticmethod
    def _check_entry(entry: dict[str, Any], arn_member: str) -> None:
        events = entry.get("Events") or []
        if not events:
            raise _invalid("The event is not supported for notifications", "Event", "")
        for event in events:
            if event not in EVENT_TYPES:
                raise _invalid("The event is not supported for notifications", "Event", event)
        prefix_rules = [r for r in ((entry.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []]
        names = [(r.get("Name") or "").lower() for r in prefix_rules]
        for name in names:
            if name not in ("prefix", "suffix"):
                raise _invalid("filter rule name must be either prefix or suffix", "FilterRule.Name", name)
        if len(set(names)) != len(names):
            raise _invalid("Cannot specify more than one prefix rule in a filter." if names.count("prefix") > 1
                           else "Cannot specify more than one suffix rule in a filter.", "FilterRule.Name",
                           names[0])
        arn = entry.get(arn_member) or ""
        if parse_arn(arn) is None:
            raise _invalid("The ARN is not well formed", arn_member[:-3], arn)

    async def _validate_destinations(self, bucket: dict[str, Any], stored: dict[str, Any],
                                     context: RequestContext, skip: bool | None) -> None:
        """Queues and topics get the test event; functions must exist. One failure refuses all."""
        if skip:
            return
        failed = []
        test = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": _iso(time.time()),
                           "Bucket": bucket["Name"], "RequestId": context.request_id,
                           "HostId": context.request_id}, separators=(",", ":"))
        for kind, arn_member in KINDS:
            for entry in stored.get(kind, []):
                arn = entry[arn_member]
                parsed = parse_arn(arn)
                assert parsed is not None
                try:
                    if kind == "LambdaFunctionConfigurations":
                        await call_api(self.platform, "lambda", "GetFunction", {"FunctionName": arn},
                                       account=parsed.account, region=parsed.region)
                    else:
                        with self.platform.store.transaction():
                            send_now(self.platform, arn, test, Delivery(account=parsed.account,
                                                                         region=parsed.region))
                except (AwsError, TargetError, ServiceUnavailable):
                    failed.append(arn)
        if failed:
            raise AwsError("InvalidArgument", "Unable to validate the following destination configurations",
                           fields={"ArgumentName1": failed[0], "ArgumentValue1": "Not authorized to invoke "
                                   "function" if service_of(failed[0]) == "lambda" else
                                   "Permissions on the destination queue do not allow S3 to publish "
                                   "notifications from this bucket"})

    def get_bucket_notification_configuration(self, context: RequestContext,
                                              params: dict[str, Any]) -> dict[str, Any]:
        return dict(self._bucket(params["Bucket"]).get("Notifications") or {})

    # ------------------------------------------------------------ events
    def _emit(self, bucket: dict[str, Any], event: str, key: str, record: dict[str, Any],
              context: RequestContext | None) -> None:
        """Queue ``event``'s deliveries for the bucket's matching configurations (joins the caller's
        transaction; the queue's workers are woken once it commits)."""
        configuration = bucket.get("Notifications")
        if not configuration:
            return
        region, account = bucket["Region"], bucket["Account"]
        now = time.time()
        sequencer = f"{time.time_ns():016X}"
        request_id = context.request_id if context else str(uuid.uuid4())
        requester = context.account_id if context else "s3.amazonaws.com"
        for kind, arn_member in KINDS:
            for entry in configuration.get(kind, []):
                if _matches(entry, event, key):
                    payload = self._record(bucket, event, key, record, entry["Id"], now, sequencer, request_id,
                                           requester)
                    self._submit(Job(account=account, region=region, origin=f"arn:aws:s3:::{bucket['Name']}",
                                     target={"Id": entry["Id"], "Arn": entry[arn_member]}, payload=payload))
        if "EventBridgeConfiguration" in configuration and event in _BRIDGE:
            detail_type, reason = _BRIDGE[event]
            detail = self._bridge_detail(bucket, event, key, record, sequencer, request_id, requester, reason)
            bus = f"arn:aws:events:{region}:{account}:event-bus/default"
            self._submit(Job(account=account, region=region, origin=f"arn:aws:s3:::{bucket['Name']}",
                             target={"Id": "EventBridge", "Arn": bus},
                             payload=json.dumps(detail, separators=(",", ":")),
                             extra={"detail_type": detail_type, "time": now}))

    def _submit(self, job: Job) -> None:
        """Queue a job; waking the workers now is safe, as they run on this event loop only after
        the caller's transaction (synchronous code) has committed."""
        self.notifications.submit(job)
        self.notifications.wake()

    @staticmethod
    def _record(bucket: dict[str, Any], event: str, key: str, record: dict[str, Any], configuration_id: str,
                now: float, sequencer: str, request_id: str, requester: str) -> str:
        detail: dict[str, Any] = {"key": quote_plus(key, safe="/"), "sequencer": sequencer}
        if event.startswith(("ObjectCreated", "ObjectTagging", "ObjectRestore")):
            detail.update({"size": record.get("Size", 0), "eTag": record.get("ETag", "").strip('"')})
        if record.get("VersionId", "null") != "null":
            detail["versionId"] = record["VersionId"]
        body = {"Records": [{
            "eventVersion": "2.1" if not event.startswith(("ObjectTagging", "ObjectRestore")) else "2.3",
            "eventSource": "aws:s3", "awsRegion": bucket["Region"], "eventTime": _iso(now), "eventName": event,
            "userIdentity": {"principalId": f"AWS:{requester}"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": request_id[:16].replace("-", "").upper(),
                                 "x-amz-id-2": request_id},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": configuration_id,
                   "bucket": {"name": bucket["Name"], "ownerIdentity": {"principalId": bucket["Account"]},
                              "arn": f"arn:aws:s3:::{bucket['Name']}"},
                   "object": detail}}]}
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def _bridge_detail(bucket: dict[str, Any], event: str, key: str, record: dict[str, Any], sequencer: str,
                       request_id: str, requester: str, reason: str) -> dict[str, Any]:
        obj: dict[str, Any] = {"key": key, "sequencer": sequencer}
        if event.startswith(("ObjectCreated", "ObjectTagging", "ObjectRestore")):
            obj.update({"size": record.get("Size", 0), "etag": record.get("ETag", "").strip('"')})
        if record.get("VersionId", "null") != "null":
            obj["version-id"] = record["VersionId"]
        detail: dict[str, Any] = {"version": "0", "bucket": {"name": bucket["Name"]}, "object": obj,
                                  "request-id": request_id, "requester": requester,
                                  "source-ip-address": "127.0.0.1", "reason": reason}
        if event.startswith(("ObjectRemoved", "LifecycleExpiration")):
            detail["deletion-type"] = ("Delete Marker Created" if event.endswith("DeleteMarkerCreated")
                                       else "Permanently Deleted")
        return detail

    # ------------------------------------------------------------ delivery (the queue's workers)
    def _delivery(self, job: Job) -> Delivery:
        bus_event = None
        if "detail_type" in job.extra:
            bus_event = BusEvent("aws.s3", job.extra["detail_type"], [job.origin])
        return Delivery(account=job.account, region=job.region, bus_event=bus_event)

    async def _send_notification(self, job: Job) -> None:
        await send(self.platform, job.target["Arn"], job.payload, self._delivery(job))

    def _send_notification_now(self, job: Job) -> bool:
        delivery = self._delivery(job)
        if not can_send_now(job.target["Arn"], delivery):
            return False
        send_now(self.platform, job.target["Arn"], job.payload, delivery)
        return True

    @staticmethod
    def _notification_dead_letter(job: Job, error: TargetError, exhausted: str | None) -> tuple[str, dict[str, str]]:
        return job.payload, delivery_failure_attributes("BUCKET_ARN", job.origin, job.target["Arn"], error,
                                                        job.attempts - 1, exhausted)
