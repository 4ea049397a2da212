"""Resource handlers by CloudFormation type."""

from __future__ import annotations

from typing import Any

from cumulo.services.cloudformation.resources.base import ResourceHandler


class HandlerTable(dict[str, ResourceHandler]):
    """Handlers by type; any ``Custom::Name`` type is a custom resource, as in CloudFormation."""

    def __missing__(self, kind: str) -> ResourceHandler:
        if not kind.startswith("Custom::") or len(kind) <= len("Custom::"):
            raise KeyError(kind)
        from cumulo.services.cloudformation.resources.custom import CustomResourceHandler

        handler = self[kind] = CustomResourceHandler(kind)
        return handler

    def __contains__(self, kind: object) -> bool:
        return super().__contains__(kind) or (isinstance(kind, str) and kind.startswith("Custom::")
                                              and len(kind) > len("Custom::"))

    def get(self, kind: str, default: Any = None) -> Any:
        try:
            return self[kind]
        except KeyError:
            return default


def handlers() -> HandlerTable:
    from cumulo.services.cloudformation.resources import (
        apigateway,
        apigatewayv2,
        autoscaling,
        core,
        custom,
        dynamodb,
        events,
        kinesis,
        lambda_,
        messaging,
        monitoring,
        nested,
        pipes,
        s3,
        schemas,
        secrets,
    )

    modules = (core, events, lambda_, messaging, apigateway, apigatewayv2, autoscaling, custom, nested, monitoring,
               s3, dynamodb, secrets, schemas, pipes, kinesis)
    return HandlerTable({handler.type: handler for module in modules for handler in module.HANDLERS})
