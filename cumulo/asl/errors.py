"""Error names of the Amazon States Language and the two exception types of this package.

`StatesError` is a *runtime* failure carrying an ASL error name and cause; it is what Retry and
Catch match against. `InvalidDefinition` is a *definition-time* failure, raised by `validate`
with AWS's message format (``Invalid State Machine Definition: 'CODE: message at /path, ...'``).
"""

from __future__ import annotations

ALL = "States.ALL"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
TASK_FAILED = "States.TaskFailed"
PERMISSIONS = "States.Permissions"
RUNTIME = "States.Runtime"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
BRANCH_FAILED = "States.BranchFailed"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"

#: Errors that ``States.ALL`` does not match: they always fail the execution (AWS: "States.ALL
#: ... cannot catch the States.DataLimitExceeded terminal error or Runtime error types").
UNCATCHABLE = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})

#: Error names a Retrier or Catcher may list (anything else starting with ``States.`` is invalid).
KNOWN_STATES_ERRORS = frozenset(
    {
        ALL, TIMEOUT, HEARTBEAT_TIMEOUT, TASK_FAILED, PERMISSIONS, RUNTIME, NO_CHOICE_MATCHED,
        BRANCH_FAILED, INTRINSIC_FAILURE, QUERY_EVALUATION_ERROR, RESULT_PATH_MATCH_FAILURE,
        PARAMETER_PATH_FAILURE, EXCEED_TOLERATED_FAILURE_THRESHOLD, ITEM_READER_FAILED,
        RESULT_WRITER_FAILED, DATA_LIMIT_EXCEEDED, "States.Http.Socket",
    }
)


class StatesError(Exception):
    """A runtime error with an ASL error name (``error``) and a human-readable ``cause``."""

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    def to_output(self) -> dict[str, str]:
        """The Error Output a Catcher passes on: ``{"Error": ..., "Cause": ...}``."""
        out = {"Error": self.error}
        if self.cause is not None:
            out["Cause"] = self.cause
        return out


class EvaluationError(StatesError):
    """A failure evaluating a field of a state (a path, an intrinsic, a JSONata expression).

    The engine prefixes its cause with the state's name and entered-event id, as AWS does:
    ``An error occurred while executing the state 'X' (entered at the event id #2). ...``
    """


class InvalidDefinition(Exception):
    """Raised by `validate` for a definition AWS would reject with ``InvalidDefinition``.

    ``diagnostics`` keeps each finding as ``(code, message, location)`` so that the service
    can also serve ``ValidateStateMachineDefinition``.
    """

    def __init__(self, diagnostics: list[tuple[str, str, str]]) -> None:
        self.diagnostics = diagnostics
        body = ", ".join(f"{code}: {msg} at {loc}" if loc else f"{code}: {msg}"
                         for code, msg, loc in diagnostics)
        self.message = f"Invalid State Machine Definition: '{body}'"
        super().__init__(self.message)
