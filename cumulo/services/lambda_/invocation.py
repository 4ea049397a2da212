"""Lambda's invoke operations (Invoke, InvokeAsync) and the internal invoke used by other services.

Mixed into ``LambdaProvider``. Resolves the function version to run (a version, an alias
with its routing weights, or $LATEST), checks the payload as AWS does, then runs it now
(RequestResponse), queues it durably (Event) or only checks it (DryRun).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cumulo.invoke.async_events import AsyncEvent, AsyncInvoker, Outcome
from cumulo.invoke.concurrency import function_key
from cumulo.invoke.runner import FunctionRunner, Target
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.lambda_.builtin_layers import builtin_layer
from cumulo.services.lambda_.names import LATEST, LAYER_VERSION_ARN, is_version, parse_function
from cumulo.services.lambda_.repository import LambdaRepository
from cumulo.store.record_cache import RecordCache

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.lambda")
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024
MAX_CLIENT_CONTEXT = 3583


def _invalid_content(message: str) -> AwsError:
    return AwsError("InvalidRequestContentException", message, status=400, fields={"Type": "User"})


def _too_large(limit: int) -> AwsError:
    return AwsError("RequestTooLargeException",
                    f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
                    status=413, fields={"Type": "User"})


def check_payload(payload: bytes, limit: int) -> bytes:
    """The event as JSON text; AWS refuses payloads that are too large or not JSON."""
    if len(payload) > limit:
        raise _too_large(limit)
    if not payload.strip():
        return b"{}"
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid_content(f"Could not parse request body into json: Could not parse payload into json: "
                               f"{exc}") from exc
    return payload


def decode_client_context(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) > MAX_CLIENT_CONTEXT:
        raise _invalid_content(f"Client context must be no longer than {MAX_CLIENT_CONTEXT} bytes.")
    try:
        text = base64.b64decode(value, validate=True).decode()
        if not isinstance(json.loads(text), dict):
            raise ValueError("not an object")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid_content("Client context must be a valid Base64-encoded JSON object.") from exc
    return text


class InvocationOperations:
    """The invoke half of the Lambda provider (needs ``self.platform`` and ``self.repo``)."""

    platform: Platform
    runner: FunctionRunner
    async_invoker: AsyncInvoker
    durable_invoke: Callable[..., Awaitable[dict[str, Any]]]  # from DurableOperations

    def _init_invocation(self) -> None:
        self.runner = FunctionRunner(self.platform)
        self.async_invoker = AsyncInvoker(self.platform, self._run_async_event, self._finish_async_event,
                                          self._async_policy)
        self.runner.limiter.on_release = self.async_invoker.concurrency_freed  # throttled events wait for this
        self._reserved_totals: dict[str, int] = {}
        self._layer_sha_cache: dict[str, str] = {}
        self._invoke_records = RecordCache(self.platform.store)

    async def _start_invocation(self) -> None:
        await self.runner.start()
        await self.async_invoker.start()
        start_provisioned = getattr(self, "_start_provisioned", None)
        if start_provisioned is not None:
            self.platform.spawn(start_provisioned(), "provisioned-concurrency")

    async def _stop_invocation(self) -> None:
        await self.async_invoker.stop()
        await self.runner.stop()

    def _concurrency_changed(self, context: RequestContext, name: str) -> None:
        """A reservation was set or removed: events waiting for concurrency are woken at once (not at
        the next periodic probe), and the account's reserved total is counted again."""
        self._reserved_totals.pop(f"{context.account_id}:{context.region}:", None)
        self.async_invoker.concurrency_changed(context.account_id,
                                               function_key(context.account_id, context.region, name))

    # ------------------------------------------------------------ resolution
    def _cached_reserved_total(self, repo: LambdaRepository) -> int:
        """Concurrency the account has set aside: reservations, and the provisioned concurrency of
        functions without one (cached: the provider forgets it on changes)."""
        total = self._reserved_totals.get(repo.scope)
        if total is None:
            functions = dict(repo.functions())
            total = sum(r.get("reserved_concurrency") or 0 for r in functions.values())
            for key, record in self.platform.store.scan("lambda.provisioned", repo.scope):
                name = key[len(repo.scope):].rpartition(":")[0]
                if name in functions and functions[name].get("reserved_concurrency") is None:
                    total += record["requested"]
            self._reserved_totals[repo.scope] = total
        return total

    def resolve_target_exact(self, repo: LambdaRepository, name: str, qualifier: str | None) -> Target:
        """The version a qualifier names (an alias's primary version, ignoring routing weights)."""
        return self.resolve_target(repo, name, qualifier, routing=False)

    def resolve_target(self, repo: LambdaRepository, name: str, qualifier: str | None,
                       routing: bool = True) -> Target:
        reserved_total = self._cached_reserved_total(repo)
        repo = repo.cached(self._invoke_records)  # nothing below changes what it reads
        function = repo.function(name)
        if qualifier is not None and not is_version(qualifier):
            alias = repo.alias(name, qualifier)
            if alias is None:
                raise repo.not_found(name, qualifier)
            qualifier = alias["FunctionVersion"]
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {}) if routing else {}
            for version, weight in weights.items():
                if random.random() < weight:
                    qualifier = version
        if qualifier is None or qualifier == LATEST:
            config, code, version = function["config"], function["code"], LATEST
        else:
            record = repo.version(name, qualifier)
            if record is None:
                raise repo.not_found(name, qualifier)
            config, code, version = record["config"], record["code"], qualifier
        state = config.get("State", "Active")
        if state != "Active":
            raise AwsError("ResourceConflictException", "The operation cannot be performed at this time. "
                           f"The function is currently in the following state: {state}",
                           fields={"Type": "User"})
        return Target(account=repo.account, region=repo.region, name=name, version=version, config=config,
                      code_sha=code["sha"], layer_shas=self._layer_shas(config),
                      reserved_concurrency=function.get("reserved_concurrency"),
                      reserved_total=reserved_total)

    def _layer_shas(self, config: dict[str, Any]) -> tuple[str, ...]:
        shas = []
        cache = self._layer_sha_cache  # layer versions are immutable
        for layer in config.get("Layers") or []:
            known = cache.get(layer["Arn"])
            if known is not None:
                shas.append(known)
                continue
            builtin = builtin_layer(self.platform.artifacts, layer["Arn"])
            if builtin is not None:
                shas.append(builtin.sha256_hex)
                continue
            found = LAYER_VERSION_ARN.match(layer["Arn"])
            owner = LambdaRepository(self.platform.store, found.group("account"), found.group("region"))
            record = owner.layer_version(found.group("name"), int(found.group("version")))
            if record is None:
                raise AwsError("ResourceNotFoundException", f"Layer version {layer['Arn']} does not exist.",
                               fields={"Type": "User"})
            if len(cache) > 10000:
                cache.clear()
            cache[layer["Arn"]] = record["_code"]["sha"]
            shas.append(record["_code"]["sha"])
        return tuple(shas)

    # ------------------------------------------------------------ operations
    async def invoke(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(context)  # type: ignore[attr-defined]
        ref = parse_function(params["FunctionName"], params.get("Qualifier"))
        invocation_type = params.get("InvocationType") or "RequestResponse"
        limit = MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
        payload = check_payload(params.get("Payload") or b"", limit)
        client_context = decode_client_context(params.get("ClientContext"))
        target = self.resolve_target(repo, ref.name, ref.qualifier)
        if invocation_type == "DryRun":
            return {"StatusCode": 204}
        if target.config.get("DurableConfig"):
            return await self.durable_invoke(repo, target, payload, params.get("DurableExecutionName"),
                                             invocation_type)
        if params.get("DurableExecutionName"):
            raise AwsError("InvalidParameterValueException",
                           "DurableExecutionName can only be specified for durable functions.",
                           fields={"Type": "User"})
        if invocation_type == "Event":
            self.async_invoker.accept(AsyncEvent(
                account=repo.account, region=repo.region, function=ref.name, qualifier=ref.qualifier,
                payload=payload, request_id=context.request_id, client_context=client_context,
                trace_id=context.trace_header))
            return {"StatusCode": 202}
        invoked_arn = repo.arn(ref.name, ref.qualifier)
        result = await self.runner.run(target, payload, request_id=context.request_id, invoked_arn=invoked_arn,
                                       client_context=client_context,
                                       trace_id=context.trace_header,
                                       qualifier=ref.qualifier)
        response: dict[str, Any] = {"StatusCode": 200, "Payload": result.payload,
                                    "ExecutedVersion": target.version}
        if result.function_error:
            response["FunctionError"] = result.function_error
        if params.get("LogType") == "Tail":
            response["LogResult"] = base64.b64encode(result.log_tail.encode()).decode()
        return response

    async def invoke_async(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The deprecated InvokeAsync API: an Event invocation answered with Status 202."""
        repo = self.repo(context)  # type: ignore[attr-defined]
        ref = parse_function(params["FunctionName"])
        payload = check_payload(params["InvokeArgs"], MAX_ASYNC_PAYLOAD)
        self.resolve_target(repo, ref.name, ref.qualifier)
        self.async_invoker.accept(AsyncEvent(account=repo.account, region=repo.region, function=ref.name,
                                             qualifier=ref.qualifier, payload=payload,
                                             request_id=context.request_id))
        return {"Status": 202}

    # ------------------------------------------------------------ internal API
    async def invoke_function(self, function: str, payload: bytes, *, account: str, region: str,
                              invocation_type: str = "RequestResponse", qualifier: str | None = None,
                              client_context: str | None = None, trace_id: str | None = None) -> dict[str, Any]:
        """Invoke a function for another service (SNS, EventBridge, Step Functions, API Gateway).

        ``function`` is a name or (partial/full, optionally qualified) ARN. Returns the Invoke
        response members (StatusCode, Payload, FunctionError, ExecutedVersion); raises
        ``AwsError`` (ResourceNotFoundException, TooManyRequestsException, ...) as Invoke would.
        """
        ref = parse_function(function, qualifier)
        repo = LambdaRepository(self.platform.store, ref.account or account, ref.region or region)
        limit = MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
        payload = check_payload(payload, limit)
        target = self.resolve_target(repo, ref.name, ref.qualifier)
        request_id = str(uuid.uuid4())
        if target.config.get("DurableConfig"):
            return {**await self.durable_invoke(repo, target, payload, None, invocation_type),
                    "RequestId": request_id}
        if invocation_type == "Event":
            self.async_invoker.accept(AsyncEvent(account=repo.account, region=repo.region, function=ref.name,
                                                 qualifier=ref.qualifier, payload=payload, request_id=request_id,
                                                 client_context=client_context, trace_id=trace_id))
            return {"StatusCode": 202, "RequestId": request_id}
        result = await self.runner.run(target, payload, request_id=request_id,
                                       invoked_arn=repo.arn(ref.name, ref.qualifier),
                                       client_context=client_context, trace_id=trace_id, qualifier=ref.qualifier)
        response: dict[str, Any] = {"StatusCode": 200, "Payload": result.payload, "ExecutedVersion": target.version,
                                    "RequestId": request_id}
        if result.function_error:
            response["FunctionError"] = result.function_error
        return response

    # ------------------------------------------------------------ asynchronous events
    async def _run_async_event(self, event: AsyncEvent) -> Outcome:
        repo = LambdaRepository(self.platform.store, event.account, event.region)
        try:
            target = self.resolve_target(repo, event.function, event.qualifier)
            result = await self.runner.run(target, event.payload, request_id=event.request_id,
                                           invoked_arn=repo.arn(event.function, event.qualifier),
                                           client_context=event.client_context, trace_id=event.trace_id,
                                           qualifier=event.qualifier)
        except AwsError as error:
            if error.code == "TooManyRequestsException":
                return Outcome("throttled", status_code=429, error=error)
            return Outcome("function-error", status_code=error.status or 400, error=error,
                           function_error="Unhandled", payload=json.dumps(
                               {"errorType": error.code, "errorMessage": error.message}).encode())
        if result.function_error:
            return Outcome("function-error", payload=result.payload, function_error=result.function_error,
                           executed_version=target.version)
        return Outcome("ok", payload=result.payload, executed_version=target.version)
