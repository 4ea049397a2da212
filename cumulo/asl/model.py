"""The parsed, validated form of a state machine: what `validate` returns and the engine runs.

Every field that is evaluated at run time is compiled once here (paths, intrinsics, JSONata,
Choice rules) into `templates.Node` / `choice.Rule` objects, so running a state does no parsing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cumulo.asl.choice import Rule
from cumulo.asl.paths import Path
from cumulo.asl.templates import Node

JSONPATH = "JSONPath"
JSONATA = "JSONata"


class _Null:
    """The value of a path field explicitly set to ``null`` (InputPath, OutputPath, ResultPath)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL"


NULL = _Null()

#: A path field: None = the default ``$``; NULL = ``null``; otherwise a parsed Path.
PathField = Path | _Null | None


@dataclass(slots=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: float = 1
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter: str = "NONE"  # or "FULL"


@dataclass(slots=True)
class Catcher:
    error_equals: tuple[str, ...]
    next: str
    result_path: PathField = None
    output: Node | None = None
    assign: Node | None = None


@dataclass(eq=False)
class State:
    name: str
    type: str
    query_language: str
    next: str | None = None
    end: bool = False
    input_path: PathField = None
    output_path: PathField = None
    assign: Node | None = None
    output: Node | None = None  # JSONata ``Output``

    @property
    def jsonata(self) -> bool:
        return self.query_language == JSONATA


@dataclass(eq=False)
class PassState(State):
    result: Node | None = None  # Result (constant) or Parameters
    parameters: Node | None = None
    result_path: PathField = None


@dataclass(eq=False)
class ErrorHandlingState(State):
    result_selector: Node | None = None
    result_path: PathField = None
    retry: list[Retrier] = field(default_factory=list)
    catch: list[Catcher] = field(default_factory=list)


@dataclass(eq=False)
class TaskState(ErrorHandlingState):
    resource: str = ""
    parameters: Node | None = None  # Parameters (JSONPath) or Arguments (JSONata)
    timeout_seconds: Node | None = None
    heartbeat_seconds: Node | None = None
    credentials: Node | None = None


@dataclass(slots=True)
class ChoiceBranch:
    next: str
    rule: Rule | None = None  # JSONPath
    condition: Node | None = None  # JSONata
    assign: Node | None = None
    output: Node | None = None


@dataclass(eq=False)
class ChoiceState(State):
    choices: list[ChoiceBranch] = field(default_factory=list)
    default: str | None = None


@dataclass(eq=False)
class WaitState(State):
    seconds: Node | None = None
    timestamp: Node | None = None


@dataclass(eq=False)
class SucceedState(State):
    pass


@dataclass(eq=False)
class FailState(State):
    error: Node | None = None
    cause: Node | None = None


@dataclass(eq=False)
class ParallelState(ErrorHandlingState):
    branches: list[Program] = field(default_factory=list)
    parameters: Node | None = None


@dataclass(slots=True)
class ItemBatcher:
    max_items: Node | None = None
    max_bytes: Node | None = None
    batch_input: Node | None = None


@dataclass(eq=False)
class MapState(ErrorHandlingState):
    processor: Program | None = None
    mode: str = "INLINE"  # or "DISTRIBUTED"
    execution_type: str | None = None  # STANDARD / EXPRESS for distributed maps
    items: Node | None = None  # ItemsPath (as a path node) or Items
    item_selector: Node | None = None  # ItemSelector or legacy Parameters
    item_batcher: ItemBatcher | None = None
    item_reader: dict[str, Any] | None = None
    item_reader_parameters: Node | None = None
    result_writer: dict[str, Any] | None = None
    result_writer_parameters: Node | None = None
    max_concurrency: Node | None = None
    tolerated_failure_count: Node | None = None
    tolerated_failure_percentage: Node | None = None
    label: str | None = None


@dataclass(eq=False)
class Program:
    """A StartAt + States block: the machine itself, a Parallel branch or a Map processor."""

    start_at: str
    states: dict[str, State]
    query_language: str = JSONPATH
    timeout_seconds: int | None = None
    comment: str | None = None


@dataclass(eq=False)
class ParsedStateMachine:
    """A validated definition: the program plus facts the service needs."""

    program: Program
    definition: dict[str, Any]
    #: every Task ``Resource`` in the definition (for IAM checks and routing in the service)
    resources: list[str] = field(default_factory=list)
    has_distributed_map: bool = False
    uses_task_token: bool = False

    @property
    def query_language(self) -> str:
        return self.program.query_language

    @property
    def timeout_seconds(self) -> int | None:
        return self.program.timeout_seconds
