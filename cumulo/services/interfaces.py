"""What one service offers the others: small typed interfaces, reached as platform attributes.

Services never look each other up by name (``providers["sqs"]``) nor read each other's store
tables; they use what the platform binds at construction:

=====================  ======================  ===================================================
platform attribute     interface               offered by
=====================  ======================  ===================================================
``platform.queues``    ``QueueSink``           SQS: deliver a message to a queue ARN, receive and
                                               delete for event source mappings, is it FIFO
``platform.topics``    ``TopicSink``           SNS: publish a message to a topic ARN
``platform.functions`` ``FunctionInvoker``     Lambda: invoke a function by ARN (sync or ``Event``)
``platform.capacity``  ``FunctionCapacity``    Lambda: provisioned concurrency (Application Auto
                                               Scaling's only scalable target today)
``platform.logs``      ``LogSink``             CloudWatch Logs: append lines, does a group exist
``platform.events``    ``EventBus``            EventBridge: put an event on a bus, call an API
                                               destination, observe the events put on buses
``platform.objects``   ``ObjectStore``         S3: read and write objects, list a prefix
``platform.metrics``   ``MetricSink``          CloudWatch: record a metric data point
``platform.streams``   ``TableStreams``        DynamoDB: its streams, their shards and records (for
                                               the Streams API and stream pollers)
``platform.data_streams`` ``DataStreams``      Kinesis: a stream's shards and their records (for
                                               stream pollers)
=====================  ======================  ===================================================

Each interface is a ``typing.Protocol``: the provider satisfies it structurally, so the platform
binds the provider object itself (a test that replaces a provider method sees its replacement
used). Calling another service's *API operation* in-process, with the model's validation, is
``cumulo.services.api_calls.call_api``; delivering to a target ARN is ``cumulo.targets``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cumulo.services.base import RequestContext


class QueueSink(Protocol):
    def deliver(self, queue_arn: str, body: str, *, message_attributes: dict[str, Any] | None = None,
                group_id: str | None = None, dedup_id: str | None = None, sender: str | None = None) -> str:
        """Send a message on behalf of another service; returns its id (raises AwsError)."""
        ...

    def fifo_queue(self, queue_arn: str) -> bool | None:
        """Whether the queue is a FIFO queue; None when there is no such queue."""
        ...

    async def receive_message(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ...

    def delete_message_batch(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ...


class TopicSink(Protocol):
    def publish_message(self, topic_arn: str, message: str, *, subject: str | None = None,
                        message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                        dedup_id: str | None = None, base_url: str | None = None) -> dict[str, Any]:
        """Publish on behalf of another service; joins the caller's store transaction."""
        ...


class FunctionInvoker(Protocol):
    async def invoke_function(self, function: str, payload: bytes, *, account: str, region: str,
                              invocation_type: str = "RequestResponse", qualifier: str | None = None,
                              client_context: str | None = None, trace_id: str | None = None) -> dict[str, Any]:
        """Invoke a function by name or ARN; ``Event`` commits it to the asynchronous queue."""
        ...


class FunctionCapacity(Protocol):
    def qualifier_exists(self, account: str, region: str, name: str, qualifier: str) -> bool:
        ...

    def provisioned_concurrency(self, account: str, region: str, name: str, qualifier: str) -> dict[str, Any] | None:
        ...

    async def set_provisioned_concurrency(self, account: str, region: str, name: str, qualifier: str,
                                          count: int) -> None:
        ...

    def provisioned_utilization(self, account: str, region: str, name: str, qualifier: str) -> float | None:
        ...

    def take_peak_utilization(self, account: str, region: str, name: str, qualifier: str) -> float | None:
        ...


class LogSink(Protocol):
    def append(self, account: str, region: str, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Queue (ms timestamp, message) events for a stream, creating group and stream as needed."""
        ...

    def group_exists(self, account: str, region: str, group: str) -> bool:
        ...


class EventBus(Protocol):
    def put_event_internal(self, account: str, region: str, bus: str, *, source: str, detail_type: str,
                           detail: dict[str, Any], resources: list[str] | None = None,
                           event_time: float | None = None) -> str:
        """Put one event on a bus; returns its id (raises AwsError when the bus does not exist)."""
        ...

    def add_event_observer(self, observer: Callable[[str, str, str, dict[str, Any]], None]) -> None:
        """Call ``observer(account, region, bus, event)`` for every event put on a bus (inside the
        PutEvents transaction; the schema registry's discovery)."""
        ...

    async def invoke_api_destination(self, arn: str, body: str, http_parameters: dict[str, Any] | None) -> None:
        """Call an API destination with ``body`` (its connection's auth, its rate); raises TargetError."""
        ...


class ObjectStore(Protocol):
    def read_object(self, bucket: str, key: str) -> bytes:
        ...

    def put_object(self, context: RequestContext, params: dict[str, Any]) -> Any:
        ...

    def list_objects_v2(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ...


class MetricSink(Protocol):
    def put(self, account: str, region: str, namespace: str, name: str, value: float,
            dimensions: dict[str, str] | None = None, unit: str = "Count", timestamp: float | None = None,
            count: float = 1.0) -> None:
        """Record one value (``count`` times) of a platform metric."""
        ...


class TableStreams(Protocol):
    """DynamoDB's change streams. A stream has one shard; records carry 21-digit sequence numbers
    that order them as text, so a poller resumes with the last number it handled."""

    def stream_tables(self, account: str, region: str) -> list[dict[str, Any]]:
        """Every stream (current and closed): ``StreamArn``, ``TableName``, ``StreamLabel``."""
        ...

    def describe_table_stream(self, account: str, region: str, stream_arn: str) -> dict[str, Any] | None:
        """The stream's ``StreamDescription`` (as DynamoDB Streams answers), None when there is none."""
        ...

    def read_stream(self, account: str, region: str, stream_arn: str, after_sequence: str | None,
                    limit: int) -> list[dict[str, Any]] | None:
        """Up to ``limit`` records after ``after_sequence`` (from the oldest when None), in AWS's
        record shape; None when the stream does not exist."""
        ...

    def latest_sequence(self, account: str, region: str, stream_arn: str) -> str | None:
        """The sequence number of the newest record held (None when there is none): where LATEST starts."""
        ...


class DataStreams(Protocol):
    """Kinesis data streams, read by stream pollers. Sequence numbers are fixed-width decimal text,
    so they order as text; a poller resumes with the last number it handled."""

    def stream_shards(self, stream_arn: str) -> list[dict[str, Any]] | None:
        """The stream's shards (``ShardId``, ``ParentShardId``, ``Closed``), None when there is no stream."""
        ...

    def read_shard(self, stream_arn: str, shard: str, after_sequence: str | None,
                   limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` retained records after ``after_sequence`` (from the oldest when None):
        ``SequenceNumber``, ``ApproximateArrivalTimestamp`` (epoch seconds), ``Data`` (bytes),
        ``PartitionKey``."""
        ...

    def records_channel(self, stream_arn: str) -> str:
        """The ``platform.notifier`` channel hinted whenever records are added to the stream."""
        ...

    def shard_position(self, stream_arn: str, shard: str, at: float | None) -> str | None:
        """Where a reader starts: after the newest record (``at`` None, LATEST), or just before the
        first record that arrived at or after ``at`` (AT_TIMESTAMP); None means the oldest."""
        ...
