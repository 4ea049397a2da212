"""The stream side of event source mappings (Kinesis and DynamoDB Streams): which ARNs are
streams, their settings, defaults and checks. The poller is ``cumulo.eventsources.streams``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cumulo.arns import split_arn
from cumulo.services.lambda_.errors import invalid

if TYPE_CHECKING:
    from cumulo.platform import Platform

STREAM_MAX_BATCH = 10_000
STREAM_SETTINGS = ("ParallelizationFactor", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
                   "MaximumRecordAgeInSeconds", "DestinationConfig", "TumblingWindowInSeconds")
DEFAULTS: dict[str, Any] = {"BatchSize": 100, "ParallelizationFactor": 1, "BisectBatchOnFunctionError": False,
                            "MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1,
                            "TumblingWindowInSeconds": 0}


def is_stream(arn: str) -> bool:
    parsed = split_arn(arn)
    return parsed is not None and (parsed.service == "kinesis"
                                   or (parsed.service == "dynamodb" and "/stream/" in parsed.resource))


def check_stream_exists(platform: Platform, arn: str) -> None:
    parsed = split_arn(arn)
    assert parsed is not None, arn
    if parsed.service == "kinesis":
        found = platform.data_streams.stream_shards(arn) is not None
    else:
        found = platform.streams.describe_table_stream(parsed.account, parsed.region, arn) is not None
    if not found:
        raise invalid(f"Stream not found: {arn}")


def check_stream_settings(settings: dict[str, Any], creating: bool) -> None:
    if creating and not settings.get("StartingPosition"):
        raise invalid("1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
                      "Member must not be null")
    if settings.get("StartingPosition") == "AT_TIMESTAMP" and not settings.get("StartingPositionTimestamp"):
        raise invalid("StartingPositionTimestamp must be provided for AT_TIMESTAMP StartingPosition.")
    size = settings.get("BatchSize") or DEFAULTS["BatchSize"]
    if size > STREAM_MAX_BATCH:
        raise invalid(f"BatchSize must be between 1 and {STREAM_MAX_BATCH}.")
    age = settings.get("MaximumRecordAgeInSeconds")
    if age is not None and age != -1 and not 60 <= age <= 604_800:
        raise invalid("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.")
    destination = ((settings.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if destination:
        parsed = split_arn(destination)
        if parsed is None or parsed.service not in ("sqs", "sns", "s3"):
            raise invalid("The provided destination config DestinationConfig(onSuccess=null, onFailure="
                          f"OnFailure(destination={destination})) is invalid.")


def stream_fields(params: dict[str, Any]) -> dict[str, Any]:
    """The stream members a new mapping records (AWS's defaults for those not given)."""
    fields = {name: params[name] if params.get(name) is not None else default for name, default in DEFAULTS.items()}
    fields["StartingPosition"] = params["StartingPosition"]
    if params.get("StartingPositionTimestamp") is not None:
        fields["StartingPositionTimestamp"] = params["StartingPositionTimestamp"].timestamp()
    fields["DestinationConfig"] = params.get("DestinationConfig") or {"OnFailure": {}}
    return fields
