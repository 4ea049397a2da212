"""patchOperations of API Gateway v1 Update* operations."""

from __future__ import annotations

import pytest

from cumulo.protocol.errors import AwsError
from cumulo.services.apigateway.patch import apply


def test_replace_add_remove_and_conversions():
    record = {"name": "a", "binaryMediaTypes": [], "variables": {}, "enabled": False}
    apply(record, [{"op": "replace", "path": "/name", "value": "b"},
                   {"op": "add", "path": "/binaryMediaTypes/image~1png"},
                   {"op": "replace", "path": "/variables/color", "value": "blue"},
                   {"op": "replace", "path": "/enabled", "value": "true"}],
          {"name", "binaryMediaTypes", "variables", "enabled"})
    assert record == {"name": "b", "binaryMediaTypes": ["image/png"], "variables": {"color": "blue"},
                      "enabled": True}
    apply(record, [{"op": "remove", "path": "/binaryMediaTypes/image~1png"},
                   {"op": "remove", "path": "/variables/color"}], {"binaryMediaTypes", "variables"})
    assert record["binaryMediaTypes"] == [] and record["variables"] == {}


@pytest.mark.parametrize("operation", [
    {"op": "replace", "path": "/id", "value": "x"},
    {"op": "test", "path": "/name", "value": "x"},
    {"op": "replace", "path": "name", "value": "x"},
    {"op": "replace", "path": "/enabled", "value": "maybe"},
])
def test_refused_operations(operation):
    with pytest.raises(AwsError) as error:
        apply({"name": "a", "enabled": True}, [operation], {"name", "enabled"})
    assert error.value.code == "BadRequestException"
