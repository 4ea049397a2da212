"""REST APIs: the gateway's cost over a direct invoke, and a VTL-mapped SQS integration's rate.

A real ``cumulo serve`` runs a hello-world Python function, reached three ways, one request at a
time on one keep-alive raw connection (p50/p99):

* **direct**: Lambda's Invoke API, the floor;
* **REST API proxy**: ``GET /_api/{id}/prod/hello`` through an AWS_PROXY integration: stage,
  resource and method selection, the v1 proxy event, the invoke, the proxy response checks;
* **REST API MOCK**: a MOCK integration with request and response templates (everything but the
  invoke, with two Velocity renders).

Then the throughput of ``POST /_api/{id}/prod/queue``, an AWS integration whose request template
(``Action=SendMessage&MessageBody=$util.urlEncode($input.body)``) sends each body to an SQS queue
(each message committed to the store before the 200), with ``wrk`` when installed (8 connections),
else Python client processes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench._load import WrkResult, check, client_processes, wrk
from bench._raw_http import RawConnection
from bench._server_common import AUTH, create_python_function
from bench.report import Figure, latency_figures, percentile, print_figures, timed_samples
from tests.server import CumuloServer

HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello'}\n"
NAME = "restapi_overhead"
SEND = "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"


def _method(apigw, api_id: str, root: str, part: str, verb: str, **integration) -> str:
    resource = apigw.create_resource(restApiId=api_id, parentId=root, pathPart=part)["id"]
    apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod=verb, authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod=verb, **integration)
    return resource


def _build(server: CumuloServer, arn: str) -> str:
    apigw = server.client("apigateway")
    api = apigw.create_rest_api(name="bench")
    api_id, root = api["id"], api["rootResourceId"]
    _method(apigw, api_id, root, "hello", "GET", type="AWS_PROXY", integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations")
    mock = _method(apigw, api_id, root, "mock", "GET", type="MOCK",
                   requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=mock, httpMethod="GET", statusCode="200",
                                   responseTemplates={"application/json": '{"stage": "$context.stage"}'})
    queue_url = server.client("sqs").create_queue(QueueName="bench-rest")["QueueUrl"]
    queue = _method(apigw, api_id, root, "queue", "POST", type="AWS", integrationHttpMethod="POST",
                    uri=f"arn:aws:apigateway:us-east-1:sqs:path/{queue_url.split('/')[-2]}/bench-rest",
                    requestTemplates={"application/json": SEND})
    apigw.put_integration_response(restApiId=api_id, resourceId=queue, httpMethod="POST", statusCode="200")
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    return f"/_api/{api_id}/prod"


def run(quick: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data").start()
        try:
            lam = server.client("lambda")
            create_python_function(lam, "bench-hello", HANDLER, MemorySize=128)
            arn = lam.get_function(FunctionName="bench-hello")["Configuration"]["FunctionArn"]
            prefix = _build(server, arn)
            targets = {
                "direct invoke": RawConnection.build("POST", "/2015-03-31/functions/bench-hello/invocations", b"{}",
                                                     {"Authorization": AUTH}),
                "REST API proxy": RawConnection.build("GET", f"{prefix}/hello", b"", {}),
                "REST API MOCK": RawConnection.build("GET", f"{prefix}/mock", b"", {}),
            }
            # Rounds alternate the targets, so that a busy machine weighs on all three alike.
            count = 500 if quick else 5000
            connections = {name: RawConnection(server.port) for name in targets}
            samples: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(10):
                for name, request in targets.items():
                    connection = connections[name]
                    samples[name] += timed_samples(lambda r=request, c=connection: check(c.send(r), 200),
                                                   count // 10, 20)
            for connection in connections.values():
                connection.close()
            p50s = {name: percentile(found, 50) * 1000 for name, found in samples.items()}
            for name, found in samples.items():
                figures += latency_figures(NAME, f"{name} latency", found)
            figures.append(Figure(NAME, "proxy overhead p50 (REST API - direct)",
                                  round(p50s["REST API proxy"] - p50s["direct invoke"], 3), "ms"))
            body = b'{"order": 1}'
            headers = {"Content-Type": "application/json"}
            seconds = 2.0 if quick else 5.0
            result = wrk(server.port, "POST", f"{prefix}/queue", body, headers, 8, seconds, success_only=True)
            note = "wrk -t1 -c8"
            if result is None:
                request = RawConnection.build("POST", f"{prefix}/queue", body, headers)
                result = WrkResult(client_processes(server.port, request, 200, 2, seconds), None, None)
                note = "2 Python clients"
            figures.append(Figure(NAME, "VTL SQS integration throughput", round(result.rate), "req/s", note))
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
