"""Resume after a crash, redrive, callbacks: the engine replays its persisted log.

A "crash" here is throwing the Execution (and its event loop) away mid-run, keeping only what
the sink had recorded, serialized to JSON and back as a durable store would.
"""

import asyncio
import json

import pytest

from cumulo.asl import (
    Execution,
    ExecutionInfo,
    ManualClock,
    MemoryHistory,
    NotRedrivable,
    TaskFailure,
    UnknownTaskToken,
    record_from_json,
    validate,
)
from tests.unit.asl.conftest import EXEC_ARN, SM_ARN, FunctionInvoker, lambda_arn

A, B, C = lambda_arn("a"), lambda_arn("b"), lambda_arn("c")

PIPELINE = {
    "StartAt": "First",
    "States": {
        "First": {"Type": "Task", "Resource": A, "ResultPath": "$.first", "Next": "Id"},
        "Id": {
            "Type": "Pass",
            "Parameters": {
                "id.$": "States.UUID()",
                "n.$": "States.MathRandom(1, 1000000)",
                "first.$": "$.first",
            },
            "Next": "LongWait",
        },
        "LongWait": {"Type": "Wait", "Seconds": 6 * 3600, "Next": "Second"},
        "Second": {"Type": "Task", "Resource": B, "ResultPath": "$.second", "Next": "Fan"},
        "Fan": {
            "Type": "Map",
            "ItemsPath": "$.first.items",
            "ResultPath": "$.fan",
            "End": True,
            "ItemProcessor": {
                "StartAt": "Each",
                "States": {"Each": {"Type": "Task", "Resource": C, "End": True}},
            },
        },
    },
}


def persisted(history: MemoryHistory) -> list:
    """What a durable store would hand back after a restart."""
    return [record_from_json(json.loads(json.dumps(r.to_record()))) for r in history.records]


def new_execution(log=(), clock=None, invoker=None, sink=None, definition=PIPELINE, **kwargs):
    return Execution(
        validate(json.dumps(definition)),
        ExecutionInfo(EXEC_ARN, SM_ARN, {"start": True}),
        invoker,
        clock=clock or ManualClock(),
        sink=sink or MemoryHistory(),
        log=log,
        **kwargs,
    )


def functions():
    return {A: lambda p: {"items": [1, 2, 3]}, B: lambda p: "b-done", C: lambda p: p * 10}


def test_resume_in_the_middle_of_a_long_wait_without_rerunning_tasks():
    uninterrupted = asyncio.run(_reference_run())

    # first life: run until the 6 hour Wait, then "kill -9"
    async def first_life():
        clock = ManualClock()
        history = MemoryHistory()
        invoker = FunctionInvoker(functions())
        ex = new_execution(clock=clock, invoker=invoker, sink=history)
        task = asyncio.ensure_future(ex.run())
        deadlines = await clock.wait_for_sleepers()
        task.cancel()
        return persisted(history), invoker, deadlines[0], clock.now()

    log, invoker1, wait_deadline, crash_time = asyncio.run(first_life())
    assert [c.resource.arn for c in invoker1.calls] == [A]

    # second life, an hour later: a fresh engine on the persisted log
    async def second_life():
        clock = ManualClock(crash_time + 3600)
        history = MemoryHistory()
        invoker = FunctionInvoker(functions())
        ex = new_execution(log, clock=clock, invoker=invoker, sink=history)
        task = asyncio.ensure_future(ex.run())
        deadlines = await clock.wait_for_sleepers()
        assert deadlines == [wait_deadline]  # the rest of the same Wait, not a new 6 hours
        clock.advance_to(wait_deadline)
        return await task, invoker, history

    result, invoker2, history2 = asyncio.run(second_life())
    assert result.status == "SUCCEEDED"
    assert [c.resource.arn for c in invoker2.calls] == [B, C, C, C]  # First is not invoked again
    # UUID and MathRandom were replayed from the log, so the output is the same as in one life
    first_life_values = [r.value for r in log if type(r).__name__ == "Memo" and ":n" in r.key]
    assert result.output["id"] in first_life_values and result.output["n"] in first_life_values
    assert set(result.output) == set(uninterrupted.output)
    assert result.output["fan"] == [10, 20, 30]
    # the new life appended events with ids continuing the old history, no duplicates
    all_ids = [r.id for r in log + history2.records if hasattr(r, "id")]
    assert len(all_ids) == len(set(all_ids)) and all_ids == sorted(all_ids)
    assert history2.records[0].id == max(r.id for r in log if hasattr(r, "id")) + 1


async def _reference_run():
    clock = ManualClock()
    ex = new_execution(clock=clock, invoker=FunctionInvoker(functions()))
    task = asyncio.ensure_future(ex.run())
    await clock.wait_for_sleepers()
    clock.advance(6 * 3600)
    return await task


def test_a_completed_execution_replays_to_its_recorded_result():
    history = MemoryHistory()
    first = asyncio.run(_run_with(history))
    invoker = FunctionInvoker({})
    again = asyncio.run(new_execution(persisted(history), invoker=invoker).run())
    assert (again.status, again.output) == (first.status, first.output) and invoker.calls == []


async def _run_with(history):
    clock = ManualClock()
    ex = new_execution(clock=clock, invoker=FunctionInvoker(functions()), sink=history)
    task = asyncio.ensure_future(ex.run())
    await clock.wait_for_sleepers()
    clock.advance(6 * 3600)
    return await task


TOKEN_MACHINE = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
            "HeartbeatSeconds": 600,
            "End": True,
        }
    },
}


def test_task_token_wait_survives_a_restart_and_the_message_is_not_resent():
    sent = []

    async def first_life():
        history = MemoryHistory()
        ex = new_execution(
            invoker=FunctionInvoker(
                {TOKEN_MACHINE["States"]["Ask"]["Resource"]: lambda p: sent.append(p) or {"MessageId": "m-1"}}
            ),
            sink=history,
            definition=TOKEN_MACHINE,
        )
        task = asyncio.ensure_future(ex.run())
        await ex.clock.wait_for_sleepers()  # the heartbeat timer: the message was sent and recorded
        assert [e.type for e in history.events()][-1] == "TaskSubmitted"
        assert ex.pending_task_tokens == [sent[0]["MessageBody"]["token"]]
        task.cancel()
        return persisted(history)

    log = asyncio.run(first_life())
    token = sent[0]["MessageBody"]["token"]

    async def second_life():
        clock = ManualClock(1_700_000_100)
        ex = new_execution(
            log,
            clock=clock,
            definition=TOKEN_MACHINE,
            invoker=FunctionInvoker({TOKEN_MACHINE["States"]["Ask"]["Resource"]: sent.append}),
        )
        task = asyncio.ensure_future(ex.run())
        await clock.wait_for_sleepers()
        assert ex.pending_task_tokens == [token]  # the same token as before the restart
        ex.send_task_heartbeat(token)
        clock.advance(500)
        await asyncio.sleep(0)
        assert not task.done()  # the heartbeat extended the deadline
        with pytest.raises(UnknownTaskToken):
            await ex.send_task_success("not-a-token", {})
        await ex.send_task_success(token, {"approved": True})
        return await task

    result = asyncio.run(second_life())
    assert result.output == {"approved": True} and len(sent) == 1


def test_missed_heartbeat_fails_with_heartbeat_timeout():
    async def scenario():
        clock = ManualClock()
        ex = new_execution(
            clock=clock,
            definition=TOKEN_MACHINE,
            invoker=FunctionInvoker({TOKEN_MACHINE["States"]["Ask"]["Resource"]: lambda p: {}}),
        )
        task = asyncio.ensure_future(ex.run())
        await clock.wait_for_sleepers()
        clock.advance(600)
        return await task

    result = asyncio.run(scenario())
    assert (result.status, result.error) == ("FAILED", "States.HeartbeatTimeout")


def test_send_task_failure():
    async def scenario():
        clock = ManualClock()
        ex = new_execution(
            clock=clock,
            definition=TOKEN_MACHINE,
            invoker=FunctionInvoker({TOKEN_MACHINE["States"]["Ask"]["Resource"]: lambda p: {}}),
        )
        task = asyncio.ensure_future(ex.run())
        await clock.wait_for_sleepers()
        await ex.send_task_failure(ex.pending_task_tokens[0], "Rejected", "no")
        return await task

    result = asyncio.run(scenario())
    assert (result.status, result.error, result.cause) == ("FAILED", "Rejected", "no")


REDRIVE = {
    "StartAt": "Ok",
    "States": {
        "Ok": {"Type": "Task", "Resource": A, "Next": "Par"},
        "Par": {
            "Type": "Parallel",
            "End": True,
            "Branches": [
                {"StartAt": "Good", "States": {"Good": {"Type": "Task", "Resource": B, "End": True}}},
                {"StartAt": "Bad", "States": {"Bad": {"Type": "Task", "Resource": C, "End": True}}},
            ],
        },
    },
}


def test_redrive_reruns_only_what_failed():
    def fail_c(_):
        raise TaskFailure("Broken", "c failed")

    history = MemoryHistory()
    first = asyncio.run(
        new_execution(
            invoker=FunctionInvoker({A: lambda p: "a", B: lambda p: "b", C: fail_c}),
            sink=history,
            definition=REDRIVE,
        ).run()
    )
    assert first.status == "FAILED"
    invoker = FunctionInvoker({A: lambda p: "a2", B: lambda p: "b2", C: lambda p: "c2"})
    redrive_history = MemoryHistory()
    info = ExecutionInfo(EXEC_ARN, SM_ARN, {"start": True}, redrive_count=1)
    ex = Execution(
        validate(json.dumps(REDRIVE)),
        info,
        invoker,
        clock=ManualClock(),
        sink=redrive_history,
        log=persisted(history),
        redrive=True,
    )
    result = asyncio.run(ex.run())
    assert result.status == "SUCCEEDED"
    # A and the branch that succeeded are not run again; only the failed branch is
    assert [c.resource.arn for c in invoker.calls] == [C]
    assert result.output == ["b", "c2"]
    types = [e.type for e in redrive_history.events()]
    assert types[0] == "ExecutionRedriven" and types[-1] == "ExecutionSucceeded"
    assert redrive_history.events()[0].details == {"redriveCount": 1}


def test_only_unsuccessful_executions_can_be_redriven():
    history = MemoryHistory()
    asyncio.run(
        new_execution(
            invoker=FunctionInvoker({A: lambda p: 1, B: lambda p: 2, C: lambda p: 3}),
            sink=history,
            definition=REDRIVE,
        ).run()
    )
    with pytest.raises(NotRedrivable):
        new_execution(persisted(history), definition=REDRIVE, redrive=True)
