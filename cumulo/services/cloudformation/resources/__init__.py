"""Resource handlers by CloudFormation type."""

from __future__ import annotations

from cumulo.services.cloudformation.resources.base import ResourceHandler


def handlers() -> dict[str, ResourceHandler]:
    from cumulo.services.cloudformation.resources import (
        apigateway,
        apigatewayv2,
        autoscaling,
        core,
        events,
        lambda_,
        messaging,
    )

    modules = (core, events, lambda_, messaging, apigateway, apigatewayv2, autoscaling)
    return {handler.type: handler for module in modules for handler in module.HANDLERS}
