"""A template ready to deploy: SAM expanded, parameters bound and checked, conditions evaluated.

Everything that can be wrong with a template or its parameters is found here, before any
resource is created, with CloudFormation's ValidationError messages.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from cumulo.services.cloudformation.intrinsics import SUB_VARIABLE, IntrinsicError, Resolver, references
from cumulo.template_loader import TemplateError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
TOP_LEVEL = {"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions",
             "Transform", "Resources", "Outputs"}
PARAMETER_TYPES = {"String", "Number", "List<Number>", "CommaDelimitedList", "AWS::SSM::Parameter::Value<String>"}
LOGICAL_ID = re.compile(r"^[A-Za-z0-9]+$")
# Managed policy names SAM templates use, to their ARNs (the translator needs the map; AWS reads IAM).
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/{path}{name}" for path, names in {
        "service-role/": ("AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole", "AWSLambdaRole",
                          "AWSLambdaSQSQueueExecutionRole", "AWSLambdaKinesisExecutionRole",
                          "AWSLambdaDynamoDBExecutionRole", "AWSXrayWriteOnlyAccess"),
        "": ("AWSLambdaExecute", "AWSXRayDaemonWriteAccess", "AmazonSQSFullAccess", "AmazonSNSFullAccess",
             "AmazonS3ReadOnlyAccess", "AmazonS3FullAccess", "AmazonDynamoDBFullAccess", "CloudWatchLogsFullAccess",
             "AWSStepFunctionsFullAccess", "AmazonEventBridgeFullAccess", "AWSLambda_FullAccess",
             "AWSXrayFullAccess", "CloudWatchFullAccess", "AmazonAPIGatewayInvokeFullAccess"),
    }.items() for name in names
}


class ValidationFailure(ValueError):
    """CloudFormation's ValidationError: the template or its parameters are invalid."""


@dataclass
class PreparedTemplate:
    body: dict[str, Any]  # the processed template (SAM expanded)
    parameters: dict[str, Any]  # bound parameter values
    no_echo: set[str]
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]]  # logical id -> definition, only those whose condition holds
    dependencies: dict[str, set[str]] = field(default_factory=dict)


def pseudo_parameters(account: str, region: str, stack_name: str, stack_id: str) -> dict[str, Any]:
    return {"AWS::AccountId": account, "AWS::Region": region, "AWS::StackName": stack_name,
            "AWS::StackId": stack_id, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": []}


def expand_sam(body: dict[str, Any], parameters: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """Run the official aws-sam-translator over a template that declares the SAM transform."""
    transforms = body.get("Transform")
    names = transforms if isinstance(transforms, list) else [transforms] if transforms else []
    unknown = [t for t in names if t not in (SAM_TRANSFORM, "AWS::LanguageExtensions")]
    if unknown:
        raise ValidationFailure(f"Transform {unknown[0]} is not supported by Cumulo (only {SAM_TRANSFORM})")
    if SAM_TRANSFORM not in names:
        return body
    # Imported here: the translator (and boto3) take about a second to import, which the
    # server's start-up should not pay (``warm_up`` loads them in the background).
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator(MANAGED_POLICIES, Parser(), boto_session=boto3.Session(region_name=region))
    values = {**parameters, "AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": "aws"}
    try:
        translated = translator.translate(copy.deepcopy(body), values)
    except Exception as exc:  # the translator raises its own exception types, all with readable messages
        message = getattr(exc, "message", None) or str(exc)
        causes = getattr(exc, "causes", None)
        if causes:
            message += " " + " ".join(getattr(c, "message", str(c)) for c in causes)
        raise ValidationFailure(f"Transform {SAM_TRANSFORM} failed with: {message}") from exc
    translated.pop("Transform", None)
    return translated


def warm_up() -> None:
    """Import the SAM translator ahead of the first deployment (run in a background thread)."""
    import samtranslator.translator.translator  # noqa: F401


def bind_parameters(declared: dict[str, Any], given: dict[str, str]) -> tuple[dict[str, Any], set[str]]:
    """Parameter values from overrides and defaults, checked against each declaration."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValidationFailure(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    values: dict[str, Any] = {}
    no_echo = set()
    missing = []
    for name, spec in declared.items():
        kind = spec.get("Type", "String")
        if kind not in PARAMETER_TYPES and not kind.startswith("AWS::") and not kind.startswith("List<AWS::"):
            raise ValidationFailure(f"Template format error: Unrecognized parameter type: {kind}")
        if name in given:
            raw = given[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            missing.append(name)
            continue
        text = ",".join(map(str, raw)) if isinstance(raw, list) else str(raw)
        _check_parameter(name, spec, text)
        values[name] = text.split(",") if kind in ("CommaDelimitedList", "List<Number>") or kind.startswith(
            "List<") else text
        if str(spec.get("NoEcho", "false")).lower() == "true":
            no_echo.add(name)
    if missing:
        raise ValidationFailure(f"Parameters: [{', '.join(missing)}] must have values")
    return values, no_echo


def _check_parameter(name: str, spec: dict[str, Any], text: str) -> None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and text not in [str(v) for v in allowed]:
        raise ValidationFailure(f"Parameter '{name}' must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, text):
        raise ValidationFailure(spec.get("ConstraintDescription") or
                                f"Parameter '{name}' must match pattern {pattern}")
    if "MinLength" in spec and len(text) < int(spec["MinLength"]):
        raise ValidationFailure(f"Parameter '{name}' must contain at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(text) > int(spec["MaxLength"]):
        raise ValidationFailure(f"Parameter '{name}' must contain at most {spec['MaxLength']} characters")
    if spec.get("Type") == "Number":
        try:
            number = float(text)
        except ValueError as exc:
            raise ValidationFailure(f"Parameter '{name}' must be a number") from exc
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise ValidationFailure(f"Parameter '{name}' must be a number not less than {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise ValidationFailure(f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}")


def check_structure(body: dict[str, Any]) -> None:
    transforms = body.get("Transform")
    sam = SAM_TRANSFORM in (transforms if isinstance(transforms, list) else [transforms])
    unknown = sorted(set(body) - TOP_LEVEL - ({"Globals"} if sam else set()))
    if unknown:
        raise ValidationFailure("Template format error: Invalid template property or properties "
                                f"[{', '.join(unknown)}]")
    resources = body.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise ValidationFailure("Template format error: At least one Resources member must be defined.")
    for logical_id, definition in resources.items():
        if not LOGICAL_ID.match(logical_id):
            raise ValidationFailure(f"Template format error: Resource name {logical_id} is non alphanumeric.")
        if not isinstance(definition, dict) or "Type" not in definition:
            raise ValidationFailure(f"Template format error: [/Resources/{logical_id}] Every Resources object must "
                                    "contain a Type member.")


def prepare(body: dict[str, Any], given: dict[str, str], account: str, region: str, stack_name: str,
            stack_id: str, supported: set[str]) -> PreparedTemplate:
    """Expand, bind and check a template; raises ValidationFailure before anything is deployed."""
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
    unsupported = sorted({d["Type"] for d in resources.values()} - supported)
    if unsupported:
        raise ValidationFailure("Template contains resource types Cumulo cannot deploy yet: "
                                f"{', '.join(unsupported)}. Nothing was created.")
    prepared = PreparedTemplate(processed, parameters, no_echo, conditions, resources)
    prepared.dependencies = dependency_graph(resources)
    return prepared


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


def dependency_graph(resources: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Logical id -> the logical ids it must wait for (references and DependsOn); rejects cycles."""
    names = set(resources)
    graph: dict[str, set[str]] = {}
    for logical_id, definition in resources.items():
        depends = definition.get("DependsOn") or []
        depends = [depends] if isinstance(depends, str) else list(depends)
        missing = [d for d in depends if d not in names]
        if missing:
            raise ValidationFailure(f"Template format error: Unresolved resource dependencies [{', '.join(missing)}] "
                                    "in the Resources block of the template")
        graph[logical_id] = set(depends) | references(definition.get("Properties") or {}, names)
        graph[logical_id].discard(logical_id)
    _check_acyclic(graph)
    return graph


def _check_acyclic(graph: dict[str, set[str]]) -> None:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = trail[trail.index(node):]
            raise ValidationFailure(f"Circular dependency between resources: [{', '.join(sorted(cycle))}]")
        state[node] = 1
        for dependency in graph[node]:
            visit(dependency, [*trail, node])
        state[node] = 2

    for node in graph:
        visit(node, [])


def template_error(exc: Exception) -> ValidationFailure:
    return ValidationFailure(str(exc)) if isinstance(exc, TemplateError | IntrinsicError) else ValidationFailure(
        f"Template error: {exc}")
