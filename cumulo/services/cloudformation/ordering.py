"""The order resources are deployed in: each waits for what it refers to (Ref, GetAtt, Sub) and
what it names in DependsOn; a cycle is an error."""

from __future__ import annotations

from typing import Any

from cumulo.services.cloudformation.errors import ValidationFailure
from cumulo.services.cloudformation.intrinsics import references


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
