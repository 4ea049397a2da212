"""ARNs and names of Step Functions resources, and the errors AWS answers when they are wrong.

* state machine ``arn:aws:states:<region>:<account>:stateMachine:<name>``, qualified by a version
  number (``:3``) or an alias name (``:prod``);
* standard execution ``arn:aws:states:<region>:<account>:execution:<machine>:<name>``;
* express execution ``arn:aws:states:<region>:<account>:express:<machine>:<name>:<uuid>``.
"""

from __future__ import annotations

import re

from cumulo.arns import Arn, split_arn
from cumulo.protocol.errors import AwsError

# AWS: a name must not contain white space, brackets, wildcards, special characters or control
# characters (and is 1 to 80 characters long, which the model checks).
_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_ALIAS_NAME = re.compile(r"^(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]+$")
ALIAS_PATTERN = r"^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$"


def invalid_arn(message: str) -> AwsError:
    return AwsError("InvalidArn", f"Invalid Arn: '{message}'")


def machine_not_found(arn: str) -> AwsError:
    return AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")


def execution_not_found(arn: str) -> AwsError:
    return AwsError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")


def resource_not_found(message: str = "Request references a resource that does not exist.") -> AwsError:
    return AwsError("ResourceNotFound", message)


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def type_not_supported() -> AwsError:
    return AwsError("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine")


def check_name(name: str) -> str:
    if not name or len(name) > 80 or _FORBIDDEN.search(name):
        raise AwsError("InvalidName", f"Invalid Name: '{name}'")
    return name


def check_alias_name(name: str) -> str:
    if len(name) > 80:
        raise validation(f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
                         "Member must have length less than or equal to 80")
    if not _ALIAS_NAME.match(name):
        raise validation(f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
                         f"Member must satisfy regular expression pattern: {ALIAS_PATTERN}")
    return name


class StatesArn(Arn):
    """A Step Functions ARN: ``<type>:<name>[:...]``, whose type always ends at the first ``:``."""

    __slots__ = ()

    @property
    def resource_type(self) -> str:  # stateMachine, execution, express, activity, mapRun...
        return self.resource.split(":", 1)[0]

    @property
    def scope(self) -> str:
        """The store key prefix of resources in this ARN's account and region."""
        return f"{self.account}:{self.region}:"

    @property
    def name(self) -> str:
        return self.resource_path[0]

    @property
    def qualifier(self) -> str | None:
        path = self.resource_path
        return path[1] if self.resource_type == "stateMachine" and len(path) > 1 else None

    @property
    def version(self) -> int | None:
        q = self.qualifier
        return int(q) if q is not None and q.isdigit() else None

    @property
    def alias(self) -> str | None:
        q = self.qualifier
        return q if q is not None and not q.isdigit() else None

    def machine_arn(self) -> str:
        """The unqualified state machine ARN (of a machine, version, alias or execution ARN)."""
        return state_machine_arn(self.region, self.account, self.name, partition=self.partition)


def parse_arn(text: str, *allowed: str) -> StatesArn:
    """Parse a Step Functions ARN whose resource type is one of ``allowed`` (any when empty)."""
    if not text.startswith("arn:"):
        raise invalid_arn(f"Invalid ARN prefix: {text}")
    fields = split_arn(text)
    if fields is None or fields.service != "states" or not fields.region or not fields.account:
        raise invalid_arn(text)
    parsed = StatesArn(fields.partition, fields.service, fields.region, fields.account, fields.resource)
    if not parsed.resource_path or not all(parsed.resource_path):
        raise invalid_arn(text)
    if allowed and parsed.resource_type not in allowed:
        raise invalid_arn(f"Resource type not valid in this context: {parsed.resource_type.lower()}")
    expected = {"stateMachine": (1, 2), "execution": (2, 2), "express": (3, 3),
                "activity": (1, 1)}.get(parsed.resource_type)
    if expected is not None and not expected[0] <= len(parsed.resource_path) <= expected[1]:
        raise invalid_arn(text)
    return parsed


def log_group_of(text: str) -> tuple[str, str, str] | None:
    """(region, account, group name) of a ``...:logs:region:account:log-group:name[:*]`` ARN, None otherwise."""
    arn = split_arn(text)
    if arn is None or arn.service != "logs" or not arn.resource.startswith("log-group:") or not arn.resource_path[0]:
        return None
    return arn.region, arn.account, arn.resource_path[0]


def state_machine_arn(region: str, account: str, name: str, qualifier: str | int | None = None,
                      partition: str = "aws") -> str:
    arn = f"arn:{partition}:states:{region}:{account}:stateMachine:{name}"
    return arn if qualifier is None else f"{arn}:{qualifier}"


def execution_arn(region: str, account: str, machine: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:states:{region}:{account}:execution:{machine}:{name}"


def express_execution_arn(region: str, account: str, machine: str, name: str, run_id: str,
                          partition: str = "aws") -> str:
    return f"arn:{partition}:states:{region}:{account}:express:{machine}:{name}:{run_id}"
