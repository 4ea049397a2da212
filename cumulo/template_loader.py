"""Reading CloudFormation/SAM templates: JSON, or YAML with the short intrinsic tags.

``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` becomes ``{"Fn::GetAtt": ["A", "B"]}``,
``!Sub``, ``!Join``, ``!If`` ... become their ``Fn::`` long forms, exactly as CloudFormation reads
them. Timestamps and other YAML types that JSON lacks stay strings.

Shared by the CLI's packaging (``cumulo.packaging``) and the CloudFormation service, so it lives
outside both: the client reads templates without importing the server's engine.
"""

from __future__ import annotations

import functools
import json
from typing import Any

TAGS = ("Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "ImportValue", "Join", "Select", "Split", "Sub",
        "Transform", "And", "Equals", "If", "Not", "Or", "ToJsonString", "Length")


class TemplateError(ValueError):
    """The template cannot be read; the message says where."""


def _construct(tag: str):
    import yaml

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if tag == "Ref":
            return {"Ref": value}
        if tag == "Condition":
            return {"Condition": value}
        if tag == "GetAtt" and isinstance(value, str):
            resource, _, attribute = value.partition(".")
            return {"Fn::GetAtt": [resource, attribute]}
        return {f"Fn::{tag}": value}

    return construct


@functools.cache
def _loader() -> type:
    """The YAML loader with CloudFormation's tags, built on first use: PyYAML costs tens of
    milliseconds to import, which the server's start should not pay."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    for tag in (*TAGS, "Ref", "Condition"):
        Loader.add_constructor(f"!{tag}", _construct(tag))
    # YAML 1.1 would read dates and "yes"/"no" as non-strings; CloudFormation keeps them as text.
    Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
    return Loader


def load_template(text: str) -> dict[str, Any]:
    """Parse a template body (JSON or YAML) into a dict."""
    import yaml

    stripped = text.lstrip()
    try:
        document = json.loads(text) if stripped.startswith("{") else yaml.load(text, Loader=_loader())
    except (ValueError, yaml.YAMLError) as exc:
        raise TemplateError(f"Template format error: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError("Template format error: the template must be a JSON or YAML object")
    return document
