"""REST APIs (API Gateway v1): the control plane through boto3, and invoke URLs called with a real
HTTP client in front of real Lambda functions, MOCK and SQS integrations."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_apigw_support import ECHO, call, deploy, lambda_uri

AUTHORIZER = """
def handler(event, context):
    token = event.get("authorizationToken") or (event.get("headers") or {}).get("x-token")
    if token == "fail":
        raise Exception("Unauthorized")
    effect = "Allow" if token in ("allow", "good") else "Deny"
    return {"principalId": "user-" + str(token), "context": {"tier": "gold"},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
"""


@pytest.fixture(scope="module")
def apigw(server):
    return server.client("apigateway")


@pytest.fixture(scope="module")
def echo(server):
    return deploy(server.client("lambda", read_timeout=70), ECHO)


def url(server, api_id: str, stage: str, path: str) -> str:
    return f"{server.url}/_api/{api_id}/{stage}{path}"


def add_path(apigw, api_id: str, path: str) -> str:
    resources = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api_id, limit=500)["items"]}
    current = "/"
    for part in [p for p in path.split("/") if p]:
        child = (current.rstrip("/") + "/" + part)
        if child not in resources:
            resources[child] = apigw.create_resource(restApiId=api_id, parentId=resources[current],
                                                     pathPart=part)["id"]
        current = child
    return resources[current]


@pytest.fixture(scope="module")
def proxy_api(apigw, echo):
    api = apigw.create_rest_api(name=f"proxy-{uuid.uuid4().hex[:6]}", binaryMediaTypes=["application/octet-stream"])
    api_id = api["id"]
    for path in ("/pets/{id}", "/{proxy+}", "/"):
        resource = add_path(apigw, api_id, path)
        apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod="ANY", authorizationType="NONE")
        apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="ANY", type="AWS_PROXY",
                              integrationHttpMethod="POST", uri=lambda_uri(echo))
    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"env": "production"})
    return api


def test_control_plane_shapes_and_errors(apigw):
    api = apigw.create_rest_api(name="shapes", description="d", tags={"team": "a"})
    api_id = api["id"]
    assert api["rootResourceId"] and api["apiKeySource"] == "HEADER"
    assert apigw.get_rest_api(restApiId=api_id)["tags"] == {"team": "a"}
    root = api["rootResourceId"]
    child = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="items")
    assert child["path"] == "/items"
    with pytest.raises(ClientError) as error:
        apigw.create_resource(restApiId=api_id, parentId=root, pathPart="items")
    assert error.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as error:
        apigw.get_method(restApiId=api_id, resourceId=child["id"], httpMethod="GET")
    assert error.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as error:
        apigw.create_deployment(restApiId=api_id, stageName="x")
    assert error.value.response["Error"] == {"Code": "BadRequestException",
                                             "Message": "The REST API doesn't contain any methods"}
    apigw.put_method(restApiId=api_id, resourceId=child["id"], httpMethod="GET", authorizationType="NONE")
    with pytest.raises(ClientError) as error:
        apigw.put_method(restApiId=api_id, resourceId=child["id"], httpMethod="GET", authorizationType="NONE")
    assert error.value.response["Error"] == {"Code": "ConflictException",
                                             "Message": "Method already exists for this resource"}
    apigw.put_integration(restApiId=api_id, resourceId=child["id"], httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    updated = apigw.update_rest_api(restApiId=api_id, patchOperations=[
        {"op": "replace", "path": "/description", "value": "new"},
        {"op": "add", "path": "/binaryMediaTypes/image~1png"}])
    assert updated["description"] == "new" and updated["binaryMediaTypes"] == ["image/png"]
    deployment = apigw.create_deployment(restApiId=api_id, stageName="dev", description="first")
    stage = apigw.update_stage(restApiId=api_id, stageName="dev", patchOperations=[
        {"op": "replace", "path": "/variables/color", "value": "blue"},
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "100"}])
    assert stage["deploymentId"] == deployment["id"] and stage["variables"] == {"color": "blue"}
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 100.0
    embedded = apigw.get_resources(restApiId=api_id, embed=["methods"])["items"]
    method = next(r for r in embedded if r["path"] == "/items")["resourceMethods"]["GET"]
    assert method["methodIntegration"]["type"] == "MOCK"
    apigw.delete_rest_api(restApiId=api_id)
    with pytest.raises(ClientError) as error:
        apigw.get_rest_api(restApiId=api_id)
    assert error.value.response["Error"]["Code"] == "NotFoundException"


def test_lambda_proxy_event(server, proxy_api):
    reply = call(url(server, proxy_api["id"], "prod", "/pets/42?a=1&a=2&b=3"), headers={"x-custom": "v"})
    assert reply.status == 200
    event = reply.json()
    assert event["resource"] == "/pets/{id}"
    assert event["path"] == "/pets/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"a": "2", "b": "3"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["3"]}
    assert event["headers"]["x-custom"] == "v" and event["multiValueHeaders"]["x-custom"] == ["v"]
    assert event["stageVariables"] == {"env": "production"}
    context = event["requestContext"]
    assert context["stage"] == "prod" and context["resourcePath"] == "/pets/{id}"
    assert context["path"] == "/prod/pets/42" and context["apiId"] == proxy_api["id"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert reply.header("x-amzn-requestid") == context["requestId"]
    greedy = call(url(server, proxy_api["id"], "prod", "/a/b/c"), method="POST", body='{"x":1}').json()
    assert greedy["resource"] == "/{proxy+}" and greedy["pathParameters"] == {"proxy": "a/b/c"}
    assert greedy["body"] == '{"x":1}'
    root = call(url(server, proxy_api["id"], "prod", "/")).json()
    assert root["resource"] == "/" and root["pathParameters"] is None


def test_lambda_proxy_errors_and_binary(server, proxy_api):
    api_id = proxy_api["id"]
    failed = call(url(server, api_id, "prod", "/x?mode=error"))
    assert (failed.status, failed.json()) == (502, {"message": "Internal server error"})
    malformed = call(url(server, api_id, "prod", "/x?mode=malformed"))
    assert malformed.status == 502
    binary = call(url(server, api_id, "prod", "/x?mode=binary"), headers={"accept": "application/octet-stream"})
    assert binary.status == 200 and binary.body == bytes(range(256))
    upload = call(url(server, api_id, "prod", "/up"), method="POST", body=bytes(range(10)),
                  headers={"content-type": "application/octet-stream"}).json()
    assert upload["isBase64Encoded"] is True
    missing = call(url(server, api_id, "nostage", "/x"))
    assert (missing.status, missing.json()) == (403, {"message": "Missing Authentication Token"})


def test_mock_integration_with_templates(server, apigw):
    api_id = apigw.create_rest_api(name="mock")["id"]
    resource = add_path(apigw, api_id, "/hello/{name}")
    apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod="POST", authorizationType="NONE",
                     requestParameters={"method.request.path.name": True})
    apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="POST", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": $input.path(\'$.code\')}'})
    apigw.put_method_response(restApiId=api_id, resourceId=resource, httpMethod="POST", statusCode="200")
    apigw.put_integration_response(
        restApiId=api_id, resourceId=resource, httpMethod="POST", statusCode="200",
        responseParameters={"method.response.header.X-Stage": "'fixed'"},
        responseTemplates={"application/json": '{"name": "$input.params(\'name\')", "q": "$input.params(\'q\')", '
                                               '"stage": "$context.stage", "escaped": '
                                               '"$util.escapeJavaScript($input.params(\'note\'))"}'})
    apigw.put_integration_response(
        restApiId=api_id, resourceId=resource, httpMethod="POST", statusCode="404", selectionPattern="404",
        responseTemplates={"application/json": '#if($input.params(\'name\') == "teapot")'
                                               '#set($context.responseOverride.status = 418)'
                                               '#set($context.responseOverride.header.Brew = "tea")#end'
                                               '{"missing":true}'})
    apigw.create_deployment(restApiId=api_id, stageName="v1")
    ok = call(url(server, api_id, "v1", "/hello/ann?q=7"), method="POST", body='{"code": 200}',
              headers={"content-type": "application/json", "note": 'say "hi"'})
    assert ok.status == 200
    assert ok.json() == {"name": "ann", "q": "7", "stage": "v1", "escaped": 'say "hi"'}
    assert ok.header("x-stage") == "fixed"
    gone = call(url(server, api_id, "v1", "/hello/bob"), method="POST", body='{"code": 404}')
    assert (gone.status, gone.json()) == (404, {"missing": True})
    teapot = call(url(server, api_id, "v1", "/hello/teapot"), method="POST", body='{"code": 404}')
    assert (teapot.status, teapot.header("brew"), teapot.json()) == (418, "tea", {"missing": True})
    wrong_method = call(url(server, api_id, "v1", "/hello/bob"))
    assert wrong_method.status == 403


def test_sqs_service_integration_with_vtl(server, apigw):
    sqs = server.client("sqs")
    queue = sqs.create_queue(QueueName=f"rest-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    name = queue.rsplit("/", 1)[1]
    api_id = apigw.create_rest_api(name="sqs")["id"]
    resource = add_path(apigw, api_id, "/messages")
    apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod="POST", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api_id, resourceId=resource, httpMethod="POST", type="AWS", integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:us-east-1:sqs:path/000000000000/{name}",
        requestParameters={"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
        requestTemplates={"application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.json('$.item'))"})
    apigw.put_integration_response(restApiId=api_id, resourceId=resource, httpMethod="POST", statusCode="200",
                                   responseTemplates={"application/json": '{"id": "$input.path(\'$.SendMessage'
                                                      'Response.SendMessageResult.MessageId\')"}'})
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    reply = call(url(server, api_id, "prod", "/messages"), method="POST", body='{"item": {"sku": "a&b"}}',
                 headers={"content-type": "application/json"})
    assert reply.status == 200, reply.body
    message_id = reply.json()["id"]
    received = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"][0]
    assert received["MessageId"] == message_id
    assert json.loads(received["Body"]) == {"sku": "a&b"}


def test_dynamodb_service_integration_puts_and_queries_items(server, apigw):
    """The REST API -> DynamoDB pattern of many SAM applications: PutItem and Query through mapping
    templates, no function in between."""
    ddb = server.client("dynamodb")
    table = f"rest-{uuid.uuid4().hex[:6]}"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    api_id = apigw.create_rest_api(name="ddb")["id"]
    resource = add_path(apigw, api_id, "/notes/{user}")
    for verb, action, template, response in (
            ("POST", "PutItem", '{"TableName": "%s", "Item": {"pk": {"S": "$input.params(\'user\')"}, '
                                '"sk": {"S": $input.json(\'$.id\')}, "text": {"S": $input.json(\'$.text\')}}}',
             '{"stored": true}'),
            ("GET", "Query", '{"TableName": "%s", "KeyConditionExpression": "pk = :u", '
                             '"ExpressionAttributeValues": {":u": {"S": "$input.params(\'user\')"}}}',
             '#set($items = $input.path(\'$.Items\'))[#foreach($i in $items)"$i.text.S"#if($foreach.hasNext),#end'
             '#end]')):
        apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod=verb, authorizationType="NONE")
        apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod=verb, type="AWS",
                              integrationHttpMethod="POST",
                              uri=f"arn:aws:apigateway:us-east-1:dynamodb:action/{action}",
                              requestTemplates={"application/json": template % table})
        apigw.put_integration_response(restApiId=api_id, resourceId=resource, httpMethod=verb, statusCode="200",
                                       responseTemplates={"application/json": response})
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    target = url(server, api_id, "prod", "/notes/ann")
    for note_id, text in (("1", "first"), ("2", "second")):
        reply = call(target, method="POST", body=json.dumps({"id": note_id, "text": text}),
                     headers={"content-type": "application/json"})
        assert (reply.status, reply.json()) == (200, {"stored": True}), reply.body
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "ann"}, "sk": {"S": "2"}})["Item"]["text"] == {"S": "second"}
    reply = call(target, headers={"content-type": "application/json"})
    assert (reply.status, reply.json()) == (200, ["first", "second"]), reply.body


def test_token_authorizer_and_api_key(server, apigw, echo):
    authorizer_arn = deploy(server.client("lambda", read_timeout=70), AUTHORIZER)
    api_id = apigw.create_rest_api(name="secured")["id"]
    authorizer = apigw.create_authorizer(restApiId=api_id, name="tok", type="TOKEN",
                                         authorizerUri=lambda_uri(authorizer_arn),
                                         identitySource="method.request.header.Authorization")
    resource = add_path(apigw, api_id, "/private")
    apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod="GET", authorizationType="CUSTOM",
                     authorizerId=authorizer["id"], apiKeyRequired=True)
    apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=lambda_uri(echo))
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    key = apigw.create_api_key(name="k", enabled=True)
    plan = apigw.create_usage_plan(name="p", apiStages=[{"apiId": api_id, "stage": "prod"}],
                                   quota={"limit": 2, "period": "DAY"})
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    target = url(server, api_id, "prod", "/private")
    assert call(target).status == 401
    denied = call(target, headers={"authorization": "nope"})
    assert denied.status == 403
    assert call(target, headers={"authorization": "fail"}).status == 401
    assert call(target, headers={"authorization": "allow"}).status == 403  # no API key
    assert call(target, headers={"authorization": "allow", "x-api-key": "wrong" * 5}).status == 403
    ok = call(target, headers={"authorization": "allow", "x-api-key": key["value"]})
    assert ok.status == 200
    context = ok.json()["requestContext"]
    assert context["authorizer"]["principalId"] == "user-allow" and context["authorizer"]["tier"] == "gold"
    assert context["identity"]["apiKeyId"] == key["id"]
    assert call(target, headers={"authorization": "allow", "x-api-key": key["value"]}).status == 200
    over = call(target, headers={"authorization": "allow", "x-api-key": key["value"]})
    assert (over.status, over.json()) == (429, {"message": "Limit Exceeded"})
    usage = apigw.get_usage(usagePlanId=plan["id"], startDate="2020-01-01", endDate="2030-01-01")
    assert usage["items"][key["id"]] == [[2, 0]]


def test_import_export_and_test_invoke(server, apigw, echo):
    definition = {
        "swagger": "2.0", "info": {"title": "imported", "version": "1"},
        "paths": {"/items/{id}": {"get": {
            "parameters": [{"name": "id", "in": "path", "required": True, "type": "string"}],
            "responses": {"200": {"description": "ok"}},
            "x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST",
                                                "uri": lambda_uri(echo)}}},
            "/status": {"get": {"x-amazon-apigateway-integration": {
                "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
                "responses": {"default": {"statusCode": "200",
                                          "responseTemplates": {"application/json": '{"up": true}'}}}}}}},
    }
    api = apigw.import_rest_api(body=json.dumps(definition).encode())
    assert api["name"] == "imported"
    paths = {r["path"] for r in apigw.get_resources(restApiId=api["id"])["items"]}
    assert paths == {"/", "/items", "/items/{id}", "/status"}
    apigw.create_deployment(restApiId=api["id"], stageName="live")
    assert call(url(server, api["id"], "live", "/status")).json() == {"up": True}
    assert call(url(server, api["id"], "live", "/items/9")).json()["pathParameters"] == {"id": "9"}
    exported = json.loads(apigw.get_export(restApiId=api["id"], stageName="live", exportType="oas30",
                                           parameters={"extensions": "integrations"})["body"].read())
    assert set(exported["paths"]) >= {"/items/{id}", "/status"}
    assert exported["paths"]["/status"]["get"]["x-amazon-apigateway-integration"]["type"] == "mock"
    resource = next(r for r in apigw.get_resources(restApiId=api["id"])["items"] if r["path"] == "/items/{id}")
    tested = apigw.test_invoke_method(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET",
                                      pathWithQueryString="/items/5?x=1", headers={"x-test": "yes"})
    assert tested["status"] == 200
    event = json.loads(tested["body"])
    assert event["pathParameters"] == {"id": "5"} and event["queryStringParameters"] == {"x": "1"}
    assert event["headers"]["x-test"] == "yes"


def test_custom_domain_base_path_mappings(server, apigw, proxy_api):
    domain = f"api-{uuid.uuid4().hex[:6]}.example.com"
    created = apigw.create_domain_name(domainName=domain, endpointConfiguration={"types": ["REGIONAL"]},
                                       regionalCertificateArn="arn:aws:acm:us-east-1:000000000000:certificate/x")
    assert created["domainName"] == domain and created["regionalDomainName"].endswith(".amazonaws.com")
    apigw.create_base_path_mapping(domainName=domain, basePath="v1", restApiId=proxy_api["id"], stage="prod")
    with pytest.raises(ClientError) as error:
        apigw.create_base_path_mapping(domainName=domain, basePath="v1", restApiId=proxy_api["id"], stage="prod")
    assert error.value.response["Error"]["Code"] == "ConflictException"
    reply = call(f"{server.url}/v1/pets/3", host=f"{domain}:{server.port}")
    assert reply.status == 200
    assert reply.json()["resource"] == "/pets/{id}" and reply.json()["pathParameters"] == {"id": "3"}
    assert call(f"{server.url}/other/pets/3", host=domain).status == 403
    assert [m["basePath"] for m in apigw.get_base_path_mappings(domainName=domain)["items"]] == ["v1"]
    apigw.delete_domain_name(domainName=domain)
    assert call(f"{server.url}/v1/pets/3", host=domain).status != 200


def test_import_refuses_bad_integrations_and_changes_nothing(apigw):
    before = {api["id"] for api in apigw.get_rest_apis(limit=500)["items"]}
    definition = {"openapi": "3.0.1", "info": {"title": "broken", "version": "1"}, "paths": {
        "/": {"get": {"x-amazon-apigateway-integration": {"type": "http", "httpMethod": "GET", "uri": "nowhere"}}}}}
    with pytest.raises(ClientError) as error:
        apigw.import_rest_api(body=json.dumps(definition).encode())
    assert error.value.response["Error"] == {
        "Code": "BadRequestException",
        "Message": "Errors found during import:\n\tUnable to put integration on 'GET' for resource at path '/': "
                   "Invalid HTTP endpoint specified for URI"}
    assert {api["id"] for api in apigw.get_rest_apis(limit=500)["items"]} == before


def test_usage_plan_and_stage_throttling(server, apigw):
    api_id = apigw.create_rest_api(name="throttled")["id"]
    for path, keyed in (("/keyed", True), ("/open", False)):
        resource = add_path(apigw, api_id, path)
        apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod="GET", authorizationType="NONE",
                         apiKeyRequired=keyed)
        apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="GET", type="MOCK",
                              requestTemplates={"application/json": '{"statusCode": 200}'})
        apigw.put_integration_response(restApiId=api_id, resourceId=resource, httpMethod="GET", statusCode="200")
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    key = apigw.create_api_key(name="throttled", enabled=True)
    plan = apigw.create_usage_plan(name="slow", apiStages=[{"apiId": api_id, "stage": "prod"}],
                                   throttle={"burstLimit": 1, "rateLimit": 0.001})
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    keyed = url(server, api_id, "prod", "/keyed")
    assert call(keyed, headers={"x-api-key": key["value"]}).status == 200
    limited = call(keyed, headers={"x-api-key": key["value"]})
    assert (limited.status, limited.json()) == (429, {"message": "Too Many Requests"})
    assert limited.header("x-amzn-errortype") == "TooManyRequestsException"
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/~1open/GET/throttling/burstLimit", "value": "1"},
        {"op": "replace", "path": "/~1open/GET/throttling/rateLimit", "value": "0.001"}])
    opened = url(server, api_id, "prod", "/open")
    assert [call(opened).status for _ in range(2)] == [200, 429]
