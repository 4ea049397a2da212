"""EventBridge event buses and their resource policies (PutPermission, RemovePermission)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.events.common import (
    DEFAULT_LIMIT,
    LIMIT_EXCEEDED,
    MAX_BUSES,
    tags_dict,
    validation_error,
)
from cumulo.services.events.names import DEFAULT_BUS, bus_ref
from cumulo.services.pagination import decode_token, encode_token

if TYPE_CHECKING:
    from cumulo.platform import Platform


class BusOperations:
    """Mixed into ``EventsProvider``."""

    platform: Platform

    # ------------------------------------------------------------ buses
    def create_event_bus(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name = params["Name"]
        if params.get("EventSourceName"):
            raise AwsError("ResourceNotFoundException", f"Event source {params['EventSourceName']} does not exist.")
        if "/" in name:
            raise validation_error("Event bus name must not contain '/'.")
        if name == DEFAULT_BUS or repo.find_bus(name) is not None:
            raise AwsError("ResourceAlreadyExistsException", f"Event bus {name} already exists.")
        tags = tags_dict(params.get("Tags"))
        if len(repo.buses()) > MAX_BUSES:
            raise AwsError("LimitExceededException", LIMIT_EXCEEDED)
        record = repo.new_bus(name, Description=params.get("Description"),
                              KmsKeyIdentifier=params.get("KmsKeyIdentifier"),
                              DeadLetterConfig=params.get("DeadLetterConfig"), LogConfig=params.get("LogConfig"))
        record["Tags"] = tags
        if not repo.create_bus(record):
            raise AwsError("ResourceAlreadyExistsException", f"Event bus {name} already exists.")
        result = {"EventBusArn": record["Arn"]}
        for member in ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"):
            if record.get(member) is not None:
                result[member] = record[member]
        return result

    def delete_event_bus(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name = params["Name"]
        if name == DEFAULT_BUS:
            raise validation_error("Cannot delete event bus default.")
        for record in repo.rules(name):
            self.schedules.plan(repo.rule_key(name, record["Name"]), None)
        repo.delete_bus(name)
        self._bus_rules.pop(repo.scope + name, None)
        return {}

    def describe_event_bus(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = bus_ref(params.get("Name")).name
        return self._public_bus(self.repo(context).bus(name))

    def update_event_bus(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name = params.get("Name") or DEFAULT_BUS
        with self.platform.store.transaction():
            record = repo.bus(name)
            for member in ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"):
                if member in params:
                    record[member] = params[member]
            record["LastModifiedTime"] = time.time()
            repo.save_bus(record)
        result = {"Arn": record["Arn"], "Name": record["Name"]}
        for member in ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"):
            if record.get(member) is not None:
                result[member] = record[member]
        return result

    def list_event_buses(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        limit = params.get("Limit") or DEFAULT_LIMIT
        after = self._token(params, "events-buses")
        rows = repo.buses(params.get("NamePrefix") or "", start_after=after, limit=limit + 1)
        result: dict[str, Any] = {"EventBuses": [self._public_bus(r, listing=True) for r in rows[:limit]]}
        if len(rows) > limit:
            result["NextToken"] = encode_token("events-buses", rows[limit - 1]["Name"])
        return result

    @staticmethod
    def _token(params: dict[str, Any], kind: str) -> Any:
        return decode_token(params.get("NextToken"), kind, "ValidationException", "The NextToken provided is invalid.")

    # ------------------------------------------------------------ permissions
    def put_permission(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name = params.get("EventBusName") or DEFAULT_BUS
        with self.platform.store.transaction():
            record = repo.bus(name)
            if params.get("Policy") is not None:
                if any(params.get(p) is not None for p in ("Action", "Principal", "StatementId", "Condition")):
                    raise validation_error("Either Policy or (Action, Principal, StatementId) can be specified, "
                                           "not both.")
                try:
                    policy = json.loads(params["Policy"])
                except ValueError as exc:
                    raise validation_error("Policy is not a valid JSON document.") from exc
                if not isinstance(policy, dict):
                    raise validation_error("Policy is not a valid JSON document.")
                record["Policy"] = policy
            else:
                missing = [p for p in ("Action", "Principal", "StatementId") if not params.get(p)]
                if missing:
                    raise validation_error(f"Parameter(s) {', '.join(missing)} must be specified.")
                if params["Action"] != "events:PutEvents":
                    raise validation_error("Provided value in parameter 'action' is not supported.")
                principal = params["Principal"]
                statement: dict[str, Any] = {
                    "Sid": params["StatementId"], "Effect": "Allow",
                    "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
                    "Action": "events:PutEvents", "Resource": record["Arn"]}
                condition = params.get("Condition")
                if condition:
                    statement["Condition"] = {condition["Type"]: {condition["Key"]: condition["Value"]}}
                policy = record.get("Policy") or {"Version": "2012-10-17", "Statement": []}
                statements = policy.setdefault("Statement", [])
                if isinstance(statements, dict):
                    statements = policy["Statement"] = [statements]
                if any(s.get("Sid") == statement["Sid"] for s in statements):
                    raise AwsError("ResourceAlreadyExistsException", "Statement with the provided id already exists.")
                statements.append(statement)
                record["Policy"] = policy
            if len(json.dumps(record["Policy"], separators=(",", ":"))) > 10_240:
                raise AwsError("PolicyLengthExceededException",
                               "Event bus policy is larger than the maximum allowed size.")
            record["LastModifiedTime"] = time.time()
            repo.save_bus(record)
        return {}

    def remove_permission(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name = params.get("EventBusName") or DEFAULT_BUS
        with self.platform.store.transaction():
            record = repo.bus(name)
            if params.get("RemoveAllPermissions"):
                record.pop("Policy", None)
            else:
                sid = params.get("StatementId")
                if not sid:
                    raise validation_error("Parameter StatementId is required.")
                statements = (record.get("Policy") or {}).get("Statement") or []
                if isinstance(statements, dict):
                    statements = [statements]
                kept = [s for s in statements if s.get("Sid") != sid]
                if len(kept) == len(statements):
                    raise AwsError("ResourceNotFoundException", "Statement with the provided id does not exist.")
                if kept:
                    record["Policy"]["Statement"] = kept
                else:
                    record.pop("Policy", None)
            record["LastModifiedTime"] = time.time()
            repo.save_bus(record)
        return {}
