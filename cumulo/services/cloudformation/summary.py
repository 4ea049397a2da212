"""ValidateTemplate and GetTemplateSummary: what a template declares, read after its ``AWS::Include``
snippets are put in place (as CloudFormation does), without deploying or expanding anything else."""

from __future__ import annotations

import json
from typing import Any

from cumulo.services.cloudformation.errors import ValidationFailure
from cumulo.services.cloudformation.include import INCLUDE, ObjectReader, resolve_includes
from cumulo.services.cloudformation.template import check_structure
from cumulo.template_loader import TemplateError, load_template

IAM_TYPES = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group",
             "AWS::IAM::InstanceProfile", "AWS::IAM::AccessKey"}


def _declared_transforms(body: dict[str, Any]) -> list[str]:
    """Transforms in the order declared: the top-level ones, then AWS::Include if any Fn::Transform uses it."""
    transforms = body.get("Transform")
    names = [t.get("Name") if isinstance(t, dict) else t
             for t in (transforms if isinstance(transforms, list) else [transforms] if transforms else [])]
    found = False

    def walk(node: Any) -> None:
        nonlocal found
        if isinstance(node, dict):
            transform = node.get("Fn::Transform")
            found = found or (isinstance(transform, dict) and transform.get("Name") == INCLUDE)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in body.items() if k != "Transform"})
    if found and INCLUDE not in names:
        names.append(INCLUDE)
    return [n for n in names if isinstance(n, str)]


def read(text: str, read_object: ObjectReader) -> tuple[dict[str, Any], list[str]]:
    """The template with its includes resolved and checked, and its declared transforms."""
    try:
        original = load_template(text)
        body = resolve_includes(original, read_object)
        check_structure(body)
    except TemplateError as exc:
        raise ValidationFailure(str(exc)) from exc
    return body, _declared_transforms(original)


def _capabilities(body: dict[str, Any], transforms: list[str], result: dict[str, Any]) -> None:
    if any(t != INCLUDE for t in transforms):
        result["Capabilities"] = ["CAPABILITY_AUTO_EXPAND"]
        result["CapabilitiesReason"] = "The following resource(s) require capabilities: [AWS::Serverless]"
        return
    iam = sorted({d.get("Type") for d in body["Resources"].values() if d.get("Type") in IAM_TYPES})
    if iam:
        result["Capabilities"] = ["CAPABILITY_IAM"]
        result["CapabilitiesReason"] = f"The following resource(s) require capabilities: [{', '.join(iam)}]"


def _parameter(name: str, spec: dict[str, Any], summary: bool) -> dict[str, Any]:
    parameter: dict[str, Any] = {"ParameterKey": name, "NoEcho": str(spec.get("NoEcho", "false")).lower() == "true"}
    if "Default" in spec:
        parameter["DefaultValue"] = str(spec["Default"])
    if spec.get("Description"):
        parameter["Description"] = spec["Description"]
    if summary:
        parameter["ParameterType"] = spec.get("Type")
        parameter["ParameterConstraints"] = {"AllowedValues": [str(v) for v in spec["AllowedValues"]]} \
            if spec.get("AllowedValues") else {}
    return parameter


def validate(body: dict[str, Any], transforms: list[str]) -> dict[str, Any]:
    parameters = [_parameter(name, spec, False) for name, spec in (body.get("Parameters") or {}).items()]
    result: dict[str, Any] = {"Parameters": parameters}
    if body.get("Description"):
        result["Description"] = body["Description"]
    if transforms:
        result["DeclaredTransforms"] = transforms
    _capabilities(body, transforms, result)
    return result


def summary(body: dict[str, Any], transforms: list[str]) -> dict[str, Any]:
    resources = body["Resources"]
    by_type: dict[str, list[str]] = {}
    for logical_id, definition in resources.items():
        by_type.setdefault(definition["Type"], []).append(logical_id)
    result: dict[str, Any] = {
        "Parameters": [_parameter(n, s, True) for n, s in (body.get("Parameters") or {}).items()],
        "ResourceTypes": list(by_type), "Version": body.get("AWSTemplateFormatVersion", "2010-09-09"),
        "DeclaredTransforms": transforms,
        "ResourceIdentifierSummaries": [{"ResourceType": kind, "LogicalResourceIds": ids}
                                        for kind, ids in by_type.items()]}
    if body.get("Description"):
        result["Description"] = body["Description"]
    if body.get("Metadata"):
        result["Metadata"] = json.dumps(body["Metadata"])
    _capabilities(body, transforms, result)
    return result
