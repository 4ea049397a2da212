import asyncio

from cumulo.asl import TaskFailure, VirtualClock
from tests.unit.asl.conftest import chain, execution, lambda_arn, run

FN = lambda_arn("item")


def map_state(**fields):
    return {
        "Type": "Map",
        "End": True,
        "ItemProcessor": fields.pop(
            "processor", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
        ),
        **fields,
    }


def task_processor(resource=FN):
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True}}}


def test_inline_map_with_items_path_item_selector_and_context():
    state = map_state(
        ItemsPath="$.detail.shipped",
        ResultPath="$.detail.shipped",
        ItemSelector={
            "parcel.$": "$$.Map.Item.Value",
            "index.$": "$$.Map.Item.Index",
            "courier.$": "$.detail.courier",
        },
    )
    data = {"detail": {"courier": "UQS", "shipped": [{"prod": "R31"}, {"prod": "S39"}]}}
    out = run(chain(("M", state)), data).output
    assert out["detail"]["shipped"] == [
        {"parcel": {"prod": "R31"}, "index": 0, "courier": "UQS"},
        {"parcel": {"prod": "S39"}, "index": 1, "courier": "UQS"},
    ]


def test_legacy_iterator_and_parameters():
    state = {
        "Type": "Map",
        "End": True,
        "ItemsPath": "$.items",
        "Parameters": {"v.$": "$$.Map.Item.Value"},
        "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
    }
    assert run(chain(("M", state)), {"items": [1, 2]}).output == [{"v": 1}, {"v": 2}]


def test_map_items_must_be_an_array():
    result = run(chain(("M", map_state(ItemsPath="$.x"))), {"x": {"not": "array"}})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_empty_map_and_results_keep_item_order():
    assert run(chain(("M", map_state())), []).output == []

    async def slow_first(params):
        if params == 0:
            for _ in range(20):
                await asyncio.sleep(0)
        return params * 2

    assert run(
        chain(("M", map_state(processor=task_processor()))), [0, 1, 2], functions={FN: slow_first}
    ).output == [0, 2, 4]


def test_max_concurrency_limits_running_iterations():
    running = {"now": 0, "peak": 0}

    async def tracked(params):
        running["now"] += 1
        running["peak"] = max(running["peak"], running["now"])
        for _ in range(5):
            await asyncio.sleep(0)
        running["now"] -= 1
        return params

    out = run(
        chain(("M", map_state(processor=task_processor(), MaxConcurrency=2))),
        list(range(7)),
        functions={FN: tracked},
    ).output
    assert out == list(range(7)) and running["peak"] == 2
    running["peak"] = 0
    run(
        chain(("M", map_state(processor=task_processor(), MaxConcurrencyPath="$.c", ItemsPath="$.i"))),
        {"c": 3, "i": list(range(7))},
        functions={FN: tracked},
    )
    assert running["peak"] == 3


def fails_on(bad):
    def fn(params):
        if params in bad:
            raise TaskFailure("ItemError", f"item {params}")
        return params

    return fn


def test_inline_map_fails_with_the_iteration_error_and_can_be_caught():
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                **map_state(processor=task_processor(), ItemsPath="$.items"),
                "End": False,
                "Next": "Done",
                "Catch": [{"ErrorEquals": ["ItemError"], "ResultPath": "$.error", "Next": "Handled"}],
            },
            "Done": {"Type": "Succeed"},
            "Handled": {"Type": "Pass", "End": True},
        },
    }
    result = run(definition, {"items": [1, 2, 3]}, functions={FN: fails_on({2})})
    assert result.output == {"items": [1, 2, 3], "error": {"Error": "ItemError", "Cause": "item 2"}}
    ex = execution(
        chain(("M", map_state(processor=task_processor()))), [1, 2, 3], functions={FN: fails_on({2})}
    )
    result = asyncio.run(ex.run())
    assert (result.status, result.error) == ("FAILED", "ItemError")
    types = [e.type for e in ex.sink.events()]
    assert "MapIterationFailed" in types and "MapStateFailed" in types


def distributed(**fields):
    processor = {**task_processor(), "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}}
    return map_state(processor=processor, **fields)


def test_distributed_map_tolerates_failures_up_to_the_threshold():
    ok = run(
        chain(("M", distributed(ToleratedFailureCount=2))), [1, 2, 3, 4], functions={FN: fails_on({2, 3})}
    )
    assert ok.status == "SUCCEEDED"
    assert ok.output == [
        1,
        {"Error": "ItemError", "Cause": "item 2"},
        {"Error": "ItemError", "Cause": "item 3"},
        4,
    ]
    too_many = run(
        chain(("M", distributed(ToleratedFailureCount=1))), [1, 2, 3, 4], functions={FN: fails_on({2, 3})}
    )
    assert (too_many.status, too_many.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    pct = run(
        chain(("M", distributed(ToleratedFailurePercentage=50))),
        [1, 2, 3, 4],
        functions={FN: fails_on({2, 3})},
    )
    assert pct.status == "SUCCEEDED"
    zero = run(chain(("M", distributed())), [1, 2], functions={FN: fails_on({1})})
    assert zero.error == "States.ExceedToleratedFailureThreshold"


def test_distributed_map_history_and_isolated_variables():
    definition = {
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"outer": 1}, "Next": "M"},
            "M": map_state(
                processor={
                    "StartAt": "P",
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "States": {"P": {"Type": "Pass", "Parameters": {"o.$": "$outer"}, "End": True}},
                }
            ),
        },
    }
    # a distributed map's iterations cannot read outer variables: each one fails, so the map run does
    assert run(definition, [1]).error == "States.ExceedToleratedFailureThreshold"
    definition["States"]["M"]["ItemProcessor"].pop("ProcessorConfig")
    assert run(definition, [1]).output == [{"o": 1}]  # an inline map's iterations can
    ex = execution(chain(("M", distributed())), [1, 2], functions={FN: lambda p: p})
    assert asyncio.run(ex.run()).output == [1, 2]
    types = [e.type for e in ex.sink.events()]
    assert types == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]
    run_arn = ex.sink.events()[3].details["mapRunArn"]
    assert run_arn.startswith("arn:aws:states:us-east-1:123456789012:mapRun:Machine/M:")


def test_item_batcher():
    state = distributed(
        ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"factor.$": "$.f"}}, ItemsPath="$.i"
    )
    out = run(chain(("M", state)), {"f": 10, "i": [1, 2, 3]}, functions={FN: lambda p: p}).output
    assert out == [
        {"Items": [1, 2], "BatchInput": {"factor": 10}},
        {"Items": [3], "BatchInput": {"factor": 10}},
    ]


class ListReader:
    def __init__(self, items):
        self.items, self.requests = items, []

    async def read(self, request):
        self.requests.append(request)
        return self.items


class Collector:
    def __init__(self):
        self.requests = []

    async def write(self, request):
        self.requests.append(request)
        return {"MapRunArn": request.map_run_arn, "ResultWriterDetails": {"Bucket": "b", "Key": "k"}}


def test_item_reader_and_result_writer_are_pluggable():
    reader, writer = ListReader([{"n": 1}, {"n": 2}, {"n": 3}]), Collector()
    state = distributed(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON", "MaxItems": 2},
            "Parameters": {"Bucket": "b", "Key.$": "$.key"},
        },
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out"}},
    )
    ex = execution(
        chain(("M", state)),
        {"key": "items.json"},
        functions={FN: lambda p: p["n"] * 2},
        item_reader=reader,
        result_writer=writer,
    )
    result = asyncio.run(ex.run())
    assert reader.requests[0].parameters == {"Bucket": "b", "Key": "items.json"}
    assert [e["Output"] for e in writer.requests[0].results] == [2, 4]  # MaxItems applied
    assert result.output["ResultWriterDetails"] == {"Bucket": "b", "Key": "k"}
    missing = run(chain(("M", state)), {"key": "k"}, functions={FN: lambda p: p})
    assert missing.error == "States.ItemReaderFailed"


def test_parallel_collects_branch_outputs_in_order_and_applies_paths():
    definition = chain(
        (
            "P",
            {
                "Type": "Parallel",
                "ResultSelector": {"first.$": "$[0]", "second.$": "$[1]"},
                "ResultPath": "$.res",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$.x", "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": True}}},
                ],
            },
        )
    )
    assert run(definition, {"x": 1}).output == {"x": 1, "res": {"first": 1, "second": "b"}}


def test_parallel_branch_failure_cancels_siblings_and_fails_the_state():
    started = []

    async def slow(params):
        started.append("slow")
        await asyncio.Event().wait()

    definition = chain(
        (
            "P",
            {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Slow",
                        "States": {"Slow": {"Type": "Task", "Resource": lambda_arn("slow"), "End": True}},
                    },
                    {
                        "StartAt": "Bad",
                        "States": {"Bad": {"Type": "Fail", "Error": "BranchError", "Cause": "nope"}},
                    },
                ],
            },
        )
    )
    ex = execution(definition, {}, functions={lambda_arn("slow"): slow})
    result = asyncio.run(ex.run())
    assert (result.status, result.error, result.cause) == ("FAILED", "BranchError", "nope")
    assert "ParallelStateFailed" in [e.type for e in ex.sink.events()]


def test_parallel_retry_reruns_all_branches():
    calls = []

    def flaky(params):
        calls.append(params)
        if len(calls) == 1:
            raise TaskFailure("Transient", "once")
        return "ok"

    definition = chain(
        (
            "P",
            {
                "Type": "Parallel",
                "Retry": [{"ErrorEquals": ["Transient"]}],
                "Branches": [
                    {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN, "End": True}}},
                    {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": "q", "End": True}}},
                ],
            },
        )
    )
    result = run(definition, {}, functions={FN: flaky}, clock=VirtualClock())
    assert result.output == ["ok", "q"] and len(calls) == 2


def test_branch_and_iteration_variable_scopes():
    definition = {
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"x": "outer"}, "Next": "P"},
            "P": {
                "Type": "Parallel",
                "Next": "After",
                "Branches": [
                    {
                        "StartAt": "Read",
                        "States": {
                            "Read": {
                                "Type": "Pass",
                                "Parameters": {"seen.$": "$x"},
                                "Assign": {"x": "inner"},
                                "Next": "Again",
                            },
                            "Again": {"Type": "Pass", "Parameters": {"seen.$": "$x"}, "End": True},
                        },
                    }
                ],
            },
            "After": {"Type": "Pass", "Parameters": {"branch.$": "$[0]", "x.$": "$x"}, "End": True},
        },
    }
    assert run(definition).output == {"branch": {"seen": "inner"}, "x": "outer"}
