"""Where EventBridge's resources live in the store.

Tables (keys scoped by ``account:region:``):

* ``events.buses``  ``{scope}{bus}`` -> the bus: Name, Arn, Description, KmsKeyIdentifier,
  DeadLetterConfig, LogConfig, policy statements, times, tags;
* ``events.rules``  ``{scope}{bus}|{rule}`` -> the rule: its API members, tags, targets (at
  most five, in the order they were added) and, for scheduled rules, ``_schedule`` (the next
  fire time and the rate's anchor, in schedule-clock time).

The default bus is created on first use in each account and region.
"""

from __future__ import annotations

import time
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.events.names import DEFAULT_BUS, bus_arn, rule_arn
from cumulo.store.base import Store

BUSES, RULES = "events.buses", "events.rules"


def bus_not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Event bus {name} does not exist.")


def rule_not_found(name: str, bus: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Rule {name} does not exist on EventBus {bus}.")


class EventsRepository:
    def __init__(self, store: Store, account: str, region: str) -> None:
        self.store = store
        self.account = account
        self.region = region
        self.scope = f"{account}:{region}:"

    # ------------------------------------------------------------ buses
    def new_bus(self, name: str, **members: Any) -> dict[str, Any]:
        now = time.time()
        record = {"Name": name, "Arn": bus_arn(self.region, self.account, name), "CreationTime": now,
                  "LastModifiedTime": now, "Statements": [], "Tags": {}}
        record.update({k: v for k, v in members.items() if v is not None})
        return record

    def ensure_default(self) -> None:
        if self.store.get(BUSES, self.scope + DEFAULT_BUS) is None:
            self.store.insert(BUSES, self.scope + DEFAULT_BUS, self.new_bus(DEFAULT_BUS))

    def find_bus(self, name: str) -> dict[str, Any] | None:
        record = self.store.get(BUSES, self.scope + name)
        if record is None and name == DEFAULT_BUS:
            self.ensure_default()
            record = self.store.get(BUSES, self.scope + name)
        return record

    def bus(self, name: str) -> dict[str, Any]:
        record = self.find_bus(name)
        if record is None:
            raise bus_not_found(name)
        return record

    def create_bus(self, record: dict[str, Any]) -> bool:
        return self.store.insert(BUSES, self.scope + record["Name"], record)

    def save_bus(self, record: dict[str, Any]) -> None:
        self.store.put(BUSES, self.scope + record["Name"], record)

    def delete_bus(self, name: str) -> bool:
        with self.store.transaction():
            self.store.delete_prefix(RULES, f"{self.scope}{name}|")
            return self.store.delete(BUSES, self.scope + name)

    def buses(self, prefix: str = "", start_after: str | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
        self.ensure_default()
        rows = self.store.scan(BUSES, self.scope + prefix,
                               start_after=self.scope + start_after if start_after else None, limit=limit)
        return [value for _, value in rows]

    # ------------------------------------------------------------ rules
    def rule_key(self, bus: str, name: str) -> str:
        return f"{self.scope}{bus}|{name}"

    def rule_arn(self, bus: str, name: str) -> str:
        return rule_arn(self.region, self.account, bus, name)

    def find_rule(self, bus: str, name: str) -> dict[str, Any] | None:
        return self.store.get(RULES, self.rule_key(bus, name))

    def rule(self, bus: str, name: str) -> dict[str, Any]:
        record = self.find_rule(bus, name)
        if record is None:
            raise rule_not_found(name, bus)
        return record

    def save_rule(self, record: dict[str, Any]) -> None:
        self.store.put(RULES, self.rule_key(record["EventBusName"], record["Name"]), record)

    def delete_rule(self, bus: str, name: str) -> bool:
        return self.store.delete(RULES, self.rule_key(bus, name))

    def rules(self, bus: str, prefix: str = "", start_after: str | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
        base = f"{self.scope}{bus}|"
        rows = self.store.scan(RULES, base + prefix, start_after=base + start_after if start_after else None,
                               limit=limit)
        return [value for _, value in rows]

    def count_rules(self, bus: str) -> int:
        return len(self.store.scan(RULES, f"{self.scope}{bus}|"))


def split_rule_key(key: str) -> tuple[str, str, str, str]:
    """(account, region, bus, rule) of an ``events.rules`` key."""
    account, region, rest = key.split(":", 2)
    bus, _, name = rest.rpartition("|")
    return account, region, bus, name
