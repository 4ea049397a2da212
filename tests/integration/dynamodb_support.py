"""Helpers shared by the DynamoDB integration tests."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.server import CumuloServer


def resource(server: CumuloServer) -> Any:
    return boto3.resource("dynamodb", endpoint_url=server.url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"] | {"response": caught.value.response}


def make_table(client: Any, name: str | None = None, sort: str | None = "N", **extra: Any) -> str:
    """A pay-per-request table keyed ``pk`` (S) and, unless ``sort`` is None, ``sk`` of type ``sort``."""
    name = name or unique()
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    definitions = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        definitions.append({"AttributeName": "sk", "AttributeType": sort})
    definitions += extra.pop("definitions", [])
    client.create_table(TableName=name, KeySchema=schema, AttributeDefinitions=definitions,
                        BillingMode="PAY_PER_REQUEST", **extra)
    return name
