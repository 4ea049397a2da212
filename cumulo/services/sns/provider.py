"""Amazon SNS (placeholder while SQS lands)."""

from __future__ import annotations

from cumulo.services.base import Provider


class SnsProvider(Provider):
    service = "sns"
