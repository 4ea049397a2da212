"""Scalar conversions shared by every protocol: timestamps, blobs, booleans."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from email.utils import format_datetime, parsedate_to_datetime

UTC = dt.UTC


def parse_timestamp(value: str | int | float) -> dt.datetime:
    """Accept epoch seconds (number or numeric string), ISO 8601 or RFC 822 text."""
    if isinstance(value, bool):
        raise ValueError("boolean is not a timestamp")
    if isinstance(value, int | float):
        return _from_epoch(value)
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return _from_epoch(seconds)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a timestamp: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _from_epoch(seconds: float) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError) as exc:  # beyond the years datetime or the platform can hold
        raise ValueError(f"timestamp out of range: {seconds!r}") from exc


def as_datetime(value: dt.datetime | int | float | str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_timestamp(value)


def format_timestamp(value: dt.datetime | int | float | str, fmt: str) -> str | float | int:
    """Format for the wire: ``unixTimestamp`` (number), ``iso8601`` or ``rfc822``."""
    when = as_datetime(value)
    if fmt == "unixTimestamp":
        seconds = when.timestamp()
        return int(seconds) if seconds == int(seconds) else round(seconds, 3)
    if fmt == "rfc822":
        return format_datetime(when.astimezone(UTC), usegmt=True)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def decode_blob(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not valid base64") from exc


def encode_blob(value: bytes | str) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError(f"not a boolean: {text!r}")
