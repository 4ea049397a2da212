"""Amazon States Language interpreter: validation, JSONPath and JSONata, and the execution engine.

See README.md in this folder for the execution and durability model and the collaborator
interfaces.
"""

from cumulo.asl.callbacks import UnknownTaskToken
from cumulo.asl.clock import Clock, ManualClock, SystemClock, VirtualClock
from cumulo.asl.engine import ABORTED, FAILED, SUCCEEDED, TIMED_OUT, Execution, ExecutionInfo, ExecutionResult
from cumulo.asl.errors import InvalidDefinition, StatesError
from cumulo.asl.history import HistoryEvent, HistorySink, LogRecord, Memo, MemoryHistory, record_from_json
from cumulo.asl.invoker import Resource, TaskFailure, TaskInvoker, TaskRequest, execution_of_token
from cumulo.asl.items import ItemReader, ItemReaderRequest, ResultWriter, ResultWriterRequest
from cumulo.asl.model import ParsedStateMachine
from cumulo.asl.replay import NotRedrivable
from cumulo.asl.validation import validate

__all__ = [
    "ABORTED", "FAILED", "SUCCEEDED", "TIMED_OUT", "Clock", "Execution", "ExecutionInfo",
    "ExecutionResult", "HistoryEvent", "HistorySink", "InvalidDefinition", "ItemReader",
    "ItemReaderRequest", "LogRecord", "ManualClock", "Memo", "MemoryHistory", "NotRedrivable",
    "ParsedStateMachine", "Resource", "ResultWriter", "ResultWriterRequest", "StatesError",
    "SystemClock", "TaskFailure", "TaskInvoker", "TaskRequest", "UnknownTaskToken", "VirtualClock",
    "execution_of_token", "record_from_json", "validate",
]
