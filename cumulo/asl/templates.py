"""Compiled field values: JSONPath payload templates and JSONata templates.

A *payload template* (Parameters, ResultSelector, ItemSelector, Assign in JSONPath mode) is JSON in
which a key ending in ``.$`` takes a path or an intrinsic as its value. A *JSONata template*
(Arguments, Output, Assign, ItemSelector in JSONata mode) is JSON in which any string of the form
``{% expr %}`` is an expression. Both compile once, at definition time, into a small tree that
renders against an `Env`; a template without dynamic parts renders to its constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from cumulo.asl import errors, intrinsics
from cumulo.asl.jsonata_bridge import Expression, is_expression
from cumulo.asl.paths import Path, PathNotFound, parse_path, resolve, to_json


class Env(Protocol):
    """What rendering needs from the engine for one state visit."""

    entropy: intrinsics.Entropy

    def context(self) -> dict[str, Any]: ...
    def variable(self, name: str) -> Any: ...  # raises KeyError when undefined
    def jsonata_bindings(self, states: dict[str, Any]) -> dict[str, Any]: ...
    def now_ms(self) -> int: ...


def lookup(path: Path, data: Any, env: Env) -> Any:
    """Resolve ``path`` against the data, the context object or a variable (PathNotFound if none)."""
    if path.root == "$":
        return resolve(path, data)
    if path.root == "$$":
        return resolve(path, env.context())
    try:
        value = env.variable(path.variable or "")
    except KeyError:
        raise PathNotFound(path.source) from None
    return resolve(path, value)


class Node:
    __slots__ = ()
    dynamic = True

    def render(self, data: Any, env: Env, states: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError


@dataclass(slots=True)
class Const(Node):
    value: Any
    dynamic = False

    def render(self, data: Any, env: Env, states: dict[str, Any] | None = None) -> Any:
        return self.value


@dataclass(slots=True)
class PathValue(Node):
    path: Path
    field: str

    def render(self, data: Any, env: Env, states: dict[str, Any] | None = None) -> Any:
        try:
            return lookup(self.path, data, env)
        except PathNotFound:
            source = env.context() if self.path.root == "$$" else data
            raise errors.EvaluationError(
                errors.RUNTIME,
                f"The JSONPath '{self.path.source}' specified for the field '{self.field}' could not be "
                f"found in the input '{to_json(source)}'",
            ) from None


@dataclass(slots=True)
class IntrinsicValue(Node):
    call: intrinsics.Call
    field: str

    def render(self, data: Any, env: Env, states: dict[str, Any] | None = None) -> Any:
        def resolve_arg(path: Path) -> Any:
            try:
                return lookup(path, data, env)
            except PathNotFound:
                raise errors.EvaluationError(
                    errors.RUNTIME,
                    f"The JSONPath '{path.source}' specified for the field '{self.field}' could not be "
                    f"found in the input '{to_json(data)}'",
                ) from None

        try:
            return intrinsics.evaluate(self.call, resolve_arg, env.entropy)
        except errors.EvaluationError:
            raise
        except errors.StatesError as exc:
            raise errors.EvaluationError(exc.error, exc.cause) from None


@dataclass(slots=True)
class JsonataValue(Node):
    expression: Expression
    field: str

    def render(self, data: Any, env: Env, states: dict[str, Any] | None = None) -> Any:
        return self.expression.evaluate(env.jsonata_bindings(states or {}), env.entropy, env.now_ms(),
                                        self.field)


@dataclass(slots=True)
class ObjectNode(Node):
    items: list[tuple[str, Node]]

    def render(self, data: Any, env: Env, states: dict[str, Any] | None = None) -> Any:
        return {key: node.render(data, env, states) for key, node in self.items}


@dataclass(slots=True)
class ArrayNode(Node):
    items: list[Node]

    def render(self, data: Any, env: Env, states: dict[str, Any] | None = None) -> Any:
        return [node.render(data, env, states) for node in self.items]


class TemplateError(ValueError):
    """A bad template; ``location`` is the JSON pointer suffix of the offending field."""

    def __init__(self, message: str, location: str) -> None:
        super().__init__(message)
        self.location = location


def compile_dynamic_value(value: Any, field: str, location: str) -> Node:
    """The value of a ``.$`` field: a path or an intrinsic function."""
    if not isinstance(value, str):
        raise TemplateError(f"The value for the field '{field}' must be a STRING", location)
    try:
        if intrinsics.is_intrinsic(value):
            return IntrinsicValue(intrinsics.parse(value), field)
        return PathValue(parse_path(value), field)
    except ValueError as exc:
        raise TemplateError(
            f"The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function "
            f"call ({exc})", location) from None


def compile_payload(template: Any, location: str = "") -> Node:
    """Compile a JSONPath-mode payload template."""
    if isinstance(template, dict):
        items: list[tuple[str, Node]] = []
        for key, value in template.items():
            if key.endswith(".$"):
                items.append((key[:-2], compile_dynamic_value(value, key, f"{location}/{key}")))
            else:
                items.append((key, compile_payload(value, f"{location}/{key}")))
        return _fold(ObjectNode(items))
    if isinstance(template, list):
        return _fold(ArrayNode([compile_payload(v, f"{location}[{i}]") for i, v in enumerate(template)]))
    return Const(template)


def compile_jsonata(template: Any, field: str, location: str = "") -> Node:
    """Compile a JSONata-mode template; ``field`` is the name AWS reports (``Output/a/b``)."""
    if is_expression(template):
        try:
            return JsonataValue(Expression(template), field)
        except ValueError as exc:
            raise TemplateError(str(exc), location) from None
    if isinstance(template, dict):
        return _fold(ObjectNode([(k, compile_jsonata(v, f"{field}/{k}", f"{location}/{k}"))
                                 for k, v in template.items()]))
    if isinstance(template, list):
        return _fold(ArrayNode([compile_jsonata(v, f"{field}[{i}]", f"{location}[{i}]")
                                for i, v in enumerate(template)]))
    return Const(template)


def _fold(node: ObjectNode | ArrayNode) -> Node:
    """A container whose children are all constant is itself a constant (rendered once)."""
    children = [n for _, n in node.items] if isinstance(node, ObjectNode) else node.items
    if any(child.dynamic for child in children):
        return node
    return Const(node.render(None, None))  # type: ignore[arg-type]
