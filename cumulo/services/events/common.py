"""What EventBridge's operation groups share: limits, member lists, record helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cumulo.patterns import RuleSet
from cumulo.protocol.errors import AwsError
from cumulo.services.tagging import TagRules, tag_map

MAX_ENTRIES_BYTES = 256 * 1024
MAX_TARGETS_PER_RULE = 5
MAX_RULES_PER_BUS = 300
MAX_BUSES = 100
DEFAULT_LIMIT = 100
TEST_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")
RULE_MEMBERS = ("Name", "Arn", "EventPattern", "ScheduleExpression", "State", "Description", "RoleArn",
                "ManagedBy", "EventBusName")
TARGET_MEMBERS = ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "KinesisParameters",
                  "RunCommandParameters", "EcsParameters", "BatchParameters", "SqsParameters", "HttpParameters",
                  "RedshiftDataParameters", "SageMakerPipelineParameters", "DeadLetterConfig", "RetryPolicy",
                  "AppSyncParameters")
LIMIT_EXCEEDED = "The requested resource exceeds the maximum number allowed."
TAG_RULES = TagRules(lambda: AwsError("LimitExceededException", LIMIT_EXCEEDED))


def validation_error(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def entry_error(code: str, message: str) -> dict[str, str]:
    return {"ErrorCode": code, "ErrorMessage": message}


def epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp() if value.tzinfo else value.replace(tzinfo=UTC).timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def tags_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    tags = tags or []
    keys = [tag["Key"] for tag in tags]
    if len(set(keys)) != len(keys):
        raise validation_error("Invalid parameter: Duplicated keys are not allowed.")
    return tag_map(tags)


@dataclass
class BusRules:
    """The rules of one bus as PutEvents needs them: an automaton and the records by name."""

    ruleset: RuleSet = field(default_factory=RuleSet)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)


def is_active(record: dict[str, Any]) -> bool:
    return record.get("State", "ENABLED") != "DISABLED"
