"""What SNS publishes: validation of Publish input, and the formats deliveries take.

* the JSON *envelope* SQS, HTTP/S and email-json receive (``Type``, ``MessageId``,
  ``TopicArn``, ``Subject``, ``Message``, ``Timestamp``, signature fields, ``UnsubscribeURL``,
  ``MessageAttributes`` as ``{"Type", "Value"}``), or the bare message with raw delivery;
* the Lambda event (``Records[].Sns`` with ``SigningCertUrl``/``UnsubscribeUrl`` spelled as
  Lambda's documentation shows them, and ``Subject`` null when absent);
* the confirmation messages of the HTTP/S subscription handshake.

FIFO topics do not sign their messages; their envelopes carry a ``SequenceNumber`` instead.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from cumulo.protocol.errors import AwsError
from cumulo.services.sns.signing import Signer

MAX_MESSAGE_BYTES = 262_144
MAX_SUBJECT = 100
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_\-.]+$")
_SUBJECT = re.compile(r"^[\x20-\x7e]+$")
_TYPES = ("String", "String.Array", "Number", "Binary")


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameter", f"Invalid parameter: {message}")


def invalid_value(message: str) -> AwsError:
    return AwsError("ParameterValueInvalid", message)


def timestamp(when: float) -> str:
    moment = dt.datetime.fromtimestamp(when, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# ------------------------------------------------------------------ validating Publish
def check_subject(subject: str | None) -> None:
    if subject is None:
        return
    if not subject or len(subject) > MAX_SUBJECT or not _SUBJECT.match(subject):
        raise invalid("Subject")


def check_message(message: str | None, structure: str | None) -> dict[str, str] | None:
    """Reject empty messages; for MessageStructure=json return the per-protocol messages."""
    if message is None or message == "":
        raise invalid("Empty message")
    if structure is None:
        return None
    if structure != "json":
        raise invalid("MessageStructure")
    try:
        document = json.loads(message)
    except ValueError:
        raise invalid("Message Structure - JSON message body failed to parse") from None
    if not isinstance(document, dict):
        raise invalid("Message Structure - JSON message body failed to parse")
    per_protocol = {k: v for k, v in document.items() if isinstance(v, str)}
    if "default" not in per_protocol:
        raise invalid("Message Structure - No default entry in JSON message body")
    return per_protocol


def check_attributes(attributes: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Validate Publish MessageAttributes; returns them in stored form (binary as base64)."""
    stored: dict[str, dict[str, Any]] = {}
    for name, attribute in (attributes or {}).items():
        _check_attribute_name(name)
        data_type = (attribute or {}).get("DataType")
        if not data_type:
            raise invalid_value(f"The message attribute '{name}' must contain non-empty message attribute type.")
        base = data_type.split(".", 1)[0]
        if base not in ("String", "Number", "Binary"):
            raise invalid_value(f"The message attribute '{name}' has an invalid message attribute type, the set of "
                                "supported type prefixes is Binary, Number, and String.")
        field = "BinaryValue" if base == "Binary" else "StringValue"
        value = attribute.get(field)
        if value is None:
            other = "StringValue" if field == "BinaryValue" else "BinaryValue"
            if attribute.get(other) is not None:
                raise invalid_value(f"The message attribute '{name}' with type '{data_type}' must use field "
                                    f"'{field[:-5]}'.")
            raise invalid_value(f"The message attribute '{name}' must contain non-empty message attribute value "
                                f"for message attribute type '{data_type}'.")
        if len(value) == 0:
            raise invalid_value(f"The message attribute '{name}' must contain non-empty message attribute value "
                                f"for message attribute type '{data_type}'.")
        if base == "Binary":
            raw = value if isinstance(value, bytes) else str(value).encode()
            stored[name] = {"DataType": data_type, "BinaryValue": base64.b64encode(raw).decode()}
            continue
        if base == "Number" and not data_type.endswith(".Array"):
            try:
                Decimal(value)
            except InvalidOperation:
                raise invalid_value(f"Could not cast message attribute '{name}' value to number.") from None
        if data_type == "String.Array":
            try:
                array = json.loads(value)
            except ValueError:
                array = None
            if not isinstance(array, list):
                raise invalid_value(f"The message attribute '{name}' with type 'String.Array' has an invalid value: "
                                    "it must be a JSON array.")
        stored[name] = {"DataType": data_type, "StringValue": value}
    return stored


def _check_attribute_name(name: str) -> None:
    if not name or len(name) > 256:
        raise invalid_value("Message attribute name must be between 1 and 256 characters long.")
    if name.startswith("."):
        raise invalid_value("Invalid message attribute name starting with character '.' was found.")
    if name.endswith("."):
        raise invalid_value("Invalid message attribute name ending with character '.' was found.")
    for character in name:
        if not _ATTRIBUTE_NAME.match(character):
            raise invalid_value(f"Invalid non-alphanumeric character '#x{ord(character):X}' was found in the message "
                                "attribute name. Can only include alphanumeric characters, hyphens, underscores, or "
                                "dots.")
    if ".." in name:
        raise invalid_value("Message attribute name can not have successive '.' character.")
    if name.lower().startswith(("aws.", "amazon.")):
        raise invalid_value(f"The message attribute name '{name}' is reserved for use by AWS.")


def message_size(message: str, attributes: dict[str, Any] | None) -> int:
    size = len(message.encode())
    for name, attribute in (attributes or {}).items():
        size += len(name.encode())
        for value in attribute.values():
            size += len(value) if isinstance(value, bytes) else len(str(value).encode())
    return size


def content_dedup_id(message: str) -> str:
    return hashlib.sha256(message.encode()).hexdigest()


# ------------------------------------------------------------------ delivery formats
def envelope_attributes(stored: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Attributes as SNS writes them in deliveries: ``{"Type": ..., "Value": ...}``."""
    result = {}
    for name, attribute in stored.items():
        value = attribute.get("StringValue", attribute.get("BinaryValue"))
        result[name] = {"Type": attribute["DataType"], "Value": value}
    return result


def sqs_attributes(stored: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Attributes of a raw delivery to SQS, as SQS message attributes (``String.Array`` is a custom
    String type to SQS and keeps its name)."""
    result: dict[str, dict[str, Any]] = {}
    for name, attribute in stored.items():
        if "BinaryValue" in attribute:
            result[name] = {"DataType": attribute["DataType"],
                            "BinaryValue": base64.b64decode(attribute["BinaryValue"])}
        else:
            result[name] = {"DataType": attribute["DataType"], "StringValue": attribute["StringValue"]}
    return result


def unsubscribe_url(base_url: str, subscription_arn: str) -> str:
    return f"{base_url}/?Action=Unsubscribe&SubscriptionArn={quote(subscription_arn, safe=':')}"


def subscribe_url(base_url: str, topic_arn: str, token: str) -> str:
    return f"{base_url}/?Action=ConfirmSubscription&TopicArn={quote(topic_arn, safe=':')}&Token={token}"


def notification(message: dict[str, Any], subscription_arn: str, base_url: str, signer: Signer | None,
                 signature_version: str = "1") -> dict[str, Any]:
    """The JSON envelope of one published message for one subscription.

    ``message`` holds ``id``, ``topic``, ``body`` (already chosen for the protocol), ``subject``,
    ``ts``, ``attributes`` (stored form) and, on FIFO topics, ``seq``.
    """
    data: dict[str, Any] = {"Type": "Notification", "MessageId": message["id"]}
    if message.get("seq") is not None:
        data["SequenceNumber"] = message["seq"]
    data["TopicArn"] = message["topic"]
    if message.get("subject") is not None:
        data["Subject"] = message["subject"]
    data["Message"] = message["body"]
    data["Timestamp"] = timestamp(message["ts"])
    if message.get("seq") is None and signer is not None:
        data["SignatureVersion"] = signature_version
        data["Signature"] = signer.sign(data, signature_version)
        data["SigningCertURL"] = base_url + signer.cert_path()
    data["UnsubscribeURL"] = unsubscribe_url(base_url, subscription_arn)
    if message.get("attributes"):
        data["MessageAttributes"] = envelope_attributes(message["attributes"])
    return data


def confirmation(kind: str, message_id: str, topic_arn: str, subscription_arn: str, token: str, when: float,
                 base_url: str, signer: Signer, signature_version: str = "1") -> dict[str, Any]:
    """SubscriptionConfirmation / UnsubscribeConfirmation for an HTTP/S endpoint."""
    if kind == "SubscriptionConfirmation":
        text = (f"You have chosen to subscribe to the topic {topic_arn}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message.")
    else:
        text = (f"You have chosen to deactivate subscription {subscription_arn}.\n"
                "To cancel this operation and restore the subscription, visit the SubscribeURL included in this "
                "message.")
    data: dict[str, Any] = {"Type": kind, "MessageId": message_id, "Token": token, "TopicArn": topic_arn,
                            "Message": text, "SubscribeURL": subscribe_url(base_url, topic_arn, token),
                            "Timestamp": timestamp(when)}
    data["SignatureVersion"] = signature_version
    data["Signature"] = signer.sign(data, signature_version)
    data["SigningCertURL"] = base_url + signer.cert_path()
    return data


def dumps(document: dict[str, Any]) -> str:
    """SNS's own JSON layout: two-space indent and ``"Key" : value``."""
    return json.dumps(document, indent=2, separators=(",", " : "), ensure_ascii=False)


def lambda_event(message: dict[str, Any], subscription_arn: str, base_url: str, signer: Signer | None) -> dict:
    """The event a subscribed Lambda function receives (one record per message)."""
    sns: dict[str, Any] = {"Type": "Notification", "MessageId": message["id"], "TopicArn": message["topic"],
                           "Subject": message.get("subject"), "Message": message["body"],
                           "Timestamp": timestamp(message["ts"]), "SignatureVersion": "1"}
    sns["Signature"] = signer.sign(sns, "1") if signer is not None else ""
    sns["SigningCertUrl"] = base_url + signer.cert_path() if signer is not None else ""
    sns["UnsubscribeUrl"] = unsubscribe_url(base_url, subscription_arn)
    sns["MessageAttributes"] = envelope_attributes(message.get("attributes") or {})
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn,
                         "Sns": sns}]}
