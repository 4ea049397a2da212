"""The CloudFormation engine's ValidationError, and how reading and evaluation errors become one."""

from __future__ import annotations

from cumulo.services.cloudformation.intrinsics import IntrinsicError
from cumulo.template_loader import TemplateError


class ValidationFailure(ValueError):
    """CloudFormation's ValidationError: the template or its parameters are invalid."""


def template_error(exc: Exception) -> ValidationFailure:
    return ValidationFailure(str(exc)) if isinstance(exc, TemplateError | IntrinsicError) else ValidationFailure(
        f"Template error: {exc}")
