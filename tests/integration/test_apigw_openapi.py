"""ImportApi, ReimportApi and ExportApi with OpenAPI 3 definitions and API Gateway's extensions."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.integration.test_apigw_support import ECHO, call, deploy, lambda_uri

SPEC = textwrap.dedent("""
    openapi: 3.0.1
    info:
      title: Pet Store
      description: A realistic HTTP API definition
      version: "2024-01-15"
    servers:
      - url: https://api.example.com/{basePath}
        variables:
          basePath:
            default: /v1
    tags:
      - name: owner
        x-amazon-apigateway-tag-value: pets-team
    x-amazon-apigateway-importexport-version: "1.0"
    x-amazon-apigateway-cors:
      allowOrigins: [https://shop.example]
      allowMethods: [GET, POST, DELETE]
      allowHeaders: [authorization, content-type]
      exposeHeaders: [x-request-id]
      maxAge: 300
      allowCredentials: true
    paths:
      /pets:
        get:
          operationId: listPets
          parameters:
            - name: limit
              in: query
              schema: {type: integer}
          responses:
            "200": {description: A page of pets}
          x-amazon-apigateway-integration:
            $ref: '#/components/x-amazon-apigateway-integrations/petsLambda'
        post:
          operationId: createPet
          security:
            - jwtAuth: [pets/write]
          requestBody:
            content:
              application/json:
                schema: {$ref: '#/components/schemas/Pet'}
          responses:
            "201": {description: Created}
          x-amazon-apigateway-integration:
            $ref: '#/components/x-amazon-apigateway-integrations/petsLambda'
      /pets/{petId}:
        parameters:
          - name: petId
            in: path
            required: true
            schema: {type: string}
        get:
          operationId: getPet
          responses:
            "200": {description: A pet}
          x-amazon-apigateway-integration:
            type: aws_proxy
            httpMethod: POST
            uri: {ECHO_URI}
            payloadFormatVersion: "1.0"
            timeoutInMillis: 10000
        delete:
          security:
            - jwtAuth: []
          responses:
            "204": {description: Deleted}
          x-amazon-apigateway-integration:
            $ref: '#/components/x-amazon-apigateway-integrations/petsLambda'
      /admin/{proxy+}:
        x-amazon-apigateway-any-method:
          security:
            - lambdaAuth: []
          responses:
            default: {description: Admin}
          x-amazon-apigateway-integration:
            $ref: '#/components/x-amazon-apigateway-integrations/petsLambda'
      /orders:
        post:
          responses:
            "200": {description: Queued}
          x-amazon-apigateway-integration:
            type: aws_proxy
            integrationSubtype: SQS-SendMessage
            credentials: arn:aws:iam::000000000000:role/apigw-sqs
            payloadFormatVersion: "1.0"
            connectionType: INTERNET
            requestParameters:
              QueueUrl: $request.header.x-queue-url
              MessageBody: $request.body
      /$default:
        x-amazon-apigateway-any-method:
          responses:
            default: {description: Anything else}
          x-amazon-apigateway-integration:
            $ref: '#/components/x-amazon-apigateway-integrations/petsLambda'
    components:
      schemas:
        Pet:
          type: object
          properties:
            name: {type: string}
      securitySchemes:
        jwtAuth:
          type: oauth2
          flows: {}
          x-amazon-apigateway-authorizer:
            type: jwt
            identitySource: $request.header.Authorization
            jwtConfiguration:
              issuer: https://issuer.example.com
              audience: [pets-api]
        lambdaAuth:
          type: apiKey
          name: Authorization
          in: header
          x-amazon-apigateway-authorizer:
            type: request
            identitySource: $request.header.Authorization, $context.stage
            authorizerUri: {AUTHORIZER_URI}
            authorizerPayloadFormatVersion: "2.0"
            authorizerResultTtlInSeconds: 60
            enableSimpleResponses: true
      x-amazon-apigateway-integrations:
        petsLambda:
          type: aws_proxy
          httpMethod: POST
          uri: {ECHO_URI}
          payloadFormatVersion: "2.0"
          connectionType: INTERNET
""")

ALLOW_ALL = """
def handler(event, context):
    return {"isAuthorized": True, "context": {"who": "admin"}}
"""


@pytest.fixture(scope="module")
def gw(server):
    return server.client("apigatewayv2")


@pytest.fixture(scope="module")
def functions(server):
    lam = server.client("lambda", read_timeout=70)
    return deploy(lam, ECHO), deploy(lam, ALLOW_ALL)


@pytest.fixture(scope="module")
def spec(functions):
    echo, authorizer = functions
    return SPEC.replace("{ECHO_URI}", lambda_uri(echo)).replace("{AUTHORIZER_URI}", lambda_uri(authorizer))


@pytest.fixture(scope="module")
def imported(gw, spec):
    return gw.import_api(Body=spec)


def by_key(gw, api_id):
    return {r["RouteKey"]: r for r in gw.get_routes(ApiId=api_id)["Items"]}


def test_import_creates_routes_integrations_authorizers_and_settings(gw, imported):
    api_id = imported["ApiId"]
    assert imported["Name"] == "Pet Store" and imported["Version"] == "2024-01-15"
    assert imported["Description"] == "A realistic HTTP API definition"
    assert imported["ProtocolType"] == "HTTP" and imported["Tags"] == {"owner": "pets-team"}
    assert imported["CorsConfiguration"] == {
        "AllowOrigins": ["https://shop.example"], "AllowMethods": ["GET", "POST", "DELETE"],
        "AllowHeaders": ["authorization", "content-type"], "ExposeHeaders": ["x-request-id"], "MaxAge": 300,
        "AllowCredentials": True}
    routes = by_key(gw, api_id)
    assert set(routes) == {"GET /pets", "POST /pets", "GET /pets/{petId}", "DELETE /pets/{petId}",
                           "ANY /admin/{proxy+}", "POST /orders", "$default"}
    assert routes["GET /pets"]["OperationName"] == "listPets"
    # a shared ($ref) integration is one integration
    assert routes["GET /pets"]["Target"] == routes["POST /pets"]["Target"] == routes["$default"]["Target"]
    authorizers = {a["Name"]: a for a in gw.get_authorizers(ApiId=api_id)["Items"]}
    assert authorizers["jwtAuth"]["JwtConfiguration"] == {"Issuer": "https://issuer.example.com",
                                                          "Audience": ["pets-api"]}
    assert authorizers["lambdaAuth"]["IdentitySource"] == ["$request.header.Authorization", "$context.stage"]
    assert authorizers["lambdaAuth"]["AuthorizerResultTtlInSeconds"] == 60
    assert routes["POST /pets"]["AuthorizationType"] == "JWT"
    assert routes["POST /pets"]["AuthorizationScopes"] == ["pets/write"]
    assert routes["POST /pets"]["AuthorizerId"] == authorizers["jwtAuth"]["AuthorizerId"]
    assert routes["ANY /admin/{proxy+}"]["AuthorizationType"] == "CUSTOM"
    assert routes["GET /pets"]["AuthorizationType"] == "NONE"
    integration = gw.get_integration(ApiId=api_id, IntegrationId=routes["GET /pets/{petId}"]["Target"].split("/")[1])
    assert integration["PayloadFormatVersion"] == "1.0" and integration["TimeoutInMillis"] == 10000
    orders = gw.get_integration(ApiId=api_id, IntegrationId=routes["POST /orders"]["Target"].split("/")[1])
    assert orders["IntegrationSubtype"] == "SQS-SendMessage"
    assert orders["RequestParameters"] == {"QueueUrl": "$request.header.x-queue-url", "MessageBody": "$request.body"}
    assert orders["CredentialsArn"] == "arn:aws:iam::000000000000:role/apigw-sqs"


def test_imported_api_serves_requests(gw, imported):
    api_id = imported["ApiId"]
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    endpoint = imported["ApiEndpoint"]
    listed = call(endpoint + "/pets?limit=2", headers={"Origin": "https://shop.example"})
    assert listed.status == 200 and listed.json()["routeKey"] == "GET /pets"
    assert listed.header("access-control-allow-origin") == "https://shop.example"
    one = call(endpoint + "/pets/42").json()
    assert one["version"] == "1.0" and one["pathParameters"] == {"petId": "42"}
    assert call(endpoint + "/pets", method="POST", body="{}").status == 401
    admin = call(endpoint + "/admin/users/1", method="PATCH", headers={"Authorization": "x"})
    assert admin.status == 200 and admin.json()["requestContext"]["authorizer"]["lambda"] == {"who": "admin"}
    assert call(endpoint + "/anything/else").json()["routeKey"] == "$default"


def test_export_round_trip(gw, imported, spec):
    exported = json.loads(gw.export_api(ApiId=imported["ApiId"], Specification="OAS30", OutputType="JSON")["body"]
                          .read())
    assert exported["openapi"] == "3.0.1" and exported["info"]["title"] == "Pet Store"
    assert exported["x-amazon-apigateway-importexport-version"] == "1.0"
    assert exported["x-amazon-apigateway-cors"]["allowOrigins"] == ["https://shop.example"]
    assert exported["paths"]["/pets/{petId}"]["get"]["parameters"][0]["name"] == "petId"
    assert exported["paths"]["/pets"]["post"]["security"] == [{"jwtAuth": ["pets/write"]}]
    assert exported["paths"]["/admin/{proxy+}"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"][
        "payloadFormatVersion"] == "2.0"
    assert "/$default" in exported["paths"]
    schemes = exported["components"]["securitySchemes"]
    assert schemes["jwtAuth"]["x-amazon-apigateway-authorizer"]["type"] == "jwt"
    assert schemes["lambdaAuth"]["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"] == 60
    assert exported["tags"] == [{"name": "owner", "x-amazon-apigateway-tag-value": "pets-team"}]
    # the export imports back into the same API shape
    again = gw.import_api(Body=json.dumps(exported))
    original = {k: (r.get("AuthorizationType"), tuple(r.get("AuthorizationScopes") or ()))
                for k, r in by_key(gw, imported["ApiId"]).items()}
    copied = {k: (r.get("AuthorizationType"), tuple(r.get("AuthorizationScopes") or ()))
              for k, r in by_key(gw, again["ApiId"]).items()}
    assert copied == original
    yaml_export = yaml.safe_load(gw.export_api(ApiId=imported["ApiId"], Specification="OAS30", OutputType="YAML",
                                               IncludeExtensions=False)["body"].read())
    assert "x-amazon-apigateway-integration" not in json.dumps(yaml_export)
    assert set(yaml_export["paths"]) == set(exported["paths"])


def test_export_a_stage_exports_its_deployment(gw, functions):
    api = gw.create_api(Name="staged", ProtocolType="HTTP", Target=functions[0], RouteKey="GET /first")
    gw.create_stage(ApiId=api["ApiId"], StageName="frozen",
                    DeploymentId=gw.create_deployment(ApiId=api["ApiId"])["DeploymentId"])
    integration = gw.get_integrations(ApiId=api["ApiId"])["Items"][0]["IntegrationId"]
    gw.create_route(ApiId=api["ApiId"], RouteKey="GET /second", Target=f"integrations/{integration}")
    frozen = json.loads(gw.export_api(ApiId=api["ApiId"], Specification="OAS30", OutputType="JSON",
                                      StageName="frozen")["body"].read())
    assert set(frozen["paths"]) == {"/first"}
    assert frozen["servers"][0]["variables"]["basePath"]["default"] == "frozen"
    current = json.loads(gw.export_api(ApiId=api["ApiId"], Specification="OAS30", OutputType="JSON")["body"].read())
    assert set(current["paths"]) == {"/first", "/second"}


def test_reimport_replaces_the_configuration(gw, spec, functions):
    api = gw.import_api(Body=spec)
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    smaller = {"openapi": "3.0.1", "info": {"title": "Pet Store v2", "version": "2"},
               "paths": {"/health": {"get": {"responses": {"200": {"description": "ok"}},
                                             "x-amazon-apigateway-integration": {
                                                 "type": "aws_proxy", "uri": functions[0],
                                                 "payloadFormatVersion": "2.0"}}}}}
    result = gw.reimport_api(ApiId=api["ApiId"], Body=json.dumps(smaller))
    assert result["ApiId"] == api["ApiId"] and result["Name"] == "Pet Store v2"
    assert set(by_key(gw, api["ApiId"])) == {"GET /health"}
    assert gw.get_authorizers(ApiId=api["ApiId"])["Items"] == []
    assert call(api["ApiEndpoint"] + "/health").status == 200
    assert call(api["ApiEndpoint"] + "/pets").status == 404


def test_basepath_modes_and_warnings(gw, functions):
    document = {"openapi": "3.0.1", "info": {"title": "bp", "version": "1"},
                "servers": [{"url": "https://x.example/api/v1"}],
                "x-amazon-apigateway-request-validators": {},
                "paths": {"/items": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    ignored = gw.import_api(Body=json.dumps(document))
    assert set(by_key(gw, ignored["ApiId"])) == {"GET /items"}
    assert any("x-amazon-apigateway-request-validators" in w for w in ignored["Warnings"])
    prepended = gw.import_api(Body=json.dumps(document), Basepath="prepend")
    assert set(by_key(gw, prepended["ApiId"])) == {"GET /api/v1/items"}
    split = gw.import_api(Body=json.dumps(document), Basepath="split")
    assert set(by_key(gw, split["ApiId"])) == {"GET /v1/items"}
    with pytest.raises(ClientError) as excinfo:
        gw.import_api(Body=json.dumps(document), FailOnWarnings=True)
    assert excinfo.value.response["Error"]["Code"] == "BadRequestException"


@pytest.mark.parametrize("body", [
    "{not json", "just a string", json.dumps({"info": {"title": "x"}, "paths": {}}),
    json.dumps({"openapi": "3.0.1", "info": {"title": "x"}, "paths": {"/a": {"get": {
        "security": [{"missing": []}], "responses": {}}}}}),
    json.dumps({"openapi": "3.0.1", "info": {"title": "x"}, "paths": {"/a": {"get": {
        "x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": "arn:aws:lambda:us-east-1:000000000000:"
                                                                        "function:f"}}}}}),
])
def test_invalid_definitions_are_rejected(gw, body):
    before = len(gw.get_apis(MaxResults="500")["Items"])
    with pytest.raises(ClientError) as excinfo:
        gw.import_api(Body=body)
    assert excinfo.value.response["Error"]["Code"] == "BadRequestException"
    assert len(gw.get_apis(MaxResults="500")["Items"]) == before
