"""The schedule runner fires due schedules in time order and follows what ``fire`` returns."""

from __future__ import annotations

import asyncio
import time

from cumulo.schedules.runner import ScheduleRunner


def test_runner_fires_in_order_and_replans():
    async def scenario() -> list[str]:
        fired: list[str] = []
        counts = {"a": 0}

        def fire(key):
            fired.append(key)
            if key == "a":
                counts["a"] += 1
                return time.time() + 0.005 if counts["a"] < 3 else None
            return None

        runner = ScheduleRunner(fire)
        start = time.time()
        runner.plan("b", start + 0.05)
        runner.plan("a", start + 0.001)
        runner.plan("gone", start + 0.002)
        runner.plan("gone", None)  # forgotten before it is due
        runner.plan("moved", start + 0.003)
        runner.plan("moved", start + 0.08)  # only the last plan counts
        await runner.start()
        for _ in range(500):
            if len(fired) >= 5:
                break
            await asyncio.sleep(0.005)
        await runner.stop()
        return fired

    fired = asyncio.run(scenario())
    assert fired == ["a", "a", "a", "b", "moved"]


def test_a_failing_fire_does_not_stop_the_runner():
    async def scenario() -> list[str]:
        fired: list[str] = []

        async def fire(key):
            fired.append(key)
            if key == "bad":
                raise RuntimeError("boom")
            return None

        runner = ScheduleRunner(fire)
        runner.plan("bad", time.time())
        runner.plan("good", time.time() + 0.001)
        await runner.start()
        for _ in range(200):
            if "good" in fired:
                break
            await asyncio.sleep(0.005)
        await runner.stop()
        return fired

    assert asyncio.run(scenario()) == ["bad", "good"]
