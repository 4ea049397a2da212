"""Idle warm environments and the memory budget that admits new ones.

Idle environments wait per ``spec.key``, most recently used on top (taken first, so the
others age out).  The live environments' MemorySize total stays under the budget: making
room evicts idle environments, least recently used first, else :class:`CapacityError`.
"""

from __future__ import annotations

from collections.abc import Callable

from .environment import Environment
from .spec import CapacityError


class IdleEnvironments:
    """Idle on-demand environments, by ``spec.key``."""

    def __init__(self) -> None:
        self._stacks: dict[str, list[Environment]] = {}

    def push(self, env: Environment) -> None:
        self._stacks.setdefault(env.spec.key, []).append(env)

    def pop(self, key: str) -> Environment | None:
        """The most recently used idle environment of ``key`` (it may have died meanwhile)."""
        stack = self._stacks.get(key)
        return stack.pop() if stack else None

    def remove(self, env: Environment) -> None:
        stack = self._stacks.get(env.spec.key)
        if stack and env in stack:
            stack.remove(env)
            if not stack:
                del self._stacks[env.spec.key]

    def all(self) -> list[Environment]:
        return [env for stack in self._stacks.values() for env in stack]

    def __len__(self) -> int:
        return sum(len(stack) for stack in self._stacks.values())


class MemoryBudget:
    """Admission control: the MemorySize total of live environments (see the module docstring)."""

    def __init__(self, budget_mb: int) -> None:
        self.budget_mb = budget_mb
        self.in_use_mb = 0

    def reserve(self, memory_mb: int, idle: IdleEnvironments, evict: Callable[[Environment], None]) -> None:
        """Count a new environment of ``memory_mb`` in, evicting idle ones to make room;
        ``evict`` must :meth:`give_back` the evicted environment's memory."""
        budget = self.budget_mb
        if self.in_use_mb + memory_mb > budget:
            for env in sorted(idle.all(), key=lambda e: e.last_used):
                if self.in_use_mb + memory_mb <= budget:
                    break
                evict(env)
        if self.in_use_mb + memory_mb > budget:
            raise CapacityError(f"host memory budget exhausted: {self.in_use_mb} MB in use "
                                f"of {budget} MB, {memory_mb} MB requested")
        self.in_use_mb += memory_mb

    def give_back(self, memory_mb: int) -> None:
        self.in_use_mb -= memory_mb
