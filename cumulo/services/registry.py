"""The services this build serves: one provider class per AWS service."""

from __future__ import annotations

from cumulo.services.base import Provider


def provider_classes() -> list[type[Provider]]:
    from cumulo.httpapi.service import ApiGatewayV2Service
    from cumulo.services.autoscaling.provider import ApplicationAutoScalingProvider
    from cumulo.services.cloudformation.provider import CloudFormationProvider
    from cumulo.services.cloudwatch.provider import CloudWatchProvider
    from cumulo.services.events.provider import EventsProvider
    from cumulo.services.iam.provider import IamProvider
    from cumulo.services.lambda_.provider import LambdaProvider
    from cumulo.services.logs.provider import LogsProvider
    from cumulo.services.s3.provider import S3Provider
    from cumulo.services.scheduler.provider import SchedulerProvider
    from cumulo.services.schemas.provider import SchemasProvider
    from cumulo.services.sns.provider import SnsProvider
    from cumulo.services.sqs.provider import SqsProvider
    from cumulo.services.stepfunctions.provider import StepFunctionsProvider
    from cumulo.services.sts.provider import StsProvider

    # Event routing starts after (and stops before) the services it delivers to.
    return [LogsProvider, CloudWatchProvider, S3Provider, IamProvider, StsProvider, SqsProvider, SnsProvider,
            LambdaProvider, StepFunctionsProvider, EventsProvider, SchedulerProvider, SchemasProvider,
            ApiGatewayV2Service,
            ApplicationAutoScalingProvider, CloudFormationProvider]
