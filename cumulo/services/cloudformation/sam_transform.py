"""The SAM transform: templates that declare ``AWS::Serverless-2016-10-31`` are expanded by the
official aws-sam-translator."""

from __future__ import annotations

import copy
from typing import Any

from cumulo.services.cloudformation.errors import ValidationFailure

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
# Managed policy names SAM templates use, to their ARNs (the translator needs the map; AWS reads IAM).
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/{path}{name}" for path, names in {
        "service-role/": ("AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole", "AWSLambdaRole",
                          "AWSLambdaSQSQueueExecutionRole", "AWSLambdaKinesisExecutionRole",
                          "AWSLambdaDynamoDBExecutionRole", "AWSXrayWriteOnlyAccess"),
        "": ("AWSLambdaExecute", "AWSXRayDaemonWriteAccess", "AmazonSQSFullAccess", "AmazonSNSFullAccess",
             "AmazonS3ReadOnlyAccess", "AmazonS3FullAccess", "AmazonDynamoDBFullAccess", "CloudWatchLogsFullAccess",
             "AWSStepFunctionsFullAccess", "AmazonEventBridgeFullAccess", "AWSLambda_FullAccess",
             "AWSXrayFullAccess", "CloudWatchFullAccess", "AmazonAPIGatewayInvokeFullAccess"),
    }.items() for name in names
}


def expand_sam(body: dict[str, Any], parameters: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """Run the official aws-sam-translator over a template that declares the SAM transform."""
    transforms = body.get("Transform")
    names = transforms if isinstance(transforms, list) else [transforms] if transforms else []
    unknown = [t for t in names if t not in (SAM_TRANSFORM, "AWS::LanguageExtensions")]
    if unknown:
        raise ValidationFailure(f"Transform {unknown[0]} is not supported by Cumulo (only {SAM_TRANSFORM})")
    if SAM_TRANSFORM not in names:
        return body
    _refuse_repository_applications(body)
    # Imported here: the translator (and boto3) take about a second to import, which the
    # server's start-up should not pay (``warm_up`` loads them in the background).
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator(MANAGED_POLICIES, Parser(), boto_session=boto3.Session(region_name=region))
    values = {**parameters, "AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": "aws"}
    try:
        translated = translator.translate(copy.deepcopy(body), values)
    except Exception as exc:  # the translator raises its own exception types, all with readable messages
        message = getattr(exc, "message", None) or str(exc)
        causes = getattr(exc, "causes", None)
        if causes:
            message += " " + " ".join(getattr(c, "message", str(c)) for c in causes)
        raise ValidationFailure(f"Transform {SAM_TRANSFORM} failed with: {message}") from exc
    translated.pop("Transform", None)
    return translated


def _refuse_repository_applications(body: dict[str, Any]) -> None:
    """Serverless Application Repository applications would be fetched from AWS: refused, with what works."""
    for logical_id, resource in (body.get("Resources") or {}).items():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Application":
            location = (resource.get("Properties") or {}).get("Location")
            if isinstance(location, dict):
                raise ValidationFailure(
                    f"Transform {SAM_TRANSFORM} failed with: Resource {logical_id}: Location names a Serverless "
                    "Application Repository application (ApplicationId), which Cumulo cannot fetch. Download the "
                    "application's template and give its local path (cumulo deploy uploads it) or an s3:// URL.")


def warm_up() -> None:
    """Import the SAM translator ahead of the first deployment (run in a background thread)."""
    import samtranslator.translator.translator  # noqa: F401
