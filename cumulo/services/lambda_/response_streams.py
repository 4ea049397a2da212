"""Response streaming: InvokeWithResponseStream, and the runs behind RESPONSE_STREAM function URLs.

Mixed into ``LambdaProvider``. A function that streams (Node.js ``awslambda.streamifyResponse``,
or any runtime posting its response in the Runtime API's streaming mode) reaches the caller piece
by piece as it writes: one ``PayloadChunk`` event per piece, then ``InvokeComplete`` (with
``ErrorCode``/``ErrorDetails`` when the function failed, and ``LogResult`` when asked). A function
that answers the usual way streams its whole answer as one chunk.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from cumulo.invoke.runner import FunctionRunner, Target
from cumulo.runtime import InvokeResult
from cumulo.services.base import RequestContext
from cumulo.services.lambda_.invocation import MAX_SYNC_PAYLOAD, check_payload, decode_client_context
from cumulo.services.lambda_.names import parse_function
from cumulo.services.lambda_.repository import LambdaRepository

if TYPE_CHECKING:
    from cumulo.platform import Platform

StreamEvent = tuple[str, dict[str, Any]]


class ResponseStreamOperations:
    """Needs ``self.repo``, ``self.runner`` and ``resolve_target`` of the Lambda provider."""

    platform: Platform
    runner: FunctionRunner

    async def run_streaming(self, repo: LambdaRepository, name: str, qualifier: str | None, payload: bytes, *,
                            request_id: str, client_context: str | None = None,
                            trace_id: str | None = None) -> tuple[Target, InvokeResult]:
        target = self.resolve_target(repo, name, qualifier)  # type: ignore[attr-defined]
        result = await self.runner.run(target, payload, request_id=request_id,
                                       invoked_arn=repo.arn(name, qualifier), client_context=client_context,
                                       trace_id=trace_id, qualifier=qualifier, streaming=True)
        return target, result

    async def invoke_with_response_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo: LambdaRepository = self.repo(context)  # type: ignore[attr-defined]
        ref = parse_function(params["FunctionName"], params.get("Qualifier"))
        payload = check_payload(params.get("Payload") or b"", MAX_SYNC_PAYLOAD)
        client_context = decode_client_context(params.get("ClientContext"))
        if params.get("InvocationType") == "DryRun":
            self.resolve_target(repo, ref.name, ref.qualifier)  # type: ignore[attr-defined]
            return {"StatusCode": 204}
        target, result = await self.run_streaming(repo, ref.name, ref.qualifier, payload,
                                                  request_id=context.request_id, client_context=client_context,
                                                  trace_id=context.trace_header)
        content_type = result.stream.content_type if result.stream is not None else "application/json"
        return {"StatusCode": 200, "ExecutedVersion": target.version, "ResponseStreamContentType": content_type,
                "EventStream": _events(result, params.get("LogType") == "Tail")}


async def _events(result: InvokeResult, tail: bool) -> AsyncIterator[StreamEvent]:
    complete: dict[str, Any] = {}
    stream = result.stream
    if stream is not None:
        async for piece in stream.pieces():
            yield "PayloadChunk", {"Payload": piece}
        if stream.error_type:
            complete = {"ErrorCode": stream.error_type, "ErrorDetails": stream.error_body.decode("utf-8", "replace")}
    elif result.function_error:
        complete = {"ErrorCode": result.error_type or result.function_error,
                    "ErrorDetails": result.payload.decode("utf-8", "replace")}
    else:
        yield "PayloadChunk", {"Payload": result.payload}
    if tail:
        if result.completion is not None:
            await result.completion  # the log tail is final once the invoke has ended
        complete["LogResult"] = base64.b64encode(result.log_tail.encode()).decode()
    yield "InvokeComplete", complete
