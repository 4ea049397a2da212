"""The API Gateway v2 control plane through boto3: APIs, routes, integrations, authorizers, stages,
deployments, tags, custom domain names and VPC links, with AWS's validation and error codes."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:some-function"


@pytest.fixture(scope="module")
def gw(server):
    return server.client("apigatewayv2")


def error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def new_api(gw, **config):
    config.setdefault("Name", f"cp-{uuid.uuid4().hex[:6]}")
    config.setdefault("ProtocolType", "HTTP")
    return gw.create_api(**config)


def test_create_get_update_delete_api(server, gw):
    api = new_api(gw, Description="first", Version="1", Tags={"team": "a"})
    api_id = api["ApiId"]
    assert len(api_id) == 10 and api_id.isalnum() and api_id.islower()
    assert api["ApiEndpoint"] == f"{server.url}/_api/{api_id}"
    assert api["RouteSelectionExpression"] == "$request.method $request.path"
    assert api["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert api["DisableExecuteApiEndpoint"] is False and api["Tags"] == {"team": "a"}
    fetched = gw.get_api(ApiId=api_id)
    assert fetched["Name"] == api["Name"] and fetched["Description"] == "first" and fetched["CreatedDate"]
    updated = gw.update_api(ApiId=api_id, Name="renamed", Description="second",
                            CorsConfiguration={"AllowOrigins": ["https://a.example"], "MaxAge": 10})
    assert updated["Name"] == "renamed" and updated["CorsConfiguration"]["MaxAge"] == 10
    assert updated["Version"] == "1"
    assert api_id in [item["ApiId"] for item in gw.get_apis(MaxResults="500")["Items"]]
    gw.delete_api(ApiId=api_id)
    with pytest.raises(ClientError) as excinfo:
        gw.get_api(ApiId=api_id)
    code, status, message = error(excinfo)
    assert (code, status) == ("NotFoundException", 404)
    assert message == f"Invalid API identifier specified 000000000000:{api_id}"


def test_get_apis_paginates(gw):
    created = {new_api(gw)["ApiId"] for _ in range(3)}
    seen, token = [], None
    while True:
        page = gw.get_apis(MaxResults="2", **({"NextToken": token} if token else {}))
        assert len(page["Items"]) <= 2
        seen += [item["ApiId"] for item in page["Items"]]
        token = page.get("NextToken")
        if not token:
            break
    assert created <= set(seen) and len(seen) == len(set(seen))
    paginator = gw.get_paginator("get_apis")
    assert created <= {item["ApiId"] for page in paginator.paginate() for item in page["Items"]}


@pytest.mark.parametrize(("config", "fragment"), [
    ({"RouteSelectionExpression": "$request.body.action"}, "RouteSelectionExpression"),
    ({"RouteKey": "GET /x"}, "Target"),
    ({"Target": "not-a-target"}, "Target"),
    ({"CorsConfiguration": {"AllowOrigins": ["*"], "AllowCredentials": True}}, "AllowCredentials"),
    ({"CorsConfiguration": {"AllowMethods": ["FETCH"]}}, "FETCH"),
    ({"Name": ""}, "name"),
])
def test_create_api_validation(gw, config, fragment):
    with pytest.raises(ClientError) as excinfo:
        new_api(gw, **config)
    code, status, message = error(excinfo)
    assert (code, status) == ("BadRequestException", 400)
    assert fragment in message


def test_websocket_api_control_plane(server, gw):
    with pytest.raises(ClientError) as excinfo:
        new_api(gw, ProtocolType="WEBSOCKET")
    assert error(excinfo)[0] == "BadRequestException"
    api = new_api(gw, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")
    assert api["ApiEndpoint"] == f"ws://127.0.0.1:{server.port}/_api/{api['ApiId']}"
    route = gw.create_route(ApiId=api["ApiId"], RouteKey="$connect")
    response = gw.create_route_response(ApiId=api["ApiId"], RouteId=route["RouteId"], RouteResponseKey="$default")
    assert gw.get_route_responses(ApiId=api["ApiId"], RouteId=route["RouteId"])["Items"] == [
        {k: v for k, v in response.items() if k != "ResponseMetadata"}]
    integration = gw.create_integration(ApiId=api["ApiId"], IntegrationType="MOCK",
                                        RequestTemplates={"application/json": '{"statusCode": 200}'})
    assert integration["TimeoutInMillis"] == 29000
    ir = gw.create_integration_response(ApiId=api["ApiId"], IntegrationId=integration["IntegrationId"],
                                        IntegrationResponseKey="$default")
    assert gw.get_integration_response(ApiId=api["ApiId"], IntegrationId=integration["IntegrationId"],
                                       IntegrationResponseId=ir["IntegrationResponseId"])["IntegrationResponseKey"] \
        == "$default"


def test_quick_create_makes_managed_resources(gw):
    api = new_api(gw, Target=FUNCTION, RouteKey="POST /orders")
    routes = gw.get_routes(ApiId=api["ApiId"])["Items"]
    assert [(r["RouteKey"], r["ApiGatewayManaged"]) for r in routes] == [("POST /orders", True)]
    integration = gw.get_integration(ApiId=api["ApiId"], IntegrationId=routes[0]["Target"].split("/")[1])
    assert integration["IntegrationType"] == "AWS_PROXY" and integration["PayloadFormatVersion"] == "2.0"
    assert integration["IntegrationMethod"] == "POST" and integration["IntegrationUri"] == FUNCTION
    assert integration["TimeoutInMillis"] == 30000 and integration["ApiGatewayManaged"] is True
    stage = gw.get_stage(ApiId=api["ApiId"], StageName="$default")
    assert stage["AutoDeploy"] is True and stage["ApiGatewayManaged"] is True and stage["DeploymentId"]
    # UpdateApi with RouteKey/Target updates the managed route and integration
    gw.update_api(ApiId=api["ApiId"], RouteKey="PUT /orders", Target=FUNCTION + "-v2")
    routes = gw.get_routes(ApiId=api["ApiId"])["Items"]
    assert [r["RouteKey"] for r in routes] == ["PUT /orders"]
    assert gw.get_integration(ApiId=api["ApiId"], IntegrationId=routes[0]["Target"].split("/")[1]
                              )["IntegrationUri"] == FUNCTION + "-v2"


def test_routes(gw):
    api_id = new_api(gw)["ApiId"]
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=FUNCTION,
                                        PayloadFormatVersion="2.0")
    route = gw.create_route(ApiId=api_id, RouteKey="GET /pets/{id}",
                            Target=f"integrations/{integration['IntegrationId']}")
    assert len(route["RouteId"]) == 7 and route["AuthorizationType"] == "NONE" and route["ApiKeyRequired"] is False
    with pytest.raises(ClientError) as excinfo:
        gw.create_route(ApiId=api_id, RouteKey="GET /pets/{id}")
    assert error(excinfo)[:2] == ("ConflictException", 409)
    for bad in ("FETCH /x", "GET x", "GET /a/{proxy+}/b", "GET /a/{b", "get /x", "GET /a//b"):
        with pytest.raises(ClientError) as excinfo:
            gw.create_route(ApiId=api_id, RouteKey=bad)
        assert error(excinfo)[0] == "BadRequestException", bad
    with pytest.raises(ClientError) as excinfo:
        gw.create_route(ApiId=api_id, RouteKey="GET /t", Target="integrations/nope123")
    assert error(excinfo)[:2] == ("NotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        gw.create_route(ApiId=api_id, RouteKey="GET /j", AuthorizationType="JWT")
    assert "AuthorizerId" in error(excinfo)[2]
    updated = gw.update_route(ApiId=api_id, RouteId=route["RouteId"], RouteKey="GET /pets/{petId}",
                              OperationName="getPet")
    assert updated["RouteKey"] == "GET /pets/{petId}" and updated["OperationName"] == "getPet"
    assert gw.get_route(ApiId=api_id, RouteId=route["RouteId"])["Target"] == route["Target"]
    with pytest.raises(ClientError) as excinfo:
        gw.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])
    assert error(excinfo)[0] == "ConflictException"
    gw.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    with pytest.raises(ClientError) as excinfo:
        gw.get_route(ApiId=api_id, RouteId=route["RouteId"])
    assert error(excinfo)[:2] == ("NotFoundException", 404)
    gw.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])


@pytest.mark.parametrize(("config", "fragment"), [
    ({"IntegrationType": "AWS_PROXY", "IntegrationUri": FUNCTION}, "PayloadFormatVersion"),
    ({"IntegrationType": "AWS_PROXY", "IntegrationUri": "https://example.com", "PayloadFormatVersion": "2.0"},
     "IntegrationUri"),
    ({"IntegrationType": "AWS", "IntegrationUri": FUNCTION, "PayloadFormatVersion": "1.0"}, "AWS"),
    ({"IntegrationType": "AWS_PROXY", "IntegrationSubtype": "SQS-SendMessage",
      "RequestParameters": {"QueueUrl": "$request.header.q"}}, "MessageBody"),
    ({"IntegrationType": "AWS_PROXY", "IntegrationSubtype": "SQS-SendMessage", "PayloadFormatVersion": "2.0",
      "RequestParameters": {"QueueUrl": "q", "MessageBody": "b"}}, "1.0"),
    ({"IntegrationType": "AWS_PROXY", "IntegrationSubtype": "SQS-Teleport", "RequestParameters": {}}, "Teleport"),
    ({"IntegrationType": "AWS_PROXY", "IntegrationSubtype": "SQS-SendMessage",
      "RequestParameters": {"QueueUrl": "q", "MessageBody": "b", "Color": "red"}}, "Color"),
    ({"IntegrationType": "HTTP_PROXY", "IntegrationUri": "ftp://x", "IntegrationMethod": "GET"}, "IntegrationUri"),
    ({"IntegrationType": "HTTP_PROXY", "IntegrationUri": "https://x.example", "IntegrationMethod": "GET",
      "RequestParameters": {"rewrite:header.a": "b"}}, "mapping"),
])
def test_integration_validation(gw, config, fragment):
    api_id = new_api(gw)["ApiId"]
    with pytest.raises(ClientError) as excinfo:
        gw.create_integration(ApiId=api_id, **config)
    code, status, message = error(excinfo)
    assert (code, status) == ("BadRequestException", 400)
    assert fragment in message


def test_integration_defaults_and_update(server, gw):
    api_id = new_api(gw)["ApiId"]
    service = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationSubtype="SQS-SendMessage",
                                    RequestParameters={"QueueUrl": "q", "MessageBody": "$request.body"})
    assert service["PayloadFormatVersion"] == "1.0" and service["ConnectionType"] == "INTERNET"
    assert service["TimeoutInMillis"] == 30000
    lam = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=FUNCTION,
                                PayloadFormatVersion="1.0")
    assert lam["IntegrationMethod"] == "POST" and len(lam["IntegrationId"]) == 7
    updated = gw.update_integration(ApiId=api_id, IntegrationId=lam["IntegrationId"], PayloadFormatVersion="2.0",
                                    TimeoutInMillis=5000)
    assert updated["PayloadFormatVersion"] == "2.0" and updated["TimeoutInMillis"] == 5000
    unchecked = server.client("apigatewayv2", parameter_validation=False)  # the server validates too
    with pytest.raises(ClientError) as excinfo:
        unchecked.update_integration(ApiId=api_id, IntegrationId=lam["IntegrationId"], TimeoutInMillis=10)
    assert error(excinfo)[:2] == ("BadRequestException", 400)
    assert "timeoutInMillis" in error(excinfo)[2]
    assert {i["IntegrationId"] for i in gw.get_integrations(ApiId=api_id)["Items"]} == {
        service["IntegrationId"], lam["IntegrationId"]}


def test_authorizers(gw):
    api_id = new_api(gw)["ApiId"]
    jwt_authorizer = gw.create_authorizer(ApiId=api_id, Name="jwt", AuthorizerType="JWT",
                                          IdentitySource=["$request.header.Authorization"],
                                          JwtConfiguration={"Issuer": "https://issuer.example", "Audience": ["a"]})
    assert len(jwt_authorizer["AuthorizerId"]) == 6
    lambda_authorizer = gw.create_authorizer(
        ApiId=api_id, Name="lambda", AuthorizerType="REQUEST", IdentitySource=["$request.header.Auth"],
        AuthorizerUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION}/invocations",
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True)
    assert lambda_authorizer["AuthorizerResultTtlInSeconds"] == 0
    bad = [
        {"AuthorizerType": "JWT", "IdentitySource": ["$request.header.A"], "JwtConfiguration": {"Audience": ["a"]}},
        {"AuthorizerType": "JWT", "IdentitySource": ["$request.header.A", "$request.header.B"],
         "JwtConfiguration": {"Issuer": "https://i.example", "Audience": ["a"]}},
        {"AuthorizerType": "REQUEST", "IdentitySource": ["$request.header.A"], "AuthorizerUri": FUNCTION},
        {"AuthorizerType": "REQUEST", "IdentitySource": ["$request.header.A"], "AuthorizerUri": FUNCTION,
         "AuthorizerPayloadFormatVersion": "1.0", "EnableSimpleResponses": True},
        {"AuthorizerType": "REQUEST", "IdentitySource": [], "AuthorizerUri": FUNCTION,
         "AuthorizerPayloadFormatVersion": "2.0", "AuthorizerResultTtlInSeconds": 300},
        {"AuthorizerType": "REQUEST", "IdentitySource": ["header.A"], "AuthorizerUri": FUNCTION,
         "AuthorizerPayloadFormatVersion": "2.0"},
    ]
    for config in bad:
        with pytest.raises(ClientError) as excinfo:
            gw.create_authorizer(ApiId=api_id, Name="bad", **config)
        assert error(excinfo)[:2] == ("BadRequestException", 400), config
    route = gw.create_route(ApiId=api_id, RouteKey="GET /secure", AuthorizationType="JWT",
                            AuthorizerId=jwt_authorizer["AuthorizerId"], AuthorizationScopes=["read"])
    with pytest.raises(ClientError) as excinfo:
        gw.update_route(ApiId=api_id, RouteId=route["RouteId"], AuthorizationType="CUSTOM")
    assert "REQUEST" in error(excinfo)[2]
    with pytest.raises(ClientError) as excinfo:
        gw.delete_authorizer(ApiId=api_id, AuthorizerId=jwt_authorizer["AuthorizerId"])
    assert error(excinfo)[0] == "ConflictException"
    updated = gw.update_route(ApiId=api_id, RouteId=route["RouteId"], AuthorizationType="NONE")
    assert "AuthorizerId" not in updated and "AuthorizationScopes" not in updated
    gw.delete_authorizer(ApiId=api_id, AuthorizerId=jwt_authorizer["AuthorizerId"])
    assert [a["Name"] for a in gw.get_authorizers(ApiId=api_id)["Items"]] == ["lambda"]


def test_stages_and_deployments(gw):
    api_id = new_api(gw)["ApiId"]
    deployment = gw.create_deployment(ApiId=api_id, Description="d1")
    assert len(deployment["DeploymentId"]) == 6 and deployment["Description"] == "d1"
    stage = gw.create_stage(ApiId=api_id, StageName="beta", DeploymentId=deployment["DeploymentId"],
                            StageVariables={"a": "1"}, Tags={"env": "beta"},
                            DefaultRouteSettings={"ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 5.0})
    assert stage["DefaultRouteSettings"] == {"DetailedMetricsEnabled": False, "ThrottlingBurstLimit": 10,
                                             "ThrottlingRateLimit": 5.0}
    assert stage["Tags"] == {"env": "beta"} and stage["RouteSettings"] == {}
    with pytest.raises(ClientError) as excinfo:
        gw.create_stage(ApiId=api_id, StageName="beta")
    assert error(excinfo)[:2] == ("ConflictException", 409)
    for name in ("bad name", "x" * 129, "a/b"):
        with pytest.raises(ClientError) as excinfo:
            gw.create_stage(ApiId=api_id, StageName=name)
        assert error(excinfo)[0] == "BadRequestException"
    with pytest.raises(ClientError) as excinfo:
        gw.create_stage(ApiId=api_id, StageName="gamma", DeploymentId="nope12")
    assert error(excinfo)[:2] == ("NotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        gw.update_stage(ApiId=api_id, StageName="beta", AccessLogSettings={
            "DestinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:g", "Format": "$context.status"})
    assert "requestId" in error(excinfo)[2]
    updated = gw.update_stage(ApiId=api_id, StageName="beta", AccessLogSettings={
        "DestinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:g", "Format": "$context.requestId"},
        RouteSettings={"GET /x": {"ThrottlingBurstLimit": 1}})
    assert updated["AccessLogSettings"]["Format"] == "$context.requestId"
    assert updated["RouteSettings"] == {"GET /x": {"ThrottlingBurstLimit": 1}}
    gw.delete_access_log_settings(ApiId=api_id, StageName="beta")
    gw.delete_route_settings(ApiId=api_id, StageName="beta", RouteKey="GET /x")
    with pytest.raises(ClientError) as excinfo:
        gw.delete_route_settings(ApiId=api_id, StageName="beta", RouteKey="GET /x")
    assert error(excinfo)[0] == "NotFoundException"
    stage = gw.get_stage(ApiId=api_id, StageName="beta")
    assert "AccessLogSettings" not in stage and stage["RouteSettings"] == {}
    with pytest.raises(ClientError) as excinfo:
        gw.delete_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    assert error(excinfo)[0] == "BadRequestException"
    gw.update_stage(ApiId=api_id, StageName="beta", AutoDeploy=True)
    with pytest.raises(ClientError) as excinfo:
        gw.create_deployment(ApiId=api_id, StageName="beta")
    assert "AutoDeploy" in error(excinfo)[2]
    assert gw.get_stage(ApiId=api_id, StageName="beta")["DeploymentId"] != deployment["DeploymentId"]
    gw.delete_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    assert [s["StageName"] for s in gw.get_stages(ApiId=api_id)["Items"]] == ["beta"]
    gw.delete_stage(ApiId=api_id, StageName="beta")
    with pytest.raises(ClientError) as excinfo:
        gw.get_stage(ApiId=api_id, StageName="beta")
    assert error(excinfo)[:2] == ("NotFoundException", 404)


def test_tags(gw):
    api = new_api(gw, Tags={"a": "1"})
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api['ApiId']}"
    gw.tag_resource(ResourceArn=arn, Tags={"b": "2"})
    assert gw.get_tags(ResourceArn=arn)["Tags"] == {"a": "1", "b": "2"}
    gw.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert gw.get_api(ApiId=api["ApiId"])["Tags"] == {"b": "2"}
    gw.create_stage(ApiId=api["ApiId"], StageName="s1")
    stage_arn = f"{arn}/stages/s1"
    gw.tag_resource(ResourceArn=stage_arn, Tags={"c": "3"})
    assert gw.get_stage(ApiId=api["ApiId"], StageName="s1")["Tags"] == {"c": "3"}
    for bad in ("arn:aws:apigateway:us-east-1::/apis/nope", "arn:aws:s3:::bucket"):
        with pytest.raises(ClientError) as excinfo:
            gw.get_tags(ResourceArn=bad)
        assert error(excinfo)[:2] == ("NotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        gw.tag_resource(ResourceArn=arn, Tags={"aws:reserved": "x"})
    assert error(excinfo)[0] == "BadRequestException"


def test_models_domain_names_and_vpc_links(gw):
    api_id = new_api(gw, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
    model = gw.create_model(ApiId=api_id, Name="Pet", ContentType="application/json",
                            Schema='{"type": "object", "properties": {"name": {"type": "string"}}}')
    assert '"name" : "$inputRoot.name"' in gw.get_model_template(ApiId=api_id, ModelId=model["ModelId"])["Value"]
    with pytest.raises(ClientError) as excinfo:
        gw.create_model(ApiId=api_id, Name="Pet", Schema="{}")
    assert error(excinfo)[0] == "ConflictException"
    domain = gw.create_domain_name(DomainName=f"{uuid.uuid4().hex[:8]}.example.com", Tags={"k": "v"})
    config = domain["DomainNameConfigurations"][0]
    assert config["DomainNameStatus"] == "AVAILABLE" and config["EndpointType"] == "REGIONAL"
    assert domain["ApiMappingSelectionExpression"] == "$request.basepath" and domain["Tags"] == {"k": "v"}
    http_api = new_api(gw)
    gw.create_stage(ApiId=http_api["ApiId"], StageName="live")
    mapping = gw.create_api_mapping(DomainName=domain["DomainName"], ApiId=http_api["ApiId"], Stage="live")
    with pytest.raises(ClientError) as excinfo:
        gw.create_api_mapping(DomainName=domain["DomainName"], ApiId=http_api["ApiId"], Stage="live")
    assert error(excinfo)[0] == "ConflictException"
    assert gw.get_api_mappings(DomainName=domain["DomainName"])["Items"][0]["ApiMappingId"] == mapping["ApiMappingId"]
    gw.delete_api_mapping(DomainName=domain["DomainName"], ApiMappingId=mapping["ApiMappingId"])
    gw.delete_domain_name(DomainName=domain["DomainName"])
    with pytest.raises(ClientError) as excinfo:
        gw.get_domain_name(DomainName=domain["DomainName"])
    assert error(excinfo)[:2] == ("NotFoundException", 404)
    link = gw.create_vpc_link(Name="link", SubnetIds=["subnet-1"])
    assert link["VpcLinkStatus"] == "AVAILABLE" and link["VpcLinkVersion"] == "V2"
    assert gw.update_vpc_link(VpcLinkId=link["VpcLinkId"], Name="renamed")["Name"] == "renamed"
    gw.delete_vpc_link(VpcLinkId=link["VpcLinkId"])


def test_cli_quick_create(server, tmp_path):
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    output = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "apigatewayv2", "create-api",
         "--name", "cli-api", "--protocol-type", "HTTP", "--target", FUNCTION],
        capture_output=True, text=True, env=env, check=True).stdout
    api = json.loads(output)
    assert api["Name"] == "cli-api" and api["ApiEndpoint"].endswith(f"/_api/{api['ApiId']}")
