"""Amazon EventBridge Pipes: Create/Describe/Update/Delete/List/Start/StopPipe and tags.

A pipe is a record in the store; a pipe whose ``CurrentState`` is ``RUNNING`` has a
``PipeRunner`` (``runner.py``) polling its source. Changes answer at once with a transitional
state (``CREATING``, ``STARTING``, ``STOPPING``, ``UPDATING``, ``DELETING``) and settle in the
background to ``RUNNING``/``STOPPED`` (or the pipe is gone), as on AWS. Running pipes start again
with the server.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn, service_of
from cumulo.patterns import InvalidEventPattern, compile_pattern
from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext
from cumulo.services.pagination import decode_token, encode_token
from cumulo.services.pipes.dynamodb_source import CHECKPOINTS
from cumulo.services.pipes.runner import SOURCE_POLLERS, TARGET_MAX_BATCH, PipeRunner

if TYPE_CHECKING:
    from cumulo.platform import Platform

PIPES = "pipes.pipes"
TARGET_SERVICES = ("lambda", "states", "sqs", "sns", "events", "logs")
ENRICHMENT_SERVICES = ("lambda", "states", "execute-api")
MAX_FILTERS = 5
SQS_MAX_BATCH, SQS_FIFO_MAX_BATCH, MAX_WINDOW_S = 10_000, 10, 300
SUMMARY = ("Name", "Arn", "DesiredState", "CurrentState", "StateReason", "CreationTime", "LastModifiedTime", "Source",
           "Target", "Enrichment")
DESCRIBED = ("Arn", "Name", "Description", "DesiredState", "CurrentState", "StateReason", "Source", "SourceParameters",
             "Enrichment", "EnrichmentParameters", "Target", "TargetParameters", "RoleArn", "Tags", "CreationTime",
             "LastModifiedTime", "LogConfiguration", "KmsKeyIdentifier")
UPDATABLE = ("Description", "DesiredState", "Enrichment", "Target", "RoleArn", "LogConfiguration", "KmsKeyIdentifier")
PARAMETER_GROUPS = ("SourceParameters", "EnrichmentParameters", "TargetParameters")


def _validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def _not_found(name: str) -> AwsError:
    return AwsError("NotFoundException", f"Pipe {name} does not exist.")


class PipesProvider(Provider):
    service = "pipes"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.runners: dict[str, PipeRunner] = {}
        self.settling: dict[str, asyncio.Lock] = {}

    async def start(self) -> None:
        for key, pipe in self.platform.store.scan(PIPES):
            if pipe["CurrentState"] == "DELETING":
                self.platform.store.delete(PIPES, key)
            elif pipe["CurrentState"] != pipe["DesiredState"]:
                self.platform.spawn(self._settle(key))
            elif pipe["CurrentState"] == "RUNNING":
                self._start_runner(key, pipe)

    async def stop(self) -> None:
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()))
        self.runners.clear()

    # ------------------------------------------------------------ records
    @staticmethod
    def _key(context: RequestContext, name: str) -> str:
        return f"{context.account_id}:{context.region}:{name}"

    def _pipe(self, context: RequestContext, name: str) -> dict[str, Any]:
        pipe = self.platform.store.get(PIPES, self._key(context, name))
        if pipe is None:
            raise _not_found(name)
        return pipe

    @staticmethod
    def _answer(pipe: dict[str, Any]) -> dict[str, Any]:
        return {k: pipe[k] for k in ("Arn", "Name", "DesiredState", "CurrentState", "CreationTime",
                                     "LastModifiedTime")}

    def _settle_soon(self, key: str) -> None:
        self.platform.spawn(self._settle(key), name=f"pipe {key}")

    async def _settle(self, key: str) -> None:
        """Bring a pipe from its transitional state to its desired one (runner started or stopped)."""
        lock = self.settling.setdefault(key, asyncio.Lock())
        async with lock:
            runner = self.runners.pop(key, None)
            if runner is not None:
                await runner.stop()
            pipe = self.platform.store.get(PIPES, key)
            if pipe is None:
                return
            if pipe["CurrentState"] == "DELETING":
                with self.platform.store.transaction():
                    self.platform.store.delete(PIPES, key)
                    self.platform.store.delete(CHECKPOINTS, pipe["Arn"])
                self.settling.pop(key, None)
                return
            pipe["CurrentState"] = pipe["DesiredState"]
            pipe["StateReason"] = ""
            self.platform.store.put(PIPES, key, pipe)
            if pipe["CurrentState"] == "RUNNING":
                self._start_runner(key, pipe)

    def _start_runner(self, key: str, pipe: dict[str, Any]) -> None:
        runner = PipeRunner(self.platform, pipe)
        self.runners[key] = runner
        runner.start()

    # ------------------------------------------------------------ validation
    def _check_source(self, source: str, parameters: dict[str, Any]) -> None:
        service = service_of(source)
        if service not in SOURCE_POLLERS:
            raise _validation(f"Source {source} is not supported by Cumulo: use an SQS queue or a DynamoDB stream.")
        self._check_filters(parameters)
        if service == "dynamodb":
            self._check_stream(source, parameters.get("DynamoDBStreamParameters") or {})
            return
        fifo = self.platform.queues.fifo_queue(source)
        if fifo is None:
            raise _validation(f"Source {source} does not exist or is not accessible.")
        sqs = parameters.get("SqsQueueParameters") or {}
        size, window = sqs.get("BatchSize") or 10, sqs.get("MaximumBatchingWindowInSeconds") or 0
        limit = SQS_FIFO_MAX_BATCH if fifo else SQS_MAX_BATCH
        if size > limit:
            raise _validation(f"BatchSize must be between 1 and {limit}" + (" for FIFO queues." if fifo else "."))
        if size > 10 and window < 1:
            raise _validation("MaximumBatchingWindowInSeconds must be greater than 0 if BatchSize is greater "
                              "than 10.")
        if window > MAX_WINDOW_S:
            raise _validation(f"MaximumBatchingWindowInSeconds must be between 0 and {MAX_WINDOW_S}.")

    def _check_stream(self, source: str, stream: dict[str, Any]) -> None:
        arn = parse_arn(source)
        if arn is None or self.platform.streams.describe_table_stream(arn.account, arn.region, source) is None:
            raise _validation(f"Source {source} does not exist or is not accessible.")
        if not stream.get("StartingPosition"):
            raise _validation("StartingPosition is required for DynamoDB stream sources.")
        if (stream.get("MaximumBatchingWindowInSeconds") or 0) > MAX_WINDOW_S:
            raise _validation(f"MaximumBatchingWindowInSeconds must be between 0 and {MAX_WINDOW_S}.")
        dead_letter = (stream.get("DeadLetterConfig") or {}).get("Arn")
        if dead_letter and service_of(dead_letter) not in ("sqs", "sns"):
            raise _validation("DeadLetterConfig.Arn must be an SQS queue or an SNS topic.")

    @staticmethod
    def _check_filters(parameters: dict[str, Any]) -> None:
        filters = (parameters.get("FilterCriteria") or {}).get("Filters") or []
        if len(filters) > MAX_FILTERS:
            raise _validation(f"The number of filters exceeds the limit of {MAX_FILTERS}.")
        for item in filters:
            try:
                compile_pattern(item.get("Pattern") or "", dialect="esm")
            except InvalidEventPattern as exc:
                raise _validation(f"Invalid filter pattern definition. {exc}") from exc

    @staticmethod
    def _check_arn(arn: str, allowed: tuple[str, ...], what: str) -> None:
        if parse_arn(arn) is None or service_of(arn) not in allowed:
            raise _validation(f"{what} {arn} is not supported: use one of {', '.join(allowed)}.")

    def _check(self, pipe: dict[str, Any]) -> None:
        self._check_source(pipe["Source"], pipe.get("SourceParameters") or {})
        self._check_arn(pipe["Target"], TARGET_SERVICES, "Target")
        source = pipe.get("SourceParameters") or {}
        size = max((source.get(group) or {}).get("BatchSize") or 1
                   for group in ("SqsQueueParameters", "DynamoDBStreamParameters"))
        limit = TARGET_MAX_BATCH.get(service_of(pipe["Target"]))
        if limit is not None and size > limit:
            raise _validation(f"BatchSize {size} is larger than the maximum batch size of the target ({limit}).")
        if pipe.get("Enrichment"):
            self._check_arn(pipe["Enrichment"], ENRICHMENT_SERVICES, "Enrichment")

    # ------------------------------------------------------------ operations
    def create_pipe(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        now = time.time()
        pipe = {k: params.get(k) for k in DESCRIBED if params.get(k) is not None}
        pipe.update({"Name": name, "Arn": context.arn("pipes", f"pipe/{name}"),
                     "DesiredState": params.get("DesiredState") or "RUNNING", "CurrentState": "CREATING",
                     "SourceParameters": params.get("SourceParameters") or {}, "Tags": params.get("Tags") or {},
                     "CreationTime": now, "LastModifiedTime": now})
        self._check(pipe)
        key = self._key(context, name)
        if not self.platform.store.insert(PIPES, key, pipe):
            raise AwsError("ConflictException", f"Pipe {name} already exists.",
                           fields={"resourceId": name, "resourceType": "pipe"})
        self._settle_soon(key)
        return self._answer(pipe)

    def describe_pipe(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        pipe = self._pipe(context, params["Name"])
        return {k: pipe[k] for k in DESCRIBED if k in pipe}

    def update_pipe(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(context, params["Name"])
        with self.platform.store.transaction():
            pipe = self._pipe(context, params["Name"])
            self._check_stable(pipe)
            for member in UPDATABLE:
                if params.get(member) is not None:
                    pipe[member] = params[member]
            for group in PARAMETER_GROUPS:  # each service's object is replaced whole, as on AWS
                if params.get(group) is not None:
                    pipe[group] = {**(pipe.get(group) or {}), **params[group]}
            self._check(pipe)
            pipe["CurrentState"], pipe["LastModifiedTime"] = "UPDATING", time.time()
            self.platform.store.put(PIPES, key, pipe)
        self._settle_soon(key)
        return self._answer(pipe)

    @staticmethod
    def _check_stable(pipe: dict[str, Any]) -> None:
        if pipe["CurrentState"] not in ("RUNNING", "STOPPED"):
            raise AwsError("ConflictException", f"Pipe {pipe['Name']} is in state {pipe['CurrentState']}; wait until "
                           "it is RUNNING or STOPPED.", fields={"resourceId": pipe["Name"], "resourceType": "pipe"})

    def _transition(self, context: RequestContext, name: str, desired: str, current: str) -> dict[str, Any]:
        key = self._key(context, name)
        with self.platform.store.transaction():
            pipe = self._pipe(context, name)
            if current != "DELETING":
                self._check_stable(pipe)
            pipe["DesiredState"], pipe["CurrentState"], pipe["LastModifiedTime"] = desired, current, time.time()
            self.platform.store.put(PIPES, key, pipe)
        self._settle_soon(key)
        return self._answer(pipe)

    def start_pipe(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._transition(context, params["Name"], "RUNNING", "STARTING")

    def stop_pipe(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._transition(context, params["Name"], "STOPPED", "STOPPING")

    def delete_pipe(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        pipe = self._pipe(context, params["Name"])
        return self._transition(context, params["Name"], pipe["DesiredState"], "DELETING")

    def list_pipes(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = params.get("Limit") or 100
        after = decode_token(params.get("NextToken"), "pipes", "ValidationException", "The NextToken is invalid.")
        scope = self._key(context, "")
        rows = [pipe for _, pipe in self.platform.store.scan(PIPES, scope + (params.get("NamePrefix") or ""),
                                                              start_after=scope + after if after else None)
                if all(not params.get(k) or pipe.get(k) == params[k] for k in ("DesiredState", "CurrentState"))
                and pipe["Source"].startswith(params.get("SourcePrefix") or "")
                and pipe["Target"].startswith(params.get("TargetPrefix") or "")]
        result: dict[str, Any] = {"Pipes": [{k: p[k] for k in SUMMARY if p.get(k)} for p in rows[:limit]]}
        if len(rows) > limit:
            result["NextToken"] = encode_token("pipes", rows[limit - 1]["Name"])
        return result

    # ------------------------------------------------------------ tags
    def _tagged(self, context: RequestContext, arn: str) -> tuple[str, dict[str, Any]]:
        parsed = parse_arn(arn)
        if parsed is None or not parsed.resource.startswith("pipe/"):
            raise _not_found(arn)
        name = parsed.resource[len("pipe/"):]
        return self._key(context, name), self._pipe(context, name)

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            key, pipe = self._tagged(context, params["resourceArn"])
            pipe["Tags"] = {**(pipe.get("Tags") or {}), **params["tags"]}
            self.platform.store.put(PIPES, key, pipe)
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            key, pipe = self._tagged(context, params["resourceArn"])
            pipe["Tags"] = {k: v for k, v in (pipe.get("Tags") or {}).items() if k not in params["tagKeys"]}
            self.platform.store.put(PIPES, key, pipe)
        return {}

    def list_tags_for_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": self._tagged(context, params["resourceArn"])[1].get("Tags") or {}}
