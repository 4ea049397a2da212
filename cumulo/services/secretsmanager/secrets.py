"""Secrets in the store, their versions and AWS's staging-label rules.

Table ``secretsmanager.secrets``: ``{account}:{region}:{name}`` -> the secret: its API members,
``Tags`` (a map), ``Policy``, ``Versions`` (``{version id: {Value, Binary, CreatedDate, Stages}}``)
and, while it is scheduled for deletion, ``DeletedDate`` and ``_purge_at`` (the schedule-clock
time after which it really goes, with ``_origin`` the real time of the DeleteSecret).
"""

from __future__ import annotations

import base64
import re
import secrets as random_source
import string
import time
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.store.base import Store

SECRETS = "secretsmanager.secrets"
CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
MAX_VERSIONS = 100
NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
SUFFIX_ALPHABET = string.ascii_letters + string.digits


def not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")


def marked_for_deletion() -> AwsError:
    return AwsError("InvalidRequestException",
                    "You can't perform this operation on the secret because it was marked for deletion.")


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


class SecretStore:
    """The secrets of one account and region."""

    def __init__(self, store: Store, account: str, region: str) -> None:
        self.store = store
        self.account = account
        self.region = region
        self.scope = f"{account}:{region}:"

    def arn(self, name: str) -> str:
        suffix = "".join(random_source.choice(SUFFIX_ALPHABET) for _ in range(6))
        return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{name}-{suffix}"

    def find(self, secret_id: str) -> dict[str, Any] | None:
        """The secret named by name, full ARN or partial ARN (without the six-character suffix)."""
        if not secret_id.startswith("arn:"):
            return self.store.get(SECRETS, self.scope + secret_id)
        parts = secret_id.split(":", 6)
        if len(parts) < 7 or parts[2] != "secretsmanager" or parts[5] != "secret":
            return None
        resource = parts[6]
        record = self.store.get(SECRETS, self.scope + resource)
        if record is not None:
            return record
        if len(resource) > 7 and resource[-7] == "-":
            record = self.store.get(SECRETS, self.scope + resource[:-7])
            if record is not None and record["ARN"] == secret_id:
                return record
        return None

    def get(self, secret_id: str, *, allow_deleted: bool = False) -> dict[str, Any]:
        record = self.find(secret_id)
        if record is None:
            raise not_found()
        if record.get("DeletedDate") is not None and not allow_deleted:
            raise marked_for_deletion()
        return record

    def save(self, record: dict[str, Any]) -> None:
        self.store.put(SECRETS, self.scope + record["Name"], record)

    def insert(self, record: dict[str, Any]) -> bool:
        return self.store.insert(SECRETS, self.scope + record["Name"], record)

    def remove(self, name: str) -> bool:
        return self.store.delete(SECRETS, self.scope + name)

    def all(self) -> list[dict[str, Any]]:
        return [record for _, record in self.store.scan(SECRETS, self.scope)]


def version_with(record: dict[str, Any], stage: str) -> str | None:
    for version_id, version in record["Versions"].items():
        if stage in version["Stages"]:
            return version_id
    return None


def stages_map(record: dict[str, Any]) -> dict[str, list[str]]:
    return {version_id: list(version["Stages"]) for version_id, version in record["Versions"].items()
            if version["Stages"]}


def move_stage(record: dict[str, Any], stage: str, to_version: str | None) -> None:
    """Attach ``stage`` to ``to_version`` (None: detach it). Moving AWSCURRENT makes the version
    that held it AWSPREVIOUS, as AWS does."""
    holder = version_with(record, stage)
    if holder is not None:
        record["Versions"][holder]["Stages"].remove(stage)
    if to_version is None:
        return
    record["Versions"][to_version]["Stages"].append(stage)
    if stage == CURRENT and holder is not None and holder != to_version:
        move_stage(record, PREVIOUS, holder)


def add_version(record: dict[str, Any], version_id: str, value: str | None, binary: bytes | None,
                stages: list[str]) -> None:
    """Store a new version (or fill the value of a value-less one, the AWSPENDING version a
    rotation starts with) and attach its stages; unlabelled versions beyond AWS's limit go."""
    binary_text = base64.b64encode(binary).decode() if binary is not None else None
    existing = record["Versions"].get(version_id)
    if existing is not None:
        if "Value" in existing or "Binary" in existing:
            if existing.get("Value") != value or existing.get("Binary") != binary_text:
                raise AwsError("ResourceExistsException",
                               "You can't modify an existing version, you can only create a new version.")
            return
    else:
        record["Versions"][version_id] = {"CreatedDate": time.time(), "Stages": []}
    version = record["Versions"][version_id]
    if value is not None:
        version["Value"] = value
    if binary is not None:
        version["Binary"] = binary_text  # base64: records are JSON
    for stage in stages:
        if stage not in version["Stages"]:
            move_stage(record, stage, version_id)
    record["LastChangedDate"] = time.time()
    unlabelled = sorted((v["CreatedDate"], vid) for vid, v in record["Versions"].items() if not v["Stages"])
    while len(record["Versions"]) > MAX_VERSIONS and unlabelled:
        record["Versions"].pop(unlabelled.pop(0)[1])


def same_value(version: dict[str, Any], value: str | None, binary: bytes | None) -> bool:
    return version.get("Value") == value and version.get("Binary") == (
        base64.b64encode(binary).decode() if binary is not None else None)


def has_value(version: dict[str, Any]) -> bool:
    return "Value" in version or "Binary" in version


def select_version(record: dict[str, Any], version_id: str | None, stage: str | None) -> tuple[str, dict[str, Any]]:
    """The version GetSecretValue answers: by id and/or stage (AWSCURRENT by default)."""
    if version_id is not None:
        version = record["Versions"].get(version_id)
        if version is None or not has_value(version):
            raise AwsError("ResourceNotFoundException",
                           f"Secrets Manager can't find the specified secret value for VersionId: {version_id}")
        if stage is not None and stage not in version["Stages"]:
            raise AwsError("InvalidRequestException",
                           "You provided a VersionStage that is not associated to the provided VersionId.")
        return version_id, version
    stage = stage or CURRENT
    found = version_with(record, stage)
    if found is None or not has_value(record["Versions"][found]):
        raise AwsError("ResourceNotFoundException",
                       f"Secrets Manager can't find the specified secret value for staging label: {stage}")
    return found, record["Versions"][found]
