"""Where Step Functions keeps its state in the store.

Tables (``<scope>`` is ``account:region:``):

* ``sfn.machines``    ``<scope><name>`` -> the state machine: definition, role, type, logging and
  tracing configuration, tags, revision, the next version number;
* ``sfn.versions``    ``<scope><name>:<00000001>`` -> a published version (a frozen copy);
* ``sfn.aliases``     ``<scope><name>:<alias>`` -> an alias and its routing configuration;
* ``sfn.definitions`` ``<sha256>`` -> a definition, by content (what an execution runs);
* ``sfn.executions``  ``<scope><machine>:<name>`` -> a standard execution: status, input, output,
  which version/alias started it, redrives, and the id of its log;
* ``sfn.by_start``    ``<scope><machine>:<inverted start ms>:<name>`` -> {} (ListExecutions, newest first);
* ``sfn.log``         ``<log id>:<00000001>`` -> {"r": [records]}: the execution log (history
  events and engine memos) in commit-sized chunks, in order;
* ``sfn.running``     ``<log id>`` -> what to resume after a restart: a RUNNING standard
  execution, or an accepted asynchronous express execution not yet finished;
* ``sfn.clock``       ``anchor`` -> the origin of the accelerated workflow clock.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cumulo.services.stepfunctions.names import StatesArn
from cumulo.store.base import Store

MACHINES, VERSIONS, ALIASES = "sfn.machines", "sfn.versions", "sfn.aliases"
DEFINITIONS, EXECUTIONS, BY_START = "sfn.definitions", "sfn.executions", "sfn.by_start"
LOG, RUNNING, CLOCK = "sfn.log", "sfn.running", "sfn.clock"
_MAX_MS = 10 ** 15


def version_key(scope: str, name: str, version: int) -> str:
    return f"{scope}{name}:{version:08d}"


def by_start_key(scope: str, machine: str, start: float, name: str) -> str:
    return f"{scope}{machine}:{_MAX_MS - int(start * 1000):015d}:{name}"


def log_key(log_id: str, chunk: int) -> str:
    return f"{log_id}:{chunk:08d}"


class Repository:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------ state machines
    def machine(self, arn: StatesArn) -> dict[str, Any] | None:
        return self.store.get(MACHINES, arn.scope + arn.name)

    def machines(self, scope: str, start_after: str | None, limit: int) -> list[dict[str, Any]]:
        rows = self.store.scan(MACHINES, scope, start_after=scope + start_after if start_after else None,
                               limit=limit)
        return [value for _, value in rows]

    def save_machine(self, scope: str, record: dict[str, Any]) -> None:
        self.store.put(MACHINES, scope + record["name"], record)

    def delete_machine(self, scope: str, name: str) -> None:
        with self.store.transaction():
            self.store.delete(MACHINES, scope + name)
            self.store.delete_prefix(VERSIONS, f"{scope}{name}:")
            self.store.delete_prefix(ALIASES, f"{scope}{name}:")

    # ------------------------------------------------------------ versions and aliases
    def version(self, scope: str, name: str, version: int) -> dict[str, Any] | None:
        return self.store.get(VERSIONS, version_key(scope, name, version))

    def versions(self, scope: str, name: str) -> list[dict[str, Any]]:
        return [value for _, value in self.store.scan(VERSIONS, f"{scope}{name}:")]

    def save_version(self, scope: str, name: str, record: dict[str, Any]) -> None:
        self.store.put(VERSIONS, version_key(scope, name, record["version"]), record)

    def delete_version(self, scope: str, name: str, version: int) -> bool:
        return self.store.delete(VERSIONS, version_key(scope, name, version))

    def alias(self, scope: str, machine: str, alias: str) -> dict[str, Any] | None:
        return self.store.get(ALIASES, f"{scope}{machine}:{alias}")

    def aliases(self, scope: str, machine: str) -> list[dict[str, Any]]:
        return [value for _, value in self.store.scan(ALIASES, f"{scope}{machine}:")]

    def save_alias(self, scope: str, machine: str, record: dict[str, Any]) -> None:
        self.store.put(ALIASES, f"{scope}{machine}:{record['name']}", record)

    def delete_alias(self, scope: str, machine: str, alias: str) -> bool:
        return self.store.delete(ALIASES, f"{scope}{machine}:{alias}")

    # ------------------------------------------------------------ definitions
    def save_definition(self, definition: str) -> str:
        digest = hashlib.sha256(definition.encode()).hexdigest()
        self.store.insert(DEFINITIONS, digest, {"definition": definition})
        return digest

    def definition(self, digest: str) -> str:
        record = self.store.get(DEFINITIONS, digest)
        if record is None:
            raise KeyError(f"definition {digest} is missing from the store")
        return record["definition"]

    # ------------------------------------------------------------ executions
    def execution(self, arn: StatesArn) -> dict[str, Any] | None:
        return self.store.get(EXECUTIONS, f"{arn.scope}{arn.resource_path[0]}:{arn.resource_path[1]}")

    def execution_by_key(self, key: str) -> dict[str, Any] | None:
        return self.store.get(EXECUTIONS, key)

    def insert_execution(self, key: str, record: dict[str, Any], scope: str) -> bool:
        if not self.store.insert(EXECUTIONS, key, record):
            return False
        self.store.put(BY_START, by_start_key(scope, record["machineName"], record["startDate"], record["name"]), {})
        return True

    def save_execution(self, key: str, record: dict[str, Any]) -> None:
        self.store.put(EXECUTIONS, key, record)

    def executions_by_start(self, scope: str, machine: str, start_after: str | None,
                            limit: int) -> list[str]:
        """Index keys of a machine's executions, newest first."""
        rows = self.store.scan(BY_START, f"{scope}{machine}:", start_after=start_after, limit=limit)
        return [key for key, _ in rows]

    @staticmethod
    def execution_key_of_index(index_key: str) -> str:
        head, _, name = index_key.rpartition(":")
        return f"{head.rpartition(':')[0]}:{name}"

    # ------------------------------------------------------------ logs and resumption
    def log_chunks(self, log_id: str) -> list[tuple[str, dict[str, Any]]]:
        return self.store.scan(LOG, f"{log_id}:")

    def running(self) -> list[tuple[str, dict[str, Any]]]:
        return self.store.scan(RUNNING)
