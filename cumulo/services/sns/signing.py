"""SNS message signatures: a key pair and certificate of this server, and AWS's signing format.

SNS signs what it sends to HTTP/S endpoints (and puts the same fields in SQS and Lambda
deliveries): ``Signature`` is the Base64 of an RSA PKCS#1 v1.5 signature, SHA1 for
SignatureVersion 1 and SHA256 for 2, over the *string to sign* — the message's fields, in
the documented order, each written as ``name\\nvalue\\n``. The certificate is served at the
``SigningCertURL`` (``/SimpleNotificationService-<id>.pem``) so that a receiver following
AWS's verification algorithm succeeds (apart from trusting our host instead of AWS's).

The key is generated once per data directory and kept in the store, so signatures stay
verifiable across restarts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cumulo.store.base import Store

if TYPE_CHECKING:  # cryptography is imported when first needed: it costs 150 ms of start-up
    from cryptography.hazmat.primitives.asymmetric import rsa

KEYS = "sns.signing"
CERT_PREFIX = "/SimpleNotificationService-"
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
RECENT_SIGNATURES = 256
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def string_to_sign(message: dict[str, Any]) -> str:
    """AWS's canonical form: the fields of the message type, in order, ``name\\nvalue\\n`` each."""
    fields = NOTIFICATION_FIELDS if message.get("Type") == "Notification" else CONFIRMATION_FIELDS
    parts = []
    for name in fields:
        value = message.get(name)
        if value is None:
            continue  # Subject is optional
        parts.append(f"{name}\n{value}\n")
    return "".join(parts)


@dataclass
class Signer:
    key: rsa.RSAPrivateKey
    certificate_pem: bytes
    _recent: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    @property
    def cert_id(self) -> str:
        return hashlib.md5(self.certificate_pem, usedforsecurity=False).hexdigest()

    def cert_path(self) -> str:
        return f"{CERT_PREFIX}{self.cert_id}.pem"

    def sign(self, message: dict[str, Any], version: str = "1") -> str:
        """The Base64 signature of ``message``; a message fanned out to many subscriptions is
        signed once (the signed fields do not name the subscription)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        text = string_to_sign(message)
        cached = self._recent.get((text, version))
        if cached is not None:
            return cached
        algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
        signature = base64.b64encode(self.key.sign(text.encode(), padding.PKCS1v15(), algorithm)).decode()
        if len(self._recent) >= RECENT_SIGNATURES:
            self._recent.pop(next(iter(self._recent)))
        self._recent[(text, version)] = signature
        return signature

    @classmethod
    def load_or_create(cls, store: Store) -> Signer:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        record = store.get(KEYS, "default")
        if record is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            record = {"key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()).decode(),
                      "cert": _self_signed(key).decode()}
            if not store.insert(KEYS, "default", record):
                record = store.get(KEYS, "default") or record
        key = serialization.load_pem_private_key(record["key"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return cls(key, record["cert"].encode())


def _self_signed(key: rsa.RSAPrivateKey) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cumulo (local SNS)")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM)
