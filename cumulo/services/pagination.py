"""Opaque pagination tokens (``NextToken``/``Marker``) shared by the providers.

A token is base64url JSON naming what it pages ("kind") and where to resume, so a token
from one listing is rejected by another with the service's invalid-token error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any, TypeVar

from cumulo.protocol.errors import AwsError

T = TypeVar("T")


def encode_token(kind: str, position: Any) -> str:
    raw = json.dumps({"k": kind, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, kind: str, error_code: str = "InvalidParameterException",
                 message: str = "The specified nextToken is invalid.") -> Any:
    """The resume position of ``token`` (None when there is no token)."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise AwsError(error_code, message) from exc
    if not isinstance(document, dict) or document.get("k") != kind:
        raise AwsError(error_code, message)
    return document.get("p")


def take_page(items: Iterable[tuple[Any, T]], limit: int, kind: str) -> tuple[list[T], str | None]:
    """The first ``limit`` of ``(position, item)`` pairs, and a token that resumes after the last
    one taken (None when nothing is left)."""
    page: list[T] = []
    last: Any = None
    for position, item in items:
        if len(page) == limit:
            return page, encode_token(kind, last)
        page.append(item)
        last = position
    return page, None
