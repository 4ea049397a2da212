"""ARNs as targets name them: ``arn:partition:service:region:account:resource``."""

from __future__ import annotations

import re
from dataclasses import dataclass

ARN = re.compile(r"^arn:(?P<partition>aws[a-zA-Z-]*):(?P<service>[a-zA-Z0-9-]+):(?P<region>[a-z0-9-]*):"
                 r"(?P<account>\d{12})?:(?P<resource>.+)$")


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(text: str) -> Arn | None:
    found = ARN.match(text)
    if found is None:
        return None
    return Arn(found.group("partition"), found.group("service"), found.group("region"),
               found.group("account") or "", found.group("resource"))


def service_of(arn: str) -> str | None:
    parsed = parse_arn(arn)
    return parsed.service if parsed else None
