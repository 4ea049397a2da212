"""A CloudWatch Logs group as a target: its ARN, and the log event a payload becomes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cumulo.arns import parse_arn


def log_group_name(arn: str) -> str | None:
    """``arn:aws:logs:region:account:log-group:NAME[:*]`` -> NAME."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "logs" or not parsed.resource.startswith("log-group:"):
        return None
    name = parsed.resource[len("log-group:"):]
    return name[:-2] if name.endswith(":*") else name


def log_entry(payload: str, event_time: str | None) -> tuple[int, str]:
    """(timestamp ms, message) for a log group target; ``{"timestamp", "message"}`` JSON is honoured."""
    timestamp = None
    message = payload
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if isinstance(document, dict) and set(document) == {"timestamp", "message"}:
        message = document["message"] if isinstance(document["message"], str) else json.dumps(document["message"])
        timestamp = _parse_time(document["timestamp"])
    if timestamp is None:
        timestamp = _parse_time(event_time)
    if timestamp is None:
        timestamp = int(datetime.now().timestamp() * 1000)
    return timestamp, message


def _parse_time(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value if value > 10**11 else value * 1000)
    if isinstance(value, str) and value:
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return None
    return None
