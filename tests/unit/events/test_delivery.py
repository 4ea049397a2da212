"""Delivery helpers: backoff, how target errors are classified, log entries, jobs, ARNs."""

from __future__ import annotations

import pytest

from cumulo.protocol.errors import AwsError
from cumulo.services.events.names import bus_ref, parse_rule_arn, rule_arn
from cumulo.targets.delivery_queue import BACKOFF_CAP_S, DEFAULT_MAX_AGE_S, DEFAULT_RETRY_ATTEMPTS, Job, backoff
from cumulo.targets.errors import from_aws_error
from cumulo.targets.log_groups import log_entry, log_group_name


def test_backoff_doubles_with_jitter_up_to_a_cap():
    for attempt, ceiling in ((1, 1), (2, 2), (3, 4), (8, 128)):
        delays = [backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
    assert all(BACKOFF_CAP_S / 2 <= backoff(200) <= BACKOFF_CAP_S for _ in range(20))


@pytest.mark.parametrize("code, expected, retryable", [
    ("ResourceNotFoundException", "NO_RESOURCE", False), ("QueueDoesNotExist", "NO_RESOURCE", False),
    ("AccessDeniedException", "NO_PERMISSIONS", False), ("InvalidParameterValue", "INVALID_PARAMETER", False),
    ("TooManyRequestsException", "THROTTLING", True), ("ServiceException", "THROTTLING", True),
    ("SomethingElse", "ERROR_FROM_TARGET", True),
])
def test_target_errors_are_classified(code, expected, retryable):
    error = from_aws_error(AwsError(code, "why"))
    assert (error.code, error.retryable) == (expected, retryable)


def test_job_round_trip_and_policy_defaults():
    job = Job(account="1", region="r", origin="arn:rule", target={"Id": "t", "Arn": "arn:x"}, payload="{}",
              extra={"rule": "r"})
    again = Job.decode(job.encode())
    assert again == job
    assert job.retry_policy == (DEFAULT_RETRY_ATTEMPTS, DEFAULT_MAX_AGE_S) and job.dead_letter_arn is None
    job.target = {"RetryPolicy": {"MaximumRetryAttempts": 0}, "DeadLetterConfig": {"Arn": "arn:dlq"}}
    assert job.retry_policy == (0, DEFAULT_MAX_AGE_S) and job.dead_letter_arn == "arn:dlq"


def test_log_entries():
    assert log_entry('{"a": 1}', "2024-01-01T00:00:00Z") == (1704067200000, '{"a": 1}')
    assert log_entry('{"timestamp": "2024-01-01T00:00:01Z", "message": "hi"}', None) == (1704067201000, "hi")
    assert log_entry('{"timestamp": 1704067202000, "message": {"k": 1}}', None) == (1704067202000, '{"k": 1}')
    assert log_group_name("arn:aws:logs:us-east-1:000000000000:log-group:/aws/events/x:*") == "/aws/events/x"
    assert log_group_name("arn:aws:sqs:us-east-1:000000000000:q") is None


def test_names():
    assert rule_arn("eu-west-1", "111122223333", "default", "r") == "arn:aws:events:eu-west-1:111122223333:rule/r"
    assert rule_arn("eu-west-1", "111122223333", "b", "r") == "arn:aws:events:eu-west-1:111122223333:rule/b/r"
    assert parse_rule_arn("arn:aws:events:eu-west-1:111122223333:rule/b/r") == ("111122223333", "eu-west-1", "b", "r")
    assert parse_rule_arn("arn:aws:events:eu-west-1:111122223333:rule/r") == (
        "111122223333", "eu-west-1", "default", "r")
    assert bus_ref(None).name == "default" and bus_ref("orders").name == "orders"
    ref = bus_ref("arn:aws:events:us-west-2:111122223333:event-bus/orders")
    assert (ref.name, ref.account, ref.region) == ("orders", "111122223333", "us-west-2")
