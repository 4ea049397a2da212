"""AWS CloudFormation: stacks and change sets over Cumulo's deployment engine.

Stack operations run in the background after the API call returns, exactly like
CloudFormation: callers poll DescribeStacks/DescribeStackEvents (or use boto3's waiters).
Templates are validated and their parameters bound before anything is created, so a bad
template fails at CreateStack/UpdateStack/CreateChangeSet with a ValidationError and changes
nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext
from cumulo.services.cloudformation import summary
from cumulo.services.cloudformation.errors import ValidationFailure, template_error
from cumulo.services.cloudformation.intrinsics import IntrinsicError
from cumulo.services.cloudformation.ordering import dependency_graph
from cumulo.services.cloudformation.resources import handlers
from cumulo.services.cloudformation.sam_transform import warm_up
from cumulo.services.cloudformation.stack_operation import StackOperation, new_stack_id, now_iso
from cumulo.services.cloudformation.summary import IAM_TYPES
from cumulo.services.cloudformation.template import PreparedTemplate, check_properties, prepare
from cumulo.services.pagination import decode_token, take_page
from cumulo.template_loader import TemplateError, load_template

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.cloudformation")
STACKS, EVENTS, EXPORTS, CHANGE_SETS = "cfn.stacks", "cfn.events", "cfn.exports", "cfn.changesets"
STACK_NAME = re.compile(r"^[A-Za-z][-a-zA-Z0-9]{0,127}$")
NAMED_IAM = {"AWS::IAM::Role": "RoleName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
             "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName"}
IN_PROGRESS_FAILURE = {"CREATE_IN_PROGRESS": "CREATE_FAILED", "UPDATE_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED",
                       "DELETE_IN_PROGRESS": "DELETE_FAILED", "ROLLBACK_IN_PROGRESS": "ROLLBACK_FAILED",
                       "UPDATE_ROLLBACK_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED",
                       "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_COMPLETE",
                       "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_ROLLBACK_COMPLETE"}
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
             "IMPORT_ROLLBACK_COMPLETE"}
PUBLIC_STACK_FIELDS = ("StackId", "StackName", "ChangeSetId", "Description", "Parameters", "CreationTime",
                       "DeletionTime", "LastUpdatedTime", "StackStatus", "StackStatusReason", "DisableRollback",
                       "NotificationARNs", "Capabilities", "Outputs", "Tags", "EnableTerminationProtection",
                       "DriftInformation", "RollbackConfiguration")


def _validation(message: str) -> AwsError:
    return AwsError("ValidationError", message)


class CloudFormationProvider(Provider):
    service = "cloudformation"
    validation_error_code = "ValidationError"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self._last_event_ns = 0  # event keys: strictly increasing nanoseconds, so listings keep the order
        self._running: dict[str, StackOperation] = {}  # stack id -> its create or update in progress
        self._delete_requested: set[str] = set()  # stacks deleted while being created

    async def start(self) -> None:
        asyncio.get_running_loop().run_in_executor(None, warm_up)
        # An operation the previous process did not finish cannot be resumed: report it failed.
        for key, stack in self.platform.store.scan(STACKS):
            status = stack["StackStatus"]
            if status in IN_PROGRESS_FAILURE:
                stack["StackStatus"] = IN_PROGRESS_FAILURE[status]
                stack["StackStatusReason"] = "Cumulo was restarted while this stack operation was in progress"
                self.platform.store.put(STACKS, key, stack)

    # ------------------------------------------------------------ storage
    def _key(self, context: RequestContext, name: str) -> str:
        return f"{context.account_id}:{context.region}:{name}"

    def _stack(self, context: RequestContext, name_or_id: str) -> dict[str, Any]:
        if name_or_id.startswith("arn:"):
            for _, stack in self.platform.store.scan(STACKS, f"{context.account_id}:{context.region}:"):
                if stack["StackId"] == name_or_id:
                    return stack
            for _, stack in self.platform.store.scan("cfn.deleted", f"{context.account_id}:{context.region}:"):
                if stack["StackId"] == name_or_id:
                    return stack
        else:
            stack = self.platform.store.get(STACKS, self._key(context, name_or_id))
            if stack is not None:
                return stack
        raise _validation(f"Stack with id {name_or_id} does not exist")

    def _save(self, stack: dict[str, Any]) -> None:
        key = f"{stack['_account']}:{stack['_region']}:{stack['StackName']}"
        if stack["StackStatus"] == "DELETE_COMPLETE":
            with self.platform.store.transaction():
                self.platform.store.delete(STACKS, key)
                self.platform.store.put("cfn.deleted", f"{key}:{stack['StackId']}", stack)
        else:
            self.platform.store.put(STACKS, key, stack)

    def _event(self, stack: dict[str, Any], logical_id: str, physical_id: str, kind: str, status: str,
               reason: str = "", properties: dict[str, Any] | None = None) -> None:
        self._last_event_ns = max(time.time_ns(), self._last_event_ns + 1)
        event = {"StackId": stack["StackId"], "EventId": str(uuid.uuid4()), "StackName": stack["StackName"],
                 "LogicalResourceId": logical_id, "PhysicalResourceId": physical_id, "ResourceType": kind,
                 "Timestamp": now_iso(), "ResourceStatus": status}
        if reason:
            event["ResourceStatusReason"] = reason
        if properties is not None:
            event["ResourceProperties"] = json.dumps(properties)
        self.platform.store.put(EVENTS, f"{stack['StackId']}\x00{self._last_event_ns:020d}", event)

    def _stack_event(self, stack: dict[str, Any], status: str, reason: str = "") -> None:
        stack["StackStatus"] = status
        if reason:
            stack["StackStatusReason"] = reason
        else:
            stack.pop("StackStatusReason", None)
        self._save(stack)
        self._event(stack, stack["StackName"], stack["StackId"], "AWS::CloudFormation::Stack", status, reason)

    def _import_value(self, context_account: str, region: str):
        def lookup(name: str) -> Any:
            export = self.platform.store.get(EXPORTS, f"{context_account}:{region}:{name}")
            if export is None:
                raise IntrinsicError(f"No export named {name} found.")
            return export["Value"]
        return lookup

    # ------------------------------------------------------------ templates
    def _template_text(self, context: RequestContext, params: dict[str, Any]) -> str:
        if params.get("TemplateBody"):
            return params["TemplateBody"]
        url = params.get("TemplateURL")
        if not url:
            raise _validation("Either Template URL or Template Body must be specified.")
        bucket, key = _s3_location(url)
        try:
            return self.platform.objects.read_object(bucket, key).decode()
        except AwsError as error:
            raise _validation(f"TemplateURL must be a supported URL: {url} ({error.message})") from error

    def _prepare(self, context: RequestContext, text: str, given: dict[str, str], stack_name: str,
                 stack_id: str, capabilities: list[str], auto_expand_needed: bool) -> PreparedTemplate:
        try:
            body = load_template(text)
            known = handlers()
            prepared = prepare(body, given, context.account_id, context.region, stack_name, stack_id, known,
                               self.platform.objects.read_object)
            check_properties(prepared.resources, {kind: h.properties | h.ignored for kind, h in known.items()
                                                  if not h.open_properties})
        except ValidationFailure as exc:
            raise _validation(str(exc)) from exc
        except (TemplateError, IntrinsicError) as exc:
            raise _validation(str(template_error(exc))) from exc
        needed = self._capabilities_needed(body, prepared)
        if not auto_expand_needed:
            needed.discard("CAPABILITY_AUTO_EXPAND")
        missing = sorted(needed - set(capabilities) - ({"CAPABILITY_IAM"} if "CAPABILITY_NAMED_IAM" in capabilities
                                                          else set()))
        if missing:
            raise AwsError("InsufficientCapabilitiesException", f"Requires capabilities : [{', '.join(missing)}]")
        return prepared

    @staticmethod
    def _capabilities_needed(body: dict[str, Any], prepared: PreparedTemplate) -> set[str]:
        needed = set()
        if body.get("Transform"):
            needed.add("CAPABILITY_AUTO_EXPAND")
        for definition in prepared.resources.values():
            kind = definition["Type"]
            if kind in IAM_TYPES:
                named = NAMED_IAM.get(kind) in (definition.get("Properties") or {})
                needed.add("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
        if "CAPABILITY_NAMED_IAM" in needed:
            needed.discard("CAPABILITY_IAM")
        return needed

    @staticmethod
    def _given(params: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, str]:
        values: dict[str, str] = {}
        old = {p["ParameterKey"]: p.get("ParameterValue", "") for p in (previous or {}).get("Parameters") or []}
        for parameter in params.get("Parameters") or []:
            name = parameter["ParameterKey"]
            if parameter.get("UsePreviousValue"):
                if name not in old:
                    raise _validation(f"Invalid input for parameter key {name}. Cannot specify usePreviousValue as "
                                      "true for a parameter key not in the previous template")
                values[name] = old[name]
            else:
                values[name] = parameter.get("ParameterValue", "")
        return values

    # ------------------------------------------------------------ running operations
    def _operation(self, stack: dict[str, Any]) -> StackOperation:
        return StackOperation(self.platform, stack, self._save, self._event,
                              self._import_value(stack["_account"], stack["_region"]))

    def _launch(self, stack: dict[str, Any], prepared: PreparedTemplate, previous: PreparedTemplate | None,
                on_failure: str) -> None:
        operation = self._running[stack["StackId"]] = self._operation(stack)

        async def run() -> None:
            try:
                await self._run_deploy(operation, stack, prepared, previous, on_failure)
            finally:
                self._running.pop(stack["StackId"], None)
            if stack["StackId"] in self._delete_requested:  # the create ended before the cancel reached it
                self._delete_requested.discard(stack["StackId"])
                await self._run_delete(stack)

        self.platform.spawn(run(), name=f"stack {stack['StackName']}")

    async def _run_deploy(self, operation: StackOperation, stack: dict[str, Any], prepared: PreparedTemplate,
                          previous: PreparedTemplate | None, on_failure: str) -> None:
        updating = previous is not None
        stack["_dependencies"] = {lid: sorted(deps) for lid, deps in prepared.dependencies.items()}
        self._stack_event(stack, "UPDATE_IN_PROGRESS" if updating else "CREATE_IN_PROGRESS",
                          "User Initiated")
        outcome = await operation.deploy(prepared, previous)
        if outcome.ok:
            try:
                outputs = operation.outputs(prepared)
                self._register_exports(stack, outputs)
            except (IntrinsicError, ValidationFailure) as exc:
                outcome.ok, outcome.reason = False, str(exc)
        if outcome.ok:
            stack["Outputs"] = outputs
            stack["_processed"] = prepared.body
            stack["_parameter_values"] = prepared.parameters
            stack["_conditions"] = prepared.conditions
            self._stack_event(stack, "UPDATE_COMPLETE" if updating else "CREATE_COMPLETE")
            return
        log.info("stack %s failed: %s", stack["StackName"], outcome.reason)
        if stack["StackId"] in self._delete_requested:  # DeleteStack during the create: roll back, then gone
            self._delete_requested.discard(stack["StackId"])
            on_failure = "DELETE"
        if updating:
            self._stack_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", outcome.reason)
            rolled = await operation.roll_back(prepared, previous)
            stack["_dependencies"] = {lid: sorted(d) for lid, d in previous.dependencies.items()}
            self._stack_event(stack, "UPDATE_ROLLBACK_COMPLETE" if rolled.ok else "UPDATE_ROLLBACK_FAILED",
                              "" if rolled.ok else rolled.reason)
        elif on_failure == "DO_NOTHING":
            self._stack_event(stack, "CREATE_FAILED", outcome.reason)
        else:
            self._stack_event(stack, "ROLLBACK_IN_PROGRESS", outcome.reason)
            rolled = await operation.roll_back(prepared, None)
            if on_failure == "DELETE" and rolled.ok:
                self._stack_event(stack, "DELETE_COMPLETE")
            else:
                self._stack_event(stack, "ROLLBACK_COMPLETE" if rolled.ok else "ROLLBACK_FAILED",
                                  "" if rolled.ok else rolled.reason)

    def _register_exports(self, stack: dict[str, Any], outputs: list[dict[str, Any]]) -> None:
        store = self.platform.store
        scope = f"{stack['_account']}:{stack['_region']}:"
        wanted = {o["ExportName"]: o["OutputValue"] for o in outputs if o.get("ExportName")}
        with store.transaction():
            for name in wanted:
                existing = store.get(EXPORTS, scope + name)
                if existing is not None and existing["ExportingStackId"] != stack["StackId"]:
                    raise ValidationFailure(f"Export with name {name} is already exported by stack "
                                            f"{existing['ExportingStackId'].split('/')[1]}")
            for key, export in store.scan(EXPORTS, scope):
                if export["ExportingStackId"] == stack["StackId"] and export["Name"] not in wanted:
                    store.delete(EXPORTS, key)
            for name, value in wanted.items():
                store.put(EXPORTS, scope + name, {"Name": name, "Value": value, "ExportingStackId": stack["StackId"]})

    async def _run_delete(self, stack: dict[str, Any]) -> None:
        operation = self._operation(stack)
        self._stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated")
        outcome = await operation.delete_resources(dict(stack.get("resources") or {}))
        if not outcome.ok:
            self._stack_event(stack, "DELETE_FAILED", outcome.reason)
            return
        scope = f"{stack['_account']}:{stack['_region']}:"
        for key, export in self.platform.store.scan(EXPORTS, scope):
            if export["ExportingStackId"] == stack["StackId"]:
                self.platform.store.delete(EXPORTS, key)
        stack["DeletionTime"] = now_iso()
        self._stack_event(stack, "DELETE_COMPLETE")

    def _previous(self, context: RequestContext, stack: dict[str, Any]) -> PreparedTemplate:
        """The stack's current template as prepared when it was last deployed."""
        processed = stack.get("_processed") or {"Resources": {}}
        conditions = stack.get("_conditions") or {}
        resources = {lid: d for lid, d in processed.get("Resources", {}).items()
                     if d.get("Condition") is None or conditions.get(d["Condition"], False)}
        prepared = PreparedTemplate(processed, stack.get("_parameter_values") or {}, set(), conditions, resources)
        prepared.dependencies = dependency_graph(resources)
        return prepared

    # ------------------------------------------------------------ stacks
    def _new_stack(self, context: RequestContext, params: dict[str, Any], stack_id: str,
                   status: str) -> dict[str, Any]:
        return {
            "StackId": stack_id, "StackName": params["StackName"], "CreationTime": now_iso(),
            "StackStatus": status, "DisableRollback": bool(params.get("DisableRollback")),
            "NotificationARNs": params.get("NotificationARNs") or [], "Capabilities": params.get("Capabilities") or [],
            "Tags": params.get("Tags") or [], "EnableTerminationProtection": bool(
                params.get("EnableTerminationProtection")),
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"}, "RollbackConfiguration": {},
            "_account": context.account_id, "_region": context.region, "resources": {},
        }

    def _check_name(self, name: str) -> None:
        if not STACK_NAME.match(name):
            raise _validation(f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy "
                              "constraint: Member must satisfy regular expression pattern: "
                              "[a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*")

    def create_stack(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["StackName"]
        self._check_name(name)
        if self.platform.store.get(STACKS, self._key(context, name)) is not None:
            raise AwsError("AlreadyExistsException", f"Stack [{name}] already exists")
        stack_id = new_stack_id(context.region, context.account_id, name)
        text = self._template_text(context, params)
        prepared = self._prepare(context, text, self._given(params, None), name, stack_id,
                                 params.get("Capabilities") or [], auto_expand_needed=True)
        stack = self._new_stack(context, params, stack_id, "CREATE_IN_PROGRESS")
        self._fill_template(stack, text, prepared)
        if not self.platform.store.insert(STACKS, self._key(context, name), stack):
            raise AwsError("AlreadyExistsException", f"Stack [{name}] already exists")
        on_failure = params.get("OnFailure") or ("DO_NOTHING" if params.get("DisableRollback") else "ROLLBACK")
        self._launch(stack, prepared, None, on_failure)
        return {"StackId": stack_id}

    @staticmethod
    def _fill_template(stack: dict[str, Any], text: str, prepared: PreparedTemplate) -> None:
        stack["_template"] = text
        stack["Description"] = prepared.body.get("Description") or load_template(text).get("Description")
        stack["Parameters"] = [
            {"ParameterKey": k, "ParameterValue": "****" if k in prepared.no_echo else (
                ",".join(v) if isinstance(v, list) else str(v))} for k, v in prepared.parameters.items()]
        stack["_secret_parameters"] = {k: prepared.parameters[k] for k in prepared.no_echo}
        if not stack["Description"]:
            stack.pop("Description")

    def update_stack(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(context, params["StackName"])
        self._check_updatable(stack)
        text = stack["_template"] if params.get("UsePreviousTemplate") else self._template_text(context, params)
        given = self._given(params, self._with_secrets(stack))
        prepared = self._prepare(context, text, given, stack["StackName"], stack["StackId"],
                                 params.get("Capabilities") or [], auto_expand_needed=True)
        previous = self._previous(context, stack)
        if not self._differs(stack, text, prepared):
            raise _validation("No updates are to be performed.")
        stack["LastUpdatedTime"] = now_iso()
        if params.get("Capabilities") is not None:
            stack["Capabilities"] = params["Capabilities"]
        if params.get("Tags") is not None:
            stack["Tags"] = params["Tags"]
        self._fill_template(stack, text, prepared)
        stack["StackStatus"] = "UPDATE_IN_PROGRESS"
        self._save(stack)
        self._launch(stack, prepared, previous, "ROLLBACK")
        return {"StackId": stack["StackId"]}

    @staticmethod
    def _with_secrets(stack: dict[str, Any]) -> dict[str, Any]:
        secrets = stack.get("_secret_parameters") or {}
        return {"Parameters": [{"ParameterKey": p["ParameterKey"],
                                "ParameterValue": secrets.get(p["ParameterKey"], p["ParameterValue"])}
                               for p in stack.get("Parameters") or []]}

    @staticmethod
    def _differs(stack: dict[str, Any], text: str, prepared: PreparedTemplate) -> bool:
        return (text != stack.get("_template") or prepared.parameters != stack.get("_parameter_values")
                or prepared.body != stack.get("_processed"))

    @staticmethod
    def _check_updatable(stack: dict[str, Any]) -> None:
        status = stack["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            raise _validation(f"Stack:{stack['StackId']} is in {status} state and can not be updated.")
        if status not in UPDATABLE:
            raise _validation(f"Stack:{stack['StackId']} is in {status} state and can not be updated.")

    def delete_stack(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            stack = self._stack(context, params["StackName"])
        except AwsError:
            return {}  # deleting a stack that does not exist succeeds, as on AWS
        if stack["StackStatus"] == "DELETE_COMPLETE" or stack["StackStatus"] == "DELETE_IN_PROGRESS":
            return {}
        if stack.get("EnableTerminationProtection"):
            raise _validation(f"Stack [{stack['StackName']}] cannot be deleted while TerminationProtection is enabled")
        operation = self._running.get(stack["StackId"])
        if stack["StackStatus"] == "CREATE_IN_PROGRESS" and operation is not None and operation.cancel():
            self._delete_requested.add(stack["StackId"])  # the create stops, rolls back, and the stack is deleted
            return {}
        if stack["StackStatus"].endswith("_IN_PROGRESS") and stack["StackStatus"] != "REVIEW_IN_PROGRESS":
            raise _validation(f"Stack [{stack['StackName']}] cannot be deleted while in status {stack['StackStatus']}")
        importers = self._importers(context, stack)
        if importers:
            raise _validation(f"Export {importers[0][0]} cannot be deleted as it is in use by {importers[0][1]}")
        stack["StackStatus"] = "DELETE_IN_PROGRESS"
        self._save(stack)
        self.platform.spawn(self._run_delete(stack), name=f"delete stack {stack['StackName']}")
        return {}

    def cancel_update_stack(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(context, params["StackName"])
        operation = self._running.get(stack["StackId"])
        if stack["StackStatus"] != "UPDATE_IN_PROGRESS" or operation is None or not operation.cancel():
            raise _validation("CancelUpdateStack cannot be called from current stack status")
        return {}

    def _importers(self, context: RequestContext, stack: dict[str, Any]) -> list[tuple[str, str]]:
        exported = {e["Name"] for _, e in self.platform.store.scan(EXPORTS, f"{context.account_id}:{context.region}:")
                    if e["ExportingStackId"] == stack["StackId"]}
        users = []
        for _, other in self.platform.store.scan(STACKS, f"{context.account_id}:{context.region}:"):
            if other["StackId"] == stack["StackId"]:
                continue
            for name in exported:
                if name in _imports(other.get("_processed") or {}):
                    users.append((name, other["StackName"]))
        return users

    def _public_stack(self, stack: dict[str, Any]) -> dict[str, Any]:
        return {k: stack[k] for k in PUBLIC_STACK_FIELDS if k in stack and stack[k] is not None}

    def describe_stacks(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("StackName"):
            return {"Stacks": [self._public_stack(self._stack(context, params["StackName"]))]}
        stacks = [self._public_stack(s) for _, s in self.platform.store.scan(
            STACKS, f"{context.account_id}:{context.region}:")]
        return {"Stacks": stacks}

    def list_stacks(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = f"{context.account_id}:{context.region}:"
        stacks = [s for _, s in self.platform.store.scan(STACKS, scope)]
        stacks += [s for _, s in self.platform.store.scan("cfn.deleted", scope)]
        wanted = set(params.get("StackStatusFilter") or [])
        summaries = []
        for stack in stacks:
            if wanted and stack["StackStatus"] not in wanted:
                continue
            summary = {k: stack[k] for k in ("StackId", "StackName", "CreationTime", "LastUpdatedTime",
                                             "DeletionTime", "StackStatus", "StackStatusReason", "DriftInformation")
                       if k in stack}
            if stack.get("Description"):
                summary["TemplateDescription"] = stack["Description"]
            summaries.append(summary)
        return {"StackSummaries": summaries}

    def describe_stack_events(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(context, params["StackName"])
        after = decode_token(params.get("NextToken"), "cfn-events", "ValidationError", "Invalid NextToken")
        rows = self.platform.store.scan(EVENTS, stack["StackId"] + "\x00", start_after=after, reverse=True)
        events, token = take_page(rows, 100, "cfn-events")
        return {"StackEvents": events, "NextToken": token}

    def _resources(self, stack: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"StackName": stack["StackName"], "StackId": stack["StackId"], "LogicalResourceId": lid,
                 "PhysicalResourceId": state.get("physical_id", ""), "ResourceType": state["type"],
                 "Timestamp": state.get("timestamp") or now_iso(), "ResourceStatus": state.get("status", ""),
                 "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}}
                for lid, state in sorted((stack.get("resources") or {}).items())]

    def describe_stack_resources(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("StackName"):
            found = [s for _, s in self.platform.store.scan(STACKS, f"{context.account_id}:{context.region}:")
                     if any(r.get("physical_id") == params.get("PhysicalResourceId")
                            for r in (s.get("resources") or {}).values())]
            if not found:
                raise _validation(f"Stack for {params.get('PhysicalResourceId')} does not exist")
            stack = found[0]
        else:
            stack = self._stack(context, params["StackName"])
        resources = self._resources(stack)
        if params.get("LogicalResourceId"):
            resources = [r for r in resources if r["LogicalResourceId"] == params["LogicalResourceId"]]
        return {"StackResources": resources}

    def describe_stack_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(context, params["StackName"])
        for resource in self._resources(stack):
            if resource["LogicalResourceId"] == params["LogicalResourceId"]:
                detail = {**resource, "LastUpdatedTimestamp": resource.pop("Timestamp")}
                return {"StackResourceDetail": detail}
        raise _validation(f"Resource {params['LogicalResourceId']} does not exist for stack {stack['StackName']}")

    def list_stack_resources(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(context, params["StackName"])
        return {"StackResourceSummaries": [
            {"LogicalResourceId": r["LogicalResourceId"], "PhysicalResourceId": r["PhysicalResourceId"],
             "ResourceType": r["ResourceType"], "LastUpdatedTimestamp": r["Timestamp"],
             "ResourceStatus": r["ResourceStatus"], "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}}
            for r in self._resources(stack)]}

    def get_template(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("ChangeSetName"):
            change_set = self._change_set(context, params.get("StackName"), params["ChangeSetName"])
            text, processed = change_set["_template"], change_set.get("_processed")
        else:
            stack = self._stack(context, params["StackName"])
            text, processed = stack.get("_template", "{}"), stack.get("_processed")
        if params.get("TemplateStage") == "Processed" and processed is not None:
            return {"TemplateBody": json.dumps(processed), "StagesAvailable": ["Original", "Processed"]}
        return {"TemplateBody": text, "StagesAvailable": ["Original", "Processed"]}

    def _summary_source(self, context: RequestContext, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        if params.get("StackName") and not params.get("TemplateBody") and not params.get("TemplateURL"):
            text = self._stack(context, params["StackName"]).get("_template", "{}")
        else:
            text = self._template_text(context, params)
        try:
            return summary.read(text, self.platform.objects.read_object)
        except ValidationFailure as exc:
            raise _validation(str(exc)) from exc

    def validate_template(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return summary.validate(*self._summary_source(context, params))

    def get_template_summary(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return summary.summary(*self._summary_source(context, params))

    def list_exports(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        exports = [e for _, e in self.platform.store.scan(EXPORTS, f"{context.account_id}:{context.region}:")]
        return {"Exports": exports}

    def list_imports(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ExportName"]
        if self.platform.store.get(EXPORTS, f"{context.account_id}:{context.region}:{name}") is None:
            raise _validation(f"Export '{name}' does not exist.")
        users = [s["StackName"] for _, s in self.platform.store.scan(STACKS, f"{context.account_id}:{context.region}:")
                 if name in _imports(s.get("_processed") or {})]
        return {"Imports": users}

    # ------------------------------------------------------------ change sets
    def _change_set(self, context: RequestContext, stack_name: str | None, name: str) -> dict[str, Any]:
        if name.startswith("arn:"):
            for _, change_set in self.platform.store.scan(CHANGE_SETS, f"{context.account_id}:{context.region}:"):
                if change_set["ChangeSetId"] == name:
                    return change_set
        elif stack_name:
            stack = self._stack(context, stack_name)
            found = self.platform.store.get(CHANGE_SETS, self._key(context, f"{stack['StackName']}\x00{name}"))
            if found is not None:
                return found
        raise AwsError("ChangeSetNotFound", f"ChangeSet [{name}] does not exist", status=404)

    def create_change_set(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["StackName"]
        self._check_name(name)
        kind = params.get("ChangeSetType") or "UPDATE"
        if kind == "IMPORT":
            raise _validation("ChangeSetType IMPORT is not supported by Cumulo")
        existing = self.platform.store.get(STACKS, self._key(context, name))
        if kind == "CREATE":
            if existing is not None and existing["StackStatus"] != "REVIEW_IN_PROGRESS":
                raise AwsError("AlreadyExistsException", f"Stack [{name}] already exists and cannot be created again "
                               "with the changeSet")
            stack = existing or self._new_stack(context, params, new_stack_id(context.region, context.account_id,
                                                                                 name), "REVIEW_IN_PROGRESS")
        else:
            if existing is None:
                raise _validation(f"Stack [{name}] does not exist")
            stack = existing
        text = stack["_template"] if params.get("UsePreviousTemplate") else self._template_text(context, params)
        given = self._given(params, self._with_secrets(stack) if kind == "UPDATE" else None)
        prepared = self._prepare(context, text, given, name, stack["StackId"], params.get("Capabilities") or [],
                                 auto_expand_needed=False)
        change_set_id = (f"arn:aws:cloudformation:{context.region}:{context.account_id}:changeSet/"
                         f"{params['ChangeSetName']}/{uuid.uuid4()}")
        changes = self._changes(stack, prepared) if kind == "UPDATE" else [
            {"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": lid,
                                                    "ResourceType": d["Type"], "Scope": [], "Details": []}}
            for lid, d in prepared.resources.items()]
        empty = kind == "UPDATE" and not changes and not self._differs(stack, text, prepared)
        change_set = {
            "ChangeSetName": params["ChangeSetName"], "ChangeSetId": change_set_id, "StackId": stack["StackId"],
            "StackName": name, "Description": params.get("Description"), "CreationTime": now_iso(),
            "ExecutionStatus": "UNAVAILABLE" if empty else "AVAILABLE",
            "Status": "FAILED" if empty else "CREATE_COMPLETE",
            "StatusReason": "The submitted information didn't contain changes. Submit different information to "
                            "create a change set." if empty else None,
            "Capabilities": params.get("Capabilities") or [], "Tags": params.get("Tags") or [], "Changes": changes,
            "Parameters": [{"ParameterKey": k, "ParameterValue": ",".join(v) if isinstance(v, list) else str(v)}
                           for k, v in prepared.parameters.items()],
            "ChangeSetType": kind, "_template": text, "_given": given, "_account": context.account_id,
            "_region": context.region, "_processed": prepared.body,
        }
        with self.platform.store.transaction():
            if kind == "CREATE" and existing is None:
                self.platform.store.put(STACKS, self._key(context, name), stack)
            self.platform.store.put(CHANGE_SETS, self._key(context, f"{name}\x00{params['ChangeSetName']}"),
                                    change_set)
        return {"Id": change_set_id, "StackId": stack["StackId"]}

    def _changes(self, stack: dict[str, Any], prepared: PreparedTemplate) -> list[dict[str, Any]]:
        current = stack.get("resources") or {}
        previous = (stack.get("_processed") or {}).get("Resources") or {}
        changes = []
        for lid, definition in prepared.resources.items():
            if lid not in current:
                action, replacement = "Add", None
            elif previous.get(lid) != definition:
                handler = handlers().get(definition["Type"])
                old_props = (previous.get(lid) or {}).get("Properties") or {}
                new_props = definition.get("Properties") or {}
                if current[lid]["type"] != definition["Type"]:
                    replacement = "True"
                elif handler is not None and handler.needs_replacement(old_props, new_props):
                    replacement = "Conditional" if any(
                        isinstance(new_props.get(p), dict) for p in handler.replace_on) else "True"
                else:
                    replacement = "False"
                action = "Modify"
            else:
                continue
            change = {"Action": action, "LogicalResourceId": lid, "ResourceType": definition["Type"], "Scope": [],
                      "Details": []}
            if lid in current:
                change["PhysicalResourceId"] = current[lid].get("physical_id", "")
            if replacement:
                change["Replacement"] = replacement
            changes.append({"Type": "Resource", "ResourceChange": change})
        for lid, state in current.items():
            if lid not in prepared.resources:
                changes.append({"Type": "Resource", "ResourceChange": {
                    "Action": "Remove", "LogicalResourceId": lid, "PhysicalResourceId": state.get("physical_id", ""),
                    "ResourceType": state["type"], "Scope": [], "Details": []}})
        return changes

    def describe_change_set(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        change_set = self._change_set(context, params.get("StackName"), params["ChangeSetName"])
        return {k: v for k, v in change_set.items() if not k.startswith("_") and k != "ChangeSetType" and v is not None}

    def list_change_sets(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(context, params["StackName"])
        prefix = self._key(context, f"{stack['StackName']}\x00")
        return {"Summaries": [{k: c[k] for k in ("StackId", "StackName", "ChangeSetId", "ChangeSetName",
                                                 "ExecutionStatus", "Status", "CreationTime") if k in c}
                              for _, c in self.platform.store.scan(CHANGE_SETS, prefix)]}

    def delete_change_set(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        change_set = self._change_set(context, params.get("StackName"), params["ChangeSetName"])
        self.platform.store.delete(CHANGE_SETS, self._key(context, f"{change_set['StackName']}\x00"
                                                                   f"{change_set['ChangeSetName']}"))
        return {}

    def execute_change_set(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        change_set = self._change_set(context, params.get("StackName"), params["ChangeSetName"])
        if change_set["ExecutionStatus"] != "AVAILABLE":
            raise AwsError("InvalidChangeSetStatus", f"ChangeSet [{change_set['ChangeSetId']}] cannot be executed in "
                           f"its current status of [{change_set['Status']}]")
        stack = self._stack(context, change_set["StackName"])
        creating = change_set["ChangeSetType"] == "CREATE"
        if not creating:
            self._check_updatable(stack)
        prepared = self._prepare(context, change_set["_template"], change_set["_given"], stack["StackName"],
                                 stack["StackId"], change_set["Capabilities"], auto_expand_needed=False)
        previous = None if creating else self._previous(context, stack)
        self._fill_template(stack, change_set["_template"], prepared)
        stack["ChangeSetId"] = change_set["ChangeSetId"]
        if not creating:
            stack["LastUpdatedTime"] = now_iso()
        stack["StackStatus"] = "CREATE_IN_PROGRESS" if creating else "UPDATE_IN_PROGRESS"
        change_set["ExecutionStatus"] = "EXECUTE_COMPLETE"
        with self.platform.store.transaction():
            self._save(stack)
            self.platform.store.put(CHANGE_SETS, self._key(context, f"{stack['StackName']}\x00"
                                                                    f"{change_set['ChangeSetName']}"), change_set)
        on_failure = "DO_NOTHING" if params.get("DisableRollback") else "ROLLBACK"
        self._launch(stack, prepared, previous, on_failure)
        return {}


def _imports(body: dict[str, Any]) -> set[str]:
    """Export names a processed template imports (Fn::ImportValue of literal names)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::ImportValue" and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(body.get("Resources") or {})
    walk(body.get("Outputs") or {})
    return found


def _s3_location(url: str) -> tuple[str, str]:
    """(bucket, key) of an S3 template URL, in any of the forms CloudFormation accepts."""
    parsed = urlparse(url)
    host, path = parsed.netloc.split(":")[0], unquote(parsed.path.lstrip("/"))
    if parsed.scheme == "s3" and host and path:
        return host, path
    if ".s3." in host or host.endswith(".s3.amazonaws.com"):
        return host.split(".s3", 1)[0], path
    bucket, _, key = path.partition("/")
    if not key:
        raise _validation(f"TemplateURL must be a supported URL: {url}")
    return bucket, key
