import asyncio

from cumulo.asl import TaskFailure
from tests.unit.asl.conftest import chain, execution, lambda_arn, run

FN = lambda_arn("flaky")


class Flaky:
    """Fails with the given errors in turn, then returns "ok"."""

    def __init__(self, *failures: str) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self, params):
        self.calls += 1
        if self.failures:
            raise TaskFailure(self.failures.pop(0), "cause")
        return "ok"


def task(retry=None, catch=None, **extra):
    state = {"Type": "Task", "Resource": FN, **extra}
    if retry is not None:
        state["Retry"] = retry
    if catch is not None:
        state["Catch"] = catch
    return state


def delays_of(definition, fn, clock):
    """Run to completion on a manual clock, returning the sleeps the engine asked for."""

    async def scenario():
        ex = execution(definition, {"in": 1}, functions={FN: fn}, clock=clock)
        task_ = asyncio.ensure_future(ex.run())
        delays = []
        while not task_.done():
            # each attempt also races the default task timeout (99999999 s): look for the short sleep
            for _ in range(200):
                short = [d for d in clock.deadlines if d - clock.now() < 1e6]
                if short or task_.done():
                    break
                await asyncio.sleep(0)
            if not short:
                break
            delays.append(round(short[0] - clock.now(), 6))
            clock.advance_to(short[0])
        return await task_, delays

    return asyncio.run(scenario())


def test_backoff_is_observable_on_the_manual_clock(clock):
    fn = Flaky("E", "E", "E")
    definition = chain(
        ("T", task([{"ErrorEquals": ["E"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}]))
    )
    result, delays = delays_of(definition, fn, clock)
    assert result.output == "ok" and fn.calls == 4
    assert delays == [2, 6, 18]


def test_max_delay_seconds_caps_the_backoff(clock):
    fn = Flaky("E", "E", "E", "E")
    definition = chain(
        (
            "T",
            task(
                [
                    {
                        "ErrorEquals": ["E"],
                        "IntervalSeconds": 1,
                        "BackoffRate": 10,
                        "MaxAttempts": 4,
                        "MaxDelaySeconds": 50,
                    }
                ]
            ),
        )
    )
    _, delays = delays_of(definition, fn, clock)
    assert delays == [1, 10, 50, 50]


def test_full_jitter_stays_below_the_backoff(clock):
    fn = Flaky("E", "E", "E")
    definition = chain(
        (
            "T",
            task([{"ErrorEquals": ["E"], "IntervalSeconds": 10, "MaxAttempts": 3, "JitterStrategy": "FULL"}]),
        )
    )
    _, delays = delays_of(definition, fn, clock)
    assert len(delays) == 3 and all(0 <= d <= cap for d, cap in zip(delays, [10, 20, 40], strict=True))


def test_retries_exhausted_then_fail():
    fn = Flaky("E", "E", "E")
    result = run(
        chain(("T", task([{"ErrorEquals": ["E"], "MaxAttempts": 2}]))),
        functions={FN: fn},
        clock=__import__("cumulo.asl", fromlist=["VirtualClock"]).VirtualClock(),
    )
    assert (result.status, result.error) == ("FAILED", "E") and fn.calls == 3


def test_max_attempts_zero_never_retries():
    fn = Flaky("E")
    result = run(chain(("T", task([{"ErrorEquals": ["E"], "MaxAttempts": 0}]))), functions={FN: fn})
    assert result.status == "FAILED" and fn.calls == 1


def test_each_retrier_counts_its_own_attempts_and_first_match_wins(clock):
    fn = Flaky("A", "B", "A")
    definition = chain(
        (
            "T",
            task(
                [
                    {"ErrorEquals": ["A"], "IntervalSeconds": 1, "MaxAttempts": 2},
                    {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 7, "MaxAttempts": 1},
                ]
            ),
        )
    )
    result, delays = delays_of(definition, fn, clock)
    assert result.output == "ok" and delays == [1, 7, 2]


def test_catch_with_result_path_and_fallback_order():
    fn = Flaky("CustomError")
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                catch=[
                    {"ErrorEquals": ["Other"], "Next": "Wrong"},
                    {"ErrorEquals": ["CustomError"], "ResultPath": "$.error", "Next": "Handler"},
                ],
                End=True,
            ),
            "Wrong": {"Type": "Fail"},
            "Handler": {"Type": "Pass", "End": True},
        },
    }
    result = run(definition, {"in": 1}, functions={FN: fn})
    assert result.output == {"in": 1, "error": {"Error": "CustomError", "Cause": "cause"}}


def test_catch_default_result_path_replaces_input():
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(catch=[{"ErrorEquals": ["States.ALL"], "Next": "H"}], End=True),
            "H": {"Type": "Pass", "End": True},
        },
    }
    assert run(definition, {"in": 1}, functions={FN: Flaky("X")}).output == {"Error": "X", "Cause": "cause"}


def test_task_failed_matches_everything_but_timeouts(clock):
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "H"}], End=True, TimeoutSeconds=5
            ),
            "H": {"Type": "Pass", "Result": "handled", "End": True},
        },
    }
    assert run(definition, functions={FN: Flaky("Anything")}).output == "handled"

    async def never(_):
        await asyncio.Event().wait()

    async def scenario():
        ex = execution(definition, functions={FN: never}, clock=clock)
        t = asyncio.ensure_future(ex.run())
        await clock.wait_for_sleepers()
        clock.advance(5)
        return await t

    result = asyncio.run(scenario())
    assert (result.status, result.error) == ("FAILED", "States.Timeout")


def test_states_runtime_is_neither_retried_nor_caught():
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                [{"ErrorEquals": ["States.ALL"]}],
                [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
                End=True,
                Parameters={"x.$": "$.missing"},
            ),
            "H": {"Type": "Pass", "End": True},
        },
    }
    fn = Flaky()
    result = run(definition, {}, functions={FN: fn})
    assert (result.status, result.error, fn.calls) == ("FAILED", "States.Runtime", 0)


def test_intrinsic_failure_can_be_caught():
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Catch": [{"ErrorEquals": ["States.IntrinsicFailure"], "Next": "H"}],
                "Branches": [
                    {
                        "StartAt": "B",
                        "States": {
                            "B": {
                                "Type": "Pass",
                                "Parameters": {"x.$": "States.ArrayGetItem($.a, 5)"},
                                "End": True,
                            }
                        },
                    }
                ],
            },
            "H": {"Type": "Pass", "Result": "caught", "End": True},
        },
    }
    assert run(definition, {"a": [1]}).output == "caught"


def test_retry_count_in_context(clock):
    fn = Flaky("E")
    seen = []

    def record(params):
        seen.append(params["retry"])
        return fn(params)

    definition = chain(
        (
            "T",
            task(
                [{"ErrorEquals": ["E"], "IntervalSeconds": 1}], Parameters={"retry.$": "$$.State.RetryCount"}
            ),
        )
    )
    result, _ = delays_of(definition, record, clock)
    assert result.output == "ok" and seen == [0, 1]


def test_catch_assign_and_error_output_variables():
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                catch=[
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Next": "H",
                        "ResultPath": None,
                        "Assign": {"lastError.$": "$.Error"},
                    }
                ],
                End=True,
            ),
            "H": {"Type": "Pass", "Parameters": {"err.$": "$lastError", "input.$": "$"}, "End": True},
        },
    }
    assert run(definition, {"in": 1}, functions={FN: Flaky("Boom")}).output == {
        "err": "Boom",
        "input": {"in": 1},
    }
