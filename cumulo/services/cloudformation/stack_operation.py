"""Stack operations: create, update and delete resources in dependency order, roll back on failure.

Independent resources are deployed concurrently; a resource starts once everything it refers
to (Ref, GetAtt, Sub, DependsOn) is done. Every resource event and every resource's state is
committed as it happens, so ``DescribeStackEvents`` shows progress live and a restart knows
exactly what exists. A failure stops new work, lets running work finish, and undoes what the
operation did (unless rollback is disabled), as CloudFormation does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cumulo.services.cloudformation.dynamic_references import resolve_dynamic, resolve_parameter_types
from cumulo.services.cloudformation.intrinsics import IntrinsicError, Resolver
from cumulo.services.cloudformation.parameters import pseudo_parameters
from cumulo.services.cloudformation.resources import handlers
from cumulo.services.cloudformation.resources.base import Deployed, ResourceContext, ResourceFailure, ResourceHandler
from cumulo.services.cloudformation.template import PreparedTemplate

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.deploy")
MAX_PARALLEL = 16
MASK = "*****"

# (stack, logical id, physical id, type, status, reason, properties) -> committed event
EventSink = Callable[[dict[str, Any], str, str, str, str, str, dict[str, Any] | None], None]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class Outcome:
    ok: bool
    reason: str = ""


class StackOperation:
    """One create/update/delete of one stack; ``stack`` is its record, kept current by ``save``."""

    def __init__(self, platform: Platform, stack: dict[str, Any], save: Callable[[dict[str, Any]], None],
                 event: EventSink, import_value: Callable[[str], Any]) -> None:
        self.platform = platform
        self.stack = stack
        self.save = save
        self.event = event
        self.import_value = import_value
        self.handlers = handlers()
        self.account, self.region = stack["_account"], stack["_region"]
        self._deploying: dict[asyncio.Task[Outcome], str] | None = None  # the deploy's running steps
        self.cancelled = False

    def cancel(self) -> bool:
        """Stop the deploy (CancelUpdateStack, DeleteStack during a create): resources being created or
        updated fail as cancelled (an interrupted custom resource wait included), nothing new starts,
        and the usual rollback follows. False when the deploy is not running."""
        if self._deploying is None:
            return False
        self.cancelled = True
        for task in self._deploying:
            task.cancel()
        return True

    # ------------------------------------------------------------ helpers
    def _context(self, logical_id: str) -> ResourceContext:
        return ResourceContext(self.platform, self.account, self.region, self.stack["StackName"],
                               self.stack["StackId"], logical_id)

    def _resolver(self, prepared: PreparedTemplate, states: dict[str, dict[str, Any]],
                  masked: bool = False) -> Resolver:
        """Resolves intrinsics; ``masked``: for what users see (events, outputs), where the attributes of
        NoEcho resources read as asterisks."""
        def attribute(logical_id: str, name: str) -> Any:
            state = states[logical_id]
            handler = self.handlers[state["type"]]
            value = handler.attribute(Deployed(state["physical_id"], state.get("attributes") or {}), name)
            return MASK if masked and state.get("no_echo") else value

        pseudo = pseudo_parameters(self.account, self.region, self.stack["StackName"], self.stack["StackId"])
        physical = {lid: s["physical_id"] for lid, s in states.items() if s.get("physical_id")}
        return Resolver(prepared.parameters, pseudo, prepared.body.get("Mappings") or {}, prepared.conditions,
                        physical, attribute, self.import_value)

    def _record(self, logical_id: str, state: dict[str, Any] | None) -> None:
        resources = self.stack.setdefault("resources", {})
        if state is None:
            resources.pop(logical_id, None)
        else:
            resources[logical_id] = state
        self.save(self.stack)

    def _emit(self, logical_id: str, physical_id: str, kind: str, status: str, reason: str = "",
              properties: dict[str, Any] | None = None) -> None:
        self.event(self.stack, logical_id, physical_id, kind, status, reason, properties)

    async def _run_graph(self, order: dict[str, set[str]], work: Callable[[str], Awaitable[Outcome]],
                         cancellable: bool = False) -> Outcome:
        """Run ``work`` for every node once all the nodes it waits for succeeded; stop at the first failure
        (or, when ``cancellable``, at ``cancel``)."""
        pending = dict(order)
        running: dict[asyncio.Task[Outcome], str] = {}
        if cancellable:
            self._deploying = running
        done: set[str] = set()
        failure: Outcome | None = None
        while pending or running:
            if failure is None and self.cancelled and cancellable:
                failure = Outcome(False, "Stack operation cancelled")
            if failure is None:
                for node in [n for n, waits in pending.items() if waits <= done]:
                    if len(running) >= MAX_PARALLEL:
                        break
                    del pending[node]
                    running[asyncio.ensure_future(work(node))] = node
            if not running:
                if pending and failure is None:
                    failure = Outcome(False, "Resources could not be ordered: " + ", ".join(sorted(pending)))
                break
            finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                node = running.pop(task)
                outcome = Outcome(False, "Stack operation cancelled") if task.cancelled() else task.result()
                if outcome.ok:
                    done.add(node)
                elif failure is None:
                    failure = outcome
        if cancellable:
            self._deploying = None
        return failure or Outcome(True)

    # ------------------------------------------------------------ create and update
    async def deploy(self, prepared: PreparedTemplate, previous: PreparedTemplate | None) -> Outcome:
        """Bring the stack's resources to ``prepared`` (from ``previous`` on an update)."""
        states: dict[str, dict[str, Any]] = self.stack.setdefault("resources", {})
        old_states = {lid: dict(s) for lid, s in states.items()}
        self._replaced: list[tuple[str, dict[str, Any]]] = []
        self._changed: dict[str, dict[str, Any] | None] = {}
        order = {lid: prepared.dependencies[lid] for lid in prepared.resources}
        updating = previous is not None
        try:
            prepared.parameters = await resolve_parameter_types(
                self.platform, self.account, self.region, prepared.body.get("Parameters") or {}, prepared.parameters)
        except ResourceFailure as exc:
            return Outcome(False, str(exc))

        async def step(logical_id: str) -> Outcome:
            definition = prepared.resources[logical_id]
            kind = definition["Type"]
            handler: ResourceHandler = self.handlers[kind]
            context = self._context(logical_id)
            try:
                props = self._resolver(prepared, states).resolve(definition.get("Properties") or {}) or {}
                shown = self._resolver(prepared, states, masked=True).resolve(definition.get("Properties") or {}) \
                    if any(s.get("no_echo") for s in states.values()) else props
            except (IntrinsicError, ResourceFailure) as exc:
                self._emit(logical_id, "", kind, "UPDATE_FAILED" if updating else "CREATE_FAILED", str(exc))
                return Outcome(False, f"{logical_id}: {exc}")
            old = old_states.get(logical_id)
            try:
                # what the handler gets: dynamic references resolved (the stack keeps them unresolved)
                live = await resolve_dynamic(self.platform, self.account, self.region, props)
                if old is not None and old["type"] == kind:
                    if old.get("properties") == props and old.get("status", "").endswith("COMPLETE"):
                        return Outcome(True)
                    self._changed[logical_id] = old
                    self._emit(logical_id, old["physical_id"], kind, "UPDATE_IN_PROGRESS", "", shown)
                    if handler.needs_replacement(old.get("properties") or {}, props):
                        self._emit(logical_id, old["physical_id"], kind, "UPDATE_IN_PROGRESS",
                                   "Requested update requires the creation of a new physical resource; hence "
                                   "creating one.", shown)
                        deployed = await handler.create(context, live)
                        self._replaced.append((logical_id, old))
                    else:
                        deployed = await handler.update(context, old["physical_id"], old.get("properties") or {},
                                                        live)
                        if deployed.physical_id != old["physical_id"]:  # replaced: the old one goes at cleanup
                            self._replaced.append((logical_id, old))
                    status = "UPDATE_COMPLETE"
                else:
                    if old is not None:  # the type changed: a new resource replaces the old one
                        self._replaced.append((logical_id, old))
                    self._changed[logical_id] = None
                    self._emit(logical_id, "", kind, "CREATE_IN_PROGRESS", "", shown)
                    deployed = await handler.create(context, live)
                    status = "CREATE_COMPLETE"
            except ResourceFailure as exc:
                failed = "UPDATE_FAILED" if old is not None else "CREATE_FAILED"
                if old is None and exc.physical_id:  # recorded, so that the rollback (or a delete) deletes it
                    states[logical_id] = {"type": kind, "physical_id": exc.physical_id, "status": failed,
                                          "properties": props, "attributes": {}, "timestamp": now_iso(),
                                          "policy": definition.get("DeletionPolicy")}
                    self._record(logical_id, states[logical_id])
                self._emit(logical_id, old["physical_id"] if old else exc.physical_id, kind, failed, str(exc))
                return Outcome(False, f"The following resource(s) failed to {'update' if old else 'create'}: "
                                      f"[{logical_id}]. {exc}")
            except asyncio.CancelledError:
                if not self.cancelled:
                    raise  # the server is stopping
                failed = "UPDATE_FAILED" if old is not None else "CREATE_FAILED"
                self._emit(logical_id, old["physical_id"] if old else "", kind, failed,
                           f"Resource {'update' if old else 'creation'} cancelled")
                return Outcome(False, "Stack operation cancelled")
            except Exception as exc:  # a handler bug must not leave the stack stuck in progress
                log.exception("resource %s failed unexpectedly", logical_id)
                self._emit(logical_id, "", kind, "CREATE_FAILED", f"Internal failure: {exc}")
                return Outcome(False, f"{logical_id}: internal failure: {exc}")
            states[logical_id] = {"type": kind, "physical_id": deployed.physical_id, "status": status,
                                  "properties": props, "attributes": deployed.attributes,
                                  "timestamp": now_iso(), "policy": definition.get("DeletionPolicy"),
                                  "replace_policy": definition.get("UpdateReplacePolicy")}
            if deployed.no_echo:
                states[logical_id]["no_echo"] = True
            self._record(logical_id, states[logical_id])
            self._emit(logical_id, deployed.physical_id, kind, status)
            return Outcome(True)

        outcome = await self._run_graph(order, step, cancellable=True)
        if not outcome.ok:
            return outcome
        # Cleanup: replaced physical resources and resources no longer in the template.
        for logical_id, old in self._replaced:
            if old.get("replace_policy") != "Retain":
                await self._delete_one(logical_id, old, record=False)
        removed = {lid: s for lid, s in old_states.items() if lid not in prepared.resources}
        # The stack's stored graph is already the new template's: removed resources are ordered by the old one.
        await self.delete_resources(removed, previous.dependencies if previous is not None else None)
        return Outcome(True)

    async def roll_back(self, prepared: PreparedTemplate | None, previous: PreparedTemplate | None) -> Outcome:
        """Undo what ``deploy`` changed: delete what it created, restore what it updated or replaced."""
        states = self.stack["resources"]
        created = {lid: states[lid] for lid, old in self._changed.items() if old is None and lid in states}
        outcome = await self.delete_resources(created)
        replaced = {lid for lid, _ in self._replaced}
        for logical_id, old in self._changed.items():
            if old is None:
                continue
            current = states.get(logical_id)
            handler = self.handlers[old["type"]]
            try:
                if logical_id in replaced and current and current["physical_id"] != old["physical_id"]:
                    await handler.delete(self._context(logical_id), current["physical_id"], current["properties"])
                elif current is not None and current.get("properties") != old.get("properties"):
                    self._emit(logical_id, old["physical_id"], old["type"], "UPDATE_IN_PROGRESS")
                    await handler.update(self._context(logical_id), old["physical_id"],
                                         current.get("properties") or {}, old.get("properties") or {})
                self._record(logical_id, old)
                self._emit(logical_id, old["physical_id"], old["type"], "UPDATE_COMPLETE")
            except ResourceFailure as exc:
                self._emit(logical_id, old["physical_id"], old["type"], "UPDATE_FAILED", str(exc))
                outcome = Outcome(False, str(exc))
        return outcome

    # ------------------------------------------------------------ delete
    async def delete_resources(self, targets: dict[str, dict[str, Any]],
                               dependencies: Mapping[str, Iterable[str]] | None = None) -> Outcome:
        """Delete resources, dependents first (reverse of the creation order in ``dependencies``,
        by default the stack's stored graph)."""
        stored = dependencies if dependencies is not None else self.stack.get("_dependencies") or {}
        users: dict[str, set[str]] = {lid: set() for lid in targets}
        for logical_id in targets:
            for dependency in stored.get(logical_id, []):
                if dependency in users:
                    users[dependency].add(logical_id)

        async def step(logical_id: str) -> Outcome:
            return await self._delete_one(logical_id, targets[logical_id])

        return await self._run_graph(users, step)

    async def _delete_one(self, logical_id: str, state: dict[str, Any], record: bool = True) -> Outcome:
        kind, physical_id = state["type"], state.get("physical_id", "")
        if state.get("policy") == "Retain" and record:
            self._emit(logical_id, physical_id, kind, "DELETE_SKIPPED")
            self._record(logical_id, None)
            return Outcome(True)
        if not physical_id:
            if record:
                self._record(logical_id, None)
            return Outcome(True)
        self._emit(logical_id, physical_id, kind, "DELETE_IN_PROGRESS")
        try:
            await self.handlers[kind].delete(self._context(logical_id), physical_id, state.get("properties") or {})
        except ResourceFailure as exc:
            if "not found" not in str(exc).lower() and "does not exist" not in str(exc).lower():
                self._emit(logical_id, physical_id, kind, "DELETE_FAILED", str(exc))
                return Outcome(False, f"The following resource(s) failed to delete: [{logical_id}]. {exc}")
        self._emit(logical_id, physical_id, kind, "DELETE_COMPLETE")
        if record:
            self._record(logical_id, None)
        return Outcome(True)

    # ------------------------------------------------------------ outputs
    def outputs(self, prepared: PreparedTemplate) -> list[dict[str, Any]]:
        resolver = self._resolver(prepared, self.stack["resources"], masked=True)
        outputs = []
        for key, spec in (prepared.body.get("Outputs") or {}).items():
            condition = spec.get("Condition")
            if condition is not None and not prepared.conditions.get(condition, False):
                continue
            value = resolver.resolve(spec.get("Value"))
            output = {"OutputKey": key, "OutputValue": value if isinstance(value, str) else json.dumps(value)
                      if isinstance(value, dict | list) else str(value)}
            if isinstance(value, list):
                output["OutputValue"] = ",".join(map(str, value))
            if spec.get("Description"):
                output["Description"] = spec["Description"]
            if spec.get("Export"):
                output["ExportName"] = resolver.resolve(spec["Export"].get("Name"))
            outputs.append(output)
        return outputs


def new_stack_id(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudformation:{region}:{account}:stack/{name}/{uuid.uuid4()}"
