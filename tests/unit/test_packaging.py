"""`cumulo deploy`'s packaging: every local path sam package uploads, in the form its property takes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import yaml

from cumulo.packaging.build import build
from cumulo.packaging.package import package_template
from cumulo.template_loader import load_template


class FakeBucket:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def upload(self, data: bytes, file_name: str) -> str:
        self.objects[file_name] = data
        return f"s3://deploy/artifacts/{file_name}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (tmp_path / "api.yaml").write_text("openapi: '3.0.1'\npaths: {}\n")
    (tmp_path / "flow.asl.json").write_text('{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}')
    return tmp_path


def resources(**definitions: dict) -> dict:
    return {"Transform": "AWS::Serverless-2016-10-31", "Resources": definitions}


def test_each_property_is_written_back_in_its_form(project: Path):
    body = resources(
        Fn={"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "src/"}},
        Raw={"Type": "AWS::Lambda::Function", "Properties": {"Code": "src"}},
        Layer={"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "src"}},
        Http={"Type": "AWS::Serverless::HttpApi", "Properties": {"DefinitionUri": "api.yaml"}},
        V2={"Type": "AWS::ApiGatewayV2::Api", "Properties": {"BodyS3Location": "api.yaml"}},
        Flow={"Type": "AWS::Serverless::StateMachine", "Properties": {"DefinitionUri": "flow.asl.json"}},
        Remote={"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://elsewhere/code.zip"}})
    bucket = FakeBucket()
    packaged = package_template(body, project, bucket.upload)["Resources"]
    code_uri = packaged["Fn"]["Properties"]["CodeUri"]
    assert code_uri.startswith("s3://deploy/artifacts/") and code_uri.endswith(".zip")
    assert packaged["Layer"]["Properties"]["ContentUri"] == code_uri  # same content, uploaded once
    assert packaged["Raw"]["Properties"]["Code"] == {"S3Bucket": "deploy", "S3Key": code_uri.split("/", 3)[3]}
    api_uri = packaged["Http"]["Properties"]["DefinitionUri"]
    assert api_uri.endswith(".yaml")
    assert packaged["V2"]["Properties"]["BodyS3Location"] == {"Bucket": "deploy", "Key": api_uri.split("/", 3)[3]}
    assert bucket.objects[api_uri.rsplit("/", 1)[1]] == (project / "api.yaml").read_bytes()  # uploaded as is
    flow_uri = packaged["Flow"]["Properties"]["DefinitionUri"]  # uploaded as is, read by the deployment
    assert flow_uri.startswith("s3://deploy/artifacts/") and flow_uri.endswith(".json")
    assert bucket.objects[flow_uri.rsplit("/", 1)[1]] == (project / "flow.asl.json").read_bytes()
    assert packaged["Remote"]["Properties"]["CodeUri"] == "s3://elsewhere/code.zip"
    archive = zipfile.ZipFile(io.BytesIO(bucket.objects[code_uri.rsplit("/", 1)[1]]))
    assert archive.namelist() == ["app.py"]


def test_local_include_locations_are_uploaded_anywhere_in_the_template(project: Path):
    include = {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "./api.yaml"}}}
    body = resources(Http={"Type": "AWS::Serverless::HttpApi", "Properties": {"DefinitionBody": include}})
    body["Mappings"] = {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "api.yaml"}}}
    bucket = FakeBucket()
    packaged = package_template(body, project, bucket.upload)
    location = packaged["Resources"]["Http"]["Properties"]["DefinitionBody"]["Fn::Transform"]["Parameters"]["Location"]
    assert location.startswith("s3://deploy/artifacts/") and location.endswith(".yaml")
    assert packaged["Mappings"]["Fn::Transform"]["Parameters"]["Location"] == location
    assert list(bucket.objects.values()) == [(project / "api.yaml").read_bytes()]


def test_a_missing_local_path_is_reported(project: Path):
    body = resources(Flow={"Type": "AWS::Serverless::StateMachine", "Properties": {"DefinitionUri": "none.json"}})
    with pytest.raises(FileNotFoundError, match=r"Flow: DefinitionUri 'none\.json' does not exist"):
        package_template(body, project, FakeBucket().upload)


def test_the_built_template_points_back_at_definitions_and_includes(project: Path):
    (project / "template.yaml").write_text(yaml.safe_dump(resources(
        Http={"Type": "AWS::Serverless::HttpApi", "Properties": {"DefinitionBody": {"Fn::Transform": {
            "Name": "AWS::Include", "Parameters": {"Location": "api.yaml"}}}}},
        Flow={"Type": "AWS::Serverless::StateMachine", "Properties": {"DefinitionUri": "flow.asl.json"}})))
    built = build(project / "template.yaml", progress=lambda _: None)
    body = load_template(built.read_text())
    packaged = package_template(body, built.parent, FakeBucket().upload)
    assert packaged["Resources"]["Flow"]["Properties"]["DefinitionUri"].startswith("s3://deploy/")
    assert packaged["Resources"]["Http"]["Properties"]["DefinitionBody"]["Fn::Transform"]["Parameters"][
        "Location"].startswith("s3://deploy/")


def test_a_top_level_include_location_is_uploaded(project: Path):
    body = {"Transform": {"Name": "AWS::Include", "Parameters": {"Location": "api.yaml"}},
            "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}
    packaged = package_template(body, project, FakeBucket().upload)
    assert packaged["Transform"]["Parameters"]["Location"].startswith("s3://deploy/artifacts/")


def test_empty_globals_and_properties_sections_are_packaged_and_built_without_crashing(project: Path):
    text = ("Transform: AWS::Serverless-2016-10-31\nGlobals:\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
            "    Properties:\n")
    (project / "template.yaml").write_text(text)
    packaged = package_template(load_template(text), project, FakeBucket().upload)
    assert packaged["Resources"]["Fn"]["Properties"]["CodeUri"].startswith("s3://deploy/artifacts/")
    assert packaged["Globals"] is None  # left for the SAM transform to judge, as AWS does
    built = build(project / "template.yaml", progress=lambda _: None)
    # Nothing to build (no Runtime): the built template points at the template's folder, sam package's default.
    assert load_template(built.read_text())["Resources"]["Fn"]["Properties"] == {"CodeUri": "../.."}


def test_nested_templates_are_packaged_then_uploaded(project: Path):
    (project / "child" / "code").mkdir(parents=True)
    (project / "child" / "code" / "app.py").write_text("def handler(e, c):\n    return 2\n")
    (project / "child" / "template.yaml").write_text(yaml.safe_dump(resources(
        Fn={"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "code"}})))
    stack = "AWS::CloudFormation::Stack"
    body = resources(App={"Type": "AWS::Serverless::Application", "Properties": {"Location": "child/template.yaml"}},
                     Stack={"Type": stack, "Properties": {"TemplateURL": "./child/template.yaml"}},
                     Remote={"Type": stack, "Properties": {"TemplateURL": "s3://b/t.yaml"}})
    bucket = FakeBucket()
    packaged = package_template(body, project, bucket.upload)["Resources"]
    location = packaged["App"]["Properties"]["Location"]
    assert location.startswith("s3://deploy/artifacts/") and location.endswith(".template")
    assert packaged["Stack"]["Properties"]["TemplateURL"] == location
    assert packaged["Remote"]["Properties"]["TemplateURL"] == "s3://b/t.yaml"
    nested = load_template(bucket.objects[location.rsplit("/", 1)[1]].decode())
    code_uri = nested["Resources"]["Fn"]["Properties"]["CodeUri"]  # relative to the nested template's folder
    archive = zipfile.ZipFile(io.BytesIO(bucket.objects[code_uri.rsplit("/", 1)[1]]))
    assert archive.namelist() == ["app.py"]
