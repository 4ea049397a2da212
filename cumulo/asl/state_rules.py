"""Definition-time rules of each state type: one builder per type compiles a state's own fields.

The builders run inside a `validation.Validator`, which has already checked which fields the
state may have and checks the fields every state shares (Next/End, paths, Output, Assign).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cumulo.asl.choice import RuleError, compile_rule, parse_timestamp
from cumulo.asl.jsonata_bridge import is_expression
from cumulo.asl.model import (
    JSONATA,
    JSONPATH,
    NULL,
    ChoiceBranch,
    ChoiceState,
    FailState,
    ItemBatcher,
    MapState,
    ParallelState,
    PassState,
    State,
    SucceedState,
    TaskState,
    WaitState,
)
from cumulo.asl.templates import Const, PathValue, TemplateError, compile_dynamic_value

if TYPE_CHECKING:
    from cumulo.asl.validation import Validator


def build_pass(v: Validator, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
    state = PassState(name, "Pass", ql)
    if ql == JSONPATH:
        if "Result" in raw:
            state.result = Const(raw["Result"])
        if "Parameters" in raw:
            state.parameters = v.payload(raw["Parameters"], f"{loc}/Parameters", "Parameters")
        if "ResultPath" in raw:
            state.result_path = v.path_field(raw["ResultPath"], f"{loc}/ResultPath", "ResultPath",
                                             reference=True)
    return state


def build_task(v: Validator, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
    state = TaskState(name, "Task", ql)
    resource = raw.get("Resource")
    if resource is None:
        v.error("These fields are required: [Resource]", loc)
    elif not isinstance(resource, str) or not resource.startswith("arn:"):
        v.error(f"The resource provided {resource} is not recognized. The value is not a valid "
                "resource ARN, or the resource is not available in this region.",
                f"{loc}/Resource", "INVALID_RESOURCE")
    else:
        state.resource = resource
        v.resources.append(resource)
        v.task_token |= resource.endswith(".waitForTaskToken")
    state.parameters = v.arguments(raw, loc, ql)
    if "Credentials" in raw:
        where = f"{loc}/Credentials"
        state.credentials = (v.jsonata_template(raw["Credentials"], "Credentials", where)
                             if ql == JSONATA else v.payload(raw["Credentials"], where, "Credentials"))
    jsonata = ql == JSONATA
    state.timeout_seconds = v.number_or_expression(raw, "TimeoutSeconds", loc, jsonata, minimum=1)
    state.heartbeat_seconds = v.number_or_expression(raw, "HeartbeatSeconds", loc, jsonata, minimum=1)
    t, h = raw.get("TimeoutSeconds"), raw.get("HeartbeatSeconds")
    if isinstance(t, int) and isinstance(h, int) and h >= t:
        v.error("The value for the field 'HeartbeatSeconds' must be smaller than the value for "
                "the field 'TimeoutSeconds'", f"{loc}/HeartbeatSeconds")
    v.error_handling(state, raw, loc)
    return state


def build_choice(v: Validator, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
    state = ChoiceState(name, "Choice", ql)
    choices = raw.get("Choices")
    if not isinstance(choices, list) or not choices:
        v.error("These fields are required: [Choices]" if choices is None else
                "The field 'Choices' must be a non-empty ARRAY", loc)
        choices = []
    for i, rule in enumerate(choices):
        rloc = f"{loc}/Choices[{i}]"
        if not isinstance(rule, dict) or not isinstance(rule.get("Next"), str):
            v.error("These fields are required: [Next]", rloc)
            continue
        branch = ChoiceBranch(rule["Next"])
        if ql == JSONATA:
            for key in rule:
                if key not in ("Condition", "Next", "Comment", "Output", "Assign"):
                    v.error(f"Field '{key}' is not supported", rloc)
            if "Condition" not in rule:
                v.error("These fields are required: [Condition]", rloc)
            else:
                branch.condition = v.jsonata_template(rule["Condition"], f"Choices[{i}]/Condition",
                                                      f"{rloc}/Condition")
            if "Output" in rule:
                branch.output = v.jsonata_template(rule["Output"], f"Choices[{i}]/Output",
                                                   f"{rloc}/Output")
        else:
            try:
                branch.rule = compile_rule(rule, rloc, top_level=True)
            except RuleError as exc:
                v.error(str(exc), exc.location)
        if "Assign" in rule:
            branch.assign = v.assign(rule["Assign"], f"{rloc}/Assign", ql == JSONATA)
        state.choices.append(branch)
    if "Default" in raw:
        if isinstance(raw["Default"], str):
            state.default = raw["Default"]
        else:
            v.error("The value for the field 'Default' must be a STRING", f"{loc}/Default")
    return state


def build_wait(v: Validator, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
    state = WaitState(name, "Wait", ql)
    present = [f for f in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if f in raw]
    if len(present) != 1:
        options = "[Seconds, Timestamp]" if ql == JSONATA else \
            "[Seconds, Timestamp, SecondsPath, TimestampPath]"
        v.error(f"Exactly one of these fields must be provided: {options}", loc)
        return state
    jsonata = ql == JSONATA
    if "Seconds" in raw or "SecondsPath" in raw:
        state.seconds = v.number_or_expression(raw, "Seconds", loc, jsonata, minimum=0)
    elif "TimestampPath" in raw:
        path = v.path_field(raw["TimestampPath"], f"{loc}/TimestampPath", "TimestampPath", True)
        if path not in (None, NULL):
            state.timestamp = PathValue(path, "TimestampPath")  # type: ignore[arg-type]
    else:
        value = raw["Timestamp"]
        if jsonata and is_expression(value):
            state.timestamp = v.jsonata_template(value, "Timestamp", f"{loc}/Timestamp")
        elif parse_timestamp(value) is None:
            v.error("The value for the field 'Timestamp' must be a valid RFC3339 timestamp",
                    f"{loc}/Timestamp")
        else:
            state.timestamp = Const(value)
    return state


def build_succeed(v: Validator, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
    return SucceedState(name, "Succeed", ql)


def build_fail(v: Validator, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
    state = FailState(name, "Fail", ql)
    for field in ("Error", "Cause"):
        path_field = f"{field}Path"
        if field in raw and path_field in raw:
            v.error(f"At most one of these fields may be provided: [{field}, {path_field}]", loc)
            continue
        if path_field in raw:
            try:
                node = compile_dynamic_value(raw[path_field], path_field, f"{loc}/{path_field}")
            except TemplateError as exc:
                v.error(str(exc), exc.location)
                continue
        elif field in raw:
            value = raw[field]
            if ql == JSONATA and is_expression(value):
                node = v.jsonata_template(value, field, f"{loc}/{field}")
            elif not isinstance(value, str):
                v.error(f"The value for the field '{field}' must be a STRING", f"{loc}/{field}")
                continue
            else:
                node = Const(value)
        else:
            continue
        setattr(state, field.lower(), node)
    return state


def build_parallel(v: Validator, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
    state = ParallelState(name, "Parallel", ql)
    branches = raw.get("Branches")
    if not isinstance(branches, list) or not branches:
        v.error("These fields are required: [Branches]" if branches is None else
                "The field 'Branches' must be a non-empty ARRAY", loc)
    else:
        for i, branch in enumerate(branches):
            program = v.program(branch, f"{loc}/Branches[{i}]", ql, False, depth + 1)
            if program is not None:
                state.branches.append(program)
    state.parameters = v.arguments(raw, loc, ql)
    v.error_handling(state, raw, loc)
    return state


def build_map(v: Validator, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
    state = MapState(name, "Map", ql)
    jsonata = ql == JSONATA
    processor_key = next((k for k in ("ItemProcessor", "Iterator") if k in raw), None)
    if processor_key is None or ("ItemProcessor" in raw and "Iterator" in raw):
        v.error("Exactly one of these fields must be provided: [ItemProcessor, Iterator]", loc)
    else:
        proc = raw[processor_key]
        config = proc.get("ProcessorConfig", {}) if isinstance(proc, dict) else {}
        if not isinstance(config, dict):
            v.error("The value for the field 'ProcessorConfig' must be an OBJECT",
                    f"{loc}/{processor_key}/ProcessorConfig")
            config = {}
        for key in config:
            if key not in ("Mode", "ExecutionType"):
                v.error(f"Field '{key}' is not supported", f"{loc}/{processor_key}/ProcessorConfig")
        state.mode = config.get("Mode", "INLINE")
        if state.mode not in ("INLINE", "DISTRIBUTED"):
            v.error("The field 'Mode' should have one of these values: [INLINE, DISTRIBUTED]",
                    f"{loc}/{processor_key}/ProcessorConfig/Mode")
        if state.mode == "DISTRIBUTED":
            v.distributed = True
            state.execution_type = config.get("ExecutionType")
            if state.execution_type not in ("STANDARD", "EXPRESS"):
                v.error("The field 'ExecutionType' should have one of these values: "
                        "[STANDARD, EXPRESS]", f"{loc}/{processor_key}/ProcessorConfig")
        extra = frozenset({"ProcessorConfig"}) if processor_key == "ItemProcessor" else frozenset()
        state.processor = v.program(proc, f"{loc}/{processor_key}", ql, False, depth + 1, extra)
    if state.mode != "DISTRIBUTED":
        for key in ("ItemReader", "ResultWriter", "ItemBatcher", "ToleratedFailureCount",
                    "ToleratedFailurePercentage", "ToleratedFailureCountPath",
                    "ToleratedFailurePercentagePath"):
            if key in raw:
                v.error(f"The field '{key}' is only supported when the ProcessorConfig Mode is "
                        "DISTRIBUTED", f"{loc}/{key}")
    if not jsonata:
        if "ItemsPath" in raw:
            path = v.path_field(raw["ItemsPath"], f"{loc}/ItemsPath", "ItemsPath", reference=True)
            if path not in (None, NULL):
                state.items = PathValue(path, "ItemsPath")  # type: ignore[arg-type]
        if "ItemSelector" in raw and "Parameters" in raw:
            v.error("At most one of these fields may be provided: [ItemSelector, Parameters]", loc)
        for key in ("ItemSelector", "Parameters"):
            if key in raw:
                state.item_selector = v.payload(raw[key], f"{loc}/{key}", key)
    else:
        if "Items" in raw:
            items = raw["Items"]
            if not isinstance(items, list) and not is_expression(items):
                v.error("The value for the field 'Items' must be an ARRAY or a JSONata expression",
                        f"{loc}/Items")
            else:
                state.items = v.jsonata_template(items, "Items", f"{loc}/Items")
        if "ItemSelector" in raw:
            state.item_selector = v.jsonata_template(raw["ItemSelector"], "ItemSelector",
                                                     f"{loc}/ItemSelector")
    state.max_concurrency = v.number_or_expression(raw, "MaxConcurrency", loc, jsonata)
    state.tolerated_failure_count = v.number_or_expression(raw, "ToleratedFailureCount", loc, jsonata)
    state.tolerated_failure_percentage = v.number_or_expression(
        raw, "ToleratedFailurePercentage", loc, jsonata, maximum=100, integer=False)
    if "ItemBatcher" in raw:
        state.item_batcher = _item_batcher(v, raw["ItemBatcher"], f"{loc}/ItemBatcher", jsonata)
    for key in ("ItemReader", "ResultWriter"):
        if key in raw:
            _reader_writer(v, state, key, raw[key], f"{loc}/{key}", jsonata)
    if "Label" in raw:
        label = raw["Label"]
        if not isinstance(label, str) or len(label) > 40:
            v.error("The value for the field 'Label' must be a STRING of at most 40 characters",
                    f"{loc}/Label")
        else:
            state.label = label
    v.error_handling(state, raw, loc)
    return state


def _item_batcher(v: Validator, raw: Any, loc: str, jsonata: bool) -> ItemBatcher | None:
    if not isinstance(raw, dict):
        v.error("The value for the field 'ItemBatcher' must be an OBJECT", loc)
        return None
    for key in raw:
        if key not in ("MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput") and \
                (jsonata or key not in ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath")):
            v.error(f"Field '{key}' is not supported", loc)
    batcher = ItemBatcher(
        v.number_or_expression(raw, "MaxItemsPerBatch", loc, jsonata, minimum=1),
        v.number_or_expression(raw, "MaxInputBytesPerBatch", loc, jsonata, minimum=1,
                               maximum=256 * 1024),
    )
    if batcher.max_items is None and batcher.max_bytes is None:
        v.error("At least one of these fields must be provided: [MaxItemsPerBatch, "
                "MaxInputBytesPerBatch]", loc)
    if "BatchInput" in raw:
        batcher.batch_input = (v.jsonata_template(raw["BatchInput"], "BatchInput", f"{loc}/BatchInput")
                               if jsonata else v.payload(raw["BatchInput"], f"{loc}/BatchInput",
                                                         "BatchInput"))
    return batcher


def _reader_writer(v: Validator, state: MapState, key: str, raw: Any, loc: str, jsonata: bool) -> None:
    if not isinstance(raw, dict):
        v.error(f"The value for the field '{key}' must be an OBJECT", loc)
        return
    config_key = "ReaderConfig" if key == "ItemReader" else "WriterConfig"
    params_key = "Arguments" if jsonata else "Parameters"
    for field in raw:
        if field not in ("Resource", config_key, params_key):
            v.error(f"Field '{field}' is not supported", loc)
    if not isinstance(raw.get("Resource"), str):
        v.error("These fields are required: [Resource]", loc)
    params = None
    if params_key in raw:
        params = (v.jsonata_template(raw[params_key], f"{key}/{params_key}", f"{loc}/{params_key}")
                  if jsonata else v.payload(raw[params_key], f"{loc}/{params_key}", params_key))
    if key == "ItemReader":
        state.item_reader, state.item_reader_parameters = raw, params
    else:
        state.result_writer, state.result_writer_parameters = raw, params


STATE_BUILDERS: dict[str, Callable[[Validator, str, dict[str, Any], str, str, int], State]] = {
    "Pass": build_pass, "Task": build_task, "Choice": build_choice, "Wait": build_wait,
    "Succeed": build_succeed, "Fail": build_fail, "Parallel": build_parallel, "Map": build_map,
}
