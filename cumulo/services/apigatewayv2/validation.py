"""Checks the API Gateway v2 control plane applies before anything changes.

Messages follow AWS's where they are known; every failure is a ``BadRequestException``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from cumulo.services.apigatewayv2.addresses import lambda_arn_of
from cumulo.services.apigatewayv2.repository import bad_request
from cumulo.services.apigatewayv2.routekeys import RouteKeyError, parse_route_key
from cumulo.services.tagging import TagProblem, TagRules

HTTP_ROUTE_SELECTION = "$request.method $request.path"
DEFAULT_API_KEY_SELECTION = "$request.header.x-api-key"
STAGE_NAME = re.compile(r"^(\$default|[A-Za-z0-9_\-]{1,128})$")
IDENTITY_SOURCE = re.compile(r"^\$(request\.header|request\.querystring|context|stageVariables)\.[A-Za-z0-9_.\-]+$")
JWT_IDENTITY_SOURCE = re.compile(r"^\$request\.(header|querystring)\.[A-Za-z0-9_\-]+$")
CORS_METHODS = ("*", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

# Subtypes of AWS_PROXY integrations (AWS service integrations) and their parameters:
# name -> (required, optional). Lambda-Invoke is a Cumulo extension (AWS has no such subtype).
SUBTYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "EventBridge-PutEvents": (("Detail", "DetailType", "Source"),
                              ("Time", "EventBusName", "Resources", "Region", "TraceHeader")),
    "SQS-SendMessage": (("QueueUrl", "MessageBody"),
                        ("DelaySeconds", "MessageAttributes", "MessageDeduplicationId", "MessageGroupId",
                         "MessageSystemAttributes", "Region")),
    "SQS-ReceiveMessage": (("QueueUrl",), ("AttributeNames", "MaxNumberOfMessages", "MessageAttributeNames",
                                           "ReceiveRequestAttemptId", "VisibilityTimeout", "WaitTimeSeconds",
                                           "Region")),
    "SQS-DeleteMessage": (("ReceiptHandle", "QueueUrl"), ("Region",)),
    "SQS-PurgeQueue": (("QueueUrl",), ("Region",)),
    "AppConfig-GetConfiguration": (("Application", "Environment", "Configuration", "ClientId"),
                                   ("ClientConfigurationVersion", "Region")),
    "Kinesis-PutRecord": (("StreamName", "Data", "PartitionKey"),
                          ("SequenceNumberForOrdering", "ExplicitHashKey", "Region")),
    "StepFunctions-StartExecution": (("StateMachineArn",), ("Name", "Input", "Region")),
    "StepFunctions-StartSyncExecution": (("StateMachineArn",), ("Name", "Input", "Region", "TraceHeader")),
    "StepFunctions-StopExecution": (("ExecutionArn",), ("Cause", "Error", "Region")),
    "Lambda-Invoke": (("FunctionName",), ("Payload", "InvocationType", "Qualifier", "ClientContext", "Region")),
}


def check_name(name: str | None, what: str = "name") -> None:
    if name is not None and not 1 <= len(name) <= 128:
        raise bad_request(f"Invalid {what}: the {what} must be between 1 and 128 characters long")


def check_http_route_key(key: str) -> None:
    try:
        parse_route_key(key)
    except RouteKeyError as exc:
        raise bad_request(str(exc)) from None


def check_cors(cors: dict[str, Any] | None) -> None:
    if not cors:
        return
    origins = cors.get("AllowOrigins") or []
    if cors.get("AllowCredentials") and "*" in origins:
        raise bad_request("CORS configuration is invalid: AllowCredentials can't be true when AllowOrigins "
                          "includes '*'. Specify the allowed origins.")
    for method in cors.get("AllowMethods") or []:
        if method.upper() not in CORS_METHODS:
            raise bad_request(f"CORS configuration is invalid: {method} is not a valid HTTP method")
    for origin in origins:
        if origin != "*" and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s]+$", origin):
            raise bad_request(f"CORS configuration is invalid: {origin} is not a valid origin. "
                              "Origins look like https://example.com")


def is_http_url(uri: str) -> bool:
    parsed = urlparse(uri)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def check_http_integration(record: dict[str, Any]) -> None:
    """An HTTP API integration as it will be stored (after defaults and updates)."""
    kind = record.get("IntegrationType")
    subtype = record.get("IntegrationSubtype")
    version = record.get("PayloadFormatVersion")
    uri = record.get("IntegrationUri")
    if kind not in ("AWS_PROXY", "HTTP_PROXY"):
        raise bad_request(f"Integration type {kind} is not supported for HTTP APIs. "
                          "Supported types are AWS_PROXY and HTTP_PROXY.")
    if version not in ("1.0", "2.0"):
        raise bad_request("PayloadFormatVersion is required for HTTP APIs and must be 1.0 or 2.0"
                          if version is None else f"Invalid PayloadFormatVersion {version}: must be 1.0 or 2.0")
    if kind == "HTTP_PROXY":
        if not uri or not (is_http_url(uri) or record.get("ConnectionType") == "VPC_LINK"):
            raise bad_request("IntegrationUri must be a valid http or https URL for HTTP_PROXY integrations")
        if version != "1.0":
            raise bad_request("PayloadFormatVersion must be 1.0 for HTTP_PROXY integrations")
        return
    if subtype:
        if subtype not in SUBTYPES:
            raise bad_request(f"Invalid IntegrationSubtype {subtype}. Supported subtypes are: "
                              f"{', '.join(SUBTYPES)}")
        if version != "1.0":
            raise bad_request(f"PayloadFormatVersion must be 1.0 for the {subtype} integration subtype")
        if uri:
            raise bad_request("IntegrationUri is not supported for AWS service integrations "
                              "(integrations with an IntegrationSubtype)")
        required, optional = SUBTYPES[subtype]
        parameters = record.get("RequestParameters") or {}
        missing = [name for name in required if name not in parameters]
        if missing:
            raise bad_request(f"Integration request parameters are missing for {subtype}: "
                              f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")
        unknown = [name for name in parameters if name not in required and name not in optional]
        if unknown:
            raise bad_request(f"Invalid request parameter {unknown[0]} for integration subtype {subtype}. "
                              f"Supported parameters are: {', '.join(required + optional)}")
        return
    if not uri:
        raise bad_request("IntegrationUri is required for AWS_PROXY integrations")
    if lambda_arn_of(uri) is None:
        raise bad_request(f"Invalid IntegrationUri {uri}: AWS_PROXY integrations of HTTP APIs target a "
                          "Lambda function ARN or arn:aws:apigateway:{region}:lambda:path/2015-03-31/"
                          "functions/{FunctionArn}/invocations")


def check_http_request_parameters(record: dict[str, Any]) -> None:
    """Parameter mapping keys of HTTP_PROXY integrations (append/overwrite/remove:header|querystring|path)."""
    if record.get("IntegrationType") != "HTTP_PROXY":
        return
    for key in record.get("RequestParameters") or {}:
        if not re.match(r"^(append|overwrite|remove):(header\.[A-Za-z0-9!#$%&'*+.^_`|~\-]+|"
                        r"querystring\.[^\s]+|path)$", key):
            raise bad_request(f"Invalid mapping expression specified: {key}. Keys look like "
                              "overwrite:header.name, append:querystring.name, remove:header.name or overwrite:path")


def check_authorizer(record: dict[str, Any]) -> None:
    kind = record.get("AuthorizerType")
    sources = record.get("IdentitySource") or []
    check_name(record.get("Name"), "authorizer name")
    if kind == "JWT":
        config = record.get("JwtConfiguration") or {}
        if not config.get("Issuer"):
            raise bad_request("JwtConfiguration.Issuer is required for JWT authorizers")
        if not config.get("Audience"):
            raise bad_request("JwtConfiguration.Audience is required for JWT authorizers")
        if not is_http_url(config["Issuer"]):
            raise bad_request(f"Invalid issuer {config['Issuer']}: the issuer must be an https URL")
        if len(sources) != 1 or not JWT_IDENTITY_SOURCE.match(sources[0]):
            raise bad_request("Invalid identity source for a JWT authorizer: specify one identity source, "
                              "$request.header.{name} or $request.querystring.{name}")
        for name in ("AuthorizerUri", "AuthorizerPayloadFormatVersion", "EnableSimpleResponses"):
            if record.get(name) not in (None, False):
                raise bad_request(f"{name} is not supported for JWT authorizers")
        return
    if kind != "REQUEST":
        raise bad_request(f"Authorizer type {kind} is not supported for HTTP APIs")
    uri = record.get("AuthorizerUri")
    if not uri or lambda_arn_of(uri) is None:
        raise bad_request("AuthorizerUri is required for REQUEST authorizers and must name a Lambda function: "
                          "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{FunctionArn}/invocations")
    version = record.get("AuthorizerPayloadFormatVersion")
    if version not in ("1.0", "2.0"):
        raise bad_request("AuthorizerPayloadFormatVersion is required for REQUEST authorizers and must be "
                          "1.0 or 2.0")
    if record.get("EnableSimpleResponses") and version != "2.0":
        raise bad_request("EnableSimpleResponses is supported only for authorizers with "
                          "AuthorizerPayloadFormatVersion 2.0")
    if record.get("JwtConfiguration"):
        raise bad_request("JwtConfiguration is supported only for JWT authorizers")
    for source in sources:
        if not IDENTITY_SOURCE.match(source):
            raise bad_request(f"Invalid identity source {source}. Identity sources look like "
                              "$request.header.{name}, $request.querystring.{name}, $context.{name} or "
                              "$stageVariables.{name}")
    if (record.get("AuthorizerResultTtlInSeconds") or 0) > 0 and not sources:
        raise bad_request("Identity sources are required when authorizer caching is enabled "
                          "(AuthorizerResultTtlInSeconds greater than 0)")


def check_access_log_settings(settings: dict[str, Any] | None) -> None:
    if not settings:
        return
    arn = settings.get("DestinationArn")
    fmt = settings.get("Format")
    if arn and not re.match(r"^arn:aws[a-zA-Z-]*:logs:[a-z0-9-]+:\d{12}:log-group:[\.\-_/#A-Za-z0-9]+(:\*)?$", arn):
        raise bad_request(f"Invalid DestinationArn {arn}: specify the ARN of a CloudWatch Logs log group")
    if arn and not fmt:
        raise bad_request("Access log format must be specified when a destination is set")
    if fmt and "$context.requestId" not in fmt and "$context.extendedRequestId" not in fmt:
        raise bad_request("The access log format must include $context.requestId or $context.extendedRequestId")


def check_stage_name(name: str) -> None:
    if not STAGE_NAME.match(name):
        raise bad_request(f"Invalid stage name {name}: stage names contain only letters, digits, '-' and '_' "
                          "(at most 128 characters), or are $default")


def _invalid_tag(key: str, problems: frozenset[TagProblem]) -> Exception:
    if problems & {TagProblem.KEY_LENGTH, TagProblem.RESERVED_PREFIX}:
        return bad_request(f"Invalid tag key {key}: tag keys are 1 to 128 characters and can't start with aws:")
    return bad_request(f"Invalid value for tag {key}: tag values are at most 256 characters")


TAG_RULES = TagRules(lambda: bad_request("A resource can have at most 50 tags"), invalid_tag=_invalid_tag)


def check_tags(tags: dict[str, str] | None) -> None:
    TAG_RULES.check(tags or {})
