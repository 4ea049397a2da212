import asyncio

from cumulo.asl import ManualClock, MemoryHistory, TaskFailure
from tests.unit.asl.conftest import EXEC_ARN, SM_ARN, chain, execution, lambda_arn, run

FN = lambda_arn("fn")


def test_pass_result_and_result_path():
    result = run(
        chain(
            (
                "P",
                {
                    "Type": "Pass",
                    "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
                    "ResultPath": "$.coords",
                },
            )
        ),
        {"georefOf": "Home"},
    )
    assert result.output == {
        "georefOf": "Home",
        "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
    }


def test_input_path_parameters_result_selector_result_path_output_path_order():
    seen = {}

    def fn(params):
        seen["params"] = params
        return {"Payload": {"sum": params["a"] + params["b"]}, "StatusCode": 200}

    state = {
        "Type": "Task",
        "Resource": FN,
        "InputPath": "$.numbers",
        "Parameters": {"a.$": "$.first", "b.$": "$.second", "label": "static"},
        "ResultSelector": {"total.$": "$.Payload.sum"},
        "ResultPath": "$.result.inner",
        "OutputPath": "$.result",
    }
    out = run(
        chain(("T", state)), {"numbers": {"first": 1, "second": 2}, "other": True}, functions={FN: fn}
    ).output
    assert seen["params"] == {"a": 1, "b": 2, "label": "static"}
    # ResultPath merges into the *raw* state input, not the InputPath-filtered one
    assert out == {"inner": {"total": 3}}


def test_null_paths():
    out = run(
        chain(("P", {"Type": "Pass", "InputPath": None, "Parameters": {"x": 1}, "ResultPath": None})),
        {"keep": "me"},
    ).output
    assert out == {"keep": "me"}  # ResultPath null discards the result
    assert run(chain(("P", {"Type": "Pass", "OutputPath": None})), {"a": 1}).output == {}
    assert run(chain(("P", {"Type": "Pass", "InputPath": None})), {"a": 1}).output == {}


def test_missing_input_path_is_a_runtime_error_with_aws_cause():
    result = run(chain(("P", {"Type": "Pass", "InputPath": "$.missing"})), {"a": 1})
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert result.cause == (
        "An error occurred while executing the state 'P' (entered at the event id #2). "
        "Invalid path '$.missing' : No results for path: $['missing']"
    )


def test_parameters_path_not_found_names_field_and_input():
    result = run(chain(("Pick", {"Type": "Pass", "Parameters": {"missing.$": "$.nope.deep"}})), {"other": 1})
    assert result.error == "States.Runtime"
    assert result.cause.endswith(
        "The JSONPath '$.nope.deep' specified for the field 'missing.$' could not be "
        "found in the input '{\"other\":1}'"
    )


def test_context_object():
    out = run(
        chain(
            (
                "P",
                {
                    "Type": "Pass",
                    "Parameters": {
                        "id.$": "$$.Execution.Id",
                        "name.$": "$$.Execution.Name",
                        "input.$": "$$.Execution.Input",
                        "role.$": "$$.Execution.RoleArn",
                        "start.$": "$$.Execution.StartTime",
                        "redrives.$": "$$.Execution.RedriveCount",
                        "state.$": "$$.State.Name",
                        "entered.$": "$$.State.EnteredTime",
                        "retries.$": "$$.State.RetryCount",
                        "sm.$": "$$.StateMachine.Id",
                        "smName.$": "$$.StateMachine.Name",
                        "all.$": "$$.StateMachine",
                    },
                },
            )
        ),
        {"in": 1},
    ).output
    assert out == {
        "id": EXEC_ARN,
        "name": "run-1",
        "input": {"in": 1},
        "role": "arn:aws:iam::123456789012:role/R",
        "start": "2023-11-14T22:13:20.000Z",
        "redrives": 0,
        "state": "P",
        "entered": "2023-11-14T22:13:20.000Z",
        "retries": 0,
        "sm": SM_ARN,
        "smName": "Machine",
        "all": {"Id": SM_ARN, "Name": "Machine"},
    }


def test_wait_seconds_goes_through_the_clock(clock):
    async def scenario():
        ex = execution(
            chain(("W", {"Type": "Wait", "Seconds": 3600}), ("After", {"Type": "Pass"})),
            {"a": 1},
            clock=clock,
        )
        task = asyncio.ensure_future(ex.run())
        deadlines = await clock.wait_for_sleepers()
        assert deadlines == [clock.now() + 3600]
        assert not task.done()
        clock.advance(3599)
        await asyncio.sleep(0)
        assert not task.done()
        clock.advance(1)
        return await task

    assert asyncio.run(scenario()).output == {"a": 1}


def test_wait_variants():
    async def deadline_of(state, data):
        clock = ManualClock()
        ex = execution(chain(("W", state)), data, clock=clock)
        task = asyncio.ensure_future(ex.run())
        deadlines = await clock.wait_for_sleepers()
        clock.advance_to(deadlines[0])
        await task
        return deadlines[0] - 1_700_000_000.0

    async def scenario():
        assert await deadline_of({"Type": "Wait", "SecondsPath": "$.s"}, {"s": 10}) == 10
        stamp = {"Type": "Wait", "Timestamp": "2023-11-14T22:14:20Z"}
        assert await deadline_of(stamp, {}) == 60
        assert (
            await deadline_of({"Type": "Wait", "TimestampPath": "$.t"}, {"t": "2023-11-14T22:13:30Z"}) == 10
        )

    asyncio.run(scenario())


def test_wait_with_bad_seconds_path_fails():
    result = run(chain(("W", {"Type": "Wait", "SecondsPath": "$.s"})), {"s": "ten"})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_timestamp_in_the_past_does_not_wait():
    result = run(chain(("W", {"Type": "Wait", "Timestamp": "2001-01-01T00:00:00Z"})), {"x": 1})
    assert result.output == {"x": 1}


def test_succeed_and_fail():
    assert (
        run({"StartAt": "S", "States": {"S": {"Type": "Succeed", "OutputPath": "$.a"}}}, {"a": 5}).output == 5
    )
    result = run(
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "ErrorA", "Cause": "Kaiju attack"}}}
    )
    assert (result.status, result.error, result.cause) == ("FAILED", "ErrorA", "Kaiju attack")
    result = run(
        {
            "StartAt": "F",
            "States": {
                "F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('code {}', $.c)"}
            },
        },
        {"e": "E", "c": 7},
    )
    assert (result.error, result.cause) == ("E", "code 7")


def test_task_result_and_failure_and_history():
    history = MemoryHistory()
    result = run(
        chain(
            (
                "T",
                {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                },
            )
        ),
        {"k": 1},
        functions={"arn:aws:states:::lambda:invoke": lambda p: {"Payload": p["Payload"], "StatusCode": 200}},
        sink=history,
    )
    assert result.output == {"Payload": {"k": 1}, "StatusCode": 200}
    types = [e.type for e in history.events()]
    assert types == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]

    def boom(_):
        raise TaskFailure("Lambda.Unknown", "it broke")

    result = run(chain(("T", {"Type": "Task", "Resource": FN})), functions={FN: boom})
    assert (result.status, result.error, result.cause) == ("FAILED", "Lambda.Unknown", "it broke")


def test_task_timeout_uses_the_clock(clock):
    async def never(_):
        await asyncio.Event().wait()

    async def scenario():
        ex = execution(
            chain(("T", {"Type": "Task", "Resource": FN, "TimeoutSeconds": 30})),
            functions={FN: never},
            clock=clock,
        )
        task = asyncio.ensure_future(ex.run())
        assert await clock.wait_for_sleepers() == [clock.now() + 30]
        clock.advance(30)
        return await task

    result = asyncio.run(scenario())
    assert (result.status, result.error) == ("FAILED", "States.Timeout")


def test_execution_timeout(clock):
    async def scenario():
        ex = execution({"TimeoutSeconds": 5, **chain(("W", {"Type": "Wait", "Seconds": 100}))}, clock=clock)
        task = asyncio.ensure_future(ex.run())
        await clock.wait_for_sleepers(2)
        clock.advance(5)
        return await task

    result = asyncio.run(scenario())
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")


def test_stop_execution_aborts(clock):
    async def scenario():
        ex = execution(chain(("W", {"Type": "Wait", "Seconds": 100})), clock=clock)
        task = asyncio.ensure_future(ex.run())
        await clock.wait_for_sleepers()
        ex.stop("Stopped", "by the user")
        return await task, ex

    result, ex = asyncio.run(scenario())
    assert (result.status, result.error, result.cause) == ("ABORTED", "Stopped", "by the user")
    assert ex.sink.events()[-1].type == "ExecutionAborted"
