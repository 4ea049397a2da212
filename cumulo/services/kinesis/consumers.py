"""Enhanced fan-out consumers: Register/Describe/List/DeregisterStreamConsumer (mixed into the
provider). Consumers are kept in their stream's record; SubscribeToShard is not served yet."""

from __future__ import annotations

import time
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.kinesis.shards import STREAMS

MAX_CONSUMERS = 20


def _described(name: str, consumer: dict[str, Any]) -> dict[str, Any]:
    return {"ConsumerName": name, "ConsumerARN": consumer["arn"], "ConsumerStatus": "ACTIVE",
            "ConsumerCreationTimestamp": consumer["created"]}


class ConsumerOperations:
    platform: Any

    def _stream(self, context: RequestContext, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def _consumer(self, context: RequestContext, params: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
        """(stream key, stream, consumer name) named by ConsumerARN, or StreamARN + ConsumerName."""
        arn = params.get("ConsumerARN")
        if arn:
            if "/consumer/" not in arn:
                raise AwsError("InvalidArgumentException", f"ConsumerARN {arn} is invalid.", status=400)
            stream_arn, _, rest = arn.partition("/consumer/")
            key, stream = self._stream(context, {"StreamARN": stream_arn})
            name = rest.rsplit(":", 1)[0]
        elif params.get("StreamARN") and params.get("ConsumerName"):
            key, stream = self._stream(context, {"StreamARN": params["StreamARN"]})
            name = params["ConsumerName"]
        else:
            raise AwsError("InvalidArgumentException", "Either ConsumerARN or both StreamARN and ConsumerName "
                           "must be provided.", status=400)
        consumer = stream.get("consumers", {}).get(name)
        if consumer is None or (arn and consumer["arn"] != arn):
            raise AwsError("ResourceNotFoundException", f"Consumer {name} under stream {stream['name']} under "
                           f"account {stream['account']} not found.", status=400)
        return key, stream, name

    def register_stream_consumer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, {"StreamARN": params["StreamARN"]})
        consumers = stream.setdefault("consumers", {})
        name = params["ConsumerName"]
        if name in consumers:
            raise AwsError("ResourceInUseException", f"Consumer {name} under stream {stream['name']} under account "
                           f"{stream['account']} already exists.", status=400)
        if len(consumers) >= MAX_CONSUMERS:
            raise AwsError("LimitExceededException", f"Stream {stream['name']} under account {stream['account']} "
                           f"has reached the limit of {MAX_CONSUMERS} consumers.", status=400)
        created = time.time()
        consumers[name] = {"arn": f"{stream['arn']}/consumer/{name}:{int(created)}", "created": created}
        self.platform.store.put(STREAMS, key, stream)
        return {"Consumer": _described(name, consumers[name])}

    def describe_stream_consumer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, stream, name = self._consumer(context, params)
        return {"ConsumerDescription": {**_described(name, stream["consumers"][name]),
                                        "StreamARN": stream["arn"]}}

    def list_stream_consumers(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, stream = self._stream(context, {"StreamARN": params["StreamARN"]})
        consumers = stream.get("consumers", {})
        return {"Consumers": [_described(n, c) for n, c in sorted(consumers.items())]}

    def deregister_stream_consumer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream, name = self._consumer(context, params)
        del stream["consumers"][name]
        self.platform.store.put(STREAMS, key, stream)
        return {}
