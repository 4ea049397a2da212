"""AWS Lambda: the control plane (functions, versions, aliases, layers, permissions, tags, URLs).

Invocation lives in ``cumulo.invoke`` and is wired in by ``invoke_operations``; this module
owns what a function *is*. Creation and updates follow AWS's state machine: a new function is
``Pending`` until its code is unpacked and checked, then ``Active``; an update is
``InProgress`` until applied, then ``Successful``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext
from cumulo.services.lambda_ import configuration as cfg
from cumulo.services.lambda_.async_config import AsyncConfigOperations
from cumulo.services.lambda_.builtin_layers import builtin_layer
from cumulo.services.lambda_.code import MAX_UNZIPPED, CodePackage, read_code_source, store_zip
from cumulo.services.lambda_.code_url import code_location
from cumulo.services.lambda_.durable.operations import DurableOperations
from cumulo.services.lambda_.errors import conflict, invalid, precondition_failed
from cumulo.services.lambda_.event_sources import EventSourceOperations
from cumulo.services.lambda_.function_urls import FunctionUrlOperations
from cumulo.services.lambda_.invocation import InvocationOperations
from cumulo.services.lambda_.names import (
    ALIAS_NAME,
    LATEST,
    LAYER_NAME,
    LAYER_VERSION_ARN,
    is_version,
    layer_arn,
    parse_function,
)
from cumulo.services.lambda_.permissions import PermissionOperations
from cumulo.services.lambda_.provisioned import ProvisionedOperations
from cumulo.services.lambda_.repository import FUNCTIONS, LambdaRepository
from cumulo.services.lambda_.response_streams import ResponseStreamOperations
from cumulo.services.lambda_.url_requests import FunctionUrlRoutes
from cumulo.services.pagination import decode_token, encode_token
from cumulo.services.tagging import TagRules, add_tags, remove_tags, tags_of

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.lambda")
MIN_UNRESERVED_CONCURRENCY = 100
TOTAL_CODE_SIZE = 80 * 1024 ** 3
TAG_RULES = TagRules(lambda: invalid("Number of tags exceeds resource tag limit."))
# Configuration members that make a version different from the previous one.
VERSIONED_MEMBERS = ("Runtime", "Role", "Handler", "Description", "Timeout", "MemorySize", "Environment",
                     "Layers", "VpcConfig", "DeadLetterConfig", "TracingConfig", "EphemeralStorage",
                     "Architectures", "LoggingConfig", "FileSystemConfigs", "KMSKeyArn", "SnapStart",
                     "DurableConfig")


def _fingerprint(config: dict[str, Any]) -> str:
    relevant = {k: config.get(k) for k in ("CodeSha256", *VERSIONED_MEMBERS)}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


class LambdaProvider(DurableOperations, InvocationOperations, ResponseStreamOperations, AsyncConfigOperations,
                     EventSourceOperations, ProvisionedOperations, PermissionOperations, FunctionUrlOperations,
                     FunctionUrlRoutes, Provider):
    service = "lambda"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self._settlers: set[asyncio.Task[None]] = set()
        self._init_invocation()
        self._init_event_sources()
        self._init_durable()

    def repo(self, context: RequestContext) -> LambdaRepository:
        return LambdaRepository(self.platform.store, context.account_id, context.region)

    async def start(self) -> None:
        await self._start_invocation()
        await self._start_event_sources()
        await self.durable.start()
        # Finish what a previous process acknowledged but had not settled when it stopped.
        for key, record in self.platform.store.scan(FUNCTIONS):
            config = record["config"]
            if config.get("State") == "Pending" or config.get("LastUpdateStatus") == "InProgress":
                account, region, name = key.split(":", 2)
                self._settle(LambdaRepository(self.platform.store, account, region), name)

    async def stop(self) -> None:
        for task in list(self._settlers):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.durable.stop()
        await self._stop_event_sources()
        await self._stop_invocation()

    # ------------------------------------------------------------ settling state
    def _settle(self, repo: LambdaRepository, name: str) -> None:
        """Unpack the code and move Pending -> Active / InProgress -> Successful (in the background)."""
        task = asyncio.get_running_loop().create_task(self._settle_now(repo, name))
        self._settlers.add(task)
        task.add_done_callback(self._settlers.discard)

    async def _settle_now(self, repo: LambdaRepository, name: str) -> None:
        record = repo.find_function(name)
        if record is None:
            return
        sha = record["code"]["sha"]
        failure = None
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.platform.artifacts.unpacked, sha)
        except Exception as exc:  # a corrupt artifact is reported on the function, as AWS does
            failure = f"Lambda was unable to unpack the deployment package: {exc}"
        with self.platform.store.transaction():
            record = repo.find_function(name)
            if record is None or record["code"]["sha"] != sha:
                return
            config = record["config"]
            if config.get("State") == "Pending":
                config.update({"State": "Failed" if failure else "Active"})
                if failure:
                    config.update({"StateReason": failure, "StateReasonCode": "InvalidZipFileException"})
                else:
                    config.pop("StateReason", None)
                    config.pop("StateReasonCode", None)
            if config.get("LastUpdateStatus") == "InProgress":
                config["LastUpdateStatus"] = "Failed" if failure else "Successful"
                config.pop("LastUpdateStatusReason", None)
                config.pop("LastUpdateStatusReasonCode", None)
            repo.save_function(name, record)
        self.runner.retire(repo.account, repo.region, name, LATEST)

    # ------------------------------------------------------------ helpers
    def _resolve_layers(self, repo: LambdaRepository, arns: list[str]) -> list[dict[str, Any]]:
        if len(arns) > cfg.MAX_LAYERS:
            raise invalid(f"Cannot reference more than {cfg.MAX_LAYERS} layers.")
        layers = []
        for arn in arns:
            builtin = builtin_layer(self.platform.artifacts, arn)
            if builtin is not None:
                layers.append({"Arn": arn, "CodeSize": builtin.size, "_unzipped": builtin.size})
                continue
            found = LAYER_VERSION_ARN.match(arn)
            if found is None:
                raise AwsError("ValidationException",
                               f"1 validation error detected: Value '[{arn}]' at 'layers' failed to satisfy "
                               "constraint: Member must satisfy constraint: [Member must have length less than "
                               "or equal to 140, Member must have length greater than or equal to 1, Member "
                               "must satisfy regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:"
                               "\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+, Member must not be null]")
            owner = LambdaRepository(self.platform.store, found.group("account"), found.group("region"))
            version = owner.layer_version(found.group("name"), int(found.group("version")))
            if version is None:
                raise invalid(f"Layer version {arn} does not exist.")
            layers.append({"Arn": arn, "CodeSize": version["Content"]["CodeSize"],
                           "_unzipped": version["_code"]["unzipped"]})
        return layers

    @staticmethod
    def _public_layers(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"Arn": layer["Arn"], "CodeSize": layer["CodeSize"]} for layer in layers]

    @staticmethod
    def _check_unzipped(code: CodePackage, layers: list[dict[str, Any]]) -> None:
        total = code.unzipped_size + sum(layer.get("_unzipped", 0) for layer in layers)
        if total > MAX_UNZIPPED:
            raise invalid(f"Function code combined with layers exceeds the maximum allowed size of "
                           f"{MAX_UNZIPPED} bytes. The actual size is {total} bytes.")

    def _package(self, source: dict[str, Any], what: str = "function") -> CodePackage:
        """Read (inline or from S3), check and store a code package."""
        return store_zip(self.platform.artifacts, read_code_source(source, self.platform.objects, what))

    def _code_location(self, context: RequestContext, sha: str) -> dict[str, Any]:
        return {"RepositoryType": "S3", "Location": code_location(context, self.platform.settings.access_keys, sha)}

    @staticmethod
    def _public(config: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in config.items() if not k.startswith("_")}

    def _ref(self, context: RequestContext, params: dict[str, Any]) -> tuple[str, str | None]:
        ref = parse_function(params["FunctionName"], params.get("Qualifier"))
        return ref.name, ref.qualifier

    def _changed(self, context: RequestContext, name: str, version: str | None = None) -> None:
        """Forget cached totals and retire warm environments that no longer match the function."""
        self._reserved_totals.pop(f"{context.account_id}:{context.region}:", None)
        self.runner.retire(context.account_id, context.region, name, version)

    # ------------------------------------------------------------ functions
    def create_function(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        ref = parse_function(params["FunctionName"])
        if ref.qualifier:
            raise invalid("Unsupported FunctionName: a qualifier cannot be used when creating a function.")
        package_type = params.get("PackageType") or "Zip"
        substitution = cfg.check_runtime(params.get("Runtime"), package_type, self.platform.settings)
        cfg.check_environment(params.get("Environment"))
        config = cfg.base_configuration(params, ref.name, repo.arn(ref.name))
        cfg.check_limits(config)
        layers = self._resolve_layers(repo, params.get("Layers") or [])
        if repo.find_function(ref.name) is not None:
            raise conflict(f"Function already exist: {ref.name}")
        code = self._package(params["Code"])
        self._check_unzipped(code, layers)
        if layers:
            config["Layers"] = self._public_layers(layers)
        config.update({
            "CodeSize": code.size, "CodeSha256": code.code_sha256, "LastModified": cfg.timestamp_now(),
            "RevisionId": cfg.new_revision(), "State": "Pending",
            "StateReason": "The function is being created.", "StateReasonCode": "Creating",
        })
        record = {"config": config, "code": code.record(), "tags": params.get("Tags") or {},
                  "policies": {}, "last_version": 0, "layer_sizes": [lyr["_unzipped"] for lyr in layers]}
        with self.platform.store.transaction():
            if not repo.create_function(ref.name, record):
                raise conflict(f"Function already exist: {ref.name}")
            result = config
            if params.get("Publish"):
                result = self._publish(repo, ref.name, record, None)["config"]
                repo.save_function(ref.name, record)
        self._settle(repo, ref.name)
        self._report(cfg.architecture_mismatch(config), substitution and f"function {ref.name}: {substitution}")
        return self._public(result)

    @staticmethod
    def _report(*notes: str | None) -> None:
        """What will run differently here than on AWS, said once in the server's log."""
        for note in notes:
            if note:
                log.warning("%s", note)

    def get_function(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, qualifier = self._ref(context, params)
        function, config, qualifier = repo.resolve(name, qualifier)
        code = function["code"] if qualifier in (LATEST, None) or not is_version(qualifier) else (
            repo.version(name, qualifier) or function)["code"]
        result: dict[str, Any] = {
            "Configuration": self._public(self._qualified_view(repo, name, config, qualifier, params)),
            "Code": self._code_location(context, code["sha"]),
            "Tags": function.get("tags") or {},
        }
        if function.get("reserved_concurrency") is not None:
            result["Concurrency"] = {"ReservedConcurrentExecutions": function["reserved_concurrency"]}
        return result

    @staticmethod
    def _qualified_view(repo: LambdaRepository, name: str, config: dict[str, Any], qualifier: str,
                        params: dict[str, Any]) -> dict[str, Any]:
        """The configuration as returned for the qualifier the caller asked with."""
        view = dict(config)
        if params.get("Qualifier") or ":" in params["FunctionName"].split("function:")[-1]:
            view["FunctionArn"] = repo.arn(name, qualifier)
        return view

    def get_function_configuration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, qualifier = self._ref(context, params)
        _, config, qualifier = repo.resolve(name, qualifier)
        return self._public(self._qualified_view(repo, name, config, qualifier, params))

    def list_functions(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        limit = params.get("MaxItems") or 50
        marker = decode_token(params.get("Marker"), "lambda-functions", "InvalidParameterValueException",
                              "Invalid Marker")
        all_versions = params.get("FunctionVersion") == "ALL"
        entries: list[tuple[str, dict[str, Any]]] = []
        for name, record in repo.functions():
            entries.append((f"{name}:0", record["config"]))
            if all_versions:
                entries += [(f"{name}:{v['config']['Version']}", v["config"]) for v in repo.versions(name)]
        if marker is not None:
            entries = [e for e in entries if e[0] > marker]
        page = entries[:limit]
        result: dict[str, Any] = {"Functions": [self._public(c) for _, c in page]}
        if len(entries) > limit:
            result["NextMarker"] = encode_token("lambda-functions", page[-1][0])
        return result

    def _updatable(self, context: RequestContext, params: dict[str, Any]
                   ) -> tuple[LambdaRepository, str, dict[str, Any]]:
        """The $LATEST record an update applies to, after the qualifier and RevisionId checks."""
        repo = self.repo(context)
        name, qualifier = self._ref(context, params)
        if qualifier:
            raise invalid("Unsupported qualifier: only $LATEST (no qualifier) can be updated.")
        record = repo.function(name)
        if params.get("RevisionId") and params["RevisionId"] != record["config"]["RevisionId"]:
            raise precondition_failed()
        return repo, name, record

    @staticmethod
    def _mark_in_progress(config: dict[str, Any]) -> None:
        config.update({"LastModified": cfg.timestamp_now(), "RevisionId": cfg.new_revision(),
                       "LastUpdateStatus": "InProgress",
                       "LastUpdateStatusReason": "The function is being created.",
                       "LastUpdateStatusReasonCode": "Creating"})

    def update_function_code(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name, record = self._updatable(context, params)
        code = self._package(params)
        layers = [{"_unzipped": size} for size in record.get("layer_sizes", [])]
        self._check_unzipped(code, layers)
        config = dict(record["config"])
        if params.get("Architectures"):
            config["Architectures"] = params["Architectures"]
        config.update({"CodeSize": code.size, "CodeSha256": code.code_sha256})
        if params.get("DryRun"):
            return self._public(config)
        self._mark_in_progress(config)
        with self.platform.store.transaction():
            record = repo.function(name)
            record["config"] = config
            record["code"] = code.record()
            result = config
            if params.get("Publish"):
                result = self._publish(repo, name, record, None)["config"]
            repo.save_function(name, record)
        self._settle(repo, name)
        if params.get("Architectures"):
            self._report(cfg.architecture_mismatch(config))
        return self._public(result)

    def update_function_configuration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name, record = self._updatable(context, params)
        config = cfg.apply_update(record["config"], params)
        substitution = cfg.check_runtime(params["Runtime"], config.get("PackageType", "Zip"),
                                         self.platform.settings) if params.get("Runtime") else None
        cfg.check_environment(config.get("Environment"))
        cfg.check_limits(config)
        layer_sizes = record.get("layer_sizes", [])
        if params.get("Layers") is not None:
            layers = self._resolve_layers(repo, params["Layers"])
            self._check_unzipped(CodePackage.from_record(record["code"]), layers)
            if layers:
                config["Layers"] = self._public_layers(layers)
            else:
                config.pop("Layers", None)
            layer_sizes = [layer["_unzipped"] for layer in layers]
        self._mark_in_progress(config)
        with self.platform.store.transaction():
            record = repo.function(name)
            record["config"] = config
            record["layer_sizes"] = layer_sizes
            repo.save_function(name, record)
        self._settle(repo, name)
        self._report(substitution and f"function {name}: {substitution}")
        return self._public(config)

    def delete_function(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, qualifier = self._ref(context, params)
        with self.platform.store.transaction():
            repo.function(name)
            if qualifier is None:
                repo.delete_function(name)
            elif qualifier == LATEST:
                raise invalid("$LATEST version cannot be deleted without deleting the function.")
            elif not qualifier.isdigit():
                raise invalid("Deletion of aliases is not supported. Use DeleteAlias to delete an alias.")
            else:
                if repo.version(name, qualifier) is None:
                    raise repo.not_found(name, qualifier)
                users = sorted(a["Name"] for a in repo.aliases(name) if a["FunctionVersion"] == qualifier or
                               qualifier in (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {}))
                if users:
                    raise conflict("Unable to delete version because the following aliases reference it: "
                                    f"[{', '.join(users)}]")
                repo.delete_version(name, qualifier)
        self._changed(context, name, qualifier)
        return {}

    # ------------------------------------------------------------ versions
    def _publish(self, repo: LambdaRepository, name: str, record: dict[str, Any],
                 description: str | None) -> dict[str, Any]:
        """Publish $LATEST as a new version (inside the caller's transaction); returns it."""
        latest = record["config"]
        fingerprint = _fingerprint(latest)
        if description is None and record.get("last_version"):
            previous = repo.version(name, record["last_version"])
            if previous is not None and previous.get("fingerprint") == fingerprint:
                return previous
        number = record.get("last_version", 0) + 1
        record["last_version"] = number
        config = dict(latest)
        config.update({"Version": str(number), "FunctionArn": repo.arn(name, str(number)),
                       "RevisionId": cfg.new_revision(), "LastModified": cfg.timestamp_now(),
                       "State": "Active", "LastUpdateStatus": "Successful"})
        for transient in ("StateReason", "StateReasonCode", "LastUpdateStatusReason",
                          "LastUpdateStatusReasonCode"):
            config.pop(transient, None)
        if description is not None:
            config["Description"] = description
        version = {"config": config, "code": dict(record["code"]), "fingerprint": fingerprint}
        repo.save_version(name, number, version)
        return version

    def publish_version(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, _ = self._ref(context, params)
        with self.platform.store.transaction():
            record = repo.function(name)
            latest = record["config"]
            if params.get("RevisionId") and params["RevisionId"] != latest["RevisionId"]:
                raise precondition_failed()
            if params.get("CodeSha256") and params["CodeSha256"] != latest["CodeSha256"]:
                raise invalid(f"CodeSHA256 ({params['CodeSha256']}) is different from current CodeSHA256 in "
                               f"$LATEST ({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST.")
            if latest.get("State") == "Pending" or latest.get("LastUpdateStatus") == "InProgress":
                raise conflict("The operation cannot be performed at this time. An update is in progress "
                                f"for resource: {repo.arn(name)}")
            version = self._publish(repo, name, record, params.get("Description"))
            repo.save_function(name, record)
        return self._public(version["config"])

    def list_versions_by_function(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, _ = self._ref(context, params)
        record = repo.function(name)
        latest = dict(record["config"])
        latest["FunctionArn"] = repo.arn(name, LATEST)
        entries = [latest, *[v["config"] for v in repo.versions(name)]]
        return self._paged(entries, params, "Versions", "lambda-versions", key=lambda c: c["Version"])

    def _paged(self, items: list[dict[str, Any]], params: dict[str, Any], member: str, kind: str,
               key: Any) -> dict[str, Any]:
        limit = params.get("MaxItems") or 50
        marker = decode_token(params.get("Marker"), kind, "InvalidParameterValueException", "Invalid Marker")
        start = 0
        if marker is not None:
            keys = [key(i) for i in items]
            start = keys.index(marker) + 1 if marker in keys else len(items)
        page = items[start:start + limit]
        result: dict[str, Any] = {member: [self._public(i) for i in page]}
        if start + limit < len(items):
            result["NextMarker"] = encode_token(kind, key(page[-1]))
        return result

    # ------------------------------------------------------------ aliases
    def _check_routing(self, repo: LambdaRepository, name: str, version: str,
                       routing: dict[str, Any] | None) -> None:
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        if not weights:
            return
        if len(weights) > 1:
            raise invalid("Number of items in AdditionalVersionWeights cannot be greater than 1")
        if version == LATEST:
            raise invalid("$LATEST is not supported for an alias pointing to more than 1 version")
        for extra, weight in weights.items():
            if extra == version:
                raise invalid(f"Invalid function version {extra}. Function version {extra} is already "
                               "included in routing configuration.")
            if not extra.isdigit() or repo.version(name, extra) is None:
                raise invalid(f"Function version {extra} does not exist" if extra.isdigit() else
                               f"Invalid function version {extra}.")
            if not 0.0 <= weight <= 1.0:
                raise invalid("Weights must be between 0.0 and 1.0")

    def _check_alias_target(self, repo: LambdaRepository, name: str, version: str) -> None:
        if version != LATEST and (not version.isdigit() or repo.version(name, version) is None):
            raise repo.not_found(name, version)

    def create_alias(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, _ = self._ref(context, params)
        alias, version = params["Name"], params["FunctionVersion"]
        if not ALIAS_NAME.match(alias):
            raise AwsError("ValidationException",
                           f"1 validation error detected: Value '{alias}' at 'name' failed to satisfy "
                           "constraint: Member must satisfy regular expression pattern: "
                           "(?!^[0-9]+$)([a-zA-Z0-9-_]+)")
        with self.platform.store.transaction():
            repo.function(name)
            self._check_alias_target(repo, name, version)
            self._check_routing(repo, name, version, params.get("RoutingConfig"))
            record = {"AliasArn": repo.arn(name, alias), "Name": alias, "FunctionVersion": version,
                      "Description": params.get("Description") or "", "RevisionId": cfg.new_revision()}
            if params.get("RoutingConfig", {}).get("AdditionalVersionWeights"):
                record["RoutingConfig"] = params["RoutingConfig"]
            if not repo.create_alias(name, alias, record):
                raise conflict(f"Alias already exists: {repo.arn(name, alias)}")
        return record

    def get_alias(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, _ = self._ref(context, params)
        repo.function(name)
        alias = repo.alias(name, params["Name"])
        if alias is None:
            raise AwsError("ResourceNotFoundException", f"Cannot find alias arn: {repo.arn(name, params['Name'])}",
                           fields={"Type": "User"})
        return alias

    def update_alias(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, _ = self._ref(context, params)
        with self.platform.store.transaction():
            alias = self.get_alias(context, params)
            if params.get("RevisionId") and params["RevisionId"] != alias["RevisionId"]:
                raise precondition_failed()
            version = params.get("FunctionVersion") or alias["FunctionVersion"]
            self._check_alias_target(repo, name, version)
            routing = params["RoutingConfig"] if "RoutingConfig" in params else alias.get("RoutingConfig")
            self._check_routing(repo, name, version, routing)
            alias["FunctionVersion"] = version
            if params.get("Description") is not None:
                alias["Description"] = params["Description"]
            if routing and routing.get("AdditionalVersionWeights"):
                alias["RoutingConfig"] = routing
            else:
                alias.pop("RoutingConfig", None)
            alias["RevisionId"] = cfg.new_revision()
            repo.save_alias(name, alias["Name"], alias)
        return alias

    def delete_alias(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, _ = self._ref(context, params)
        repo.function(name)
        repo.delete_alias(name, params["Name"])
        return {}

    def list_aliases(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, _ = self._ref(context, params)
        repo.function(name)
        aliases = repo.aliases(name)
        if params.get("FunctionVersion"):
            aliases = [a for a in aliases if a["FunctionVersion"] == params["FunctionVersion"]]
        return self._paged(aliases, params, "Aliases", "lambda-aliases", key=lambda a: a["Name"])

    # ------------------------------------------------------------ concurrency
    def _reserved_total(self, repo: LambdaRepository, excluding: str | None = None) -> int:
        return sum(r.get("reserved_concurrency") or 0 for n, r in repo.functions() if n != excluding)

    def put_function_concurrency(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, _ = self._ref(context, params)
        reserved = params["ReservedConcurrentExecutions"]
        limit = self.platform.settings.concurrent_executions
        with self.platform.store.transaction():
            record = repo.function(name)
            if limit - self._reserved_total(repo, name) - reserved < MIN_UNRESERVED_CONCURRENCY:
                raise invalid("Specified ReservedConcurrentExecutions for function decreases account's "
                               "UnreservedConcurrentExecution below its minimum value of "
                               f"[{MIN_UNRESERVED_CONCURRENCY}].")
            record["reserved_concurrency"] = reserved
            repo.save_function(name, record)
        self._concurrency_changed(context, name)
        return {"ReservedConcurrentExecutions": reserved}

    def get_function_concurrency(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self.repo(context).function(self._ref(context, params)[0])
        reserved = record.get("reserved_concurrency")
        return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}

    def delete_function_concurrency(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        name, _ = self._ref(context, params)
        with self.platform.store.transaction():
            record = repo.function(name)
            record.pop("reserved_concurrency", None)
            repo.save_function(name, record)
        self._concurrency_changed(context, name)
        return {}

    def get_account_settings(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        functions = repo.functions()
        limit = self.platform.settings.concurrent_executions
        total_code = sum(r["code"]["size"] for _, r in functions) + sum(
            v["code"]["size"] for name, _ in functions for v in repo.versions(name)) + sum(
            layer["Content"]["CodeSize"] for layer in repo.all_layer_versions())
        return {
            "AccountLimit": {"TotalCodeSize": TOTAL_CODE_SIZE, "CodeSizeUnzipped": MAX_UNZIPPED,
                             "CodeSizeZipped": 50 * 1024 * 1024, "ConcurrentExecutions": limit,
                             "UnreservedConcurrentExecutions": limit - self._reserved_total(repo)},
            "AccountUsage": {"TotalCodeSize": total_code, "FunctionCount": len(functions)},
        }

    # ------------------------------------------------------------ layers
    def _layer_name(self, raw: str) -> str:
        found = LAYER_NAME.match(raw)
        if found is None:
            raise AwsError("ValidationException",
                           f"1 validation error detected: Value '{raw}' at 'layerName' failed to satisfy "
                           "constraint: Member must satisfy regular expression pattern: "
                           "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+")
        return found.group("name")

    def _layer_view(self, context: RequestContext, record: dict[str, Any]) -> dict[str, Any]:
        """The public view of a layer version, with a freshly presigned download URL."""
        view = {k: v for k, v in record.items() if not k.startswith("_")}
        location = code_location(context, self.platform.settings.access_keys, record["_code"]["sha"])
        view["Content"] = {**view["Content"], "Location": location}
        return view

    def publish_layer_version(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        layer = self._layer_name(params["LayerName"])
        if len(params.get("CompatibleRuntimes") or []) > 15:
            raise invalid("CompatibleRuntimes cannot have more than 15 entries.")
        code = self._package(params["Content"], "layer")
        with self.platform.store.transaction():
            version = repo.next_layer_version(layer)
            record = {
                "Content": {"CodeSha256": code.code_sha256, "CodeSize": code.size},
                "LayerArn": layer_arn(context.region, context.account_id, layer),
                "LayerVersionArn": layer_arn(context.region, context.account_id, layer, version),
                "Description": params.get("Description") or "",
                "CreatedDate": cfg.timestamp_now(),
                "Version": version,
                "_code": code.record(),
            }
            for member in ("CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures"):
                if params.get(member):
                    record[member] = params[member]
            repo.save_layer_version(layer, version, record)
        return self._layer_view(context, record)

    def _layer_version(self, repo: LambdaRepository, layer: str, version: int) -> dict[str, Any]:
        record = repo.layer_version(layer, version)
        if record is None:
            raise AwsError("ResourceNotFoundException", "The resource you requested does not exist.",
                           fields={"Type": "User"})
        return record

    def get_layer_version(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        layer = self._layer_name(params["LayerName"])
        return self._layer_view(context, self._layer_version(repo, layer, params["VersionNumber"]))

    def get_layer_version_by_arn(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = LAYER_VERSION_ARN.match(params["Arn"])
        if found is None:
            raise AwsError("ValidationException",
                           f"1 validation error detected: Value '{params['Arn']}' at 'arn' failed to satisfy "
                           "constraint: Member must satisfy regular expression pattern: "
                           "(arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:"
                           "layer:[a-zA-Z0-9-_]+:[0-9]+)")
        owner = LambdaRepository(self.platform.store, found.group("account"), found.group("region"))
        record = self._layer_version(owner, found.group("name"), int(found.group("version")))
        return self._layer_view(context, record)

    def delete_layer_version(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.repo(context).delete_layer_version(self._layer_name(params["LayerName"]), params["VersionNumber"])
        return {}

    @staticmethod
    def _matches_filters(record: dict[str, Any], params: dict[str, Any]) -> bool:
        runtime = params.get("CompatibleRuntime")
        architecture = params.get("CompatibleArchitecture")
        if runtime and runtime not in (record.get("CompatibleRuntimes") or []):
            return False
        return not (architecture and architecture not in (record.get("CompatibleArchitectures") or []))

    def list_layer_versions(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        layer = self._layer_name(params["LayerName"])
        versions = [v for v in reversed(repo.layer_versions(layer)) if self._matches_filters(v, params)]
        items = [{k: v for k, v in self._public(r).items() if k not in ("Content", "LayerArn")}
                 for r in versions]
        return self._paged(items, params, "LayerVersions", "lambda-layer-versions", key=lambda v: v["Version"])

    def list_layers(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)
        latest: dict[str, dict[str, Any]] = {}
        for record in repo.all_layer_versions():
            if self._matches_filters(record, params):
                name = record["LayerArn"].rsplit(":", 1)[1]
                latest[name] = record
        items = [{"LayerName": name, "LayerArn": record["LayerArn"],
                  "LatestMatchingVersion": {k: v for k, v in self._public(record).items()
                                            if k not in ("Content", "LayerArn")}}
                 for name, record in sorted(latest.items())]
        return self._paged(items, params, "Layers", "lambda-layers", key=lambda item: item["LayerName"])

    # ------------------------------------------------------------ tags
    def _tagged_function(self, context: RequestContext, arn: str) -> tuple[LambdaRepository, str]:
        ref = parse_function(arn)
        if not arn.startswith("arn:"):
            raise AwsError("ValidationException",
                           f"1 validation error detected: Value '{arn}' at 'resource' failed to satisfy "
                           "constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):"
                           "lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:.*")
        if ref.qualifier:
            raise invalid("Tags on function aliases and versions are not supported. Please specify a "
                           "function ARN.")
        return self.repo(context), ref.name

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name = self._tagged_function(context, params["Resource"])
        with self.platform.store.transaction():
            record = repo.function(name)
            add_tags(record, params["Tags"], TAG_RULES)
            repo.save_function(name, record)
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name = self._tagged_function(context, params["Resource"])
        with self.platform.store.transaction():
            record = repo.function(name)
            remove_tags(record, params["TagKeys"])
            repo.save_function(name, record)
        return {}

    def list_tags(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name = self._tagged_function(context, params["Resource"])
        return {"Tags": tags_of(repo.function(name))}
