"""Where throttled asynchronous events wait for a concurrency slot, and who is woken when one frees up.

A throttled event waits in the line of the concurrency it ran out of (``concurrency.limit_scope``):
its function's reservation, or the account's unreserved pool. When an invocation releases a slot
of that scope, the oldest waiting event is handed back to run, so a backlog drains at exactly the
concurrency it is allowed and no worker spins. Within the account's pool, functions take turns
(round robin), so one function's backlog cannot starve another's events.

A line's head is also retried every ``RECHECK_S`` seconds while the line is not empty, as a probe:
that notices what no release announces (reserved concurrency raised, a reservation of 0 removed,
memory freed) at the cost of at most one extra throttle per line and interval. A probe that ran
wakes the next entry as a probe too, so after a raise the running count climbs until it meets
the new limit.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Generic, TypeVar

RECHECK_S = 1.0

Entry = TypeVar("Entry")


class WaitingLines(Generic[Entry]):
    """FIFO lines of waiting entries per scope, each split per function for round robin."""

    def __init__(self, resume: Callable[[Entry, bool], None]) -> None:
        self._resume = resume  # (entry, probe): run it; a probe was woken by no release
        # scope -> function key -> entries, oldest first; the first function is served next
        self._lines: dict[str, OrderedDict[str, deque[Entry]]] = {}
        self._where: dict[int, tuple[str, str]] = {}  # id(entry) -> (scope, function key)
        self._rechecks: dict[str, asyncio.TimerHandle] = {}

    def entries(self) -> list[Entry]:
        return [entry for line in self._lines.values() for queue in line.values() for entry in queue]

    def park(self, scope: str, function_key: str, entry: Entry, first: bool = False) -> None:
        """Make ``entry`` wait in ``scope``; ``first`` puts it ahead of the others (it was woken and lost)."""
        line = self._lines.setdefault(scope, OrderedDict())
        queue = line.setdefault(function_key, deque())
        if first:
            queue.appendleft(entry)
        else:
            queue.append(entry)
        self._where[id(entry)] = (scope, function_key)
        if scope not in self._rechecks:
            self._rechecks[scope] = asyncio.get_running_loop().call_later(RECHECK_S, self._recheck, scope)

    def remove(self, entry: Entry) -> None:
        """Take an entry out of its line without resuming it (it expired)."""
        scope, function_key = self._where.pop(id(entry))
        line = self._lines[scope]
        line[function_key].remove(entry)
        if not line[function_key]:
            del line[function_key]
        self._forget_if_empty(scope)

    def freed(self, scope: str, probe: bool = False) -> None:
        """A slot of ``scope`` was released (or may be free: ``probe``): resume its next waiting entry, if any."""
        line = self._lines.get(scope)
        if not line:
            return
        function_key, queue = next(iter(line.items()))
        entry = queue.popleft()
        del self._where[id(entry)]
        if queue:
            line.move_to_end(function_key)  # the next function in the scope goes first next time
        else:
            del line[function_key]
        self._forget_if_empty(scope)
        self._resume(entry, probe)

    def clear(self) -> list[Entry]:
        """Empty every line (stopping); returns what was waiting."""
        waiting = self.entries()
        for handle in self._rechecks.values():
            handle.cancel()
        self._lines.clear()
        self._where.clear()
        self._rechecks.clear()
        return waiting

    def _recheck(self, scope: str) -> None:
        del self._rechecks[scope]
        self.freed(scope, probe=True)
        if self._lines.get(scope) and scope not in self._rechecks:
            self._rechecks[scope] = asyncio.get_running_loop().call_later(RECHECK_S, self._recheck, scope)

    def _forget_if_empty(self, scope: str) -> None:
        if not self._lines[scope]:
            del self._lines[scope]
            handle = self._rechecks.pop(scope, None)
            if handle is not None:
                handle.cancel()
