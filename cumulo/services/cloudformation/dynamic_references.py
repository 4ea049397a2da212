"""Dynamic references: ``{{resolve:secretsmanager:...}}``, ``{{resolve:ssm:...}}`` and ``{{resolve:ssm-secure:...}}``.

They are resolved when a resource is created or updated, just before its handler runs, and
never stored in the stack's records or events (which keep the reference), as CloudFormation
does; a changed secret therefore does not update a resource until its template changes.

Forms: ``secretsmanager:secret-id[:SecretString[:json-key[:version-stage[:version-id]]]]``
(secret-id a name or an ARN; an empty part takes the default: the whole value of AWSCURRENT),
``ssm:name[:version]`` and ``ssm-secure:name[:version]``.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.api_calls import ServiceUnavailable, call_api
from cumulo.services.cloudformation.resources.base import ResourceFailure

if TYPE_CHECKING:
    from cumulo.platform import Platform

REFERENCE = re.compile(r"\{\{resolve:(secretsmanager|ssm|ssm-secure):([^}]+)\}\}")


async def resolve_dynamic(platform: Platform, account: str, region: str, value: Any) -> Any:
    """``value`` (a resource's resolved properties) with every dynamic reference replaced."""
    if isinstance(value, dict):
        return {key: await resolve_dynamic(platform, account, region, item) for key, item in value.items()}
    if isinstance(value, list):
        return [await resolve_dynamic(platform, account, region, item) for item in value]
    if not isinstance(value, str) or "{{resolve:" not in value:
        return value
    parts, position = [], 0
    for match in REFERENCE.finditer(value):
        parts.append(value[position:match.start()])
        parts.append(await _lookup(platform, account, region, match.group(1), match.group(2)))
        position = match.end()
    parts.append(value[position:])
    return "".join(parts)


async def _lookup(platform: Platform, account: str, region: str, service: str, reference: str) -> str:
    try:
        if service == "secretsmanager":
            return await _secret(platform, account, region, reference)
        name, _, version = reference.partition(":") if not reference.startswith("arn:") else (reference, "", "")
        selector = f"{name}:{version}" if version else name
        answer = await call_api(platform, "ssm", "GetParameter", {
            "Name": selector, "WithDecryption": service == "ssm-secure"}, account=account, region=region)
        parameter = answer["Parameter"]
        if service == "ssm" and parameter["Type"] == "SecureString":
            raise ResourceFailure(f"Parameter {name} is a SecureString: reference it with ssm-secure")
        return parameter["Value"]
    except ServiceUnavailable as exc:
        raise ResourceFailure(f"The {service} service is not available in this Cumulo build") from exc
    except AwsError as exc:
        raise ResourceFailure(f"Could not resolve the dynamic reference {{{{resolve:{service}:{reference}}}}}: "
                              f"{exc.code}: {exc.message}") from exc


async def _secret(platform: Platform, account: str, region: str, reference: str) -> str:
    fields = reference.split(":")
    if reference.startswith("arn:"):
        secret_id, rest = ":".join(fields[:7]), fields[7:]
    else:
        secret_id, rest = fields[0], fields[1:]
    rest += [""] * (4 - len(rest))
    kind, json_key, stage, version_id = rest[:4]
    if kind not in ("", "SecretString"):
        raise ResourceFailure(f"Dynamic reference {{{{resolve:secretsmanager:{reference}}}}}: only SecretString "
                              "can be referenced")
    request = {"SecretId": secret_id}
    if version_id:
        request["VersionId"] = version_id
    if stage:
        request["VersionStage"] = stage
    answer = await call_api(platform, "secretsmanager", "GetSecretValue", request, account=account, region=region)
    text = answer.get("SecretString")
    if text is None:
        raise ResourceFailure(f"Secret {secret_id} has no SecretString to reference")
    if not json_key:
        return text
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ResourceFailure(f"Secret {secret_id} is not a JSON object: the key {json_key} can't be read") from exc
    if not isinstance(document, dict) or json_key not in document:
        raise ResourceFailure(f"Secret {secret_id} has no key {json_key}")
    item = document[json_key]
    return item if isinstance(item, str) else json.dumps(item)


SSM_TYPE = re.compile(r"^AWS::SSM::Parameter::Value<(.+)>$")


async def resolve_parameter_types(platform: Platform, account: str, region: str, declared: dict[str, Any],
                                  values: dict[str, Any]) -> dict[str, Any]:
    """Stack parameters of type ``AWS::SSM::Parameter::Value<...>`` hold a parameter name; their
    value is that parameter's current value (a list for the ``List<...>`` and
    ``CommaDelimitedList`` forms), read when the stack is deployed."""
    resolved = dict(values)
    for name, spec in declared.items():
        match = SSM_TYPE.match(str(spec.get("Type", "")))
        if match is None or name not in values:
            continue
        try:
            answer = await call_api(platform, "ssm", "GetParameter", {"Name": values[name]}, account=account,
                                    region=region)
        except AwsError as exc:
            raise ResourceFailure(f"Parameters: [{name}]: the SSM parameter {values[name]} could not be read: "
                                  f"{exc.code}") from exc
        value = answer["Parameter"]["Value"]
        inner = match.group(1)
        resolved[name] = value.split(",") if inner.startswith("List<") or inner == "CommaDelimitedList" else value
    return resolved
