"""The services this build serves: one provider class per AWS service."""

from __future__ import annotations

from cumulo.services.base import Provider


def provider_classes() -> list[type[Provider]]:
    from cumulo.services.cloudwatch.provider import CloudWatchProvider
    from cumulo.services.events.provider import EventsProvider
    from cumulo.services.lambda_.provider import LambdaProvider
    from cumulo.services.logs.provider import LogsProvider
    from cumulo.services.scheduler.provider import SchedulerProvider
    from cumulo.services.sns.provider import SnsProvider
    from cumulo.services.sqs.provider import SqsProvider

    # Event routing starts after (and stops before) the services it delivers to.
    return [LogsProvider, CloudWatchProvider, LambdaProvider, SqsProvider, SnsProvider, EventsProvider,
            SchedulerProvider]
