"""Protocol round trips with botocore as the client of record.

Inputs: random valid parameters -> botocore's own request serializer -> our service/operation
resolution and parser -> the same parameters. Outputs and errors: our serializer -> botocore's
own response parser -> the same values, error codes and messages. Every protocol family is
covered: json (1.0 and 1.1), rest-json, rest-xml and query.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.model import OperationModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from urllib3 import HTTPHeaderDict

from cumulo.protocol.catalog import ServiceCatalog
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest
from cumulo.protocol.protocols import PROTOCOLS
from cumulo.protocol.sqs_wire import legacy_model
from tests.unit.protocol.shape_strategies import for_shape, normalize

SERVICES = ["lambda", "logs", "events", "stepfunctions", "sqs", "sns", "cloudformation", "iam", "dynamodb",
            "kinesis", "apigatewayv2", "scheduler", "s3", "route53", "cloudwatch"]
CATALOG = ServiceCatalog(SERVICES)
SESSION = botocore.session.get_session()

INPUT_CASES = [
    ("logs", "PutLogEvents"), ("logs", "DescribeLogGroups"), ("logs", "FilterLogEvents"),
    ("events", "PutEvents"), ("events", "PutTargets"), ("stepfunctions", "StartExecution"),
    ("sqs", "SendMessageBatch"), ("sqs", "ReceiveMessage"), ("dynamodb", "PutItem"), ("kinesis", "PutRecords"),
    ("lambda", "CreateFunction"), ("lambda", "Invoke"), ("lambda", "ListFunctions"),
    ("lambda", "UntagResource"), ("lambda", "GetLayerVersionByArn"), ("lambda", "ListProvisionedConcurrencyConfigs"),
    ("lambda", "GetProvisionedConcurrencyConfig"), ("lambda", "AddPermission"),
    ("apigatewayv2", "CreateApi"), ("apigatewayv2", "CreateRoute"), ("scheduler", "CreateSchedule"),
    ("scheduler", "ListSchedules"),
    ("sns", "Publish"), ("sns", "CreateTopic"), ("sns", "SetSubscriptionAttributes"),
    ("cloudformation", "CreateStack"), ("iam", "CreateRole"),
    ("s3", "PutObject"), ("s3", "PutBucketTagging"), ("s3", "ListObjectsV2"), ("route53", "ChangeResourceRecordSets"),
    ("cloudwatch", "PutMetricData"), ("cloudwatch", "GetMetricData"), ("cloudwatch", "GetMetricStatistics"),
]
# SQS also answers the query protocol that older SDKs and the AWS CLI v1 speak, with the wire names
# of its query edition (Attribute.1.Name, SendMessageBatchRequestEntry.1.Id...). ReceiveMessage is
# not among them: its AttributeNames and MessageSystemAttributeNames share one wire name there
# (AttributeName.N), so its parameters cannot come back apart (tests/integration/test_sqs_query.py).
QUERY_COMPATIBLE_CASES = [("sqs", "SendMessageBatch"), ("sqs", "SetQueueAttributes"), ("sqs", "CreateQueue"),
                          ("sqs", "ChangeMessageVisibilityBatch")]


def _operation(service: str, name: str) -> OperationModel:
    return CATALOG.model(service).operation_model(name)


def _wire_request(operation: OperationModel, params: dict[str, Any], protocol: str) -> HttpRequest:
    serializer = create_serializer(protocol, include_validation=False)
    request = serializer.serialize_to_request(params, operation)
    prepare_request_dict(request, endpoint_url="http://localhost:4566")
    prepared = create_request_object(request).prepare()
    url = urlsplit(prepared.url)
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()}
    signing = operation.service_model.signing_name
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential=AKID/20200101/us-east-1/{signing}/aws4_request, "
                                "SignedHeaders=host, Signature=00")
    headers.setdefault("host", "localhost:4566")
    body = prepared.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    return HttpRequest(prepared.method, url.path or "/", url.query, headers, body)


def _round_trip_input(service: str, name: str, protocol: str, data: st.DataObject,
                      operation: OperationModel | None = None) -> None:
    operation = operation or _operation(service, name)
    params = data.draw(for_shape(operation.input_shape, protocol))
    request = _wire_request(operation, params, protocol)
    resolved = CATALOG.resolve(request, operation.service_model.signing_name)
    assert resolved.operation.name == name
    assert resolved.protocol.name == protocol
    parsed = resolved.protocol.parse(request, resolved.operation, resolved.labels)
    assert normalize(_without_transport_headers(operation.input_shape, parsed, params)) == normalize(params)


def _without_transport_headers(shape: Any, parsed: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """Drop members bound to headers every HTTP message carries (Content-Type, Content-Length)
    and to the status code, when the test did not set them itself."""
    transport = {"content-type", "content-length"}
    result = dict(parsed)
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        bound = member.serialization.get("name", name).lower()
        if name not in original and (location == "statusCode" or (location == "header" and bound in transport)):
            result.pop(name, None)
        payload = shape.serialization.get("payload")
        if name == payload and isinstance(result.get(name), str):
            result[name] = result[name].encode()
    return result


@pytest.mark.parametrize(("service", "name"), INPUT_CASES, ids=[f"{s}.{n}" for s, n in INPUT_CASES])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_botocore_requests_parse_back_to_their_parameters(service, name, data):
    _round_trip_input(service, name, CATALOG.model(service).protocol, data)


@pytest.mark.parametrize(("service", "name"), QUERY_COMPATIBLE_CASES,
                         ids=[f"{s}.{n}" for s, n in QUERY_COMPATIBLE_CASES])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_query_protocol_requests_for_json_services(service, name, data):
    _round_trip_input(service, name, "query", data, legacy_model().operation_model(name))


OUTPUT_CASES = [
    ("logs", "DescribeLogGroups"), ("logs", "GetLogEvents"), ("events", "DescribeRule"),
    ("stepfunctions", "DescribeExecution"), ("sqs", "ReceiveMessage"), ("dynamodb", "GetItem"),
    ("kinesis", "GetRecords"), ("lambda", "GetFunction"), ("lambda", "Invoke"), ("lambda", "ListFunctions"),
    ("lambda", "GetPolicy"), ("apigatewayv2", "GetApi"), ("scheduler", "GetSchedule"),
    ("sns", "ListTopics"), ("sns", "GetTopicAttributes"), ("sns", "Publish"), ("cloudformation", "DescribeStacks"),
    ("iam", "GetRole"), ("s3", "ListObjectsV2"), ("s3", "GetObject"), ("s3", "GetBucketTagging"),
    ("cloudwatch", "GetMetricStatistics"), ("cloudwatch", "GetMetricData"), ("cloudwatch", "ListMetrics"),
]


@pytest.mark.parametrize(("service", "name"), OUTPUT_CASES, ids=[f"{s}.{n}" for s, n in OUTPUT_CASES])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_our_responses_parse_in_botocore_to_the_same_values(service, name, data):
    operation = _operation(service, name)
    protocol = CATALOG.model(service).protocol
    result = data.draw(for_shape(operation.output_shape, protocol))
    response = PROTOCOLS[protocol].serialize(operation, result, "req-1")
    parsed = create_parser(protocol).parse(
        {"status_code": response.status, "headers": HTTPHeaderDict(response.headers), "body": response.body},
        operation.output_shape)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    assert normalize(_without_transport_headers(operation.output_shape, parsed, result)) == normalize(result)


ERROR_CASES = [
    ("logs", "ResourceNotFoundException", 400),
    ("lambda", "ResourceNotFoundException", 404),
    ("lambda", "TooManyRequestsException", 429),
    ("sqs", "QueueDoesNotExist", 400),
    ("sns", "NotFound", 404),
    ("cloudformation", "AlreadyExistsException", 400),
    ("s3", "NoSuchKey", 404),
    ("stepfunctions", "ExecutionDoesNotExist", 400),
    ("cloudwatch", "InvalidParameterValue", 400),
    ("cloudwatch", "ResourceNotFoundException", 404),
]


@pytest.mark.parametrize(("service", "code", "status"), ERROR_CASES)
def test_errors_reach_botocore_with_code_message_and_status(service, code, status):
    model = CATALOG.model(service)
    operation = model.operation_model(model.operation_names[0])
    error = AwsError(code, f"something about {code}")
    response = PROTOCOLS[model.protocol].serialize_error(model, error, "req-9")
    parsed = create_parser(model.protocol).parse(
        {"status_code": response.status, "headers": HTTPHeaderDict(response.headers), "body": response.body},
        operation.output_shape)
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == f"something about {code}"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"


def test_modeled_error_codes_become_boto3_exception_classes():
    client = SESSION.create_client("sns", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    model = CATALOG.model("sns")
    response = PROTOCOLS["query"].serialize_error(model, AwsError("NotFound", "Topic does not exist"), "r")
    parsed = create_parser("query").parse(
        {"status_code": response.status, "headers": HTTPHeaderDict(response.headers), "body": response.body}, None)
    exception = client.exceptions.from_code(parsed["Error"]["Code"])
    assert exception is client.exceptions.NotFoundException


def test_query_compatible_json_errors_carry_the_query_error_code():
    model = CATALOG.model("sqs")
    response = PROTOCOLS["json"].serialize_error(model, AwsError("QueueDoesNotExist", "gone"), "r")
    assert response.headers["x-amzn-query-error"].endswith(";Sender")


def test_lambda_errors_carry_type_and_message_members():
    model = CATALOG.model("lambda")
    response = PROTOCOLS["rest-json"].serialize_error(model, AwsError("ResourceNotFoundException", "nope"), "r")
    assert response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert b'"Type":"User"' in response.body
    assert b'"Message":"nope"' in response.body


def test_rest_routes_prefer_literal_query_keys():
    get = HttpRequest("GET", "/2019-09-30/functions/f/provisioned-concurrency", "Qualifier=1")
    listing = HttpRequest("GET", "/2019-09-30/functions/f/provisioned-concurrency", "List=ALL")
    assert CATALOG.resolve(get, "lambda").operation.name == "GetProvisionedConcurrencyConfig"
    assert CATALOG.resolve(listing, "lambda").operation.name == "ListProvisionedConcurrencyConfigs"


def test_greedy_labels_keep_slashes_and_encoded_characters():
    request = HttpRequest("GET", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af")
    resolved = CATALOG.resolve(request, "lambda")
    assert resolved.operation.name == "ListTags"
    assert resolved.labels == {"Resource": "arn:aws:lambda:us-east-1:1:function:f"}
