"""SQS's wire quirks: its query protocol, as older SDKs speak it, and queue URLs as request paths.

botocore's SQS model is now JSON and has lost the query protocol's wire names: a query client
sends ``Attribute.1.Name`` (not ``Attributes``), ``MessageAttribute.1.Value.StringValue``,
``SendMessageBatchRequestEntry.1.Id``, ``AttributeName.1``, and expects ``<Message>``,
``<Attribute><Name>``, ``<QueueUrl>`` elements back. ``LEGACY_NAMES`` restores them (taken
from the query-protocol edition of the same model, API version 2012-11-05), and this module
builds a query-flavoured copy of the model to parse and serialize with. The catalog resolves
SQS's query requests against that copy, so the provider gets the same input dicts from both
protocols and its answers are written with the query wire names.

Clients may also send a request to the queue's URL itself (``POST /000000000000/orders``)
instead of naming it in ``QueueUrl``: both protocols here fill ``QueueUrl`` from the path then.
"""

from __future__ import annotations

import copy
import functools
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpResponse
from cumulo.protocol.protocols import JsonProtocol, QueryProtocol

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel

    from cumulo.protocol.http import HttpRequest

XML_NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"

# shape -> {"member": list item name} | {"key"/"value": map entry names} | {"members": {m: locationName}}
LEGACY_NAMES: dict[str, dict[str, Any]] = {
    "AWSAccountIdList": {"member": "AWSAccountId"},
    "ActionNameList": {"member": "ActionName"},
    "AttributeNameList": {"member": "AttributeName"},
    "BatchResultErrorEntryList": {"member": "BatchResultErrorEntry"},
    "BinaryList": {"member": "BinaryListValue"},
    "ChangeMessageVisibilityBatchRequestEntryList": {"member": "ChangeMessageVisibilityBatchRequestEntry"},
    "ChangeMessageVisibilityBatchResultEntryList": {"member": "ChangeMessageVisibilityBatchResultEntry"},
    "CreateQueueRequest": {"members": {"Attributes": "Attribute", "tags": "Tag"}},
    "DeleteMessageBatchRequestEntryList": {"member": "DeleteMessageBatchRequestEntry"},
    "DeleteMessageBatchResultEntryList": {"member": "DeleteMessageBatchResultEntry"},
    "GetQueueAttributesResult": {"members": {"Attributes": "Attribute"}},
    "ListMessageMoveTasksResultEntryList": {"member": "ListMessageMoveTasksResultEntry"},
    "ListQueueTagsResult": {"members": {"Tags": "Tag"}},
    "Message": {"members": {"Attributes": "Attribute", "MessageAttributes": "MessageAttribute"}},
    "MessageAttributeNameList": {"member": "MessageAttributeName"},
    "MessageAttributeValue": {"members": {"StringListValues": "StringListValue",
                                          "BinaryListValues": "BinaryListValue"}},
    "MessageBodyAttributeMap": {"key": "Name", "value": "Value"},
    "MessageBodySystemAttributeMap": {"key": "Name", "value": "Value"},
    "MessageList": {"member": "Message"},
    "MessageSystemAttributeList": {"member": "AttributeName"},
    "MessageSystemAttributeMap": {"key": "Name", "value": "Value"},
    "MessageSystemAttributeValue": {"members": {"StringListValues": "StringListValue",
                                                "BinaryListValues": "BinaryListValue"}},
    "QueueAttributeMap": {"key": "Name", "value": "Value"},
    "QueueUrlList": {"member": "QueueUrl"},
    "SendMessageBatchRequestEntry": {"members": {"MessageAttributes": "MessageAttribute",
                                                 "MessageSystemAttributes": "MessageSystemAttribute"}},
    "SendMessageBatchRequestEntryList": {"member": "SendMessageBatchRequestEntry"},
    "SendMessageBatchResultEntryList": {"member": "SendMessageBatchResultEntry"},
    "SendMessageRequest": {"members": {"MessageAttributes": "MessageAttribute",
                                       "MessageSystemAttributes": "MessageSystemAttribute"}},
    "SetQueueAttributesRequest": {"members": {"Attributes": "Attribute"}},
    "StringList": {"member": "StringListValue"},
    "TagKeyList": {"member": "TagKey"},
    "TagMap": {"key": "Key", "value": "Value"},
}
# Members the query model does not flatten although the JSON model marks them.
NOT_FLATTENED = {("ListMessageMoveTasksResult", "Results")}
# ReceiveMessage's MessageSystemAttributeNames goes on the wire as AttributeName.N too.
MEMBER_NAMES = {("ReceiveMessageRequest", "MessageSystemAttributeNames"): "AttributeName"}


def legacy_model_data(data: dict[str, Any]) -> dict[str, Any]:
    """The query-protocol edition of SQS's (JSON) model data."""
    data = copy.deepcopy(data)
    data["metadata"] = {**data["metadata"], "protocol": "query", "protocols": ["query"],
                        "xmlNamespace": XML_NAMESPACE}
    data["metadata"].pop("awsQueryCompatible", None)
    data["metadata"].pop("jsonVersion", None)
    data["metadata"].pop("targetPrefix", None)
    for name, operation_data in data["operations"].items():
        if "output" in operation_data:
            operation_data["output"]["resultWrapper"] = f"{name}Result"
    shapes = data["shapes"]
    for name, names in LEGACY_NAMES.items():
        shape = shapes.get(name)
        if shape is None:
            continue
        if "member" in names:
            shape["member"]["locationName"] = names["member"]
        for part in ("key", "value"):
            if part in names:
                shape[part]["locationName"] = names[part]
        for member, location in names.get("members", {}).items():
            if member in shape.get("members", {}):
                shape["members"][member]["locationName"] = location
    for (shape_name, member), location in MEMBER_NAMES.items():
        shapes[shape_name]["members"][member]["locationName"] = location
    for shape_name, member in NOT_FLATTENED:
        shapes[shape_name]["members"][member].pop("flattened", None)
    return data


@functools.cache
def legacy_model() -> ServiceModel:
    """SQS's model as its query endpoint reads and writes it."""
    import botocore.loaders
    from botocore.model import ServiceModel

    data = botocore.loaders.create_loader().load_service_model("sqs", "service-2")
    return ServiceModel(legacy_model_data(data), service_name="sqs")


def with_queue_url_from_path(params: dict[str, Any], request: HttpRequest, operation: OperationModel
                             ) -> dict[str, Any]:
    """``params`` with ``QueueUrl`` taken from the request's path (``/account/name``) when the
    operation has one, the request names none and was sent to a queue's URL."""
    if (not params.get("QueueUrl") and "QueueUrl" in operation.input_shape.members
            and request.path.strip("/").count("/") >= 1):
        params["QueueUrl"] = request.path
    return params


class SqsJsonProtocol(JsonProtocol):
    """The JSON protocol as SQS's endpoint reads it."""

    def parse(self, request, operation, labels=None):
        return with_queue_url_from_path(super().parse(request, operation, labels), request, operation)


class SqsQueryProtocol(QueryProtocol):
    """The query protocol as SQS's query endpoint reads and answers it."""

    def parse(self, request, operation, labels=None):
        return with_queue_url_from_path(super().parse(request, operation, labels), request, operation)


    def serialize_error(self, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
        if error.code == "QueueDoesNotExist":
            # SQS's query endpoint words this error with the WSDL version it serves.
            error = AwsError(error.code, "The specified queue does not exist for this wsdl version.",
                             status=error.status, sender_fault=error.sender_fault, query_code=error.query_code,
                             fields=error.fields, headers=error.headers)
        return super().serialize_error(service, error, request_id)


SQS_JSON = SqsJsonProtocol()
SQS_QUERY = SqsQueryProtocol()
