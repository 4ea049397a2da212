"""A job sent to the queue is processed by the deployed worker (seen in its log)."""

import json
import time
import unittest
import uuid

import boto3

from tests.stack import function_name, output


class WorkerTest(unittest.TestCase):
    def test_a_job_is_processed(self):
        job = uuid.uuid4().hex
        boto3.client("sqs").send_message(QueueUrl=output("QueueUrl"), MessageBody=json.dumps({"id": job}))
        logs = boto3.client("logs")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name('Worker')}",
                                                filterPattern=f'"processing job {job}"')["events"]
            except logs.exceptions.ResourceNotFoundException:
                events = []
            if events:
                return
            time.sleep(0.5)
        self.fail(f"job {job} was not processed within 60 s")
