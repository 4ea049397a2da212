"""Pluggable item sources and result sinks for distributed Map states.

``ItemReader`` reads a data set (a JSON array, a CSV, an S3 listing...) named by the state's
``ItemReader`` block; ``ResultWriter`` stores a map run's results (e.g. as S3 objects) and returns
the value that becomes the Map state's result. The service provides implementations backed by its
object store; tests use simple in-memory ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ItemReaderRequest:
    resource: str  # e.g. arn:aws:states:::s3:getObject
    parameters: Any  # the resolved Parameters / Arguments (Bucket, Key, ...)
    reader_config: dict[str, Any]  # InputType, CSVHeaderLocation, MaxItems, ...
    execution_arn: str


@dataclass(frozen=True, slots=True)
class ResultWriterRequest:
    resource: str
    parameters: Any
    writer_config: dict[str, Any]
    map_run_arn: str
    #: one entry per item: {"Index", "Status": "SUCCEEDED"|"FAILED", "Input", "Output" or "Error"/"Cause"}
    results: list[dict[str, Any]]


class ItemReader(Protocol):
    async def read(self, request: ItemReaderRequest) -> list[Any]:
        """The items; raise any exception to fail the Map with States.ItemReaderFailed."""
        ...


class ResultWriter(Protocol):
    async def write(self, request: ResultWriterRequest) -> Any:
        """Store the results; the return value is the Map state's result."""
        ...
