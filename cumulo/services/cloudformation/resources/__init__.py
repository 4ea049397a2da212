"""Resource handlers by CloudFormation type."""

from __future__ import annotations

from cumulo.services.cloudformation.resources.base import ResourceHandler


def handlers() -> dict[str, ResourceHandler]:
    from cumulo.services.cloudformation.resources import (
        apigatewayv2,
        autoscaling,
        core,
        events,
        lambda_,
        messaging,
        secrets,
    )

    return {handler.type: handler for module in (core, events, lambda_, messaging, apigatewayv2, autoscaling,
                                                 secrets)
            for handler in module.HANDLERS}
