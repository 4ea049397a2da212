"""The ``AWS::Include`` transform: ``Fn::Transform`` snippets read from S3 and put in their place.

CloudFormation runs it before any other transform (so a SAM template may include its OpenAPI
definition), anywhere in the template but the Parameters section and the version field. The
snippet's mapping is merged into the mapping that holds the ``Fn::Transform`` key; a mapping holding
nothing else is replaced by the snippet. At the top level (``Transform: {Name: AWS::Include, ...}``)
the snippet's sections are merged into the template's. ``Location`` is an ``s3://bucket/key`` URI
or an HTTPS S3 URL; the object is read from Cumulo's own S3. Snippets are JSON or plain YAML: as
on AWS, the short tags (``!Ref``, ``!Sub``...) are not allowed in them, only the long forms.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlparse

from cumulo.protocol.errors import AwsError
from cumulo.services.cloudformation.errors import ValidationFailure

INCLUDE = "AWS::Include"
NOT_INCLUDED = {"Parameters", "AWSTemplateFormatVersion"}  # sections AWS::Include may not appear in

ObjectReader = Callable[[str, str], bytes]  # (bucket, key) -> the object's bytes; raises AwsError


def _failure(reason: str) -> ValidationFailure:
    return ValidationFailure(f"Transform {INCLUDE} failed with: {reason}")


def s3_location(location: Any) -> tuple[str, str]:
    """(bucket, key) of an include Location: ``s3://bucket/key`` or a virtual-host or path-style HTTPS URL."""
    parsed = urlparse(location) if isinstance(location, str) else None
    if parsed is None or parsed.scheme not in ("s3", "https", "http"):
        raise _failure("The location parameter is not a valid S3 uri.")
    host, path = parsed.netloc.split(":")[0], unquote(parsed.path.lstrip("/"))
    if parsed.scheme == "s3":
        bucket, key = host, path
    elif ".s3." in host or ".s3-" in host:
        bucket, key = host.split(".s3", 1)[0], path
    else:
        bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise _failure("The location parameter is not a valid S3 uri.")
    return bucket, key


def _snippet(arguments: Any, read_object: ObjectReader) -> Any:
    parameters = arguments.get("Parameters") if isinstance(arguments, dict) else None
    if not isinstance(parameters, dict) or "Location" not in parameters:
        raise _failure("The location parameter is not a valid S3 uri.")
    bucket, key = s3_location(parameters["Location"])
    try:
        content = read_object(bucket, key)
    except AwsError as error:
        if error.code == "NoSuchBucket":
            raise _failure(f"S3 bucket [{bucket}] does not exist.") from error
        raise _failure(f"S3 object [s3://{bucket}/{key}] does not exist.") from error
    import yaml

    try:
        return yaml.load(content.decode("utf-8", errors="replace"), Loader=_snippet_loader())
    except yaml.YAMLError as exc:  # AWS reads snippets as plain YAML/JSON: short tags such as !Ref are refused
        raise _failure("The specified S3 object's content should be valid Yaml/JSON.") from exc


@functools.cache
def _snippet_loader() -> type:
    """Plain YAML (a superset of JSON) whose dates stay text, as in templates."""
    import yaml

    class SnippetLoader(yaml.SafeLoader):
        pass

    SnippetLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
    return SnippetLoader


def _transform_name(arguments: Any) -> Any:
    return arguments.get("Name") if isinstance(arguments, dict) else None


def resolve_includes(body: dict[str, Any], read_object: ObjectReader) -> dict[str, Any]:
    """``body`` with every ``Fn::Transform: {Name: AWS::Include}`` replaced by the snippet it names."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        resolved = {key: walk(value) for key, value in node.items() if key != "Fn::Transform"}
        if "Fn::Transform" not in node:
            return resolved
        arguments = node["Fn::Transform"]
        name = _transform_name(arguments)
        if name != INCLUDE:
            raise ValidationFailure(f"Transform {name} is not supported by Cumulo (only {INCLUDE} in Fn::Transform)")
        snippet = _snippet(arguments, read_object)
        if not resolved:
            return snippet
        if not isinstance(snippet, dict):
            raise _failure("The specified S3 object's content should be valid Yaml/JSON.")
        return {**resolved, **snippet}

    resolved = {section: value if section in NOT_INCLUDED else walk(value) for section, value in body.items()}
    return _top_level_includes(resolved, read_object)


def _top_level_includes(body: dict[str, Any], read_object: ObjectReader) -> dict[str, Any]:
    """``Transform: {Name: AWS::Include, ...}`` (alone or in the list): the snippet's sections join the template."""
    transforms = body.get("Transform")
    listed = transforms if isinstance(transforms, list) else [transforms]
    includes = [t for t in listed if _transform_name(t) == INCLUDE]
    if not includes:
        return body
    remaining = [t for t in listed if t is not None and _transform_name(t) != INCLUDE]
    merged = {key: value for key, value in body.items() if key != "Transform"}
    if remaining:
        merged["Transform"] = remaining if isinstance(transforms, list) else remaining[0]
    for include in includes:
        snippet = _snippet(include, read_object)
        if not isinstance(snippet, dict):
            raise _failure("The specified S3 object's content should be valid Yaml/JSON.")
        for section, value in snippet.items():
            current = merged.get(section)
            merged[section] = {**current, **value} if isinstance(current, dict) and isinstance(value, dict) else value
    return merged
