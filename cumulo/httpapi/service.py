"""API Gateway v2 as Cumulo serves it: the control plane provider with the HTTP API data plane
mounted on the gateway.

The control plane (``cumulo.services.apigatewayv2``) knows nothing of the data plane; this is the
one place that puts them together: the data plane reads the provider's catalog and subscribes to
its changes, and ``http_route`` (which the gateway mounts) answers invoke URLs of HTTP APIs and
passes everything else on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cumulo.httpapi.dataplane import HttpApiDataPlane
from cumulo.services.apigatewayv2.provider import ApiGatewayV2Provider

if TYPE_CHECKING:
    from cumulo.platform import Platform


class ApiGatewayV2Service(ApiGatewayV2Provider):
    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.dataplane = HttpApiDataPlane(platform, self.catalog)
        self.http_route = self.dataplane.handle

    async def start(self) -> None:
        await super().start()
        await self.dataplane.start()

    async def stop(self) -> None:
        await self.dataplane.stop()
        await super().stop()
