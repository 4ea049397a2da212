"""The Lambda control plane through boto3 against a real server: resources, states and errors."""

from __future__ import annotations

import base64
import hashlib
import json
import platform as host
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from tests.conftest import make_zip
from tests.server import wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
CODE = make_zip({"app.py": "def handler(event, context):\n    return event\n"})


def unique(prefix: str = "fn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(client, name: str | None = None, code: bytes = CODE, **overrides):
    arguments = {"FunctionName": name or unique(), "Runtime": "python3.11", "Role": ROLE,
                 "Handler": "app.handler", "Code": {"ZipFile": code}, **overrides}
    response = client.create_function(**arguments)
    client.get_waiter("function_active_v2").wait(FunctionName=arguments["FunctionName"],
                                                 WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})
    return response


def error_code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_create_function_reports_pending_then_becomes_active_with_aws_defaults(lambda_client):
    name = unique()
    created = lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                                            Handler="app.handler", Code={"ZipFile": CODE})
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert created["MemorySize"] == 128
    assert created["Timeout"] == 3
    assert created["Architectures"] == ["x86_64"]
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["Version"] == "$LATEST"
    assert created["PackageType"] == "Zip"
    assert created["CodeSize"] == len(CODE)
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(CODE).digest()).decode()
    assert created["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{name}"
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    configuration = lambda_client.get_function_configuration(FunctionName=name)
    assert configuration["State"] == "Active"
    assert "StateReason" not in configuration
    assert configuration["RevisionId"] == created["RevisionId"]


def test_get_function_returns_configuration_code_location_tags_and_concurrency(lambda_client):
    name = unique()
    create(lambda_client, name, Tags={"team": "core"})
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    result = lambda_client.get_function(FunctionName=name)
    assert result["Configuration"]["FunctionName"] == name
    assert result["Tags"] == {"team": "core"}
    assert result["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    assert result["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(result["Code"]["Location"]) as response:
        assert response.read() == CODE


def test_function_can_be_addressed_by_name_partial_arn_and_full_arn(lambda_client):
    name = unique()
    create(lambda_client, name)
    for identifier in (name, f"000000000000:function:{name}",
                       f"arn:aws:lambda:us-east-1:000000000000:function:{name}"):
        assert lambda_client.get_function_configuration(FunctionName=identifier)["FunctionName"] == name


def test_create_rejects_duplicates_bad_zips_and_bad_values_without_creating_anything(lambda_client):
    name = unique()
    create(lambda_client, name)
    with pytest.raises(ClientError) as duplicate:
        create(lambda_client, name)
    assert error_code(duplicate) == "ResourceConflictException"
    assert duplicate.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    bad = unique()
    with pytest.raises(ClientError) as not_zip:
        lambda_client.create_function(FunctionName=bad, Runtime="python3.11", Role=ROLE, Handler="a.b",
                                      Code={"ZipFile": b"this is not a zip"})
    assert error_code(not_zip) == "InvalidParameterValueException"
    assert "Could not unzip uploaded file" in not_zip.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as memory:
        lambda_client.create_function(FunctionName=bad, Runtime="python3.11", Role=ROLE, Handler="a.b",
                                      Code={"ZipFile": CODE}, MemorySize=10241)
    assert error_code(memory) == "ValidationException"
    assert "Member must have value less than or equal to 10240" in memory.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as timeout:
        lambda_client.create_function(FunctionName=bad, Runtime="python3.11", Role=ROLE, Handler="a.b",
                                      Code={"ZipFile": CODE}, Timeout=901)
    assert error_code(timeout) == "ValidationException"

    with pytest.raises(ClientError) as deprecated:
        lambda_client.create_function(FunctionName=bad, Runtime="python2.7", Role=ROLE, Handler="a.b",
                                      Code={"ZipFile": CODE})
    assert error_code(deprecated) == "InvalidParameterValueException"
    assert "python2.7 is no longer supported" in deprecated.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as unsupported:
        lambda_client.create_function(FunctionName=bad, Runtime="dotnet8", Role=ROLE, Handler="a.b",
                                      Code={"ZipFile": CODE})
    assert error_code(unsupported) == "InvalidParameterValueException"
    assert "dotnet8" in unsupported.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as reserved:
        lambda_client.create_function(FunctionName=bad, Runtime="python3.11", Role=ROLE, Handler="a.b",
                                      Code={"ZipFile": CODE},
                                      Environment={"Variables": {"AWS_REGION": "eu-west-1"}})
    assert "Reserved keys used in this request: AWS_REGION" in reserved.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as too_big:
        lambda_client.create_function(FunctionName=bad, Runtime="python3.11", Role=ROLE, Handler="a.b",
                                      Code={"ZipFile": CODE}, Environment={"Variables": {"KEY": "v" * 4100}})
    assert "exceeded the 4KB limit" in too_big.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as bad_role:
        lambda_client.create_function(FunctionName=bad, Runtime="python3.11", Role="not-a-role",
                                      Handler="a.b", Code={"ZipFile": CODE})
    assert error_code(bad_role) == "ValidationException"

    with pytest.raises(ClientError) as missing:
        lambda_client.get_function(FunctionName=bad)
    assert error_code(missing) == "ResourceNotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert missing.value.response["Error"]["Message"] == (
        f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{bad}")


def test_invalid_function_name_is_a_validation_error(lambda_client):
    with pytest.raises(ClientError) as excinfo:
        lambda_client.get_function(FunctionName="has spaces")
    assert error_code(excinfo) == "ValidationException"
    assert "failed to satisfy constraint" in excinfo.value.response["Error"]["Message"]


def test_update_code_and_configuration_go_through_in_progress_to_successful(lambda_client):
    name = unique()
    created = create(lambda_client, name)
    new_code = make_zip({"app.py": "def handler(event, context):\n    return 'v2'\n"})
    updated = lambda_client.update_function_code(FunctionName=name, ZipFile=new_code)
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["CodeSha256"] == base64.b64encode(hashlib.sha256(new_code).digest()).decode()
    assert updated["RevisionId"] != created["RevisionId"]
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})

    configured = lambda_client.update_function_configuration(
        FunctionName=name, MemorySize=256, Timeout=30, Description="second",
        Environment={"Variables": {"STAGE": "test"}})
    assert configured["LastUpdateStatus"] == "InProgress"
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    current = lambda_client.get_function_configuration(FunctionName=name)
    assert current["LastUpdateStatus"] == "Successful"
    assert (current["MemorySize"], current["Timeout"], current["Description"]) == (256, 30, "second")
    assert current["Environment"] == {"Variables": {"STAGE": "test"}}
    assert current["CodeSha256"] == updated["CodeSha256"]


def test_update_with_stale_revision_id_fails_and_changes_nothing(lambda_client):
    name = unique()
    create(lambda_client, name)
    with pytest.raises(ClientError) as excinfo:
        lambda_client.update_function_configuration(FunctionName=name, MemorySize=512, RevisionId="stale")
    assert error_code(excinfo) == "PreconditionFailedException"
    assert lambda_client.get_function_configuration(FunctionName=name)["MemorySize"] == 128


def test_dry_run_code_update_validates_without_changing_the_function(lambda_client):
    name = unique()
    created = create(lambda_client, name)
    other = make_zip({"app.py": "x = 1\n"})
    result = lambda_client.update_function_code(FunctionName=name, ZipFile=other, DryRun=True)
    assert result["CodeSize"] == len(other)
    assert lambda_client.get_function_configuration(FunctionName=name)["CodeSha256"] == created["CodeSha256"]


def test_list_functions_paginates_with_marker(lambda_client):
    names = {unique("page") for _ in range(5)}
    for name in names:
        create(lambda_client, name)
    seen: list[str] = []
    for page in lambda_client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
    assert names <= set(seen)
    assert len(seen) == len(set(seen))


def test_versions_are_published_immutably_and_only_when_something_changed(lambda_client):
    name = unique()
    create(lambda_client, name)
    first = lambda_client.publish_version(FunctionName=name, Description="one")
    assert first["Version"] == "1"
    assert first["FunctionArn"].endswith(f":{name}:1")
    assert first["Description"] == "one"
    unchanged = lambda_client.publish_version(FunctionName=name)
    assert unchanged["Version"] == "1"
    lambda_client.update_function_configuration(FunctionName=name, MemorySize=512)
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    second = lambda_client.publish_version(FunctionName=name)
    assert second["Version"] == "2"
    assert lambda_client.get_function_configuration(FunctionName=name, Qualifier="1")["MemorySize"] == 128
    assert lambda_client.get_function_configuration(FunctionName=name, Qualifier="2")["MemorySize"] == 512
    versions = [v["Version"] for v in lambda_client.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]

    with pytest.raises(ClientError) as wrong_sha:
        lambda_client.publish_version(FunctionName=name, CodeSha256="abc")
    assert error_code(wrong_sha) == "InvalidParameterValueException"

    lambda_client.delete_function(FunctionName=name, Qualifier="1")
    versions = [v["Version"] for v in lambda_client.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "2"]
    with pytest.raises(ClientError) as latest:
        lambda_client.delete_function(FunctionName=name, Qualifier="$LATEST")
    assert error_code(latest) == "InvalidParameterValueException"


def test_create_with_publish_returns_version_one(lambda_client):
    name = unique()
    published = lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                                              Handler="app.handler", Code={"ZipFile": CODE}, Publish=True)
    assert published["Version"] == "1"


def test_aliases_with_routing_configuration(lambda_client):
    name = unique()
    create(lambda_client, name)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.update_function_configuration(FunctionName=name, Timeout=10)
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    lambda_client.publish_version(FunctionName=name)

    alias = lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                                       RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    assert alias["AliasArn"].endswith(f":{name}:live")
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert lambda_client.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    assert lambda_client.get_function_configuration(FunctionName=name, Qualifier="live")["Timeout"] == 3

    with pytest.raises(ClientError) as duplicate:
        lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert error_code(duplicate) == "ResourceConflictException"
    with pytest.raises(ClientError) as missing_version:
        lambda_client.create_alias(FunctionName=name, Name="beta", FunctionVersion="9")
    assert error_code(missing_version) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as latest_routing:
        lambda_client.create_alias(FunctionName=name, Name="beta", FunctionVersion="$LATEST",
                                   RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    assert error_code(latest_routing) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as in_use:
        lambda_client.delete_function(FunctionName=name, Qualifier="2")
    assert error_code(in_use) == "ResourceConflictException"

    updated = lambda_client.update_alias(FunctionName=name, Name="live", FunctionVersion="2",
                                         RoutingConfig={"AdditionalVersionWeights": {}})
    assert updated["FunctionVersion"] == "2"
    assert "RoutingConfig" not in updated
    with pytest.raises(ClientError) as stale:
        lambda_client.update_alias(FunctionName=name, Name="live", RevisionId=alias["RevisionId"])
    assert error_code(stale) == "PreconditionFailedException"

    lambda_client.create_alias(FunctionName=name, Name="old", FunctionVersion="1")
    listed = lambda_client.list_aliases(FunctionName=name)["Aliases"]
    assert sorted(a["Name"] for a in listed) == ["live", "old"]
    assert [a["Name"] for a in lambda_client.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]] == [
        "old"]
    lambda_client.delete_alias(FunctionName=name, Name="old")
    with pytest.raises(ClientError) as gone:
        lambda_client.get_alias(FunctionName=name, Name="old")
    assert error_code(gone) == "ResourceNotFoundException"


def test_reserved_concurrency_and_account_settings(lambda_client):
    name = unique()
    create(lambda_client, name)
    before = lambda_client.get_account_settings()
    assert before["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert lambda_client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") is None
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=10)
    assert lambda_client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 10
    after = lambda_client.get_account_settings()
    assert (before["AccountLimit"]["UnreservedConcurrentExecutions"]
            - after["AccountLimit"]["UnreservedConcurrentExecutions"]) == 10
    with pytest.raises(ClientError) as too_much:
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=950)
    assert error_code(too_much) == "InvalidParameterValueException"
    assert lambda_client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 10
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(FunctionName=name)
    assert after["AccountUsage"]["FunctionCount"] >= 1


def test_layers_publish_list_get_delete_and_attach(lambda_client):
    layer = unique("layer")
    content = make_zip({"python/helper.py": "VALUE = 1\n"})
    first = lambda_client.publish_layer_version(LayerName=layer, Content={"ZipFile": content},
                                                CompatibleRuntimes=["python3.11"], Description="v1")
    second = lambda_client.publish_layer_version(LayerName=layer, Content={"ZipFile": content})
    assert (first["Version"], second["Version"]) == (1, 2)
    assert first["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:000000000000:layer:{layer}:1"
    assert first["Content"]["CodeSize"] == len(content)
    assert lambda_client.get_layer_version(LayerName=layer, VersionNumber=1)["Description"] == "v1"
    assert lambda_client.get_layer_version_by_arn(Arn=second["LayerVersionArn"])["Version"] == 2
    versions = lambda_client.list_layer_versions(LayerName=layer)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    filtered = lambda_client.list_layer_versions(LayerName=layer, CompatibleRuntime="python3.11")
    assert [v["Version"] for v in filtered["LayerVersions"]] == [1]
    layers = {item["LayerName"]: item for item in lambda_client.list_layers()["Layers"]}
    assert layers[layer]["LatestMatchingVersion"]["Version"] == 2

    name = unique()
    created = create(lambda_client, name, Layers=[first["LayerVersionArn"]])
    assert created["Layers"] == [{"Arn": first["LayerVersionArn"], "CodeSize": len(content)}]
    with pytest.raises(ClientError) as missing:
        create(lambda_client, unique(), Layers=[first["LayerVersionArn"][:-1] + "9"])
    assert error_code(missing) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as too_many:
        create(lambda_client, unique(), Layers=[first["LayerVersionArn"]] * 6)
    assert error_code(too_many) == "InvalidParameterValueException"

    lambda_client.delete_layer_version(LayerName=layer, VersionNumber=2)
    lambda_client.delete_layer_version(LayerName=layer, VersionNumber=2)  # idempotent, as AWS
    with pytest.raises(ClientError) as gone:
        lambda_client.get_layer_version(LayerName=layer, VersionNumber=2)
    assert error_code(gone) == "ResourceNotFoundException"
    third = lambda_client.publish_layer_version(LayerName=layer, Content={"ZipFile": content})
    assert third["Version"] == 3  # numbers are never reused


def test_permissions_policy_documents_and_conflicts(lambda_client):
    name = unique()
    create(lambda_client, name)
    with pytest.raises(ClientError) as empty:
        lambda_client.get_policy(FunctionName=name)
    assert error_code(empty) == "ResourceNotFoundException"
    statement = json.loads(lambda_client.add_permission(
        FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction", Principal="sns.amazonaws.com",
        SourceArn="arn:aws:sns:us-east-1:000000000000:topic")["Statement"])
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"] == {"ArnLike": {"AWS:SourceArn": "arn:aws:sns:us-east-1:000000000000:topic"}}
    lambda_client.add_permission(FunctionName=name, StatementId="acct", Action="lambda:GetFunction",
                                 Principal="123456789012")
    policy = json.loads(lambda_client.get_policy(FunctionName=name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["sns", "acct"]
    assert policy["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    with pytest.raises(ClientError) as duplicate:
        lambda_client.add_permission(FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
                                     Principal="s3.amazonaws.com")
    assert error_code(duplicate) == "ResourceConflictException"
    lambda_client.remove_permission(FunctionName=name, StatementId="sns")
    with pytest.raises(ClientError) as unknown:
        lambda_client.remove_permission(FunctionName=name, StatementId="sns")
    assert error_code(unknown) == "ResourceNotFoundException"
    assert [s["Sid"] for s in json.loads(lambda_client.get_policy(FunctionName=name)["Policy"])["Statement"]] == [
        "acct"]


def test_tags_on_functions(lambda_client):
    name = unique()
    arn = create(lambda_client, name)["FunctionArn"]
    lambda_client.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    lambda_client.untag_resource(Resource=arn, TagKeys=["a"])
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as qualified:
        lambda_client.list_tags(Resource=arn + ":1")
    assert error_code(qualified) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as missing:
        lambda_client.list_tags(Resource=arn + "-missing")
    assert error_code(missing) == "ResourceNotFoundException"


def test_delete_function_removes_versions_and_aliases(lambda_client):
    name = unique()
    create(lambda_client, name, Publish=True)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lambda_client.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as gone:
        lambda_client.get_function(FunctionName=name)
    assert error_code(gone) == "ResourceNotFoundException"
    create(lambda_client, name)
    assert [v["Version"] for v in lambda_client.list_versions_by_function(FunctionName=name)["Versions"]] == [
        "$LATEST"]
    assert lambda_client.list_aliases(FunctionName=name)["Aliases"] == []


def test_boto3_side_validation_is_not_needed_for_server_side_errors(server):
    client = server.client("lambda", parameter_validation=False)
    with pytest.raises(ClientError) as excinfo:
        client.create_function(FunctionName=unique(), Runtime="python3.11", Handler="app.handler",
                               Code={"ZipFile": CODE})
    assert error_code(excinfo) == "ValidationException"
    assert "Value null at 'role' failed to satisfy constraint: Member must not be null" in (
        excinfo.value.response["Error"]["Message"])


def test_client_side_validation_still_applies(lambda_client):
    with pytest.raises(ParamValidationError):
        lambda_client.create_function(FunctionName=unique())


def test_an_architecture_the_host_lacks_is_recorded_reported_at_create_time_and_run_natively(server, lambda_client):
    other = "x86_64" if host.machine().lower() in ("aarch64", "arm64") else "arm64"
    name = unique("arch")
    created = create(lambda_client, name, Architectures=[other])
    assert created["Architectures"] == [other]
    assert lambda_client.get_function_configuration(FunctionName=name)["Architectures"] == [other]
    wait_for(lambda: f"function {name} is configured for {other}, but this host is" in server.log(),
             message="the architecture warning in the server log")
    answer = lambda_client.invoke(FunctionName=name, Payload=b'{"ran": true}')
    assert json.loads(answer["Payload"].read()) == {"ran": True}
    native = unique("arch")
    create(lambda_client, native)
    lambda_client.invoke(FunctionName=native, Payload=b"{}")
    assert f"function {native} is configured" not in server.log()
