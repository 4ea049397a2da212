"""Stack parameters: values bound from overrides and defaults and checked against their
declarations, and the pseudo parameters every stack has."""

from __future__ import annotations

import re
from typing import Any

from cumulo.services.cloudformation.errors import ValidationFailure

PARAMETER_TYPES = {"String", "Number", "List<Number>", "CommaDelimitedList", "AWS::SSM::Parameter::Value<String>"}


def pseudo_parameters(account: str, region: str, stack_name: str, stack_id: str) -> dict[str, Any]:
    return {"AWS::AccountId": account, "AWS::Region": region, "AWS::StackName": stack_name,
            "AWS::StackId": stack_id, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": []}


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
