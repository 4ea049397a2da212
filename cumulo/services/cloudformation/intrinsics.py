"""CloudFormation intrinsic functions, condition functions and template references.

``Resolver.resolve`` evaluates Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split,
Fn::If, Fn::Equals/And/Or/Not, Fn::FindInMap, Fn::GetAZs, Fn::Base64, Fn::ImportValue,
Fn::Cidr, Fn::ToJsonString and Fn::Length against a stack's parameters, pseudo parameters,
conditions, mappings and the resources created so far. ``references`` lists the resources a
value depends on, which orders the deployment.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class IntrinsicError(ValueError):
    """A template value cannot be evaluated (CloudFormation's "Template error: ...")."""


class _NoValue:
    """``AWS::NoValue``: the property or list item is removed."""


NO_VALUE = _NoValue()


def _sub_parts(value: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(value, str):
        return value, {}
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], dict):
        return value[0], value[1]
    raise IntrinsicError("Template error: Fn::Sub takes a string or [string, {variables}]")


def _sub_names(text: str) -> list[str]:
    """Variable names in a Fn::Sub string (``${!Literal}`` escapes are not variables)."""
    return [m.group(1) for m in SUB_VARIABLE.finditer(text) if not m.group(1).startswith("!")]


def references(value: Any, resources: set[str]) -> set[str]:
    """The logical ids of ``resources`` that ``value`` refers to (Ref, GetAtt, Sub)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if len(node) == 1:
            key, argument = next(iter(node.items()))
            if key == "Ref" and isinstance(argument, str):
                if argument in resources:
                    found.add(argument)
                return
            if key == "Fn::GetAtt":
                target = argument[0] if isinstance(argument, list) else str(argument).split(".", 1)[0]
                if target in resources:
                    found.add(target)
                walk(argument)
                return
            if key == "Fn::Sub":
                text, variables = _sub_parts(argument)
                for name in _sub_names(text):
                    base = name.split(".", 1)[0]
                    if base in resources and name not in variables:
                        found.add(base)
                walk(variables)
                return
        for item in node.values():
            walk(item)

    walk(value)
    return found


class Resolver:
    def __init__(self, parameters: dict[str, Any], pseudo: dict[str, Any], mappings: dict[str, Any],
                 conditions: dict[str, bool], physical_ids: dict[str, str],
                 attributes: Callable[[str, str], Any], import_value: Callable[[str], Any]) -> None:
        self.parameters = parameters
        self.pseudo = pseudo
        self.mappings = mappings
        self.conditions = conditions
        self.physical_ids = physical_ids
        self.attributes = attributes
        self.import_value = import_value

    def resolve(self, value: Any) -> Any:
        result = self._resolve(value)
        return None if result is NO_VALUE else result

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            key, argument = next(iter(value.items()))
            if key == "Ref":
                return self.ref(argument)
            if key.startswith("Fn::"):
                handler = getattr(self, "_fn_" + key[4:].lower(), None)
                if handler is None:
                    raise IntrinsicError(f"Template error: unsupported intrinsic function {key}")
                return handler(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
        result = {}
        for key, item in value.items():
            resolved = self._resolve(item)
            if resolved is not NO_VALUE:
                result[key] = resolved
        return result

    # ------------------------------------------------------------ references
    def ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise IntrinsicError("Template error: Ref takes a string")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise IntrinsicError(f"Template format error: Unresolved resource dependencies [{name}] in the Resources "
                             "block of the template")

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise IntrinsicError(f"Template format error: Unresolved condition dependency {name}")
        return self.conditions[name]

    def _fn_getatt(self, argument: Any) -> Any:
        if isinstance(argument, str):
            logical, _, attribute = argument.partition(".")
        elif isinstance(argument, list) and len(argument) == 2:
            logical, attribute = argument[0], self._resolve(argument[1])
        else:
            raise IntrinsicError("Template error: Fn::GetAtt takes [resource, attribute]")
        if logical not in self.physical_ids:
            raise IntrinsicError(f"Template format error: Unresolved resource dependencies [{logical}] in the "
                                 "Resources block of the template")
        return self.attributes(logical, attribute)

    def _fn_sub(self, argument: Any) -> str:
        text, variables = _sub_parts(argument)
        values = {name: self._resolve(value) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return _text(values[name])
            if "." in name and name.split(".", 1)[0] in self.physical_ids:
                return _text(self._fn_getatt(name))
            return _text(self.ref(name))

        return SUB_VARIABLE.sub(replace, text)

    def _fn_join(self, argument: Any) -> str:
        if not isinstance(argument, list) or len(argument) != 2:
            raise IntrinsicError("Template error: Fn::Join takes [delimiter, [values]]")
        items = self._resolve(argument[1])
        if not isinstance(items, list):
            raise IntrinsicError("Template error: Fn::Join needs a list of values")
        return str(argument[0]).join(_text(item) for item in items)

    def _fn_select(self, argument: Any) -> Any:
        index, items = (self._resolve(part) for part in argument)
        try:
            return items[int(index)]
        except (IndexError, ValueError, TypeError) as exc:
            raise IntrinsicError(f"Template error: Fn::Select cannot select index {index}") from exc

    def _fn_split(self, argument: Any) -> list[str]:
        delimiter, text = argument[0], self._resolve(argument[1])
        return str(text).split(delimiter)

    def _fn_if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self._resolve(when_true if self.condition(name) else when_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = (self._resolve(part) for part in argument)
        return _text(left) == _text(right)

    def _fn_and(self, argument: Any) -> bool:
        return all(self._truth(item) for item in argument)

    def _fn_or(self, argument: Any) -> bool:
        return any(self._truth(item) for item in argument)

    def _fn_not(self, argument: Any) -> bool:
        return not self._truth(argument[0])

    def _truth(self, item: Any) -> bool:
        resolved = self._resolve(item)
        if not isinstance(resolved, bool):
            raise IntrinsicError("Template error: condition functions take conditions or condition functions")
        return resolved

    def _fn_findinmap(self, argument: Any) -> Any:
        name, top, second = (self._resolve(part) for part in argument[:3])
        try:
            return self.mappings[name][top][second]
        except (KeyError, TypeError) as exc:
            if len(argument) == 4 and isinstance(argument[3], dict) and "DefaultValue" in argument[3]:
                return self._resolve(argument[3]["DefaultValue"])
            raise IntrinsicError(f"Template error: Unable to get mapping for {name}::{top}::{second}") from exc

    def _fn_getazs(self, argument: Any) -> list[str]:
        region = self._resolve(argument) or self.pseudo["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]

    def _fn_base64(self, argument: Any) -> str:
        return base64.b64encode(_text(self._resolve(argument)).encode()).decode()

    def _fn_importvalue(self, argument: Any) -> Any:
        return self.import_value(self._resolve(argument))

    def _fn_tojsonstring(self, argument: Any) -> str:
        return json.dumps(self._resolve(argument), separators=(",", ":"))

    def _fn_length(self, argument: Any) -> int:
        return len(self._resolve(argument))

    def _fn_cidr(self, argument: Any) -> list[str]:
        block, count, bits = (self._resolve(part) for part in argument)
        network = ipaddress.ip_network(block, strict=False)
        prefix = network.max_prefixlen - int(bits)
        return [str(subnet) for _, subnet in zip(range(int(count)), network.subnets(new_prefix=prefix),
                                                  strict=False)]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
