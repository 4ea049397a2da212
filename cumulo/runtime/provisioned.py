"""Provisioned concurrency: groups of environments initialized ahead of traffic.

A group keeps ``target`` initialized environments of one spec; they are never reaped for
idleness, and are replaced when they die or reach their maximum lifetime.  When every one of
them is busy, invokes spill over to on-demand environments (the pool's business).  A group
whose initialization fails stops trying and reports why.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from .environment import Environment
from .spec import EnvironmentSpec

PROVISION_PARALLELISM = 4  # environments of one group initialized at once


class ProvisioningFailed(Exception):
    """An environment of a group could not be initialized; the message says why."""


class ProvisionedGroup:
    """``target`` environments of ``spec`` initialized ahead, under the name ``key``."""

    def __init__(self, key: str, spec: EnvironmentSpec) -> None:
        self.key = key
        self.spec = spec
        self.target = 0
        self.envs: set[Environment] = set()  # initialized (idle or busy)
        self.idle: list[Environment] = []
        self.starting = 0
        self.failure: str | None = None  # why initialization failed (the group stops trying)
        self.task: asyncio.Task | None = None


class ProvisionedConcurrency:
    """The provisioned-concurrency groups of one pool.

    What it needs from the pool: ``initialize(spec)`` an environment (raising
    :class:`ProvisioningFailed`), ``release`` an environment to its group's idle list,
    ``destroy`` one now, ``shut_down(env)`` (a coroutine for a graceful end) and ``track``
    background work that the pool's close waits for.
    """

    def __init__(self, initialize: Callable[[EnvironmentSpec], Awaitable[Environment]],
                 release: Callable[[Environment], None], destroy: Callable[[Environment], None],
                 shut_down: Callable[[Environment], Coroutine[Any, Any, None]],
                 track: Callable[[Coroutine[Any, Any, None]], None]) -> None:
        self._initialize = initialize
        self._release = release
        self._destroy = destroy
        self._shut_down = shut_down
        self._track = track
        self.groups: dict[str, ProvisionedGroup] = {}

    def take_idle(self, name: str, spec_key: str) -> Environment | None:
        """An idle initialized environment of group ``name``, now busy, if it serves ``spec_key``."""
        group = self.groups.get(name)
        if group is None or not group.idle or group.spec.key != spec_key:
            return None
        env = group.idle.pop()
        env.busy = True
        env.thaw()
        return env

    def set(self, key: str, spec: EnvironmentSpec, count: int) -> None:
        """Keep ``count`` initialized environments of ``spec`` ready under ``key`` (0 removes the group)."""
        group = self.groups.get(key)
        if group is not None and (count == 0 or group.spec.key != spec.key):
            del self.groups[key]
            group.target = 0
            if group.task is not None:
                group.task.cancel()
            for env in list(group.envs):
                env.provisioned = None
                if not env.busy:
                    if env in group.idle:
                        group.idle.remove(env)
                    self._track(self._shut_down(env))
                else:
                    env.retired = True
            group = None
        if count == 0:
            return
        if group is None:
            spec = dataclasses.replace(spec, initialization_type="provisioned-concurrency")
            group = self.groups[key] = ProvisionedGroup(key, spec)
        group.target = count
        group.failure = None
        self._kick(group)

    def status(self, key: str) -> dict | None:
        """``{"requested", "allocated", "busy", "failure"}`` of a group, or None."""
        group = self.groups.get(key)
        if group is None:
            return None
        return {"requested": group.target, "allocated": len(group.envs),
                "busy": len(group.envs) - len(group.idle), "failure": group.failure}

    def retire(self, key_prefix: str) -> None:
        """Remove the groups whose spec key starts with ``key_prefix``."""
        for name, group in list(self.groups.items()):
            if group.spec.key.startswith(key_prefix):
                self.set(name, group.spec, 0)

    def lost(self, env: Environment) -> None:
        """``env`` is being destroyed: its group (if still in use) initializes a replacement."""
        group = env.provisioned
        if group is None:
            return
        group.envs.discard(env)
        env.provisioned = None
        if self.groups.get(group.key) is group:
            self._kick(group)

    def close(self) -> list[Environment]:
        """Stop every group; returns their idle environments (for the pool to shut down)."""
        for group in self.groups.values():
            if group.task is not None:
                group.task.cancel()
        idle = [env for group in self.groups.values() for env in group.idle]
        self.groups.clear()
        return idle

    def idle(self) -> list[Environment]:
        return [env for group in self.groups.values() for env in group.idle]

    def __len__(self) -> int:
        """How many initialized environments the groups hold."""
        return sum(len(group.envs) for group in self.groups.values())

    def _kick(self, group: ProvisionedGroup) -> None:
        if group.task is None or group.task.done():
            group.task = asyncio.get_running_loop().create_task(self._maintain(group))

    async def _maintain(self, group: ProvisionedGroup) -> None:
        """Initialize environments until the group has its target (or initialization fails)."""
        while self.groups.get(group.key) is group and group.failure is None:
            missing = group.target - len(group.envs) - group.starting
            if missing <= 0:
                excess = len(group.envs) - group.target
                for env in group.idle[:max(0, excess)]:  # scaled down: idle ones go first
                    group.idle.remove(env)
                    group.envs.discard(env)
                    env.provisioned = None
                    self._track(self._shut_down(env))
                for env in [e for e in group.envs if e.busy][:max(0, len(group.envs) - group.target)]:
                    env.provisioned = None  # busy ones leave the group after their invoke
                    group.envs.discard(env)
                return
            batch = min(missing, PROVISION_PARALLELISM)
            group.starting += batch
            try:
                await asyncio.gather(*(self._provision_one(group) for _ in range(batch)))
            finally:
                group.starting -= batch

    async def _provision_one(self, group: ProvisionedGroup) -> None:
        try:
            env = await self._initialize(group.spec)
        except ProvisioningFailed as failure:
            group.failure = str(failure)
            return
        if self.groups.get(group.key) is not group or len(group.envs) >= group.target:
            self._destroy(env)
            return
        env.provisioned = group
        group.envs.add(env)
        self._release(env)
