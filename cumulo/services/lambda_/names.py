"""Function, alias and layer identifiers: names, partial ARNs, full ARNs and qualifiers.

Lambda accepts a function as ``my-function``, ``123456789012:function:my-function``,
``arn:aws:lambda:us-east-1:123456789012:function:my-function``, each optionally followed by
``:qualifier`` (a version number, ``$LATEST`` or an alias name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cumulo.protocol.errors import AwsError

FUNCTION_ID = re.compile(
    r"^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?:(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9-_]{1,64})"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?$")
ALIAS_NAME = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}$")
LAYER_NAME = re.compile(r"^(?:arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:)?(?P<name>[a-zA-Z0-9-_]{1,140})$")
LAYER_VERSION_ARN = re.compile(
    r"^arn:[a-zA-Z0-9-]+:lambda:(?P<region>[a-zA-Z0-9-]+):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9-_]+):(?P<version>[0-9]+)$")
LATEST = "$LATEST"


@dataclass(frozen=True)
class FunctionRef:
    name: str
    qualifier: str | None
    region: str | None
    account: str | None


def parse_function(identifier: str, qualifier: str | None = None) -> FunctionRef:
    """Read a function identifier; a qualifier in both places must agree, as AWS requires."""
    found = FUNCTION_ID.match(identifier)
    if found is None:
        raise AwsError("ValidationException",
                       f"1 validation error detected: Value '{identifier}' at 'functionName' failed to "
                       "satisfy constraint: Member must satisfy regular expression pattern: "
                       "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
                       "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
    embedded = found.group("qualifier")
    if embedded and qualifier and embedded != qualifier:
        raise AwsError("InvalidParameterValueException",
                       "The derived qualifier from the function name does not match the specified qualifier.")
    return FunctionRef(found.group("name"), embedded or qualifier, found.group("region"), found.group("account"))


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def layer_arn(region: str, account: str, name: str, version: int | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:layer:{name}"
    return f"{arn}:{version}" if version is not None else arn


def is_version(qualifier: str) -> bool:
    return qualifier == LATEST or qualifier.isdigit()
