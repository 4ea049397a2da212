"""Resource handlers by CloudFormation type."""

from __future__ import annotations

from cumulo.services.cloudformation.resources.base import ResourceHandler


def handlers() -> dict[str, ResourceHandler]:
    from cumulo.services.cloudformation.resources import (
        apigatewayv2,
        autoscaling,
        core,
        dynamodb,
        events,
        lambda_,
        messaging,
    )

    modules = (core, events, lambda_, messaging, apigatewayv2, autoscaling, dynamodb)
    return {handler.type: handler for module in modules for handler in module.HANDLERS}
