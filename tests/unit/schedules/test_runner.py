"""The schedule runner fires due schedules in time order and follows what ``fire`` returns."""

from __future__ import annotations

import asyncio

from cumulo.schedules import ScheduleClock
from cumulo.schedules.runner import ScheduleRunner


def test_runner_fires_in_order_and_replans():
    async def scenario() -> list[str]:
        clock = ScheduleClock(1000)  # a virtual second every millisecond
        fired: list[str] = []
        counts = {"a": 0}

        def fire(key):
            fired.append(key)
            if key == "a":
                counts["a"] += 1
                return clock.now() + 5 if counts["a"] < 3 else None
            return None

        runner = ScheduleRunner(clock, fire)
        start = clock.now()
        runner.plan("b", start + 20)
        runner.plan("a", start + 1)
        runner.plan("gone", start + 2)
        runner.plan("gone", None)  # forgotten before it is due
        runner.plan("moved", start + 3)
        runner.plan("moved", start + 30)  # only the last plan counts
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
        clock = ScheduleClock(1000)
        fired: list[str] = []

        async def fire(key):
            fired.append(key)
            if key == "bad":
                raise RuntimeError("boom")
            return None

        runner = ScheduleRunner(clock, fire)
        runner.plan("bad", clock.now())
        runner.plan("good", clock.now() + 1)
        await runner.start()
        for _ in range(200):
            if "good" in fired:
                break
            await asyncio.sleep(0.005)
        await runner.stop()
        return fired

    assert asyncio.run(scenario()) == ["bad", "good"]
