"""Engine behaviour the service relies on: callbacks answered while the task is still being
submitted, resuming a redriven execution, stopping an execution before it started, and the task
site on every TaskRequest."""

from __future__ import annotations

import asyncio
import json

from cumulo.asl import Execution, ExecutionInfo, ManualClock, MemoryHistory, record_from_json, validate
from tests.unit.asl.conftest import EXEC_ARN, SM_ARN, FunctionInvoker

SQS_TOKEN = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
TOKEN_MACHINE = {"StartAt": "Ask", "States": {"Ask": {
    "Type": "Task", "Resource": SQS_TOKEN, "End": True,
    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}}}}


def persisted(history: MemoryHistory) -> list:
    return [record_from_json(json.loads(json.dumps(r.to_record()))) for r in history.records]


def execution(definition, invoker, log=(), sink=None, clock=None, **kwargs) -> Execution:
    return Execution(validate(json.dumps(definition)), ExecutionInfo(EXEC_ARN, SM_ARN, kwargs.pop("input", {})),
                     invoker, clock=clock or ManualClock(), sink=sink if sink is not None else MemoryHistory(),
                     log=log, **kwargs)


def test_a_callback_answered_during_the_submission_does_not_deadlock():
    async def main():
        box = {}

        async def submit(params):
            # the worker answers before the submission returns (a function calling SendTaskSuccess)
            await box["ex"].send_task_success(params["MessageBody"]["token"], {"early": True})
            return {"MessageId": "m"}

        history = MemoryHistory()
        ex = box["ex"] = execution(TOKEN_MACHINE, FunctionInvoker({SQS_TOKEN: submit}), sink=history)
        result = await asyncio.wait_for(ex.run(), 5)
        return result, history

    result, history = asyncio.run(main())
    assert (result.status, result.output) == ("SUCCEEDED", {"early": True})
    types = [e.type for e in history.events()]
    assert types[-4:] == ["TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    assert any(getattr(r, "key", "").endswith(":early") for r in history.records)


def test_an_early_answer_survives_a_crash_before_the_submission_returned():
    async def first_life():
        box = {}
        history = MemoryHistory()
        gate = asyncio.Event()

        async def submit(params):
            await box["ex"].send_task_success(params["MessageBody"]["token"], {"early": 1})
            await gate.wait()  # the crash happens before the submission returns

        ex = box["ex"] = execution(TOKEN_MACHINE, FunctionInvoker({SQS_TOKEN: submit}), sink=history)
        task = asyncio.ensure_future(ex.run())
        for _ in range(100):
            await asyncio.sleep(0)
        task.cancel()
        return persisted(history)

    log = asyncio.run(first_life())
    calls = []
    result = asyncio.run(execution(TOKEN_MACHINE, FunctionInvoker({SQS_TOKEN: calls.append}), log=log).run())
    assert (result.status, result.output) == ("SUCCEEDED", {"early": 1})
    assert len(calls) == 1  # the submission had not completed: it runs again (at least once)


REDRIVE = {"StartAt": "One", "States": {
    "One": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:one", "Next": "Wait"},
    "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Two"},
    "Two": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:two", "End": True}}}
ONE, TWO = REDRIVE["States"]["One"]["Resource"], REDRIVE["States"]["Two"]["Resource"]


def test_a_redriven_execution_resumes_where_the_redrive_was():
    def failing_two(params):
        from cumulo.asl import TaskFailure
        raise TaskFailure("Nope", "two failed")

    # life 1: One succeeds, Wait, Two fails
    async def failed_run():
        clock = ManualClock()
        history = MemoryHistory()
        ex = execution(REDRIVE, FunctionInvoker({ONE: lambda p: 1, TWO: failing_two}), sink=history, clock=clock)
        task = asyncio.ensure_future(ex.run())
        await clock.wait_for_sleepers()
        clock.advance(3600)
        assert (await task).status == "FAILED"
        return persisted(history), clock.now()

    log, now = asyncio.run(failed_run())

    # life 2: the redrive reruns Two; it is slow, and the server crashes while it runs
    async def redrive_then_crash():
        clock = ManualClock(now)
        history = MemoryHistory()
        gate = asyncio.Event()

        async def slow_two(params):
            await gate.wait()

        ex = Execution(validate(json.dumps(REDRIVE)), ExecutionInfo(EXEC_ARN, SM_ARN, {}, redrive_count=1),
                       FunctionInvoker({ONE: lambda p: 1, TWO: slow_two}), clock=clock, sink=history, log=log,
                       redrive=True)
        task = asyncio.ensure_future(ex.run())
        for _ in range(100):
            await asyncio.sleep(0)
        task.cancel()
        return log + persisted(history)

    log = asyncio.run(redrive_then_crash())
    assert [r.type for r in log if hasattr(r, "type")].count("ExecutionRedriven") == 1

    # life 3: resumed (not redriven again): Two runs once more, nothing else, no second redrive event
    calls = []
    history = MemoryHistory()
    ex = Execution(validate(json.dumps(REDRIVE)), ExecutionInfo(EXEC_ARN, SM_ARN, {}, redrive_count=1),
                   FunctionInvoker({ONE: calls.append, TWO: lambda p: calls.append("two") or "done"}),
                   clock=ManualClock(now + 10), sink=history, log=log)
    result = asyncio.run(ex.run())
    assert (result.status, result.output) == ("SUCCEEDED", "done")
    assert calls == ["two"]
    new = [e.type for e in history.events()]
    assert "ExecutionRedriven" not in new and "WaitStateEntered" not in new
    assert new[-1] == "ExecutionSucceeded"
    ids = [r.id for r in log + history.records if hasattr(r, "id")]
    assert len(ids) == len(set(ids))


def test_stop_before_the_execution_started_aborts_it():
    async def main():
        ex = execution({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": True}}},
                       FunctionInvoker({}))
        ex.stop("Early", "stopped at once")
        return await ex.run()

    result = asyncio.run(main())
    assert (result.status, result.error, result.cause) == ("ABORTED", "Early", "stopped at once")


def test_task_requests_carry_their_site_and_the_first_state_follows_no_event():
    invoker = FunctionInvoker({ONE: lambda p: 1})
    history = MemoryHistory()
    definition = {"StartAt": "One", "States": {"One": {**REDRIVE["States"]["One"], "End": True}}}
    definition["States"]["One"].pop("Next")
    asyncio.run(execution(definition, invoker, sink=history).run())
    assert invoker.calls[0].site == "/One#0@0"
    events = history.events()
    assert (events[1].type, events[1].previous_event_id) == ("TaskStateEntered", 0)
