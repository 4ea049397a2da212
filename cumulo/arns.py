"""Amazon Resource Names: ``arn:partition:service:region:account:resource``, read and written.

Two readings, because callers need both:

* :func:`parse_arn` accepts only a well-formed ARN (an ``aws*`` partition, a 12-digit or empty account,
  a non-empty resource), as targets and rules must;
* :func:`split_arn` only splits the six fields, so that a service can apply its own checks and answer
  its own AWS error for each way an ARN can be wrong.

The resource part comes as ``id``, ``type/id`` or ``type:id[:qualifier]`` (Lambda functions, Step
Functions state machines); :class:`Arn` reads each form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WELL_FORMED = re.compile(r"^arn:(?P<partition>aws[a-zA-Z-]*):(?P<service>[a-zA-Z0-9-]+):(?P<region>[a-z0-9-]*):"
                          r"(?P<account>\d{12})?:(?P<resource>.+)$")


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return format_arn(self.service, self.region, self.account, self.resource, self.partition)

    @property
    def _type_separator(self) -> int:
        """Index of the ``/`` or ``:`` that ends the resource type, -1 when the resource has no type."""
        found = [i for i in (self.resource.find("/"), self.resource.find(":")) if i >= 0]
        return min(found) if found else -1

    @property
    def resource_type(self) -> str:
        """``function`` of ``function:name``, ``event-bus`` of ``event-bus/name``; "" for a bare id."""
        end = self._type_separator
        return self.resource[:end] if end >= 0 else ""

    @property
    def resource_id(self) -> str:
        """What follows the resource type (the whole resource when it has none)."""
        return self.resource[self._type_separator + 1:]

    @property
    def resource_path(self) -> tuple[str, ...]:
        """The ``:``-separated fields after the type: ``("m", "prod")`` of ``stateMachine:m:prod``."""
        return tuple(self.resource.split(":")[1:])

    @property
    def qualifier(self) -> str | None:
        """The qualifier of ``type:name:qualifier`` (a Lambda version or alias), None when unqualified."""
        path = self.resource_path
        return path[1] if len(path) == 2 else None


def split_arn(text: str) -> Arn | None:
    """The six fields of ``text`` without checking them; None when it is not ``arn:`` and six fields."""
    fields = text.split(":", 5)
    if len(fields) != 6 or fields[0] != "arn":
        return None
    return Arn(*fields[1:])


def parse_arn(text: str) -> Arn | None:
    """A well-formed ARN, or None."""
    found = _WELL_FORMED.match(text)
    if found is None:
        return None
    return Arn(found.group("partition"), found.group("service"), found.group("region"),
               found.group("account") or "", found.group("resource"))


def service_of(arn: str) -> str | None:
    """The service of a well-formed ARN, None for anything else."""
    parsed = parse_arn(arn)
    return parsed.service if parsed else None


def format_arn(service: str, region: str, account: str, resource: str, partition: str = "aws") -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"
