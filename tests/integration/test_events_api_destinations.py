"""Connections and API destinations through boto3 against a real server, delivering to a real
local HTTP service (aiohttp, in this test): each auth kind, HTTP parameters, OAuth token refresh,
the rate limit, retries on 5xx/429 and the dead-letter queue."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import uuid
from collections import defaultdict

import pytest
from aiohttp import web
from botocore.exceptions import ClientError

from tests.server import CumuloServer, free_port, wait_for


class Service:
    """A local HTTP service: records what arrives, fails on demand, issues OAuth tokens."""

    def __init__(self) -> None:
        self.port = free_port()
        self.calls: dict[str, list[dict]] = defaultdict(list)
        self.statuses: dict[str, list[int]] = {}
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def hook(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.calls[name].append({"at": time.monotonic(), "headers": dict(request.headers),
                                 "query": dict(request.query), "path": request.path,
                                 "body": await request.text(), "method": request.method})
        planned = self.statuses.get(name)
        return web.Response(status=planned.pop(0) if planned else 200, text="ok")

    async def token(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"client:s3cret").decode():
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        if form.get("grant_type") != "client_credentials" or request.query.get("audience") != "api":
            return web.json_response({"error": "invalid_request"}, status=400)
        self.tokens_issued += 1
        token = f"token-{self.tokens_issued}"
        self.valid_tokens.add(token)
        return web.json_response({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    async def protected(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return web.Response(status=401)
        return await self.hook(request)

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/oauth/token", self.token)
        app.router.add_post("/protected/{name}", self.protected)
        app.router.add_route("*", "/hook/{name}", self.hook)
        app.router.add_route("*", "/hook/{name}/{rest:.*}", self.hook)
        runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def service():
    instance = Service()
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    instance.started.wait(10)
    yield instance
    instance.stop()
    thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("apidest") / "data",
                            env={"CUMULO_EVENTS_RETRY_TIME_SCALE": "0.001"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def events(server):
    return server.client("events")


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


API_KEY = {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-123"}}


def destination(events, endpoint: str, auth_type: str = "API_KEY", auth: dict | None = None, rate: int = 300,
                method: str = "POST") -> str:
    connection = events.create_connection(Name=unique("conn"), AuthorizationType=auth_type,
                                           AuthParameters=auth or API_KEY)["ConnectionArn"]
    return events.create_api_destination(Name=unique("dest"), ConnectionArn=connection, InvocationEndpoint=endpoint,
                                         HttpMethod=method, InvocationRateLimitPerSecond=rate)["ApiDestinationArn"]


def route(events, target: dict) -> str:
    """A bus whose rule sends every `shop` event to ``target``; returns the bus name."""
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    events.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": ["shop"]}))
    result = events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "t", **target}])
    assert result["FailedEntryCount"] == 0, result
    return bus


def put(events, bus: str, count: int = 1) -> None:
    for start in range(0, count, 10):
        entries = [{"Source": "shop", "DetailType": "Order", "EventBusName": bus, "Detail": json.dumps({"n": n})}
                   for n in range(start, min(count, start + 10))]
        assert events.put_events(Entries=entries)["FailedEntryCount"] == 0


# ------------------------------------------------------------ control plane
def test_connection_and_destination_crud_hide_secrets(events):
    name = unique("conn")
    created = events.create_connection(
        Name=name, AuthorizationType="API_KEY", AuthParameters={
            **API_KEY, "InvocationHttpParameters": {"HeaderParameters": [
                {"Key": "x-team", "Value": "shop", "IsValueSecret": False},
                {"Key": "x-token", "Value": "hidden", "IsValueSecret": True}]}})
    assert created["ConnectionState"] == "AUTHORIZED"
    described = events.describe_connection(Name=name)
    assert described["SecretArn"].startswith(f"arn:aws:secretsmanager:us-east-1:000000000000:secret:"
                                             f"events!connection/{name}/")
    assert described["AuthParameters"] == {
        "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key"},
        "InvocationHttpParameters": {"HeaderParameters": [{"Key": "x-team", "Value": "shop", "IsValueSecret": False},
                                                          {"Key": "x-token", "IsValueSecret": True}]}}
    assert "k-123" not in json.dumps(described, default=str)
    dest = unique("dest")
    arn = events.create_api_destination(Name=dest, ConnectionArn=created["ConnectionArn"], HttpMethod="PUT",
                                        InvocationEndpoint="https://example.com/*")["ApiDestinationArn"]
    assert arn.startswith(f"arn:aws:events:us-east-1:000000000000:api-destination/{dest}/")
    shown = events.describe_api_destination(Name=dest)
    assert (shown["HttpMethod"], shown["InvocationRateLimitPerSecond"], shown["ApiDestinationState"]) == (
        "PUT", 300, "ACTIVE")
    events.update_api_destination(Name=dest, InvocationRateLimitPerSecond=5)
    assert events.describe_api_destination(Name=dest)["InvocationRateLimitPerSecond"] == 5
    listed = events.list_api_destinations(ConnectionArn=created["ConnectionArn"])["ApiDestinations"]
    assert [d["Name"] for d in listed] == [dest]
    assert name in [c["Name"] for c in events.list_connections(NamePrefix=name)["Connections"]]
    with pytest.raises(ClientError) as raised:
        events.delete_connection(Name=name)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert events.deauthorize_connection(Name=name)["ConnectionState"] == "DEAUTHORIZED"
    events.delete_api_destination(Name=dest)
    events.delete_connection(Name=name)
    with pytest.raises(ClientError) as raised:
        events.describe_connection(Name=name)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        events.create_connection(Name=unique("c"), AuthorizationType="BASIC", AuthParameters=API_KEY)
    assert raised.value.response["Error"]["Code"] == "ValidationException"


# ------------------------------------------------------------ delivery
def test_api_key_delivery_with_http_parameters(events, service):
    hook = unique("h")
    connection = events.create_connection(
        Name=unique("conn"), AuthorizationType="API_KEY", AuthParameters={
            **API_KEY, "InvocationHttpParameters": {
                "HeaderParameters": [{"Key": "x-team", "Value": "shop"}],
                "QueryStringParameters": [{"Key": "source", "Value": "cumulo"}],
                "BodyParameters": [{"Key": "extra", "Value": "yes"}]}})["ConnectionArn"]
    arn = events.create_api_destination(Name=unique("d"), ConnectionArn=connection, HttpMethod="POST",
                                        InvocationEndpoint=f"{service.url}/hook/{hook}/*")["ApiDestinationArn"]
    bus = route(events, {"Arn": arn, "RoleArn": "arn:aws:iam::000000000000:role/r", "HttpParameters": {
        "PathParameterValues": ["orders"], "HeaderParameters": {"x-order": "o-1"},
        "QueryStringParameters": {"page": "2"}}})
    put(events, bus)
    wait_for(lambda: service.calls[hook], 10, message="delivery")
    call = service.calls[hook][0]
    assert call["path"] == f"/hook/{hook}/orders"
    assert call["query"] == {"source": "cumulo", "page": "2"}
    assert (call["headers"]["x-api-key"], call["headers"]["x-team"], call["headers"]["x-order"]) == (
        "k-123", "shop", "o-1")
    assert call["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(call["body"])
    assert body["source"] == "shop" and body["detail"] == {"n": 0} and body["extra"] == "yes"


def test_basic_auth_delivery(events, service):
    hook = unique("h")
    arn = destination(events, f"{service.url}/hook/{hook}", "BASIC",
                      {"BasicAuthParameters": {"Username": "user", "Password": "pw"}}, method="PUT")
    put(events, route(events, {"Arn": arn}))
    wait_for(lambda: service.calls[hook], 10, message="delivery")
    assert service.calls[hook][0]["method"] == "PUT"
    assert service.calls[hook][0]["headers"]["Authorization"] == "Basic " + base64.b64encode(b"user:pw").decode()


def test_oauth_token_fetched_cached_and_refreshed(events, service):
    hook = unique("h")
    arn = destination(events, f"{service.url}/protected/{hook}", "OAUTH_CLIENT_CREDENTIALS", {"OAuthParameters": {
        "ClientParameters": {"ClientID": "client", "ClientSecret": "s3cret"},
        "AuthorizationEndpoint": f"{service.url}/oauth/token", "HttpMethod": "POST",
        "OAuthHttpParameters": {"BodyParameters": [{"Key": "grant_type", "Value": "client_credentials"}],
                                "QueryStringParameters": [{"Key": "audience", "Value": "api"}]}}})
    bus = route(events, {"Arn": arn})
    issued = service.tokens_issued
    put(events, bus, 3)
    wait_for(lambda: len(service.calls[hook]) == 3, 10, message="3 deliveries")
    assert service.tokens_issued == issued + 1  # one token for the three calls
    service.valid_tokens.clear()  # the authorization server revokes it: the next call gets 401
    put(events, bus)
    wait_for(lambda: len(service.calls[hook]) == 4, 10, message="delivery after refresh")
    assert service.tokens_issued == issued + 2
    assert service.calls[hook][-1]["headers"]["Authorization"] == f"Bearer token-{issued + 2}"


def test_retries_on_5xx_and_429(events, service):
    hook = unique("h")
    service.statuses[hook] = [500, 429, 503]
    put(events, route(events, {"Arn": destination(events, f"{service.url}/hook/{hook}")}))
    wait_for(lambda: len(service.calls[hook]) == 4, 15, message="three retries then success")
    time.sleep(0.3)  # nothing further arrives once a call succeeded
    assert len(service.calls[hook]) == 4


def test_client_error_goes_to_the_dead_letter_queue(events, sqs, service):
    hook = unique("h")
    service.statuses[hook] = [400]
    url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    put(events, route(events, {"Arn": destination(events, f"{service.url}/hook/{hook}"),
                               "DeadLetterConfig": {"Arn": dlq}, "RetryPolicy": {"MaximumRetryAttempts": 2}}))
    message = wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1,
                                                   MessageAttributeNames=["All"]).get("Messages"), 15,
                       message="dead letter")[0]
    assert json.loads(message["Body"])["detail"] == {"n": 0}
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "ERROR_FROM_TARGET"
    assert "400" in message["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]
    assert len(service.calls[hook]) == 1  # a 400 is not retried


def test_rate_limit_is_honoured_under_burst(events, service):
    hook = unique("h")
    rate, count = 25, 50
    put(events, route(events, {"Arn": destination(events, f"{service.url}/hook/{hook}", rate=rate)}), count)
    wait_for(lambda: len(service.calls[hook]) == count, 20, message=f"{count} deliveries")
    times = sorted(call["at"] for call in service.calls[hook])
    delivered_rate = (count - 1) / (times[-1] - times[0])
    assert rate * 0.9 <= delivered_rate <= rate * 1.05, delivered_rate


def test_connection_and_api_destination_in_a_template(server, events, service):
    cloudformation = server.client("cloudformation")
    hook, stack = unique("h"), unique("dest-stack")
    template = {"Resources": {
        "Connection": {"Type": "AWS::Events::Connection", "Properties": {
            "AuthorizationType": "API_KEY", "AuthParameters": {
                "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "from-template"}}}},
        "Destination": {"Type": "AWS::Events::ApiDestination", "Properties": {
            "ConnectionArn": {"Fn::GetAtt": ["Connection", "Arn"]}, "HttpMethod": "POST",
            "InvocationEndpoint": f"{service.url}/hook/{hook}", "InvocationRateLimitPerSecond": "10"}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {
            "EventPattern": {"source": ["shop"]},
            "Targets": [{"Id": "api", "Arn": {"Fn::GetAtt": ["Destination", "Arn"]}}]}}},
        "Outputs": {"SecretArn": {"Value": {"Fn::GetAtt": ["Connection", "SecretArn"]}}}}
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    described = wait_for(lambda: (lambda s: s if s["StackStatus"].endswith("COMPLETE") else None)(
        cloudformation.describe_stacks(StackName=stack)["Stacks"][0]), 30, message="stack")
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    assert ":secret:events!connection/" in described["Outputs"][0]["OutputValue"]
    events.put_events(Entries=[{"Source": "shop", "DetailType": "Order", "Detail": "{}"}])
    wait_for(lambda: service.calls[hook], 10, message="delivery through the template's rule")
    assert service.calls[hook][0]["headers"]["x-api-key"] == "from-template"
    cloudformation.delete_stack(StackName=stack)
    wait_for(lambda: not [d for d in events.list_api_destinations()["ApiDestinations"]
                          if hook in d["InvocationEndpoint"]], 30, message="stack deletion")
