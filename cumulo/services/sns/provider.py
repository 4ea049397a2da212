"""Amazon SNS: topics, subscriptions and publishing, delivered durably to SQS, Lambda and HTTP/S.

A Publish is validated, filtered against every confirmed subscription's filter policy (the
shared pattern engine, both scopes), and committed in one transaction: SQS deliveries are
written straight into the target queues (in AWS's JSON envelope or raw), HTTP/S and Lambda
deliveries become work items of the durable delivery queue (``delivery.py``). Only then is
the Publish acknowledged. ``email``, ``email-json``, ``sms``, ``application`` and ``firehose``
subscriptions are recorded (and email ones wait for confirmation, as on AWS) but nothing is
sent to them.

FIFO topics number their messages (``SequenceNumber``), deduplicate for 5 minutes (explicit
ids or content-based) and accept SQS subscriptions only, as AWS does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.patterns.errors import InvalidEventPattern
from cumulo.patterns.sns import SCOPES, compile_filter_policy
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest, HttpResponse
from cumulo.services.base import Provider, RequestContext
from cumulo.services.pagination import decode_token, encode_token
from cumulo.services.sns import messages as fmt
from cumulo.services.sns import policies
from cumulo.services.sns.delivery import Deliveries
from cumulo.services.sns.messages import invalid
from cumulo.services.sns.publishing import E164, PublishOperations
from cumulo.services.sns.resources import (
    FIFO_TOPIC_NAME,
    TOPIC_NAME,
    SnsRepository,
    arn_elements,
    parse_topic_arn,
    topic_arn,
)
from cumulo.services.sns.signing import CERT_PREFIX, Signer
from cumulo.services.tagging import TagRules, add_tags, remove_tags, tag_list, tag_map

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.sns")
PAGE = 100
TAG_RULES = TagRules(lambda: AwsError("TagLimitExceeded",
                                      "Could not complete request: tag quota of per resource exceeded"))
PROTOCOLS = ("http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose")
NEEDS_CONFIRMATION = ("http", "https", "email", "email-json")
RAW_PROTOCOLS = ("sqs", "http", "https", "firehose")
FEEDBACK = tuple(f"{p}{k}" for p in ("Application", "Firehose", "HTTP", "Lambda", "SQS")
                 for k in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn"))
TOPIC_SETTABLE = ("DeliveryPolicy", "DisplayName", "Policy", "KmsMasterKeyId", "SignatureVersion", "TracingConfig",
                  "ContentBasedDeduplication", "FifoThroughputScope", "ArchivePolicy", "DataProtectionPolicy",
                  *FEEDBACK)
FIFO_TOPIC_ONLY = ("ContentBasedDeduplication", "FifoThroughputScope", "ArchivePolicy")
SUBSCRIPTION_SETTABLE = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery",
                         "RedrivePolicy", "SubscriptionRoleArn", "ReplayPolicy")
LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$")
SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+(\.fifo)?$")


def _default_policy(arn: str, account: str) -> str:
    return json.dumps({
        "Version": "2008-10-17", "Id": "__default_policy_ID",
        "Statement": [{"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
                       "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                                  "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                                  "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
                       "Resource": arn, "Condition": {"StringEquals": {"AWS:SourceOwner": account}}}]},
        separators=(",", ":"))


class SnsProvider(PublishOperations, Provider):
    service = "sns"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.repo = SnsRepository(platform.store)
        self.deliveries = Deliveries(self)
        self._signer: Signer | None = None
        self._signer_lock = threading.Lock()
        self._keygen: threading.Thread | None = None

    @property
    def signer(self) -> Signer:
        with self._signer_lock:
            if self._signer is None:
                self._signer = Signer.load_or_create(self.platform.store)
            return self._signer

    async def start(self) -> None:
        # Generating the key of a new data directory takes a moment: do it off the start-up path.
        self._keygen = threading.Thread(target=self._load_signer, name="sns-signing-key", daemon=True)
        self._keygen.start()
        self.deliveries.start()

    def _load_signer(self) -> None:
        try:
            _ = self.signer
        except Exception:  # the store closed under it (a stop right after start): loaded on next use
            log.debug("SNS signing key not loaded", exc_info=True)

    async def stop(self) -> None:
        await self.deliveries.stop()
        if self._keygen is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._keygen.join, 30.0)

    async def http_route(self, request: HttpRequest) -> HttpResponse | None:
        """Serve the signing certificate at the SigningCertURL of our messages."""
        if request.method not in ("GET", "HEAD") or not request.path.startswith(CERT_PREFIX):
            return None
        if request.path != self.signer.cert_path():
            return HttpResponse(404, {"Content-Type": "text/plain"}, b"Not Found")
        return HttpResponse(200, {"Content-Type": "application/x-x509-ca-cert"}, self.signer.certificate_pem)

    @staticmethod
    def _base(context: RequestContext) -> str:
        return context.base_url.rstrip("/")

    # ------------------------------------------------------------ topics
    def create_topic(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        requested = dict(params.get("Attributes") or {})
        fifo = str(requested.pop("FifoTopic", "false")).lower() == "true"
        if fifo:
            if not FIFO_TOPIC_NAME.match(name):
                raise invalid("Fifo Topic names must end with .fifo and must be made up of only uppercase and "
                              "lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 "
                              "and 256 characters long.")
        elif not TOPIC_NAME.match(name):
            raise invalid("Topic Name")
        attributes = {k: self._topic_value(k, v, fifo, "Attributes Reason: ") for k, v in requested.items()}
        if params.get("DataProtectionPolicy"):
            attributes["DataProtectionPolicy"] = params["DataProtectionPolicy"]
        tags = tag_map(params.get("Tags"))
        TAG_RULES.check(tags)
        arn = topic_arn(context.region, context.account_id, name)
        existing = self.repo.find_topic(arn)
        if existing is not None:
            if any(existing["attributes"].get(k) != v for k, v in attributes.items()):
                raise invalid("Attributes Reason: Topic already exists with different attributes")
            if any(existing["tags"].get(k) != v for k, v in tags.items()):
                raise invalid("Tags Reason: Topic already exists with different tags")
            return {"TopicArn": arn}
        if fifo:
            attributes.setdefault("ContentBasedDeduplication", "false")
        record = {"arn": arn, "name": name, "account": context.account_id, "region": context.region, "fifo": fifo,
                  "attributes": attributes, "tags": tags, "deleted": 0, "seq": 0}
        if not self.repo.create_topic(record):
            return self.create_topic(context, params)
        return {"TopicArn": arn}

    def _topic(self, arn: str | None) -> dict[str, Any]:
        parse_topic_arn(arn)
        return self.repo.topic(arn or "")

    def _topic_value(self, name: str, value: Any, fifo: bool, prefix: str = "") -> str:
        value = "" if value is None else str(value)
        if name not in TOPIC_SETTABLE:
            raise invalid(f"{prefix}AttributeName" if not prefix else f"{prefix}Invalid attribute name: {name}")
        if name in FIFO_TOPIC_ONLY and not fifo:
            raise invalid(f"{prefix}{name} can only be set for FIFO topics")
        if name == "DeliveryPolicy":
            return policies.check_topic_policy(value)
        if name in ("Policy", "DataProtectionPolicy", "ArchivePolicy") and value:
            try:
                if not isinstance(json.loads(value), dict):
                    raise ValueError
            except ValueError:
                raise invalid(f"{prefix}{name}: failed to parse JSON") from None
            return json.dumps(json.loads(value), separators=(",", ":"))
        if name == "SignatureVersion" and value not in ("1", "2"):
            raise invalid(f"{prefix}SignatureVersion: must be 1 or 2")
        if name == "TracingConfig" and value not in ("PassThrough", "Active"):
            raise invalid(f"{prefix}TracingConfig: must be PassThrough or Active")
        if name == "ContentBasedDeduplication":
            if value.lower() not in ("true", "false"):
                raise invalid(f"{prefix}ContentBasedDeduplication: must be true or false")
            return value.lower()
        if name == "FifoThroughputScope" and value not in ("Topic", "MessageGroup"):
            raise invalid(f"{prefix}FifoThroughputScope: must be Topic or MessageGroup")
        return value

    def get_topic_attributes(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        confirmed = pending = 0
        for sub in self.repo.subscriptions_of(topic["arn"]):
            if sub["pending"]:
                pending += 1
            else:
                confirmed += 1
        attributes = {
            "Policy": _default_policy(topic["arn"], topic["account"]),
            "Owner": topic["account"],
            "SubscriptionsPending": str(pending),
            "TopicArn": topic["arn"],
            "EffectiveDeliveryPolicy": json.dumps(policies.topic_effective(topic["attributes"].get("DeliveryPolicy")),
                                                  separators=(",", ":")),
            "SubscriptionsConfirmed": str(confirmed),
            "DisplayName": "",
            "SubscriptionsDeleted": str(topic.get("deleted", 0)),
        }
        if topic["fifo"]:
            attributes["FifoTopic"] = "true"
        attributes.update({k: v for k, v in topic["attributes"].items() if v != "" or k == "DisplayName"})
        return {"Attributes": attributes}

    def set_topic_attributes(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["AttributeName"]
        with self.platform.store.transaction():
            topic = self._topic(params["TopicArn"])
            if name == "FifoTopic":
                raise invalid("AttributeName")
            value = self._topic_value(name, params.get("AttributeValue"), topic["fifo"])
            if value == "" and name != "DisplayName":
                topic["attributes"].pop(name, None)
            else:
                topic["attributes"][name] = value
            self.repo.save_topic(topic)
        return {}

    def delete_topic(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parse_topic_arn(params["TopicArn"])
        self.repo.delete_topic(params["TopicArn"])  # deleting a topic that does not exist is not an error
        return {}

    def list_topics(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        after = decode_token(params.get("NextToken"), "sns-topics", "InvalidParameter",
                             "Invalid parameter: NextToken")
        page = self.repo.topics(context.account_id, context.region, after, PAGE + 1)
        result: dict[str, Any] = {"Topics": [{"TopicArn": t["arn"]} for t in page[:PAGE]]}
        if len(page) > PAGE:
            result["NextToken"] = encode_token("sns-topics", page[PAGE - 1]["name"])
        return result

    # ------------------------------------------------------------ tags, permissions, data protection
    def _tagged(self, arn: str) -> dict[str, Any]:
        topic = self.repo.find_topic(arn)
        if topic is None:
            raise AwsError("ResourceNotFound", "Resource does not exist")
        return topic

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            topic = self._tagged(params["ResourceArn"])
            add_tags(topic, tag_map(params["Tags"]), TAG_RULES)
            self.repo.save_topic(topic)
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            topic = self._tagged(params["ResourceArn"])
            remove_tags(topic, params["TagKeys"])
            self.repo.save_topic(topic)
        return {}

    def list_tags_for_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._tagged(params["ResourceArn"])
        return {"Tags": tag_list(topic["tags"])}

    def add_permission(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            topic = self._topic(params["TopicArn"])
            policy = json.loads(topic["attributes"].get("Policy") or _default_policy(topic["arn"], topic["account"]))
            statements = policy.setdefault("Statement", [])
            if any(s.get("Sid") == params["Label"] for s in statements):
                raise invalid("Statement already exists")
            statements.append({"Sid": params["Label"], "Effect": "Allow",
                               "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in params["AWSAccountId"]]},
                               "Action": [f"SNS:{a}" for a in params["ActionName"]], "Resource": topic["arn"]})
            topic["attributes"]["Policy"] = json.dumps(policy, separators=(",", ":"))
            self.repo.save_topic(topic)
        return {}

    def remove_permission(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            topic = self._topic(params["TopicArn"])
            policy = json.loads(topic["attributes"].get("Policy") or _default_policy(topic["arn"], topic["account"]))
            policy["Statement"] = [s for s in policy.get("Statement", []) if s.get("Sid") != params["Label"]]
            topic["attributes"]["Policy"] = json.dumps(policy, separators=(",", ":"))
            self.repo.save_topic(topic)
        return {}

    def put_data_protection_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            topic = self._topic(params["ResourceArn"])
            topic["attributes"]["DataProtectionPolicy"] = self._topic_value(
                "DataProtectionPolicy", params["DataProtectionPolicy"], topic["fifo"])
            self.repo.save_topic(topic)
        return {}

    def get_data_protection_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["ResourceArn"])
        policy = topic["attributes"].get("DataProtectionPolicy")
        return {"DataProtectionPolicy": policy} if policy else {}

    # ------------------------------------------------------------ subscriptions
    def subscribe(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        protocol = params["Protocol"]
        endpoint = params.get("Endpoint")
        self._check_endpoint(topic, protocol, endpoint)
        assert endpoint is not None
        requested = params.get("Attributes") or {}
        attributes = self._subscription_values(topic, protocol, endpoint, requested, {}, subscribe=True)
        for existing in self.repo.subscriptions_of(topic["arn"]):
            if existing["protocol"] == protocol and existing["endpoint"] == endpoint:
                if any(existing["attributes"].get(k) != v for k, v in attributes.items()):
                    raise invalid("Attributes Reason: Subscription already exists with different attributes")
                if existing["pending"] and protocol in ("http", "https"):
                    self._send_confirmation(context, topic, existing, "SubscriptionConfirmation")
                if existing["pending"] and not params.get("ReturnSubscriptionArn"):
                    return {"SubscriptionArn": "pending confirmation"}
                return {"SubscriptionArn": existing["arn"]}
        pending = protocol in NEEDS_CONFIRMATION
        record = {"arn": f"{topic['arn']}:{uuid.uuid4()}", "topic": topic["arn"], "protocol": protocol,
                  "endpoint": endpoint, "owner": context.account_id, "pending": pending,
                  "authenticated": not pending, "attributes": {"RawMessageDelivery": "false", **attributes}}
        with self.platform.store.transaction():
            self.repo.save_subscription(record)
            if pending:
                record["token"] = secrets.token_hex(128)
                self.repo.save_token(record["token"], record["arn"])
                self.repo.save_subscription(record)
                if protocol in ("http", "https"):
                    self._send_confirmation(context, topic, record, "SubscriptionConfirmation")
                else:
                    log.info("SNS email subscription %s awaits confirmation (not sent by Cumulo): %s",
                             record["arn"], fmt.subscribe_url(self._base(context), topic["arn"], record["token"]))
        if pending and not params.get("ReturnSubscriptionArn"):
            return {"SubscriptionArn": "pending confirmation"}
        return {"SubscriptionArn": record["arn"]}

    def _check_endpoint(self, topic: dict[str, Any], protocol: str, endpoint: str | None) -> None:
        if protocol not in PROTOCOLS:
            raise invalid(f"Amazon SNS does not support this protocol string: {protocol}")
        if not endpoint:
            raise invalid("Endpoint Reason: An endpoint must be specified")
        if protocol in ("http", "https") and not endpoint.lower().startswith(f"{protocol}://"):
            raise invalid("Endpoint must match the specified protocol")
        if protocol == "sqs" and not SQS_ARN.match(endpoint):
            raise invalid("SQS endpoint ARN")
        if protocol == "lambda" and not LAMBDA_ARN.match(endpoint):
            raise invalid("Lambda endpoint ARN")
        if protocol in ("email", "email-json") and not re.match(r"^[^@\s]+@[^@\s]+$", endpoint):
            raise invalid("Email address")
        if protocol == "sms" and not E164.match(endpoint):
            raise invalid(f"SMS endpoint: {endpoint}")
        if protocol in ("application", "firehose") and not endpoint.startswith("arn:"):
            raise invalid(f"{'ApplicationEndpoint' if protocol == 'application' else 'Firehose'} ARN")
        if topic["fifo"] and protocol != "sqs":
            raise invalid(f"Invalid parameter: Endpoint Reason: FIFO topics support only the sqs protocol, not "
                          f"{protocol}")
        if protocol == "sqs" and endpoint.endswith(".fifo") and not topic["fifo"]:
            raise invalid("Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard "
                          "SNS topics")

    def _subscription_values(self, topic: dict[str, Any], protocol: str, endpoint: str, requested: dict[str, Any],
                             current: dict[str, str], subscribe: bool = False) -> dict[str, str]:
        prefix = "Attributes Reason: " if subscribe else ""
        values: dict[str, str] = {}
        for name, raw in requested.items():
            value = "" if raw is None else str(raw)
            if name not in SUBSCRIPTION_SETTABLE:
                raise invalid(f"{prefix}AttributeName" if not subscribe else f"{prefix}Invalid attribute name: {name}")
            if name == "RawMessageDelivery":
                if value.lower() not in ("true", "false"):
                    raise invalid(f"{prefix}RawMessageDelivery: Invalid value [{value}]. Must be true or false.")
                if protocol not in RAW_PROTOCOLS:
                    raise invalid(f"{prefix}Delivery protocol [{protocol}] does not support raw message delivery.")
                value = value.lower()
            elif name == "FilterPolicyScope":
                if value not in SCOPES:
                    raise invalid(f"{prefix}FilterPolicyScope: Invalid value [{value}]. Please use either "
                                  "MessageBody or MessageAttributes")
            elif name == "DeliveryPolicy":
                if protocol not in ("http", "https"):
                    raise invalid(f"{prefix}DeliveryPolicy: Delivery protocol [{protocol}] does not support "
                                  "delivery policies.")
                value = policies.check_subscription_policy(value, prefix)
            elif name == "RedrivePolicy":
                value = self._check_subscription_redrive(topic, endpoint, value, prefix)
            values[name] = value
        merged = {**current, **values}
        if merged.get("FilterPolicy"):
            scope = merged.get("FilterPolicyScope") or "MessageAttributes"
            try:
                compile_filter_policy(merged["FilterPolicy"], scope=scope)
            except InvalidEventPattern as error:
                message = error.message.replace("Invalid parameter: ", f"Invalid parameter: {prefix}", 1)
                raise AwsError(error.code, message) from None
        return values

    @staticmethod
    def _check_subscription_redrive(topic: dict[str, Any], endpoint: str, value: str, prefix: str) -> str:
        if not value:
            return ""
        try:
            document = json.loads(value)
        except ValueError:
            raise invalid(f"{prefix}RedrivePolicy: failed to parse JSON.") from None
        target = document.get("deadLetterTargetArn", "") if isinstance(document, dict) else ""
        if not isinstance(target, str) or not SQS_ARN.match(target):
            raise invalid(f"{prefix}RedrivePolicy: deadLetterTargetArn is an invalid arn")
        if topic["fifo"] and endpoint.endswith(".fifo") and not target.endswith(".fifo"):
            raise invalid(f"{prefix}RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription to a FIFO "
                          "Topic.")
        return json.dumps({"deadLetterTargetArn": target}, separators=(",", ":"))

    def _send_confirmation(self, context: RequestContext, topic: dict[str, Any], subscription: dict[str, Any],
                           kind: str) -> None:
        retry, content_type = policies.http_policy(topic["attributes"].get("DeliveryPolicy"),
                                                   subscription["attributes"].get("DeliveryPolicy"))
        with self.platform.store.transaction():
            self.deliveries.enqueue({
                "kind": kind, "protocol": subscription["protocol"], "endpoint": subscription["endpoint"],
                "sub": subscription["arn"], "topic": topic["arn"], "base": self._base(context),
                "token": subscription.get("token") or secrets.token_hex(128), "id": str(uuid.uuid4()),
                "ts": time.time(), "policy": retry, "content_type": content_type,
                "sigv": topic["attributes"].get("SignatureVersion", "1")})
        self.deliveries.wake()

    def confirm_subscription(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parse_topic_arn(params["TopicArn"])
        arn = self.repo.token(params["Token"])
        with self.platform.store.transaction():
            subscription = self.repo.subscription(arn) if arn else None
            if subscription is None:
                raise invalid("Token")
            if subscription["topic"] != params["TopicArn"]:
                raise invalid("Topic")
            if subscription["pending"]:
                subscription["pending"] = False
                subscription["authenticated"] = str(params.get("AuthenticateOnUnsubscribe", "")).lower() == "true"
                self.repo.save_subscription(subscription)
        return {"SubscriptionArn": subscription["arn"]}

    def unsubscribe(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["SubscriptionArn"]
        if arn_elements(arn) < 6:
            raise invalid(f"SubscriptionArn Reason: An ARN must have at least 6 elements, not {arn_elements(arn)}")
        if arn_elements(arn) != 7:
            raise invalid("SubscriptionId")
        with self.platform.store.transaction():
            subscription = self.repo.subscription(arn)
            if subscription is None:
                return {}  # unsubscribing twice is not an error
            self.repo.delete_subscription(arn)
            topic = self.repo.find_topic(subscription["topic"])
            if topic is not None:
                topic["deleted"] = topic.get("deleted", 0) + 1
                self.repo.save_topic(topic)
                if subscription["protocol"] in ("http", "https"):
                    self._send_confirmation(context, topic, subscription, "UnsubscribeConfirmation")
        return {}

    def _subscription(self, arn: str) -> dict[str, Any]:
        subscription = self.repo.subscription(arn)
        if subscription is None:
            raise AwsError("NotFound", "Subscription does not exist")
        return subscription

    def get_subscription_attributes(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        subscription = self._subscription(params["SubscriptionArn"])
        topic = self.repo.find_topic(subscription["topic"]) or {"attributes": {}}
        attributes = {
            "SubscriptionArn": subscription["arn"], "TopicArn": subscription["topic"],
            "Owner": subscription["owner"], "Protocol": subscription["protocol"],
            "Endpoint": subscription["endpoint"],
            "ConfirmationWasAuthenticated": "true" if subscription["authenticated"] else "false",
            "PendingConfirmation": "true" if subscription["pending"] else "false",
        }
        stored = {k: v for k, v in subscription["attributes"].items() if v != ""}
        if stored.get("FilterPolicy"):
            stored.setdefault("FilterPolicyScope", "MessageAttributes")
        else:
            stored.pop("FilterPolicyScope", None)
        attributes.update(stored)
        if subscription["protocol"] in ("http", "https"):
            attributes["EffectiveDeliveryPolicy"] = json.dumps(policies.subscription_effective(
                topic["attributes"].get("DeliveryPolicy"), stored.get("DeliveryPolicy")), separators=(",", ":"))
        return {"Attributes": attributes}

    def set_subscription_attributes(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            subscription = self._subscription(params["SubscriptionArn"])
            topic = self.repo.topic(subscription["topic"])
            values = self._subscription_values(topic, subscription["protocol"], subscription["endpoint"],
                                               {params["AttributeName"]: params.get("AttributeValue")},
                                               subscription["attributes"])
            subscription["attributes"].update(values)
            self.repo.save_subscription(subscription)
        return {}

    @staticmethod
    def _listed(subscription: dict[str, Any]) -> dict[str, Any]:
        return {"SubscriptionArn": "PendingConfirmation" if subscription["pending"] else subscription["arn"],
                "Owner": subscription["owner"], "Protocol": subscription["protocol"],
                "Endpoint": subscription["endpoint"], "TopicArn": subscription["topic"]}

    def list_subscriptions(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        after = decode_token(params.get("NextToken"), "sns-subscriptions", "InvalidParameter",
                             "Invalid parameter: NextToken")
        page = self.repo.subscriptions_in(context.account_id, context.region, after, PAGE + 1)
        result: dict[str, Any] = {"Subscriptions": [self._listed(s) for s in page[:PAGE]]}
        if len(page) > PAGE:
            result["NextToken"] = encode_token("sns-subscriptions", page[PAGE - 1]["arn"])
        return result

    def list_subscriptions_by_topic(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        after = decode_token(params.get("NextToken"), "sns-topic-subscriptions", "InvalidParameter",
                             "Invalid parameter: NextToken")
        page = self.repo.subscriptions_of(topic["arn"], after, PAGE + 1)
        result: dict[str, Any] = {"Subscriptions": [self._listed(s) for s in page[:PAGE]]}
        if len(page) > PAGE:
            result["NextToken"] = encode_token("sns-topic-subscriptions", page[PAGE - 1]["arn"])
        return result
