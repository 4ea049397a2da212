"""Where a state's fields are evaluated: the `Frame` of a sequence of states and the `Visit` of one state.

A `Visit` is the `templates.Env` of one entry into one state: it builds the context object
(``$$``), reads variables from its frame, and draws random values and UUIDs through the
execution's log so that a replay draws the same ones. It also checks the evaluated values of the
numeric fields that are only known at run time.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cumulo.asl import errors
from cumulo.asl.model import State
from cumulo.asl.paths import to_json
from cumulo.asl.templates import Node
from cumulo.asl.variables import Variables

if TYPE_CHECKING:
    from cumulo.asl.engine import Execution


def iso_timestamp(ts: float) -> str:
    """Epoch seconds as the context object writes them: ISO 8601, milliseconds, ``Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Frame:
    """One sequence of states: the top level, a Parallel branch or a Map iteration."""

    __slots__ = ("child", "key", "last_id", "variables", "visits")

    def __init__(self, key: str, variables: Variables, last_id: int, child: str | None = None) -> None:
        self.key = key
        self.variables = variables
        self.last_id = last_id
        self.visits: dict[str, int] = {}
        self.child = child


class Visit:
    """One entry into one state: the `templates.Env` its fields are evaluated in."""

    __slots__ = ("_context", "_draws", "entered_id", "entered_time", "execution", "frame", "key",
                 "map_item", "retry_count", "state", "task_token")

    def __init__(self, execution: Execution, frame: Frame, state: State, key: str) -> None:
        self.execution = execution
        self.frame = frame
        self.state = state
        self.key = key
        self.entered_id = 0
        self.entered_time = 0.0
        self.retry_count = 0
        self.task_token: str | None = None
        self.map_item: tuple[int, Any] | None = None
        self._context: dict[str, Any] | None = None
        self._draws = 0

    # -- templates.Env ------------------------------------------------------------------------

    @property
    def entropy(self) -> Visit:
        return self

    def context(self) -> dict[str, Any]:
        if self._context is None:
            ex = self.execution
            ctx: dict[str, Any] = {
                "Execution": ex.execution_context,
                "State": {"EnteredTime": iso_timestamp(self.entered_time), "Name": self.state.name,
                          "RetryCount": self.retry_count},
                "StateMachine": {"Id": ex.info.state_machine_arn, "Name": ex.info.state_machine_name},
            }
            if self.task_token is not None:
                ctx["Task"] = {"Token": self.task_token}
            if self.map_item is not None:
                ctx["Map"] = {"Item": {"Index": self.map_item[0], "Value": self.map_item[1]}}
            self._context = ctx
        return self._context

    def variable(self, name: str) -> Any:
        return self.frame.variables.get(name)

    def jsonata_bindings(self, states: dict[str, Any]) -> dict[str, Any]:
        from jsonata.utils import Utils

        bindings = {k: (Utils.NULL_VALUE if v is None else v)
                    for k, v in self.frame.variables.visible().items()}
        bindings["states"] = {**states, "context": self.context()}
        return bindings

    def now_ms(self) -> int:
        return int(self.entered_time * 1000)

    # -- intrinsics.Entropy: recorded, so that a replay draws the same values --------------------

    def uuid(self) -> str:
        return self._draw(lambda: str(uuid.uuid4()))

    def random_int(self, start: int, end: int) -> int:
        return self._draw(lambda: random.randrange(start, end))

    def _draw(self, make: Callable[[], Any]) -> Any:
        self._draws += 1
        return self.execution.memo(f"{self.key}:n{self._draws}", make)

    # -- changes during the visit -------------------------------------------------------------

    def with_item(self, key: str, index: int, value: Any) -> Visit:
        """This visit as seen from a Map item's ItemSelector (``$$.Map.Item`` set)."""
        clone = Visit(self.execution, self.frame, self.state, key)
        clone.entered_id, clone.entered_time = self.entered_id, self.entered_time
        clone.retry_count = self.retry_count
        clone.map_item = (index, value)
        return clone

    def retried(self) -> None:
        self.retry_count += 1
        self._context = None

    def set_task_token(self, token: str) -> None:
        """``$$.Task.Token`` from now on."""
        self.task_token = token
        self._context = None

    # -- run-time checks of evaluated fields ----------------------------------------------------

    def evaluation_error(self, cause: str) -> errors.EvaluationError:
        """An error in evaluating one of this state's fields, named as its query language names it."""
        return errors.EvaluationError(
            errors.QUERY_EVALUATION_ERROR if self.state.jsonata else errors.RUNTIME, cause)

    def count(self, node: Node | None, data: Any, raw: Any, name: str, minimum: int) -> int | None:
        """The integer value of field ``name`` (None if absent); at least ``minimum`` (0 or 1)."""
        if node is None:
            return None
        value = node.render(data, self, {"input": raw})
        if not is_int(value) or value < minimum:
            kind = "a positive" if minimum else "a non-negative"
            raise self.evaluation_error(f"The value of {name} must be {kind} integer, got {to_json(value)}")
        return value
