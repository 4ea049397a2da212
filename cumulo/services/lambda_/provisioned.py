"""Provisioned concurrency: Put/Get/Delete/ListProvisionedConcurrencyConfig(s).

Mixed into ``LambdaProvider``.  A configuration belongs to a published version or an alias
(never ``$LATEST``); it is stored in ``lambda.provisioned`` (``name:qualifier`` -> requested
count, last modified) and the runner keeps that many environments of the version initialized
for invocations through that qualifier (``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency``).
Status is read live from the pool: ``IN_PROGRESS`` while environments are being initialized,
``READY`` once all are, ``FAILED`` (``StatusReason`` ``FUNCTION_ERROR_INIT_FAILURE``) when
their initialization fails.  Provisioned concurrency counts against the function's reserved
concurrency and the account's unreserved concurrency, as on AWS.

Other services (Application Auto Scaling) change the allocation through
:meth:`ProvisionedOperations.set_provisioned_concurrency`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.lambda_ import configuration as cfg
from cumulo.services.lambda_.errors import invalid
from cumulo.services.lambda_.names import LATEST, is_version, parse_function
from cumulo.services.lambda_.repository import LambdaRepository

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.lambda")
PROVISIONED = "lambda.provisioned"
MIN_UNRESERVED = 100
INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"


def _not_found() -> AwsError:
    return AwsError("ProvisionedConcurrencyConfigNotFoundException",
                    "No Provisioned Concurrency Config found for this function", status=404,
                    fields={"Type": "User"})


class ProvisionedOperations:
    """The provisioned-concurrency half of the Lambda provider (needs ``platform``, ``repo``, ``runner``)."""

    platform: Platform
    runner: Any

    # ------------------------------------------------------------ helpers
    def _pc_records(self, repo: LambdaRepository, name: str) -> dict[str, dict[str, Any]]:
        """The function's configurations (those of deleted versions or aliases are dropped)."""
        prefix = f"{repo.scope}{name}:"
        records = {}
        for key, value in self.platform.store.scan(PROVISIONED, prefix):
            qualifier = key[len(prefix):]
            gone = repo.version(name, qualifier) is None if is_version(qualifier) else \
                repo.alias(name, qualifier) is None
            if gone:
                self.platform.store.delete(PROVISIONED, key)
            else:
                records[qualifier] = value
        return records

    def _pc_target(self, repo: LambdaRepository, name: str, qualifier: str):
        """The version a qualifier runs (an alias's primary version)."""
        return self.resolve_target_exact(repo, name, qualifier)  # type: ignore[attr-defined]

    def _pc_view(self, repo: LambdaRepository, name: str, qualifier: str, record: dict[str, Any],
                 with_arn: bool = False) -> dict[str, Any]:
        status = None
        try:
            target = self._pc_target(repo, name, qualifier)
            status = self.runner.provisioned_status(target, qualifier)
        except AwsError:
            pass
        requested = record["requested"]
        allocated = status["allocated"] if status else 0
        if status and status.get("failure"):
            state, reason = "FAILED", INIT_FAILURE
        elif allocated >= requested:
            state, reason = "READY", None
        else:
            state, reason = "IN_PROGRESS", None
        view: dict[str, Any] = {"RequestedProvisionedConcurrentExecutions": requested,
                                "AvailableProvisionedConcurrentExecutions": min(allocated, requested),
                                "AllocatedProvisionedConcurrentExecutions": min(allocated, requested),
                                "Status": state, "LastModified": record["lastModified"]}
        if reason:
            view["StatusReason"] = reason
        if with_arn:
            view = {"FunctionArn": repo.arn(name, qualifier), **view}
        return view

    def _pc_ref(self, context: RequestContext, params: dict[str, Any]) -> tuple[LambdaRepository, str, str]:
        repo = self.repo(context)  # type: ignore[attr-defined]
        ref = parse_function(params["FunctionName"], params.get("Qualifier"))
        repo.function(ref.name)
        qualifier = ref.qualifier or params.get("Qualifier")
        if qualifier is None:
            raise AwsError("ValidationException", "1 validation error detected: Value null at 'qualifier' failed "
                           "to satisfy constraint: Member must not be null")
        return repo, ref.name, qualifier

    def _check_qualifier(self, repo: LambdaRepository, name: str, qualifier: str) -> None:
        if qualifier == LATEST:
            raise invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        if is_version(qualifier):
            if repo.version(name, qualifier) is None:
                raise repo.not_found(name, qualifier)
        elif repo.alias(name, qualifier) is None:
            raise repo.not_found(name, qualifier)

    # ------------------------------------------------------------ operations
    async def put_provisioned_concurrency_config(self, context: RequestContext,
                                                 params: dict[str, Any]) -> dict[str, Any]:
        repo, name, qualifier = self._pc_ref(context, params)
        self._check_qualifier(repo, name, qualifier)
        requested = params["ProvisionedConcurrentExecutions"]
        if requested < 1:
            raise AwsError("ValidationException", f"1 validation error detected: Value '{requested}' at "
                           "'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value "
                           "greater than or equal to 1")
        records = self._pc_records(repo, name)
        others = sum(r["requested"] for q, r in records.items() if q != qualifier)
        function = repo.function(name)
        reserved = function.get("reserved_concurrency")
        if reserved is not None and reserved < others + requested:
            raise invalid("Requested Provisioned Concurrency should not be greater than the "
                           "reservedConcurrentExecution for function")
        limit = self.platform.settings.concurrent_executions
        if reserved is None:
            unreserved = limit - self._account_reserved_and_provisioned(repo, exclude=(name, qualifier))
            if requested > unreserved:
                raise invalid("Specified ConcurrentExecutions for function is greater than account's unreserved "
                               f"concurrency [{unreserved}].")
            if unreserved - requested < MIN_UNRESERVED:
                raise invalid("Specified ConcurrentExecutions for function decreases account's "
                               f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}].")
        if is_version(qualifier):
            for alias in repo.aliases(name):
                if alias.get("FunctionVersion") == qualifier and alias.get("Name") in records:
                    raise AwsError("ResourceConflictException", "Version is pointed by a Provisioned Concurrency "
                                   "alias", fields={"Type": "User"})
        else:
            version = repo.alias(name, qualifier)["FunctionVersion"]
            if version in records:
                raise AwsError("ResourceConflictException", "Alias can't be used for Provisioned Concurrency "
                               "configuration on an already Provisioned version", fields={"Type": "User"})
        record = {"requested": requested, "lastModified": cfg.timestamp_now()}
        self.platform.store.put(PROVISIONED, f"{repo.scope}{name}:{qualifier}", record)
        self._reserved_totals.pop(repo.scope, None)  # type: ignore[attr-defined]
        await self._apply_provisioned(repo, name, qualifier, requested)
        view = self._pc_view(repo, name, qualifier, record)
        return view

    def get_provisioned_concurrency_config(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name, qualifier = self._pc_ref(context, params)
        record = self.platform.store.get(PROVISIONED, f"{repo.scope}{name}:{qualifier}")
        if record is None:
            raise _not_found()
        return self._pc_view(repo, name, qualifier, record)

    async def delete_provisioned_concurrency_config(self, context: RequestContext,
                                                    params: dict[str, Any]) -> dict[str, Any]:
        repo, name, qualifier = self._pc_ref(context, params)
        key = f"{repo.scope}{name}:{qualifier}"
        if self.platform.store.get(PROVISIONED, key) is None:
            raise _not_found()
        self.platform.store.delete(PROVISIONED, key)
        self._reserved_totals.pop(repo.scope, None)  # type: ignore[attr-defined]
        await self._apply_provisioned(repo, name, qualifier, 0)
        return {}

    def list_provisioned_concurrency_configs(self, context: RequestContext,
                                             params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)  # type: ignore[attr-defined]
        name = parse_function(params["FunctionName"]).name
        repo.function(name)
        items = [self._pc_view(repo, name, qualifier, record, with_arn=True)
                 for qualifier, record in sorted(self._pc_records(repo, name).items())]
        return self._paged(items, params, "ProvisionedConcurrencyConfigs", "pcconfig",  # type: ignore[attr-defined]
                           lambda item: item["FunctionArn"])

    # ------------------------------------------------------------ internal API
    def _account_reserved_and_provisioned(self, repo: LambdaRepository, exclude: tuple[str, str]) -> int:
        total = 0
        for _name, record in repo.functions():
            if record.get("reserved_concurrency") is not None:
                total += record["reserved_concurrency"]
        for key, record in self.platform.store.scan(PROVISIONED, repo.scope):
            name, _, qualifier = key[len(repo.scope):].rpartition(":")
            function = repo.find_function(name)
            if function is None:  # the function was deleted: so is its configuration
                self.platform.store.delete(PROVISIONED, key)
                continue
            if (name, qualifier) != exclude and function.get("reserved_concurrency") is None:
                total += record["requested"]
        return total

    async def _apply_provisioned(self, repo: LambdaRepository, name: str, qualifier: str, count: int) -> None:
        try:
            target = self._pc_target(repo, name, qualifier)
        except AwsError:
            return
        await self.runner.provision(target, qualifier, count)

    async def set_provisioned_concurrency(self, account: str, region: str, name: str, qualifier: str,
                                          count: int) -> None:
        """Change a qualifier's provisioned concurrency (Application Auto Scaling); 0 removes it."""
        repo = LambdaRepository(self.platform.store, account, region)
        key = f"{repo.scope}{name}:{qualifier}"
        if count <= 0:
            self.platform.store.delete(PROVISIONED, key)
        else:
            self.platform.store.put(PROVISIONED, key, {"requested": count, "lastModified": cfg.timestamp_now()})
        self._reserved_totals.pop(repo.scope, None)  # type: ignore[attr-defined]
        await self._apply_provisioned(repo, name, qualifier, max(count, 0))

    def provisioned_concurrency(self, account: str, region: str, name: str, qualifier: str) -> dict[str, Any] | None:
        """The configuration's public view, or None."""
        repo = LambdaRepository(self.platform.store, account, region)
        record = self.platform.store.get(PROVISIONED, f"{repo.scope}{name}:{qualifier}")
        return None if record is None else self._pc_view(repo, name, qualifier, record)

    def qualifier_exists(self, account: str, region: str, name: str, qualifier: str) -> bool:
        """Whether a function version (digits) or alias exists (Application Auto Scaling's check)."""
        repo = LambdaRepository(self.platform.store, account, region)
        if repo.find_function(name) is None:
            return False
        found = repo.version(name, qualifier) if qualifier.isdigit() else repo.alias(name, qualifier)
        return found is not None

    def provisioned_utilization(self, account: str, region: str, name: str, qualifier: str) -> float | None:
        return self.runner.provisioned_utilization(account, region, name, qualifier)

    def take_peak_utilization(self, account: str, region: str, name: str, qualifier: str) -> float | None:
        return self.runner.take_peak_utilization(account, region, name, qualifier)

    async def _recheck_provisioned(self, account: str, region: str, name: str, qualifier: str) -> None:
        repo = LambdaRepository(self.platform.store, account, region)
        record = self.platform.store.get(PROVISIONED, f"{repo.scope}{name}:{qualifier}")
        if record is not None:
            await self._apply_provisioned(repo, name, qualifier, record["requested"])

    async def _start_provisioned(self) -> None:
        """Initialize every stored configuration again (after a restart)."""
        self.runner.recheck_provisioned = self._recheck_provisioned
        for key, record in self.platform.store.scan(PROVISIONED, ""):
            account, region, rest = key.split(":", 2)
            name, _, qualifier = rest.rpartition(":")
            repo = LambdaRepository(self.platform.store, account, region)
            try:
                await self._apply_provisioned(repo, name, qualifier, record["requested"])
            except Exception:
                log.exception("could not restore provisioned concurrency of %s:%s", name, qualifier)
