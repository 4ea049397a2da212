"""State machines, versions, aliases and tags: the control plane of Step Functions.

A state machine record keeps its current definition (by content digest), role, logging and
tracing configuration, and an internal revision that changes with every effective update (the
public ``revisionId`` appears after the first update, as on AWS). Publishing freezes the current
revision as a version numbered from a counter that never goes back (deleted numbers are not
reused); publishing an already published revision returns that version. An alias routes
executions to one or two versions by weight.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.pagination import decode_token, encode_token
from cumulo.services.stepfunctions.definitions import check_definition, diagnostics
from cumulo.services.stepfunctions.names import (
    StatesArn,
    check_alias_name,
    check_name,
    invalid_arn,
    log_group_of,
    machine_not_found,
    parse_arn,
    resource_not_found,
    state_machine_arn,
    validation,
)
from cumulo.services.tagging import MAX_TAGS, TagRules, add_tags, remove_tags, tag_list, tag_map, tags_of

if TYPE_CHECKING:
    from cumulo.services.base import RequestContext

MAX_VERSIONS = 1000
MAX_ALIASES = 100
DEFAULT_TRACING = {"enabled": False}


def _conflict(message: str) -> AwsError:
    return AwsError("ConflictException", message)


def _invalid_logging() -> AwsError:
    return AwsError("InvalidLoggingConfiguration",
                    "Invalid Logging Configuration: Must specify exactly one Log Destination.")


def logging_configuration(config: dict[str, Any] | None) -> dict[str, Any]:
    """A LoggingConfiguration with AWS's defaults filled in, or InvalidLoggingConfiguration."""
    config = dict(config or {})
    level = config.get("level") or "OFF"
    destinations = config.get("destinations") or []
    if len(destinations) > 1 or (level != "OFF" and not destinations):
        raise _invalid_logging()
    for destination in destinations:
        group = (destination.get("cloudWatchLogsLogGroup") or {}).get("logGroupArn", "")
        if log_group_of(group) is None:
            raise AwsError("InvalidLoggingConfiguration",
                           f"Invalid Logging Configuration: The CloudWatch Logs log group ARN '{group}' is invalid.")
    out: dict[str, Any] = {"level": level, "includeExecutionData": bool(config.get("includeExecutionData", False))}
    if destinations:
        out["destinations"] = destinations
    return out


def check_role(role: str) -> None:
    if not role.startswith("arn:"):
        raise invalid_arn(f"Invalid ARN prefix: {role}")


def tag_rules(arn: str) -> TagRules:
    return TagRules(lambda: AwsError("TooManyTags", f"Too many tags: the maximum is {MAX_TAGS} tags per resource",
                                     fields={"resourceName": arn}))


@dataclass
class Target:
    """What an execution runs: a machine, possibly through a version or an alias."""

    arn: StatesArn
    machine: dict[str, Any]
    version: dict[str, Any] | None = None
    alias_arn: str | None = None

    @property
    def source(self) -> dict[str, Any]:
        return self.version or self.machine


class MachineOperations:
    """CreateStateMachine ... ListTagsForResource (mixed into the provider)."""

    repo: Any
    runner: Any

    def now(self) -> float:  # provided by the provider
        raise NotImplementedError

    # ------------------------------------------------------------ helpers
    def _machine(self, arn_text: str) -> tuple[StatesArn, dict[str, Any]]:
        """An unqualified state machine ARN and its record."""
        arn = parse_arn(arn_text, "stateMachine")
        machine = self.repo.machine(arn)
        if machine is None or arn.qualifier is not None:
            raise machine_not_found(arn_text)
        return arn, machine

    def target(self, arn_text: str) -> Target:
        """The machine, version or alias an execution is started with."""
        arn = parse_arn(arn_text, "stateMachine")
        machine = self.repo.machine(arn)
        if machine is None:
            raise machine_not_found(arn_text)
        if arn.version is not None:
            version = self.repo.version(arn.scope, arn.name, arn.version)
            if version is None:
                raise machine_not_found(arn_text)
            return Target(arn, machine, version)
        if arn.alias is not None:
            alias = self.repo.alias(arn.scope, arn.name, arn.alias)
            if alias is None:
                raise machine_not_found(arn_text)
            routes = alias["routingConfiguration"]
            chosen = random.choices(routes, weights=[r["weight"] for r in routes])[0] if len(routes) > 1 \
                else routes[0]
            version = self.repo.version(arn.scope, arn.name, int(chosen["stateMachineVersionArn"].rsplit(":", 1)[1]))
            if version is None:
                raise machine_not_found(chosen["stateMachineVersionArn"])
            return Target(arn, machine, version, alias["stateMachineAliasArn"])
        return Target(arn, machine)

    def _publish(self, scope: str, machine: dict[str, Any], description: str | None) -> dict[str, Any]:
        """Freeze the machine's current revision as a version (or return the version that did)."""
        latest = machine.get("latestVersion")
        if latest is not None:
            version = self.repo.version(scope, machine["name"], latest)
            if version is not None and version["rev"] == machine["rev"]:
                return version
        if len(self.repo.versions(scope, machine["name"])) >= MAX_VERSIONS:
            raise AwsError("ServiceQuotaExceededException",
                           f"The maximum number of versions ({MAX_VERSIONS}) has been reached.")
        number = machine.get("nextVersion", 1)
        version = {
            "version": number, "arn": f"{machine['arn']}:{number}", "name": machine["name"],
            "digest": machine["digest"], "roleArn": machine["roleArn"], "type": machine["type"],
            "loggingConfiguration": machine["loggingConfiguration"],
            "tracingConfiguration": machine["tracingConfiguration"], "creationDate": self.now(),
            "rev": machine["rev"],
        }
        if machine.get("revisionId"):
            version["revisionId"] = machine["revisionId"]
        if description:
            version["description"] = description
        machine["nextVersion"] = number + 1
        machine["latestVersion"] = number
        self.repo.save_version(scope, machine["name"], version)
        return version

    def _describe(self, record: dict[str, Any], arn: str, creation: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stateMachineArn": arn, "name": record["name"], "status": "ACTIVE",
            "definition": self.repo.definition(record["digest"]), "roleArn": record["roleArn"],
            "type": record["type"], "creationDate": creation,
            "loggingConfiguration": record["loggingConfiguration"],
            "tracingConfiguration": record["tracingConfiguration"],
        }
        for name in ("revisionId", "description", "encryptionConfiguration"):
            if record.get(name):
                out[name] = record[name]
        return out

    # ------------------------------------------------------------ state machines
    def create_state_machine(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("versionDescription") and not params.get("publish"):
            raise validation("Version description can only be set when publish is true")
        name = check_name(params["name"])
        check_role(params["roleArn"])
        machine_type = params.get("type") or "STANDARD"
        logging = logging_configuration(params.get("loggingConfiguration"))
        tracing = params.get("tracingConfiguration") or dict(DEFAULT_TRACING)
        tags = tag_map(params.get("tags"), "key", "value")
        arn = state_machine_arn(context.region, context.account_id, name)
        tag_rules(arn).check(tags)
        compiled = check_definition(params["definition"], machine_type)
        scope = f"{context.account_id}:{context.region}:"
        with self.repo.store.transaction():
            existing = self.repo.store.get("sfn.machines", scope + name)
            if existing is not None:
                same = (self.repo.definition(existing["digest"]) == params["definition"]
                        and existing["type"] == machine_type and existing["loggingConfiguration"] == logging
                        and existing["tracingConfiguration"] == tracing)
                if not same:
                    raise AwsError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
                out = {"stateMachineArn": arn, "creationDate": existing["creationDate"]}
                if params.get("publish"):
                    out["stateMachineVersionArn"] = self._publish(scope, existing, params.get("versionDescription"))[
                        "arn"]
                    self.repo.save_machine(scope, existing)
                return out
            digest = self.repo.save_definition(params["definition"])
            self.runner.remember(digest, compiled)
            machine = {
                "name": name, "arn": arn, "digest": digest, "roleArn": params["roleArn"], "type": machine_type,
                "loggingConfiguration": logging, "tracingConfiguration": tracing, "creationDate": self.now(),
                "rev": uuid.uuid4().hex, "tags": tags, "nextVersion": 1,
            }
            if params.get("encryptionConfiguration"):
                machine["encryptionConfiguration"] = params["encryptionConfiguration"]
            out = {"stateMachineArn": arn, "creationDate": machine["creationDate"]}
            if params.get("publish"):
                out["stateMachineVersionArn"] = self._publish(scope, machine, params.get("versionDescription"))["arn"]
            self.repo.save_machine(scope, machine)
        return out

    def describe_state_machine(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["stateMachineArn"]
        arn = parse_arn(text, "stateMachine")
        machine = self.repo.machine(arn)
        if machine is None or arn.alias is not None:
            raise machine_not_found(text)
        if arn.version is not None:
            version = self.repo.version(arn.scope, arn.name, arn.version)
            if version is None:
                raise machine_not_found(text)
            return self._describe(version, version["arn"], version["creationDate"])
        return self._describe(machine, machine["arn"], machine["creationDate"])

    def list_state_machines(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = params.get("maxResults") or 100
        after = decode_token(params.get("nextToken"), "sfn.machines", "InvalidToken", "Invalid Token: 'Invalid token'")
        scope = f"{context.account_id}:{context.region}:"
        rows = self.repo.machines(scope, after, limit + 1)
        out: dict[str, Any] = {"stateMachines": [
            {"stateMachineArn": m["arn"], "name": m["name"], "type": m["type"], "creationDate": m["creationDate"]}
            for m in rows[:limit]]}
        if len(rows) > limit:
            out["nextToken"] = encode_token("sfn.machines", rows[limit - 1]["name"])
        return out

    def update_state_machine(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn, machine = self._machine(params["stateMachineArn"])
        if params.get("versionDescription") and not params.get("publish"):
            raise validation("Version description can only be set when publish is true")
        changes = [params.get(k) is not None for k in ("definition", "roleArn", "loggingConfiguration",
                                                        "tracingConfiguration")]
        if not any(changes) and not params.get("publish"):
            raise AwsError("MissingRequiredParameter", "Either the definition, the role ARN, the "
                           "LoggingConfiguration, or the TracingConfiguration must be specified")
        updated = dict(machine)
        if params.get("definition") is not None:
            compiled = check_definition(params["definition"], machine["type"])
            digest = self.repo.save_definition(params["definition"])
            self.runner.remember(digest, compiled)
            updated["digest"] = digest
        if params.get("roleArn") is not None:
            check_role(params["roleArn"])
            updated["roleArn"] = params["roleArn"]
        if params.get("loggingConfiguration") is not None:
            updated["loggingConfiguration"] = logging_configuration(params["loggingConfiguration"])
        if params.get("tracingConfiguration") is not None:
            updated["tracingConfiguration"] = params["tracingConfiguration"]
        if params.get("encryptionConfiguration") is not None:
            updated["encryptionConfiguration"] = params["encryptionConfiguration"]
        watched = ("digest", "roleArn", "loggingConfiguration", "tracingConfiguration", "encryptionConfiguration")
        changed = any(updated.get(k) != machine.get(k) for k in watched)
        now = self.now()
        if changed:
            updated["rev"] = uuid.uuid4().hex
            updated["revisionId"] = str(uuid.uuid4())
        updated["updateDate"] = now
        out: dict[str, Any] = {"updateDate": now}
        if updated.get("revisionId"):
            out["revisionId"] = updated["revisionId"]
        with self.repo.store.transaction():
            if params.get("publish"):
                out["stateMachineVersionArn"] = self._publish(arn.scope, updated, params.get("versionDescription"))[
                    "arn"]
            self.repo.save_machine(arn.scope, updated)
        return out

    def delete_state_machine(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = parse_arn(params["stateMachineArn"], "stateMachine")
        if arn.version is not None:
            return self.delete_state_machine_version(context, {"stateMachineVersionArn": params["stateMachineArn"]})
        if arn.alias is not None:
            return self.delete_state_machine_alias(context, {"stateMachineAliasArn": params["stateMachineArn"]})
        self.repo.delete_machine(arn.scope, arn.name)
        return {}

    def validate_state_machine_definition(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, problems = diagnostics(params["definition"], params.get("type") or "STANDARD")
        limit = params.get("maxResults") or 100
        found = [{"severity": "ERROR", "code": code, "message": message, "location": location}
                 for code, message, location in problems]
        out: dict[str, Any] = {"result": "FAIL" if found else "OK", "diagnostics": found[:limit],
                               "truncated": len(found) > limit}
        return out

    # ------------------------------------------------------------ versions
    def publish_state_machine_version(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn, machine = self._machine(params["stateMachineArn"])
        revision = params.get("revisionId")
        if revision is not None and revision != machine.get("revisionId"):
            raise _conflict(f"Failed to publish the State Machine version for revision {revision}. "
                            f"The current State Machine revision is {machine.get('revisionId')}.")
        with self.repo.store.transaction():
            version = self._publish(arn.scope, machine, params.get("description"))
            self.repo.save_machine(arn.scope, machine)
        return {"creationDate": version["creationDate"], "stateMachineVersionArn": version["arn"]}

    def list_state_machine_versions(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn, _ = self._machine(params["stateMachineArn"])
        versions = sorted(self.repo.versions(arn.scope, arn.name), key=lambda v: -v["version"])
        return self._page(params, "sfn.versions", [
            {"stateMachineVersionArn": v["arn"], "creationDate": v["creationDate"]} for v in versions],
            "stateMachineVersions")

    def delete_state_machine_version(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["stateMachineVersionArn"]
        arn = parse_arn(text, "stateMachine")
        if arn.version is None:
            raise validation(f"Invalid version ARN: {text}")
        referencing = [a["name"] for a in self.repo.aliases(arn.scope, arn.name)
                       if any(r["stateMachineVersionArn"] == text for r in a["routingConfiguration"])]
        if referencing:
            raise _conflict("Version to be deleted must not be referenced by an alias. Current list of aliases "
                            f"referencing this version: [{', '.join(referencing)}]")
        self.repo.delete_version(arn.scope, arn.name, arn.version)
        return {}

    def _page(self, params: dict[str, Any], kind: str, items: list[dict[str, Any]], member: str) -> dict[str, Any]:
        limit = params.get("maxResults") or 100
        start = decode_token(params.get("nextToken"), kind, "InvalidToken", "Invalid Token: 'Invalid token'") or 0
        out: dict[str, Any] = {member: items[start:start + limit]}
        if start + limit < len(items):
            out["nextToken"] = encode_token(kind, start + limit)
        return out

    # ------------------------------------------------------------ aliases
    def _routing(self, routes: list[dict[str, Any]]) -> str:
        """Validate a routing configuration; returns the unqualified machine ARN it routes to."""
        arns = [r["stateMachineVersionArn"] for r in routes]
        listed = f"[{', '.join(arns)}]"
        if len(routes) > 2:
            items = ", ".join(f"RoutingConfigurationListItem(stateMachineVersionArn={r['stateMachineVersionArn']}, "
                              f"weight={r['weight']})" for r in routes)
            raise validation(f"1 validation error detected: Value '[{items}]' at 'routingConfiguration' failed to "
                             "satisfy constraint: Member must have length less than or equal to 2")
        if len(set(arns)) < len(arns):
            raise validation(f"Routing configuration must contain distinct state machine version ARNs. "
                             f"Received: {listed}")
        parsed = []
        for text in arns:
            try:
                arn = parse_arn(text, "stateMachine")
            except AwsError:
                arn = None
            if arn is None or arn.version is None:
                raise validation(f"Routing configuration must contain state machine version ARNs. Received: {listed}")
            parsed.append(arn)
        weights = [r["weight"] for r in routes]
        if sum(weights) != 100:
            raise validation(f"Sum of routing configuration weights must equal 100. Received: {json.dumps(weights)}")
        machines = {a.machine_arn() for a in parsed}
        if len(machines) > 1:
            raise validation(f"Routing configuration must contain versions of the same state machine. "
                             f"Received: {listed}")
        for arn in parsed:
            if self.repo.version(arn.scope, arn.name, arn.version) is None:
                raise resource_not_found(f"Resource not found: '{arn.machine_arn()}:{arn.version}'")
        return parsed[0].machine_arn()

    def _alias(self, text: str) -> tuple[StatesArn, dict[str, Any]]:
        arn = parse_arn(text, "stateMachine")
        if arn.alias is None:
            raise invalid_arn(text)
        alias = self.repo.alias(arn.scope, arn.name, arn.alias)
        if alias is None:
            raise resource_not_found()
        return arn, alias

    def create_state_machine_alias(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = check_alias_name(params["name"])
        routes = [{"stateMachineVersionArn": r["stateMachineVersionArn"], "weight": r["weight"]}
                  for r in params["routingConfiguration"]]
        machine_arn = self._routing(routes)
        arn = parse_arn(machine_arn, "stateMachine")
        if self.repo.machine(arn) is None:
            raise resource_not_found(f"Resource not found: '{machine_arn}'")
        alias_arn = f"{machine_arn}:{name}"
        with self.repo.store.transaction():
            existing = self.repo.alias(arn.scope, arn.name, name)
            if existing is not None:
                if existing["routingConfiguration"] == routes and existing.get("description") == params.get(
                        "description"):
                    return {"stateMachineAliasArn": alias_arn, "creationDate": existing["creationDate"]}
                raise _conflict("Failed to create alias because an alias with the same name and a different "
                                "routing configuration already exists.")
            if len(self.repo.aliases(arn.scope, arn.name)) >= MAX_ALIASES:
                raise AwsError("ServiceQuotaExceededException",
                               f"The maximum number of aliases ({MAX_ALIASES}) has been reached.")
            now = self.now()
            alias = {"name": name, "stateMachineAliasArn": alias_arn, "routingConfiguration": routes,
                     "creationDate": now, "updateDate": now}
            if params.get("description") is not None:
                alias["description"] = params["description"]
            self.repo.save_alias(arn.scope, arn.name, alias)
        return {"stateMachineAliasArn": alias_arn, "creationDate": now}

    def describe_state_machine_alias(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, alias = self._alias(params["stateMachineAliasArn"])
        return dict(alias)

    def update_state_machine_alias(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("description") is None and params.get("routingConfiguration") is None:
            raise AwsError("MissingRequiredParameter",
                           "Either the description or the RoutingConfiguration must be specified")
        routes = None
        if params.get("routingConfiguration") is not None:
            routes = [{"stateMachineVersionArn": r["stateMachineVersionArn"], "weight": r["weight"]}
                      for r in params["routingConfiguration"]]
            self._routing(routes)
        arn, alias = self._alias(params["stateMachineAliasArn"])
        if routes is not None:
            alias["routingConfiguration"] = routes
        if params.get("description") is not None:
            alias["description"] = params["description"]
        alias["updateDate"] = self.now()
        self.repo.save_alias(arn.scope, arn.name, alias)
        return {"updateDate": alias["updateDate"]}

    def delete_state_machine_alias(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = parse_arn(params["stateMachineAliasArn"], "stateMachine")
        if arn.alias is None:
            raise invalid_arn(params["stateMachineAliasArn"])
        self.repo.delete_alias(arn.scope, arn.name, arn.alias)
        return {}

    def list_state_machine_aliases(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn, _ = self._machine(params["stateMachineArn"])
        items = [{"stateMachineAliasArn": a["stateMachineAliasArn"], "creationDate": a["creationDate"]}
                 for a in self.repo.aliases(arn.scope, arn.name)]
        return self._page(params, "sfn.aliases", items, "stateMachineAliases")

    # ------------------------------------------------------------ tags
    def _tagged(self, text: str) -> tuple[dict[str, Any], Any]:
        """The tagged record (a state machine or an activity) and how to save it."""
        try:
            arn = parse_arn(text, "stateMachine", "activity")
        except AwsError:
            raise resource_not_found(f"Resource not found: '{text}'") from None
        key = arn.scope + arn.name
        table = "sfn.machines" if arn.resource_type == "stateMachine" else "sfn.activities"
        record = self.repo.store.get(table, key)
        if record is None or arn.qualifier is not None:
            raise resource_not_found(f"Resource not found: '{text}'")
        return record, lambda: self.repo.store.put(table, key, record)

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record, save = self._tagged(params["resourceArn"])
        add_tags(record, tag_map(params["tags"], "key", "value"), tag_rules(params["resourceArn"]))
        save()
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record, save = self._tagged(params["resourceArn"])
        remove_tags(record, params["tagKeys"])
        save()
        return {}

    def list_tags_for_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record, _ = self._tagged(params["resourceArn"])
        return {"tags": tag_list(tags_of(record), "key", "value")}
