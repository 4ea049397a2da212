"""Where each member of a REST operation travels (URI label, query key, header, body), worked out
once per operation from the model rather than on every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.model import OperationModel, Shape


@dataclass(frozen=True)
class InputBinding:
    labels: tuple[tuple[str, str, Shape], ...]  # (member, label name, shape)
    query: tuple[tuple[str, str, Shape], ...]  # (member, query key, shape); lists take every value
    query_maps: tuple[tuple[str, Shape], ...]  # members that take the query keys nobody else claims
    bound_query: frozenset[str]  # the query keys some member claims
    headers: tuple[tuple[str, str, str, Shape], ...]  # (member, lower-case header, header, shape)
    header_maps: tuple[tuple[str, str], ...]  # (member, lower-case header prefix)
    payload: str | None  # the member that is the whole body, if any
    payload_shape: Shape | None
    body_shape: Shape | None  # without a payload member: the structure the body holds


@dataclass(frozen=True)
class OutputBinding:
    status: str | None  # the member carrying the HTTP status
    headers: tuple[tuple[str, str, Shape], ...]  # (member, header, shape)
    header_maps: tuple[tuple[str, str], ...]  # (member, header prefix)
    payload: str | None
    payload_shape: Shape | None
    body_shape: Shape | None


def input_binding(operation: OperationModel) -> InputBinding | None:
    """The operation's input binding (None without an input shape), cached on the operation."""
    found = operation.__dict__.get("_cumulo_input_binding", False)
    if found is False:
        found = operation.__dict__["_cumulo_input_binding"] = _input(operation.input_shape)
    return found


def output_binding(operation: OperationModel) -> OutputBinding | None:
    """The operation's output binding (None without an output shape), cached on the operation."""
    found = operation.__dict__.get("_cumulo_output_binding", False)
    if found is False:
        found = operation.__dict__["_cumulo_output_binding"] = _output(operation.output_shape)
    return found


def _input(shape: Shape | None) -> InputBinding | None:
    if shape is None:
        return None
    labels, query, query_maps, headers, header_maps = [], [], [], [], []
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            labels.append((name, wire, member))
        elif location == "querystring" and member.type_name == "map":
            query_maps.append((name, member))
        elif location == "querystring":
            query.append((name, wire, member))
        elif location == "header":
            headers.append((name, wire.lower(), wire, member))
        elif location == "headers":
            header_maps.append((name, wire.lower()))
    payload = shape.serialization.get("payload")
    return InputBinding(tuple(labels), tuple(query), tuple(query_maps), frozenset(wire for _, wire, _ in query),
                        tuple(headers), tuple(header_maps),
                        payload, shape.members[payload] if payload else None, None if payload else shape)


def _output(shape: Shape | None) -> OutputBinding | None:
    if shape is None:
        return None
    status, headers, header_maps = None, [], []
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "statusCode":
            status = name
        elif location == "header":
            headers.append((name, wire, member))
        elif location == "headers":
            header_maps.append((name, wire))
    payload = shape.serialization.get("payload")
    return OutputBinding(status, tuple(headers), tuple(header_maps), payload,
                         shape.members[payload] if payload else None, None if payload else shape)
