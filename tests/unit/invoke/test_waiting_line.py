"""Who is resumed when a concurrency slot frees up: oldest first, functions of a pool in turn."""

from __future__ import annotations

import asyncio

from cumulo.invoke.waiting_line import WaitingLines


def resumed_order(script) -> list[tuple[str, bool]]:
    resumed: list[tuple[str, bool]] = []

    async def main() -> None:
        lines: WaitingLines[str] = WaitingLines(lambda entry, probe: resumed.append((entry, probe)))
        script(lines)
        lines.clear()
    asyncio.run(main())
    return resumed


def test_oldest_first_and_a_woken_entry_that_lost_keeps_its_place():
    def script(lines: WaitingLines[str]) -> None:
        for entry in ("a1", "a2", "a3"):
            lines.park("function:a", "a", entry)
        lines.freed("function:a")
        lines.park("function:a", "a", "a1", first=True)  # woken, throttled again
        lines.freed("function:a")
        lines.freed("function:a")
        lines.freed("function:other")  # nobody waits there
    assert resumed_order(script) == [("a1", False), ("a1", False), ("a2", False)]


def test_functions_sharing_a_pool_take_turns():
    def script(lines: WaitingLines[str]) -> None:
        for entry in ("a1", "a2", "a3"):
            lines.park("account:1", "a", entry)
        lines.park("account:1", "b", "b1")
        for _ in range(4):
            lines.freed("account:1")
    assert [entry for entry, _ in resumed_order(script)] == ["a1", "b1", "a2", "a3"]


def test_removed_entries_are_not_resumed():
    def script(lines: WaitingLines[str]) -> None:
        lines.park("function:a", "a", "a1")
        lines.park("function:a", "a", "a2")
        lines.remove("a1")
        lines.freed("function:a")
        lines.freed("function:a")
    assert resumed_order(script) == [("a2", False)]


def test_a_waiting_line_is_probed_while_no_slot_is_released(monkeypatch):
    monkeypatch.setattr("cumulo.invoke.waiting_line.RECHECK_S", 0.01)
    resumed: list[tuple[str, bool]] = []

    async def main() -> None:
        lines: WaitingLines[str] = WaitingLines(lambda entry, probe: resumed.append((entry, probe)))
        lines.park("function:a", "a", "a1")
        lines.park("function:a", "a", "a2")
        while len(resumed) < 2:
            await asyncio.sleep(0.005)
        lines.clear()
    asyncio.run(asyncio.wait_for(main(), 5))
    assert resumed == [("a1", True), ("a2", True)]
