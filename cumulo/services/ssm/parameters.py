"""Parameters in the store, names and selectors, and the checks PutParameter makes.

Table ``ssm.parameters``: ``{account}:{region}:{name}`` -> ``{Name, Tags, Versions}`` where
``Versions`` lists every kept version (oldest first, at most 100) with its own Value, Type,
KeyId, Description, AllowedPattern, Tier, Policies, DataType, Labels and LastModifiedDate; the
last one is the parameter's current state.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.store.base import Store

PARAMETERS = "ssm.parameters"
MAX_VERSIONS = 100
MAX_LABELS = 10
MAX_DEPTH = 15
TYPES = ("String", "StringList", "SecureString")
TIER_LIMITS = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}
DEFAULT_KEY = "alias/aws/ssm"
NAME_PART = re.compile(r"^[A-Za-z0-9_.\-]+$")
RESERVED = re.compile(r"^/?(aws|ssm)", re.IGNORECASE)
NAME_ERROR = ('Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, '
              "it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of "
              "letters, numbers and the following 3 symbols .-_")


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def not_found(name: str = "") -> AwsError:
    return AwsError("ParameterNotFound", f"Parameter {name} not found." if name else "")


def check_name(name: str) -> None:
    if len(name) > 2048 or RESERVED.match(name):
        raise validation(NAME_ERROR)
    parts = name[1:].split("/") if name.startswith("/") else [name]
    if "/" in name and not name.startswith("/"):
        raise validation("Parameter name must be a fully qualified name.")
    if len(parts) > MAX_DEPTH:
        raise AwsError("HierarchyLevelLimitExceededException",
                       "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and "
                       "Constraints for Parameter Names in the AWS Systems Manager User Guide.")
    if not all(NAME_PART.match(part) for part in parts):
        raise validation(NAME_ERROR)


def check_policies(text: str | None, tier: str) -> list[dict[str, str]]:
    """Policies are recorded (not enforced): ``[{PolicyText, PolicyType, PolicyStatus}]``."""
    if not text:
        return []
    try:
        policies = json.loads(text)
    except ValueError as exc:
        raise AwsError("InvalidPolicyAttributeException", "The policy is not valid JSON.") from exc
    if not isinstance(policies, list) or not all(isinstance(p, dict) and "Type" in p for p in policies):
        raise AwsError("InvalidPolicyTypeException", "The policy must be a list of policies, each with a Type.")
    for policy in policies:
        if policy["Type"] not in ("Expiration", "ExpirationNotification", "NoChangeNotification"):
            raise AwsError("InvalidPolicyTypeException", f"The policy type {policy['Type']} is not supported.")
    if tier == "Standard":
        raise validation("Parameter policies are supported only for parameters in the Advanced tier.")
    return [{"PolicyText": json.dumps(p), "PolicyType": p["Type"], "PolicyStatus": "Pending"} for p in policies]


def check_value(value: str, tier: str, pattern: str | None, data_type: str) -> None:
    if len(value.encode()) > TIER_LIMITS[tier]:
        if tier == "Standard":
            raise validation("Standard tier parameters support a maximum parameter value of 4096 characters. To "
                             "create a larger parameter value, upgrade the parameter to use the advanced-parameters "
                             "tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/"
                             "userguide/parameter-store-advanced-parameters.html")
        raise validation("Parameter value is too long for the Advanced tier (8 KB at most).")
    if pattern is not None:
        try:
            matched = re.fullmatch(pattern, value) is not None
        except re.error as exc:
            raise AwsError("InvalidAllowedPatternException", f"The allowed pattern is not valid: {exc}") from exc
        if not matched:
            raise AwsError("ParameterPatternMismatchException",
                           f"Parameter value, cannot be validated against allowedPattern: {pattern}")
    if data_type not in ("text", "aws:ec2:image", "aws:ssm:integration"):
        raise validation(f"The following data type is not supported: {data_type} (Data type names are all "
                         "lowercase.)")


def ciphertext(name: str, version: dict[str, Any]) -> str:
    """What a SecureString reads as without decryption: an opaque token (never the value)."""
    digest = hashlib.sha256(f"{name}|{version['Version']}|{version['Value']}".encode()).digest()
    return base64.b64encode(b"\x01\x02\x02\x00" + digest * 3).decode()


def split_selector(name: str) -> tuple[str, str | None]:
    """``name:version`` or ``name:label`` -> (name, selector)."""
    if ":" in name and not name.startswith("arn:"):
        base, _, selector = name.rpartition(":")
        return base, selector
    return name, None


def name_of(reference: str) -> str:
    """A parameter name from a name or ARN (``arn:aws:ssm:r:a:parameter/x`` names ``/x`` or ``x``)."""
    if reference.startswith("arn:"):
        resource = reference.split(":", 5)[-1]
        name = resource.split("/", 1)[1] if "/" in resource else resource
        return name if "/" not in name else "/" + name
    return reference


class ParameterStore:
    """The parameters of one account and region."""

    def __init__(self, store: Store, account: str, region: str) -> None:
        self.store = store
        self.account = account
        self.region = region
        self.scope = f"{account}:{region}:"

    def arn(self, name: str) -> str:
        return f"arn:aws:ssm:{self.region}:{self.account}:parameter/{name.lstrip('/')}"

    def find(self, name: str) -> dict[str, Any] | None:
        return self.store.get(PARAMETERS, self.scope + name_of(name))

    def get(self, name: str) -> dict[str, Any]:
        record = self.find(name)
        if record is None:
            raise not_found()
        return record

    def save(self, record: dict[str, Any]) -> None:
        self.store.put(PARAMETERS, self.scope + record["Name"], record)

    def remove(self, name: str) -> bool:
        return self.store.delete(PARAMETERS, self.scope + name_of(name))

    def scan(self, prefix: str = "", start_after: str | None = None) -> list[dict[str, Any]]:
        rows = self.store.scan(PARAMETERS, self.scope + prefix,
                               start_after=self.scope + start_after if start_after else None)
        return [record for _, record in rows]


def select(record: dict[str, Any], selector: str | None) -> dict[str, Any]:
    """The version a ``name:version`` or ``name:label`` selector picks (the latest without one)."""
    if selector is None:
        return record["Versions"][-1]
    if selector.isdigit():
        for version in record["Versions"]:
            if version["Version"] == int(selector):
                return version
        raise AwsError("ParameterVersionNotFound", f"Systems Manager could not find version {selector} of "
                       f"{record['Name']}. Verify the version and try again.")
    for version in record["Versions"]:
        if selector in version["Labels"]:
            return version
    raise not_found(f"{record['Name']}:{selector}")
