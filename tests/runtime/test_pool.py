"""Environment lifecycle and the pool: budget, reaping, lifetime, init timeout, retire, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from cumulo.runtime import CapacityError, InvokeRequest

from .conftest import Runtime, payload, wait_for


def test_memory_budget_evicts_idle_then_refuses(tmp_path):
    runtime = Runtime(tmp_path, "auto", memory_budget_mb=256)
    try:
        sleeper = "import time\ndef handler(e, c):\n    time.sleep(e.get('s', 0))\n"
        slow = runtime.function({"app.py": sleeper},
                                memory_mb=256)
        small = runtime.function({"app.py": "def handler(e, c):\n    return 1\n"}, memory_mb=128)
        runtime.invoke(slow, {})  # idle now, holding the whole budget
        assert payload(runtime.invoke(small, {})) == 1  # the idle one was evicted to make room
        assert runtime.call(lambda: runtime.pool.stats())["memory_in_use_mb"] == 128

        async def busy_then_more():
            import asyncio

            from cumulo.runtime import InvokeRequest
            first = runtime.pool.invoke(small, InvokeRequest("a", b"{}", small.function_arn))
            task = asyncio.ensure_future(first)
            await asyncio.sleep(0)
            try:
                await runtime.pool.invoke(slow, InvokeRequest("b", b'{"s": 0}', slow.function_arn))
            finally:
                await task
        with pytest.raises(CapacityError):
            runtime.run(busy_then_more())
    finally:
        runtime.close()

def test_idle_environments_are_reaped(tmp_path):
    runtime = Runtime(tmp_path, "auto", keep_warm_s=0.2)
    try:
        spec = runtime.function({"app.py": "def handler(e, c):\n    return 1\n"})
        runtime.invoke(spec, {})
        wait_for(lambda: runtime.call(lambda: runtime.pool.stats())["environments"] == 0)
        assert runtime.invoke(spec, {}).cold_start
    finally:
        runtime.close()

def test_init_timeout_then_retried_within_invoke(tmp_path):
    runtime = Runtime(tmp_path, "auto", init_timeout_s=0.3)
    try:
        spec = runtime.function({"app.py": """
            import time
            time.sleep(0.5)
            def handler(e, c):
                return "late but fine"
        """}, timeout_s=3)
        result = runtime.invoke(spec, {})
        assert payload(result) == "late but fine"
        msgs = runtime.messages()
        assert any("\tPhase: init\tStatus: timeout\n" in m for m in msgs)
        assert result.duration_ms >= 500  # the re-run init counts against the invoke
    finally:
        runtime.close()

def test_max_lifetime(tmp_path):
    runtime = Runtime(tmp_path, "auto", max_lifetime_s=0.3)
    try:
        spec = runtime.function({"app.py": "def handler(e, c):\n    return 1\n"})
        assert runtime.invoke(spec, {}).cold_start
        wait_for(lambda: runtime.call(lambda: runtime.pool.stats())["environments"] == 0)
    finally:
        runtime.close()

def test_retire_lets_the_in_flight_invoke_finish(rt):
    spec = rt.function({"app.py": """
        import time
        def handler(event, context):
            time.sleep(event.get("sleep", 0))
            return "finished"
    """})

    async def scenario():
        slow = asyncio.ensure_future(rt.pool.invoke(spec, InvokeRequest("slow", b'{"sleep": 0.3}',
                                                                        spec.function_arn)))
        while not any(env.spec.key == spec.key for env in rt.pool._all):
            await asyncio.sleep(0.01)
        retired = await rt.pool.retire(spec.key)
        return retired, await slow
    retired, result = rt.run(scenario())
    assert retired == 1 and payload(result) == "finished"
    assert rt.invoke(spec, {}).cold_start


def test_cancelled_invoke_kills_its_environment(rt):
    spec = rt.function({"app.py": """
        import time
        def handler(event, context):
            time.sleep(event.get("sleep", 0))
            return "done"
    """})

    async def scenario():
        task = asyncio.ensure_future(rt.pool.invoke(spec, InvokeRequest("c1", b'{"sleep": 5}',
                                                                        spec.function_arn)))
        def invoking():  # the event has been sent to the environment
            return any(env.spec.key == spec.key and any(m.startswith("START") for m in env.captured or ())
                       for env in rt.pool._all)
        while not invoking():
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    rt.run(scenario())
    result = rt.invoke(spec, {})
    assert payload(result) == "done" and result.cold_start


@pytest.mark.parametrize("isolation", ["auto", "off"])
def test_burst_of_cold_starts_all_succeed_quickly(tmp_path, isolation):
    """8 concurrent first invokes (more than the zygote's stock of blanks) all succeed, none is
    timed out by a lost INIT_DONE frame, and the burst costs about 8 cold starts over the cores."""
    runtime = Runtime(tmp_path, isolation)
    try:
        code = {"app.py": "def handler(e, c):\n    return 'ok'\n"}
        runtime.invoke(runtime.function(code), {})  # zygote started
        for _ in range(3):
            spec = runtime.function(code, timeout_s=3)
            results = runtime.invoke_many(spec, 8)
            assert [payload(r) for r in results] == ["ok"] * 8, [r.payload for r in results]
            assert all(r.cold_start and r.error_type is None for r in results)
            # Init Duration is the environment's INIT, not the wait for the zygote
            assert all(r.init_duration_ms < 3000 for r in results)
    finally:
        runtime.close()


def test_timeout_of_init_retried_in_invoke_counts_from_the_retry(tmp_path):
    """A failed INIT phase is not charged to the function's timeout of the retry."""
    runtime = Runtime(tmp_path, "auto", init_timeout_s=0.4)
    try:
        spec = runtime.function({"app.py": """
            import time
            time.sleep(0.6)
            def handler(e, c):
                return "ok"
        """}, timeout_s=1)
        result = runtime.invoke(spec, {})  # 0.4 s lost to the first INIT; the retry has the full 1 s
        assert payload(result) == "ok"
        assert 600 <= result.duration_ms < 1000
    finally:
        runtime.close()


def test_frames_that_arrive_before_the_wait_are_kept():
    """The agent may report INIT_DONE before the pool waits for it (a busy event loop)."""
    from pathlib import Path

    from cumulo.runtime import channel
    from cumulo.runtime.environment import Environment
    from cumulo.runtime.spec import EnvironmentSpec

    spec = EnvironmentSpec(key="k", function_name="f", function_arn="arn", runtime="python3.11",
                           handler="app.handler", code_dir=Path("/nonexistent"))

    async def scenario():
        env = Environment("e1", spec, None, Path("/nonexistent"), None)
        env._on_frame(channel.INIT_DONE, {}, b"")
        return await env.wait_frame(0.01)
    assert asyncio.run(scenario())[0] == channel.INIT_DONE
