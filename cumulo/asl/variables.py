"""Workflow variables (``Assign``) and their scopes.

The top level of a state machine is one scope. Each Parallel branch and each Map iteration runs
in a child scope: it reads the variables of the enclosing scopes and assigns its own, which are
discarded when the branch or iteration ends (a distributed Map's iterations cannot read the outer
scopes at all). Values assigned by a state take effect after that state: every expression of the
state sees the values from when it was entered.
"""

from __future__ import annotations

from typing import Any


class Variables:
    __slots__ = ("parent", "values")

    def __init__(self, parent: Variables | None = None, values: dict[str, Any] | None = None) -> None:
        self.parent = parent
        self.values: dict[str, Any] = dict(values) if values else {}

    def get(self, name: str) -> Any:
        scope: Variables | None = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        raise KeyError(name)

    def assign(self, values: dict[str, Any]) -> None:
        self.values.update(values)

    def visible(self) -> dict[str, Any]:
        """All readable variables, inner scopes shadowing outer ones."""
        chain: list[Variables] = []
        scope: Variables | None = self
        while scope is not None:
            chain.append(scope)
            scope = scope.parent
        out: dict[str, Any] = {}
        for s in reversed(chain):
            out.update(s.values)
        return out

    def child(self, isolated: bool = False) -> Variables:
        return Variables(None if isolated else self)
