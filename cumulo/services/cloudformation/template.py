"""A template ready to deploy: SAM expanded, parameters bound and checked, conditions evaluated.

Everything that can be wrong with a template or its parameters is found here, before any
resource is created, with CloudFormation's ValidationError messages.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from cumulo.services.cloudformation.errors import ValidationFailure
from cumulo.services.cloudformation.include import ObjectReader, resolve_includes
from cumulo.services.cloudformation.intrinsics import SUB_VARIABLE, IntrinsicError, Resolver
from cumulo.services.cloudformation.ordering import dependency_graph
from cumulo.services.cloudformation.parameters import bind_parameters, pseudo_parameters
from cumulo.services.cloudformation.sam_transform import SAM_TRANSFORM, expand_sam

TOP_LEVEL = {"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions",
             "Transform", "Resources", "Outputs"}
LOGICAL_ID = re.compile(r"^[A-Za-z0-9]+$")
# Sections whose value is a map of named entries; a section left empty in YAML (null) counts as absent.
MAP_SECTIONS = ("Parameters", "Mappings", "Conditions", "Outputs", "Metadata", "Rules", "Globals")


@dataclass
class PreparedTemplate:
    body: dict[str, Any]  # the processed template (SAM expanded)
    parameters: dict[str, Any]  # bound parameter values
    no_echo: set[str]
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]]  # logical id -> definition, only those whose condition holds
    dependencies: dict[str, set[str]] = field(default_factory=dict)


def check_structure(body: dict[str, Any]) -> None:
    transforms = body.get("Transform")
    sam = SAM_TRANSFORM in (transforms if isinstance(transforms, list) else [transforms])
    unknown = sorted(set(body) - TOP_LEVEL - ({"Globals"} if sam else set()))
    if unknown:
        raise ValidationFailure("Template format error: Invalid template property or properties "
                                f"[{', '.join(unknown)}]")
    _check_sections(body)
    resources = body.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise ValidationFailure("Template format error: At least one Resources member must be defined.")
    for logical_id, definition in resources.items():
        if not LOGICAL_ID.match(logical_id):
            raise ValidationFailure(f"Template format error: Resource name {logical_id} is non alphanumeric.")
        if not isinstance(definition, dict) or "Type" not in definition:
            raise ValidationFailure(f"Template format error: [/Resources/{logical_id}] Every Resources object must "
                                    "contain a Type member.")


def _check_sections(body: dict[str, Any]) -> None:
    """Empty sections are accepted; a section or entry of the wrong shape is a ValidationError (no traceback)."""
    for section in MAP_SECTIONS:
        if body.get(section) is not None and not isinstance(body[section], dict):
            raise ValidationFailure(f"Template format error: {section} must be an object")
    for section, message in (("Parameters", "Every Parameters object must contain a Type member."),
                             ("Outputs", "Every Outputs member must contain a Value object"),
                             ("Mappings", "Every Mappings member must be a map")):
        for name, spec in (body.get(section) or {}).items():
            if not isinstance(spec, dict):
                raise ValidationFailure(f"Template format error: {message} ({section}/{name})")


def prepare(body: dict[str, Any], given: dict[str, str], account: str, region: str, stack_name: str,
            stack_id: str, supported: Container[str], read_object: ObjectReader) -> PreparedTemplate:
    """Expand, bind and check a template; raises ValidationFailure before anything is deployed.

    ``AWS::Include`` snippets are read (through ``read_object``) before anything else, as
    CloudFormation does, so they may hold SAM resources or an API's OpenAPI definition.
    """
    body = resolve_includes(body, read_object)
    check_structure(body)
    declared = body.get("Parameters") or {}
    parameters, no_echo = bind_parameters(declared, given)
    processed = expand_sam(body, parameters, region, account)
    check_structure(processed)
    pseudo = pseudo_parameters(account, region, stack_name, stack_id)
    conditions = evaluate_conditions(processed.get("Conditions") or {}, parameters, pseudo,
                                     processed.get("Mappings") or {})
    resources = {}
    for logical_id, definition in processed["Resources"].items():
        condition = definition.get("Condition")
        if condition is not None and condition not in conditions:
            raise ValidationFailure(f"Template format error: Unresolved condition dependency {condition} in "
                                    f"Resources/{logical_id}")
        if condition is None or conditions[condition]:
            resources[logical_id] = definition
    check_references(processed, set(parameters) | set(pseudo) | {"AWS::NoValue"})
    unsupported = sorted({d["Type"] for d in resources.values() if d["Type"] not in supported})
    if unsupported:
        raise ValidationFailure("Template contains resource types Cumulo cannot deploy yet: "
                                f"{', '.join(unsupported)}. Nothing was created.")
    prepared = PreparedTemplate(processed, parameters, no_echo, conditions, resources)
    prepared.dependencies = dependency_graph(resources)
    return prepared


def check_properties(resources: dict[str, dict[str, Any]], accepted: Mapping[str, AbstractSet[str]]) -> None:
    """Every property of every resource must be one its handler implements (or knowingly ignores),
    so that nothing in a template is silently dropped; all offenders are listed at once. Types
    absent from ``accepted`` take any property (custom resources)."""
    problems = [f"Resource {logical_id}: property {name} is not supported by Cumulo yet"
                for logical_id, definition in resources.items() if definition["Type"] in accepted
                for name in sorted(definition.get("Properties") or {})
                if name not in accepted[definition["Type"]]]
    if problems:
        raise ValidationFailure(f"{'; '.join(problems)}. Nothing was created.")


def check_references(body: dict[str, Any], names: set[str]) -> None:
    """Every Ref, GetAtt and Sub variable must name a parameter, pseudo parameter or resource."""
    declared = set(body.get("Resources") or {})
    known = names | declared
    missing: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if len(node) == 1:
                key, argument = next(iter(node.items()))
                if key == "Ref" and isinstance(argument, str) and argument not in known:
                    missing.add(argument)
                elif key == "Fn::GetAtt":
                    target = argument[0] if isinstance(argument, list) else str(argument).split(".", 1)[0]
                    if isinstance(target, str) and target not in declared:
                        missing.add(target)
                elif key == "Fn::Sub":
                    text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
                    for name in SUB_VARIABLE.findall(text):
                        base = name.split(".", 1)[0] if "." in name and name.split(".", 1)[0] in declared else name
                        if not name.startswith("!") and name not in variables and base not in known:
                            missing.add(name)
                    walk(variables)
                    return
            for value in node.values():
                walk(value)

    for definition in (body.get("Resources") or {}).values():
        walk(definition.get("Properties") or {})
    walk(body.get("Outputs") or {})
    if missing:
        raise ValidationFailure("Template format error: Unresolved resource dependencies "
                                f"[{', '.join(sorted(missing))}] in the Resources block of the template")


def evaluate_conditions(declared: dict[str, Any], parameters: dict[str, Any], pseudo: dict[str, Any],
                        mappings: dict[str, Any]) -> dict[str, bool]:
    results: dict[str, bool] = {}
    pending = dict(declared)

    class Lazy(dict):
        def __contains__(self, name: object) -> bool:
            return name in declared

        def __getitem__(self, name: str) -> bool:
            if name not in results:
                if name in evaluating:
                    raise ValidationFailure(f"Template error: Circular dependency between conditions: {name}")
                evaluating.add(name)
                value = resolver.resolve(pending[name])
                if not isinstance(value, bool):
                    raise ValidationFailure(f"Template error: condition {name} does not evaluate to a boolean")
                results[name] = value
            return results[name]

    evaluating: set[str] = set()
    resolver = Resolver(parameters, pseudo, mappings, Lazy(), {}, lambda *_: None, lambda _: None)
    try:
        return {name: resolver.conditions[name] for name in declared}
    except IntrinsicError as exc:
        raise ValidationFailure(str(exc)) from exc
