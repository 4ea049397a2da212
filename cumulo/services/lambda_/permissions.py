"""A function's resource-based policy: AddPermission, RemovePermission, GetPolicy.

Mixed into ``LambdaProvider``. Statements are kept per qualifier in the function record (the
statement formats are ``policy``'s); a change checks the caller's ``RevisionId`` first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.lambda_.errors import conflict, precondition_failed
from cumulo.services.lambda_.names import parse_function
from cumulo.services.lambda_.policy import build_statement, check_policy_size, policy_document
from cumulo.services.lambda_.repository import LambdaRepository

if TYPE_CHECKING:
    from cumulo.platform import Platform


class PermissionOperations:
    """Needs ``self.repo``/``self.platform`` of the Lambda provider."""

    platform: Platform

    @contextmanager
    def _policy_change(self, context: RequestContext, params: dict[str, Any]
                       ) -> Iterator[tuple[LambdaRepository, str, str | None, dict[str, Any]]]:
        """(repo, name, qualifier, function record) in a transaction that saves the record after."""
        repo: LambdaRepository = self.repo(context)  # type: ignore[attr-defined]
        ref = parse_function(params["FunctionName"], params.get("Qualifier"))
        with self.platform.store.transaction():
            record, _, _ = repo.resolve(ref.name, ref.qualifier)
            if params.get("RevisionId") and params["RevisionId"] != record["config"]["RevisionId"]:
                raise precondition_failed()
            yield repo, ref.name, ref.qualifier, record
            repo.save_function(ref.name, record)

    def add_permission(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self._policy_change(context, params) as (repo, name, qualifier, record):
            statements = record.setdefault("policies", {}).setdefault(qualifier or "", [])
            if any(s["Sid"] == params["StatementId"] for s in statements):
                raise conflict(f"The statement id ({params['StatementId']}) provided already exists. Please "
                               "provide a new statement id, or remove the existing statement.")
            statement = build_statement(params, repo.arn(name, qualifier))
            check_policy_size([*statements, statement])
            statements.append(statement)
        return {"Statement": json.dumps(statement, separators=(",", ":"))}

    def remove_permission(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self._policy_change(context, params) as (_, _, qualifier, record):
            statements = record.setdefault("policies", {}).get(qualifier or "", [])
            remaining = [s for s in statements if s["Sid"] != params["StatementId"]]
            if len(remaining) == len(statements):
                raise AwsError("ResourceNotFoundException",
                               f"Statement {params['StatementId']} is not found in resource policy.",
                               fields={"Type": "User"})
            record["policies"][qualifier or ""] = remaining
        return {}

    def get_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo: LambdaRepository = self.repo(context)  # type: ignore[attr-defined]
        ref = parse_function(params["FunctionName"], params.get("Qualifier"))
        record, _, _ = repo.resolve(ref.name, ref.qualifier)
        statements = record.get("policies", {}).get(ref.qualifier or "", [])
        if not statements:
            raise AwsError("ResourceNotFoundException", "The resource you requested does not exist.",
                           fields={"Type": "User"})
        return {"Policy": policy_document(statements), "RevisionId": record["config"]["RevisionId"]}
