"""ARNs and names of EventBridge resources.

* event bus: ``arn:aws:events:{region}:{account}:event-bus/{name}``
* rule on the default bus: ``arn:aws:events:{region}:{account}:rule/{name}``
* rule on another bus: ``arn:aws:events:{region}:{account}:rule/{bus}/{name}``

APIs accept a bus by name or by ARN (``EventBusName``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cumulo.arns import parse_arn

DEFAULT_BUS = "default"
BUS_ARN = re.compile(r"^arn:aws[\w-]*:events:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):event-bus/(?P<name>.+)$")


def bus_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def rule_arn(region: str, account: str, bus: str, name: str) -> str:
    if bus == DEFAULT_BUS:
        return f"arn:aws:events:{region}:{account}:rule/{name}"
    return f"arn:aws:events:{region}:{account}:rule/{bus}/{name}"


@dataclass(frozen=True)
class BusRef:
    name: str
    account: str | None = None
    region: str | None = None


def bus_ref(name_or_arn: str | None) -> BusRef:
    """A bus named by name or ARN (None and "" are the default bus)."""
    if not name_or_arn:
        return BusRef(DEFAULT_BUS)
    found = BUS_ARN.match(name_or_arn)
    if found:
        return BusRef(found.group("name"), found.group("account"), found.group("region"))
    return BusRef(name_or_arn)


def parse_rule_arn(text: str) -> tuple[str, str, str, str] | None:
    """(account, region, bus, rule) of a rule ARN."""
    arn = parse_arn(text)
    if arn is None or arn.service != "events" or not arn.resource.startswith("rule/"):
        return None
    path = arn.resource[len("rule/"):]
    bus, _, name = path.rpartition("/")
    return arn.account, arn.region, bus or DEFAULT_BUS, name
