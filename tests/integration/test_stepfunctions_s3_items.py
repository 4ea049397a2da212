"""Distributed Map states reading their items from S3 and exporting their results to S3, through
boto3 against a real server: getObject (JSON, JSONL, CSV), listObjectsV2, a missing object, and
ResultWriter's manifest and result files."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.server import wait_for

ROLE = "arn:aws:iam::000000000000:role/sfn-role"
PROCESSOR = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
             "StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


@pytest.fixture(scope="module")
def sfn(server):
    return server.client("stepfunctions", inject_host_prefix=False)


@pytest.fixture(scope="module")
def bucket(s3) -> str:
    name = f"items-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def distributed_map(item_reader: dict | None = None, processor: dict | None = None, **fields) -> dict:
    state = {"Type": "Map", "ItemProcessor": processor or PROCESSOR, "End": True, **fields}
    if item_reader is not None:
        state["ItemReader"] = item_reader
    return {"StartAt": "Map", "States": {"Map": state}}


def run(sfn, definition: dict, input_: dict | None = None) -> dict:
    machine = sfn.create_state_machine(name=f"items-{uuid.uuid4().hex[:10]}", roleArn=ROLE,
                                       definition=json.dumps(definition))["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(input_ or {}))["executionArn"]
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=20, message=f"execution {arn} to finish")


def output_of(described: dict) -> object:
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])


def read_json(s3, bucket: str, key: str) -> object:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_json_array_from_get_object(sfn, s3, bucket):
    items = [{"id": 1, "tags": ["a"]}, {"id": 2, "tags": []}, {"id": 3, "tags": ["b", "c"]}]
    s3.put_object(Bucket=bucket, Key="json/orders.json", Body=json.dumps(items).encode())
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
              "Parameters": {"Bucket": bucket, "Key.$": "$.key"}}
    assert output_of(run(sfn, distributed_map(reader), {"key": "json/orders.json"})) == items
    # MaxItems keeps the first items
    limited = {**reader, "ReaderConfig": {"InputType": "JSON", "MaxItems": 2}}
    assert output_of(run(sfn, distributed_map(limited), {"key": "json/orders.json"})) == items[:2]


def test_csv_with_first_row_header(sfn, s3, bucket):
    body = 'userId,movieId,title\n1,307,"Three Colors: Blue, 1993"\n1,481\n2,1091,Weekend,extra\n\n'
    s3.put_object(Bucket=bucket, Key="csv/ratings.csv", Body=body.encode())
    reader = {"Resource": "arn:aws:states:::s3:getObject",
              "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
              "Parameters": {"Bucket": bucket, "Key": "csv/ratings.csv"}}
    # every field is a string; a short row is padded with "", extra fields are dropped
    assert output_of(run(sfn, distributed_map(reader))) == [
        {"userId": "1", "movieId": "307", "title": "Three Colors: Blue, 1993"},
        {"userId": "1", "movieId": "481", "title": ""},
        {"userId": "2", "movieId": "1091", "title": "Weekend"},
    ]


def test_csv_with_given_headers_and_pipe_delimiter(sfn, s3, bucket):
    s3.put_object(Bucket=bucket, Key="csv/plain.psv", Body=b"1|307|3.5\n2|481|4\n")
    reader = {"Resource": "arn:aws:states:::s3:getObject",
              "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVDelimiter": "PIPE",
                               "CSVHeaders": ["userId", "movieId", "rating"]},
              "Parameters": {"Bucket": bucket, "Key": "csv/plain.psv"}}
    assert output_of(run(sfn, distributed_map(reader))) == [
        {"userId": "1", "movieId": "307", "rating": "3.5"}, {"userId": "2", "movieId": "481", "rating": "4"}]


def test_jsonl(sfn, s3, bucket):
    body = '{"verdict": "true"}\n\n{"verdict": "false"}\n42\n'
    s3.put_object(Bucket=bucket, Key="jsonl/facts.jsonl", Body=body.encode())
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
              "Parameters": {"Bucket": bucket, "Key": "jsonl/facts.jsonl"}}
    assert output_of(run(sfn, distributed_map(reader))) == [{"verdict": "true"}, {"verdict": "false"}, 42]


def test_list_objects_v2_with_prefix(sfn, s3, bucket):
    for key, body in (("images/b.jpg", b"bb"), ("images/a.jpg", b"a"), ("imagesets/c.jpg", b"ccc"),
                      ("other/d.jpg", b"d")):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    reader = {"Resource": "arn:aws:states:::s3:listObjectsV2",
              "Parameters": {"Bucket": bucket, "Prefix": "images/"}}
    items = output_of(run(sfn, distributed_map(reader)))
    listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket, Prefix="images/")["Contents"]}
    # the shape AWS gives a child workflow: Etag (not ETag), LastModified in epoch seconds
    assert items == [{"Etag": listed[key]["ETag"], "Key": key,
                      "LastModified": int(listed[key]["LastModified"].timestamp()),
                      "Size": listed[key]["Size"], "StorageClass": "STANDARD"}
                     for key in ("images/a.jpg", "images/b.jpg")]
    # the JSONata form takes Arguments
    jsonata = {"Resource": "arn:aws:states:::s3:listObjectsV2",
               "Arguments": {"Bucket": bucket, "Prefix": "{% $states.input.prefix %}"}}
    definition = {**distributed_map(jsonata), "QueryLanguage": "JSONata"}
    assert [i["Key"] for i in output_of(run(sfn, definition, {"prefix": "images"}))] == [
        "images/a.jpg", "images/b.jpg", "imagesets/c.jpg"]


def test_missing_object_fails_with_item_reader_failed(sfn, bucket):
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
              "Parameters": {"Bucket": bucket, "Key": "nowhere/missing.json"}}
    described = run(sfn, distributed_map(reader))
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ItemReaderFailed"
    assert f"s3://{bucket}/nowhere/missing.json" in described["cause"]
    assert "NoSuchKey" in described["cause"]
    missing_bucket = {**reader, "Parameters": {"Bucket": f"no-{uuid.uuid4().hex[:10]}", "Key": "a.json"}}
    described = run(sfn, distributed_map(missing_bucket))
    assert (described["status"], described["error"]) == ("FAILED", "States.ItemReaderFailed")
    assert "NoSuchBucket" in described["cause"]


def test_result_writer_exports_manifest_succeeded_and_failed_files(sfn, s3, bucket):
    items = [{"n": 1}, {"n": 2, "fail": True}, {"n": 3}]
    s3.put_object(Bucket=bucket, Key="rw/input.json", Body=json.dumps(items).encode())
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                 "StartAt": "Check",
                 "States": {"Check": {"Type": "Choice",
                                      "Choices": [{"Variable": "$.fail", "IsPresent": True, "Next": "Refuse"}],
                                      "Default": "Double"},
                            "Double": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"},
                                       "End": True},
                            "Refuse": {"Type": "Fail", "Error": "ItemRefused", "Cause": "odd one out"}}}
    definition = distributed_map(
        {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
         "Parameters": {"Bucket": bucket, "Key": "rw/input.json"}},
        processor, ToleratedFailureCount=1, Label="Doubler",
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                      "Parameters": {"Bucket": bucket, "Prefix": "results"}})
    described = run(sfn, definition)
    output = output_of(described)

    # the Map's output is the MapRunArn and where the manifest is
    map_run_arn = output["MapRunArn"]
    machine_name = described["stateMachineArn"].rsplit(":", 1)[1]
    assert map_run_arn.startswith(f"arn:aws:states:us-east-1:000000000000:mapRun:{machine_name}/Doubler:")
    run_id = map_run_arn.rsplit(":", 1)[1]
    assert output == {"MapRunArn": map_run_arn,
                      "ResultWriterDetails": {"Bucket": bucket, "Key": f"results/{run_id}/manifest.json"}}

    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="results/")["Contents"])
    assert keys == [f"results/{run_id}/{name}" for name in ("FAILED_0.json", "SUCCEEDED_0.json", "manifest.json")]
    manifest = read_json(s3, bucket, f"results/{run_id}/manifest.json")
    sizes = {key: s3.head_object(Bucket=bucket, Key=key)["ContentLength"] for key in keys}
    assert manifest == {
        "DestinationBucket": bucket, "MapRunArn": map_run_arn,
        "ResultFiles": {"FAILED": [{"Key": keys[0], "Size": sizes[keys[0]]}], "PENDING": [],
                        "SUCCEEDED": [{"Key": keys[1], "Size": sizes[keys[1]]}]}}

    child_machine = f"arn:aws:states:us-east-1:000000000000:stateMachine:{machine_name}/Doubler"
    succeeded = read_json(s3, bucket, keys[1])
    assert [(json.loads(r["Input"]), json.loads(r["Output"])) for r in succeeded] == [
        ({"n": 1}, {"doubled": 2}), ({"n": 3}, {"doubled": 6})]
    for record in succeeded:
        assert set(record) == {"ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails",
                               "RedriveCount", "RedriveStatus", "RedriveStatusReason", "StartDate",
                               "StateMachineArn", "Status", "StopDate"}
        assert record["Status"] == "SUCCEEDED" and record["StateMachineArn"] == child_machine
        assert record["ExecutionArn"] == (f"arn:aws:states:us-east-1:000000000000:execution:{machine_name}"
                                          f"/Doubler:{record['Name']}")
        assert record["InputDetails"] == record["OutputDetails"] == {"Included": True}
        assert record["StartDate"].endswith("Z")
    failed = read_json(s3, bucket, keys[0])
    assert len(failed) == 1
    assert failed[0]["Status"] == "FAILED" and json.loads(failed[0]["Input"]) == {"n": 2, "fail": True}
    assert (failed[0]["Error"], failed[0]["Cause"]) == ("ItemRefused", "odd one out")
    assert "Output" not in failed[0]


def test_result_writer_flatten_transformation_and_missing_bucket(sfn, bucket, s3):
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                 "StartAt": "Pair", "States": {"Pair": {"Type": "Pass", "Parameters": {"pair.$": "States.Array($, $)"},
                                                        "OutputPath": "$.pair", "End": True}}}
    writer = {"Resource": "arn:aws:states:::s3:putObject", "WriterConfig": {"Transformation": "FLATTEN"},
              "Parameters": {"Bucket": bucket, "Prefix": "flat/"}}
    output = output_of(run(sfn, distributed_map(None, processor, ItemsPath="$.items", ResultWriter=writer),
                           {"items": [1, 2]}))
    assert output["ResultWriterDetails"]["Key"].startswith("flat/") and "//" not in output["ResultWriterDetails"]["Key"]
    manifest = read_json(s3, bucket, output["ResultWriterDetails"]["Key"])
    assert read_json(s3, bucket, manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]) == [1, 1, 2, 2]

    nowhere = {**writer, "Parameters": {"Bucket": f"no-{uuid.uuid4().hex[:10]}", "Prefix": "x"}}
    described = run(sfn, distributed_map(None, processor, ItemsPath="$.items", ResultWriter=nowhere),
                    {"items": [1]})
    assert (described["status"], described["error"]) == ("FAILED", "States.ResultWriterFailed")
    assert "NoSuchBucket" in described["cause"]
