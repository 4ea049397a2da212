"""Which template values may be local paths that ``sam package`` uploads, and how each is written back.

One table of (resource type, property, form) drives packaging (``cumulo deploy``) and the build
(``cumulo build``, which rewrites the paths relative to its build directory); ``AWS::Include``
``Location`` parameters anywhere in the template are local paths too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

REMOTE_PREFIXES = ("s3://", "http://", "https://")


class Form(Enum):
    """How an uploaded artifact's location is written into the property."""

    S3_URI = "s3://bucket/key"
    BUCKET_KEY = "{Bucket, Key}"
    S3BUCKET_S3KEY = "{S3Bucket, S3Key}"


@dataclass(frozen=True)
class PackagedProperty:
    resource_type: str
    name: str
    form: Form
    zipped: bool  # code: a directory (or any file but a .zip/.jar) is zipped; definitions upload as is
    nested: bool = False  # a nested stack's template: packaged itself (its own local paths) before upload


PACKAGED_PROPERTIES = (
    PackagedProperty("AWS::Serverless::Function", "CodeUri", Form.S3_URI, zipped=True),
    PackagedProperty("AWS::Serverless::LayerVersion", "ContentUri", Form.S3_URI, zipped=True),
    PackagedProperty("AWS::Lambda::Function", "Code", Form.S3BUCKET_S3KEY, zipped=True),
    PackagedProperty("AWS::Lambda::LayerVersion", "Content", Form.S3BUCKET_S3KEY, zipped=True),
    PackagedProperty("AWS::Serverless::Api", "DefinitionUri", Form.S3_URI, zipped=False),
    PackagedProperty("AWS::Serverless::HttpApi", "DefinitionUri", Form.S3_URI, zipped=False),
    PackagedProperty("AWS::ApiGateway::RestApi", "BodyS3Location", Form.BUCKET_KEY, zipped=False),
    PackagedProperty("AWS::ApiGatewayV2::Api", "BodyS3Location", Form.BUCKET_KEY, zipped=False),
    PackagedProperty("AWS::Serverless::StateMachine", "DefinitionUri", Form.S3_URI, zipped=False),
    PackagedProperty("AWS::StepFunctions::StateMachine", "DefinitionS3Location", Form.BUCKET_KEY, zipped=False),
    PackagedProperty("AWS::CloudFormation::Stack", "TemplateURL", Form.S3_URI, zipped=False, nested=True),
    PackagedProperty("AWS::Serverless::Application", "Location", Form.S3_URI, zipped=False, nested=True),
    PackagedProperty("AWS::AppSync::GraphQLSchema", "DefinitionS3Location", Form.S3_URI, zipped=False),
    *(PackagedProperty(kind, name, Form.S3_URI, zipped=False)
      for kind in ("AWS::AppSync::Resolver", "AWS::AppSync::FunctionConfiguration")
      for name in ("RequestMappingTemplateS3Location", "ResponseMappingTemplateS3Location", "CodeS3Location")),
)
BY_TYPE: dict[str, tuple[PackagedProperty, ...]] = {
    kind: tuple(rule for rule in PACKAGED_PROPERTIES if rule.resource_type == kind)
    for kind in {rule.resource_type for rule in PACKAGED_PROPERTIES}}

# An AWS::Include Location: a snippet uploaded as is, written back as an s3:// URI.
INCLUDE_LOCATION = PackagedProperty("Fn::Transform", "Location", Form.S3_URI, zipped=False)


@dataclass(frozen=True)
class LocalReference:
    """A template value that names a local path: ``holder[rule.name]``."""

    logical_id: str  # the resource's logical id, or the section holding an AWS::Include
    holder: dict[str, Any]
    rule: PackagedProperty

    @property
    def path(self) -> str:
        return self.holder[self.rule.name]


def is_local(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith(REMOTE_PREFIXES)


def local_references(body: dict[str, Any]) -> Iterator[LocalReference]:
    """Every property of the table, and every AWS::Include Location, whose value is a local path."""
    for logical_id, resource in (body.get("Resources") or {}).items():
        if not isinstance(resource, dict):
            continue
        props = resource.get("Properties")
        for rule in BY_TYPE.get(resource.get("Type"), ()):
            if isinstance(props, dict) and is_local(props.get(rule.name)):
                yield LocalReference(logical_id, props, rule)
    transforms = body.get("Transform")
    for transform in transforms if isinstance(transforms, list) else [transforms]:
        yield from _include_location("Transform", transform)
    for section, value in body.items():
        if section != "Transform":
            yield from _include_locations(section, value)


def _include_location(section: str, transform: Any) -> Iterator[LocalReference]:
    parameters = transform.get("Parameters") if isinstance(transform, dict) else None
    if isinstance(parameters, dict) and transform.get("Name") == "AWS::Include" \
            and is_local(parameters.get("Location")):
        yield LocalReference(section, parameters, INCLUDE_LOCATION)


def _include_locations(section: str, node: Any) -> Iterator[LocalReference]:
    if isinstance(node, list):
        for item in node:
            yield from _include_locations(section, item)
    elif isinstance(node, dict):
        yield from _include_location(section, node.get("Fn::Transform"))
        for value in node.values():
            yield from _include_locations(section, value)
