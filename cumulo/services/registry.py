"""The services this build serves: one provider class per AWS service."""

from __future__ import annotations

from cumulo.services.base import Provider


def provider_classes() -> list[type[Provider]]:
    from cumulo.httpapi.service import ApiGatewayV2Service
    from cumulo.restapi.service import ApiGatewayService
    from cumulo.services.autoscaling.provider import ApplicationAutoScalingProvider
    from cumulo.services.cloudformation.provider import CloudFormationProvider
    from cumulo.services.cloudwatch.provider import CloudWatchProvider
    from cumulo.services.dynamodb.provider import DynamoDbProvider
    from cumulo.services.dynamodbstreams.provider import DynamoDbStreamsProvider
    from cumulo.services.events.provider import EventsProvider
    from cumulo.services.firehose.provider import FirehoseProvider
    from cumulo.services.iam.provider import IamProvider
    from cumulo.services.kinesis.provider import KinesisProvider
    from cumulo.services.lambda_.provider import LambdaProvider
    from cumulo.services.logs.provider import LogsProvider
    from cumulo.services.pipes.provider import PipesProvider
    from cumulo.services.s3.provider import S3Provider
    from cumulo.services.scheduler.provider import SchedulerProvider
    from cumulo.services.schemas.provider import SchemasProvider
    from cumulo.services.secretsmanager.provider import SecretsManagerProvider
    from cumulo.services.sns.provider import SnsProvider
    from cumulo.services.sqs.provider import SqsProvider
    from cumulo.services.ssm.provider import SsmProvider
    from cumulo.services.stepfunctions.provider import StepFunctionsProvider
    from cumulo.services.sts.provider import StsProvider

    # Event routing starts after (and stops before) the services it delivers to. REST APIs come
    # before HTTP APIs: both data planes answer /_api/{id}, and the REST one passes on ids not its own.
    return [LogsProvider, CloudWatchProvider, S3Provider, IamProvider, StsProvider, SecretsManagerProvider,
            SsmProvider, SqsProvider, SnsProvider,
            DynamoDbProvider, DynamoDbStreamsProvider, KinesisProvider, FirehoseProvider,
            LambdaProvider, StepFunctionsProvider, EventsProvider, SchedulerProvider, SchemasProvider, PipesProvider,
            ApiGatewayService,
            ApiGatewayV2Service,
            ApplicationAutoScalingProvider, CloudFormationProvider]
