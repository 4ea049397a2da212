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
