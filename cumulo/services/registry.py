"""The services this build serves: one provider class per AWS service."""

from __future__ import annotations

from cumulo.services.base import Provider


def provider_classes() -> list[type[Provider]]:
    from cumulo.services.autoscaling.provider import ApplicationAutoScalingProvider
    from cumulo.services.cloudwatch.provider import CloudWatchProvider
    from cumulo.services.lambda_.provider import LambdaProvider
    from cumulo.services.logs.provider import LogsProvider

    return [LogsProvider, CloudWatchProvider, LambdaProvider, ApplicationAutoScalingProvider]
