"""Definition-time validation: JSON text in, `ParsedStateMachine` out, or `InvalidDefinition`.

Findings are collected (not raised one by one) and reported the way AWS reports them:
``Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Field 'X' is not supported at
/States/A, MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next'``. Codes are
AWS's: INVALID_JSON_DESCRIPTION, MISSING_DESCRIPTION, SCHEMA_VALIDATION_FAILED, INVALID_RESOURCE,
MISSING_END_STATE, DUPLICATE_STATE_NAME, INVALID_STATE_NAME, MISSING_TRANSITION_TARGET,
UNREACHABLE_STATE, TOO_DEEPLY_NESTED.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cumulo.asl import errors
from cumulo.asl.choice import RuleError, compile_rule, parse_timestamp
from cumulo.asl.jsonata_bridge import is_expression
from cumulo.asl.model import (
    JSONATA,
    JSONPATH,
    NULL,
    Catcher,
    ChoiceBranch,
    ChoiceState,
    FailState,
    ItemBatcher,
    MapState,
    ParallelState,
    ParsedStateMachine,
    PassState,
    PathField,
    Program,
    Retrier,
    State,
    SucceedState,
    TaskState,
    WaitState,
)
from cumulo.asl.paths import parse_path, parse_reference_path
from cumulo.asl.templates import (
    Const,
    Node,
    PathValue,
    TemplateError,
    compile_dynamic_value,
    compile_jsonata,
    compile_payload,
)

STATE_TYPES = ["Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map"]
MAX_STATE_NAME = 80
MAX_SECONDS = 99_999_999
MAX_NESTING = 40
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_COMMON = {"Type", "Comment", "QueryLanguage"}
_NEXT_END = {"Next", "End"}
_IO = {"InputPath", "OutputPath"}
_ERRORS = {"Retry", "Catch"}
_MAP_SHARED = {"ItemProcessor", "Iterator", "ItemReader", "ItemSelector", "ItemBatcher", "ResultWriter",
               "MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage", "Label"}
_FIELDS: dict[str, dict[str, set[str]]] = {
    JSONPATH: {
        "Pass": _IO | _NEXT_END | {"Parameters", "ResultPath", "Result", "Assign"},
        "Task": _IO | _NEXT_END | _ERRORS | {
            "Resource", "Parameters", "ResultSelector", "ResultPath", "TimeoutSeconds",
            "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials", "Assign"},
        "Choice": _IO | {"Choices", "Default", "Assign"},
        "Wait": _IO | _NEXT_END | {"Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Assign"},
        "Succeed": set(_IO),
        "Fail": {"Error", "Cause", "ErrorPath", "CausePath"},
        "Parallel": _IO | _NEXT_END | _ERRORS | {"Branches", "Parameters", "ResultSelector", "ResultPath",
                                                  "Assign"},
        "Map": _IO | _NEXT_END | _ERRORS | _MAP_SHARED | {
            "ItemsPath", "Parameters", "ResultSelector", "ResultPath", "MaxConcurrencyPath",
            "ToleratedFailureCountPath", "ToleratedFailurePercentagePath", "Assign"},
    },
    JSONATA: {
        "Pass": _NEXT_END | {"Output", "Assign"},
        "Task": _NEXT_END | _ERRORS | {"Resource", "Arguments", "Output", "Assign", "TimeoutSeconds",
                                       "HeartbeatSeconds", "Credentials"},
        "Choice": {"Choices", "Default", "Output", "Assign"},
        "Wait": _NEXT_END | {"Seconds", "Timestamp", "Output", "Assign"},
        "Succeed": {"Output"},
        "Fail": {"Error", "Cause"},
        "Parallel": _NEXT_END | _ERRORS | {"Branches", "Arguments", "Output", "Assign"},
        "Map": _NEXT_END | _ERRORS | (_MAP_SHARED - {"Iterator"}) | {"Items", "Output", "Assign"},
    },
}


class _Duplicates(dict):  # type: ignore[type-arg]
    """Marks JSON objects that had a repeated key (``json`` keeps only the last)."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = _Duplicates()
    seen: list[str] = []
    for key, value in pairs:
        if key in out:
            seen.append(key)
        out[key] = value
    out.duplicates = seen
    return out


def validate(definition: str | dict[str, Any]) -> ParsedStateMachine:
    """Validate an ASL definition (JSON text, or an already decoded object) and compile it."""
    if isinstance(definition, str):
        if not definition.strip():
            raise errors.InvalidDefinition([("MISSING_DESCRIPTION", "The definition is empty", "")])
        try:
            document = json.loads(definition, object_pairs_hook=_pairs)
        except ValueError as exc:
            raise errors.InvalidDefinition([("INVALID_JSON_DESCRIPTION", str(exc), "")]) from None
    else:
        document = definition
    validator = _Validator()
    program = validator.program(document, "", JSONPATH, top_level=True, depth=0)
    if validator.diagnostics or program is None:
        raise errors.InvalidDefinition(validator.diagnostics)
    return ParsedStateMachine(program, document, validator.resources, validator.distributed,
                              validator.task_token)


def validate_state(name: str, state: dict[str, Any], query_language: str = JSONPATH) -> State:
    """Validate one state on its own (for TestState): transitions are not checked."""
    validator = _Validator()
    validator.check_targets = False
    compiled = validator.state(name, state, f"/States/{name}", query_language, 0)
    if validator.diagnostics or compiled is None:
        raise errors.InvalidDefinition(validator.diagnostics)
    return compiled


class _Validator:
    def __init__(self) -> None:
        self.diagnostics: list[tuple[str, str, str]] = []
        self.names: dict[str, str] = {}
        self.resources: list[str] = []
        self.distributed = False
        self.task_token = False
        self.check_targets = True

    def error(self, message: str, location: str, code: str = "SCHEMA_VALIDATION_FAILED") -> None:
        self.diagnostics.append((code, message, location or "/"))

    # -- programs -------------------------------------------------------------------------

    def program(self, doc: Any, loc: str, inherited_ql: str, top_level: bool, depth: int,
                extra_fields: frozenset[str] = frozenset()) -> Program | None:
        if depth > MAX_NESTING:
            self.error("The states are too deeply nested", loc, "TOO_DEEPLY_NESTED")
            return None
        if not isinstance(doc, dict):
            self.error("The value must be an OBJECT", loc)
            return None
        allowed = {"StartAt", "States", "Comment", "QueryLanguage"} | extra_fields
        if top_level:
            allowed |= {"Version", "TimeoutSeconds"}
        for key in doc:
            if key not in allowed:
                self.error(f"Field '{key}' is not supported", loc)
        missing = [f for f in ("StartAt", "States") if f not in doc]
        if missing:
            self.error(f"These fields are required: [{', '.join(missing)}]", loc)
            return None
        ql = self.query_language(doc, loc, inherited_ql, top_level)
        timeout = None
        if "TimeoutSeconds" in doc:
            timeout = self.positive_int(doc["TimeoutSeconds"], f"{loc}/TimeoutSeconds", "TimeoutSeconds")
        states_doc = doc["States"]
        if not isinstance(states_doc, dict) or not states_doc:
            self.error("The field 'States' should be non-empty", f"{loc}/States")
            return None
        for dup in getattr(states_doc, "duplicates", []):
            self.error(f"Duplicate State name: {dup}", f"{loc}/States/{dup}", "DUPLICATE_STATE_NAME")
        start_at = doc["StartAt"]
        if not isinstance(start_at, str):
            self.error("The value for the field 'StartAt' must be a STRING", f"{loc}/StartAt")
            return None
        states: dict[str, State] = {}
        raw_states: dict[str, dict[str, Any]] = {}
        for name, raw in states_doc.items():
            sloc = f"{loc}/States/{name}"
            if name in self.names:
                self.error(f"Duplicate State name: {name}", sloc, "DUPLICATE_STATE_NAME")
            self.names[name] = sloc
            if not name or len(name) > MAX_STATE_NAME:
                self.error(f"State name '{name}' must be between 1 and {MAX_STATE_NAME} characters long",
                           sloc, "INVALID_STATE_NAME")
            compiled = self.state(name, raw, sloc, ql, depth)
            if compiled is not None:
                states[name] = compiled
                raw_states[name] = raw
        if start_at not in states_doc:
            self.error(f"Missing 'Next' target: {start_at}", f"{loc}/StartAt", "MISSING_TRANSITION_TARGET")
        self.transitions(states, states_doc, start_at, loc)
        return Program(start_at, states, ql, timeout, doc.get("Comment"))

    def query_language(self, doc: dict[str, Any], loc: str, inherited: str, top_level: bool) -> str:
        ql = doc.get("QueryLanguage", inherited)
        if ql not in (JSONPATH, JSONATA):
            self.error("The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]",
                       f"{loc}/QueryLanguage")
            return inherited
        if not top_level and inherited == JSONATA and ql == JSONPATH:
            self.error("The QueryLanguage JSONPath cannot be used in a state machine whose "
                       "QueryLanguage is JSONata", f"{loc}/QueryLanguage")
        return ql

    def transitions(self, states: dict[str, State], raw: dict[str, Any], start_at: str, loc: str) -> None:
        if not self.check_targets:
            return
        edges: dict[str, list[str]] = {}
        for name, state in states.items():
            targets: list[tuple[str, str]] = []
            if state.next is not None:
                targets.append((state.next, "Next"))
            if isinstance(state, ChoiceState):
                targets += [(c.next, f"Choices[{i}]/Next") for i, c in enumerate(state.choices)]
                if state.default is not None:
                    targets.append((state.default, "Default"))
            for i, catcher in enumerate(getattr(state, "catch", [])):
                targets.append((catcher.next, f"Catch[{i}]/Next"))
            for target, where in targets:
                if target not in raw:
                    self.error(f"Missing 'Next' target: {target}", f"{loc}/States/{name}/{where}",
                               "MISSING_TRANSITION_TARGET")
            edges[name] = [t for t, _ in targets]
        if start_at not in states:
            return
        seen, todo = {start_at}, [start_at]
        while todo:
            for target in edges.get(todo.pop(), []):
                if target in states and target not in seen:
                    seen.add(target)
                    todo.append(target)
        for name in states:
            if name not in seen:
                self.error(f"State '{name}' is not reachable", f"{loc}/States/{name}", "UNREACHABLE_STATE")
        if not any(s.end or s.type in ("Succeed", "Fail") for s in states.values()):
            self.error("No terminal state found in the workflow", loc or "/", "MISSING_END_STATE")

    # -- states ---------------------------------------------------------------------------

    def state(self, name: str, raw: Any, loc: str, inherited_ql: str, depth: int) -> State | None:
        if not isinstance(raw, dict):
            self.error("The value must be an OBJECT", loc)
            return None
        stype = raw.get("Type")
        if stype is None:
            self.error("These fields are required: [Type]", loc)
            return None
        if stype not in STATE_TYPES:
            self.error(f"The field 'Type' should have one of these values: [{', '.join(STATE_TYPES)}]",
                       f"{loc}/Type")
            return None
        ql = self.query_language(raw, loc, inherited_ql, top_level=False)
        allowed = _COMMON | _FIELDS[ql][stype]
        other = JSONPATH if ql == JSONATA else JSONATA
        before = len(self.diagnostics)
        for key in raw:
            if key in allowed:
                continue
            if key in _FIELDS[other][stype]:
                self.error(f"The field '{key}' is not supported when QueryLanguage is {ql}", f"{loc}/{key}")
            else:
                self.error(f"Field '{key}' is not supported", loc)
        builder = getattr(self, f"state_{stype.lower()}")
        state: State = builder(name, raw, loc, ql, depth)
        self.common(state, raw, loc)
        return state if len(self.diagnostics) == before else None

    def common(self, state: State, raw: dict[str, Any], loc: str) -> None:
        if state.type not in ("Choice", "Succeed", "Fail"):  # those three never take Next/End
            has_next, end = "Next" in raw, raw.get("End")
            if "End" in raw and not isinstance(end, bool):
                self.error("The value for the field 'End' must be a BOOLEAN", f"{loc}/End")
            if has_next and end:
                self.error("Exactly one of these fields must be provided: [Next, End]", loc)
            elif not has_next and end is not True:
                self.error("These fields are required: [Next]" if "End" in raw else
                           "Exactly one of these fields must be provided: [Next, End]", loc)
            if has_next:
                if isinstance(raw["Next"], str):
                    state.next = raw["Next"]
                else:
                    self.error("The value for the field 'Next' must be a STRING", f"{loc}/Next")
            state.end = end is True
        if not state.jsonata:
            if "InputPath" in raw:
                state.input_path = self.path_field(raw["InputPath"], f"{loc}/InputPath", "InputPath")
            if "OutputPath" in raw:
                state.output_path = self.path_field(raw["OutputPath"], f"{loc}/OutputPath", "OutputPath")
        elif "Output" in raw:
            state.output = self.jsonata_template(raw["Output"], "Output", f"{loc}/Output")
        if "Assign" in raw:
            state.assign = self.assign(raw["Assign"], f"{loc}/Assign", state.jsonata)

    def path_field(self, value: Any, loc: str, field: str, reference: bool = False) -> PathField:
        if value is None:
            return NULL
        try:
            return parse_reference_path(value) if reference else parse_path(value)
        except (ValueError, TypeError):
            kind = "ReferencePath" if reference else "JSONPath"
            self.error(f"The value for the field '{field}' must be a valid {kind}", loc)
            return None

    def payload(self, value: Any, loc: str, field: str) -> Node | None:
        if not isinstance(value, dict | list) and field in ("Parameters", "ResultSelector", "ItemSelector"):
            self.error(f"The value for the field '{field}' must be an OBJECT", loc)
            return None
        try:
            return compile_payload(value, loc)
        except TemplateError as exc:
            self.error(str(exc), exc.location)
            return None

    def jsonata_template(self, value: Any, field: str, loc: str) -> Node | None:
        try:
            return compile_jsonata(value, field, loc)
        except TemplateError as exc:
            self.error(f"The value for the field '{field}' must be a valid JSONata expression ({exc})",
                       exc.location)
            return None

    def assign(self, value: Any, loc: str, jsonata: bool) -> Node | None:
        if not isinstance(value, dict):
            self.error("The value for the field 'Assign' must be an OBJECT", loc)
            return None
        for key in value:
            name = key[:-2] if key.endswith(".$") and not jsonata else key
            if not _VARIABLE_NAME.fullmatch(name) or len(name) > 80 or name == "states":
                self.error(f"The variable name '{name}' is invalid: a variable name must start with a "
                           "letter or underscore, contain only letters, digits and underscores, be at "
                           "most 80 characters and not be 'states'", f"{loc}/{key}")
        return self.jsonata_template(value, "Assign", loc) if jsonata else self.payload(value, loc, "Assign")

    def positive_int(self, value: Any, loc: str, field: str, minimum: int = 1) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_SECONDS:
            self.error(f"The value for the field '{field}' must be an INTEGER between {minimum} and "
                       f"{MAX_SECONDS}", loc)
            return None
        return value

    def number_or_expression(self, raw: dict[str, Any], field: str, loc: str, jsonata: bool,
                             minimum: float = 0, maximum: float = MAX_SECONDS,
                             integer: bool = True) -> Node | None:
        """A numeric field, its ``...Path`` form (JSONPath) or a JSONata expression."""
        path_field = f"{field}Path"
        if path_field in raw:
            if field in raw:
                self.error(f"At most one of these fields may be provided: [{field}, {path_field}]", loc)
            path = self.path_field(raw[path_field], f"{loc}/{path_field}", path_field, reference=True)
            return PathValue(path, path_field) if path not in (None, NULL) else None  # type: ignore[arg-type]
        if field not in raw:
            return None
        value = raw[field]
        if jsonata and is_expression(value):
            return self.jsonata_template(value, field, f"{loc}/{field}")
        ok = isinstance(value, int | float) and not isinstance(value, bool) and minimum <= value <= maximum
        if integer and ok:
            ok = isinstance(value, int)
        if not ok:
            kind = "an INTEGER" if integer else "a NUMBER"
            self.error(f"The value for the field '{field}' must be {kind} between {minimum:g} and "
                       f"{maximum:g}", f"{loc}/{field}")
            return None
        return Const(value)

    def error_handling(self, state: Any, raw: dict[str, Any], loc: str) -> None:
        if not state.jsonata:
            if "ResultSelector" in raw:
                state.result_selector = self.payload(raw["ResultSelector"], f"{loc}/ResultSelector",
                                                     "ResultSelector")
            if "ResultPath" in raw:
                state.result_path = self.path_field(raw["ResultPath"], f"{loc}/ResultPath", "ResultPath",
                                                    reference=True)
        if "Retry" in raw:
            state.retry = self.retriers(raw["Retry"], f"{loc}/Retry")
        if "Catch" in raw:
            state.catch = self.catchers(raw["Catch"], f"{loc}/Catch", state.jsonata)

    def error_equals(self, item: dict[str, Any], loc: str, last: bool) -> tuple[str, ...]:
        names = item.get("ErrorEquals")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.error("The field 'ErrorEquals' must be a non-empty array of STRINGs", f"{loc}/ErrorEquals")
            return ()
        for name in names:
            if name.startswith("States.") and name not in errors.KNOWN_STATES_ERRORS:
                self.error(f"'{name}' is not a valid error name", f"{loc}/ErrorEquals")
        if errors.ALL in names and (len(names) > 1 or not last):
            self.error("States.ALL must appear alone in ErrorEquals and only in the last element",
                       f"{loc}/ErrorEquals")
        return tuple(names)

    def retriers(self, value: Any, loc: str) -> list[Retrier]:
        if not isinstance(value, list):
            self.error("The value for the field 'Retry' must be an ARRAY", loc)
            return []
        out = []
        for i, item in enumerate(value):
            iloc = f"{loc}[{i}]"
            if not isinstance(item, dict):
                self.error("The value must be an OBJECT", iloc)
                continue
            for key in item:
                if key not in {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
                               "MaxDelaySeconds", "JitterStrategy", "Comment"}:
                    self.error(f"Field '{key}' is not supported", iloc)
            retrier = Retrier(self.error_equals(item, iloc, i == len(value) - 1))
            if "IntervalSeconds" in item:
                interval = self.positive_int(item["IntervalSeconds"], f"{iloc}/IntervalSeconds",
                                             "IntervalSeconds")
                retrier.interval_seconds = interval or 1
            if "MaxAttempts" in item:
                v = self.positive_int(item["MaxAttempts"], f"{iloc}/MaxAttempts", "MaxAttempts", minimum=0)
                retrier.max_attempts = v if v is not None else 3
            if "BackoffRate" in item:
                rate = item["BackoffRate"]
                if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 1.0:
                    self.error("The value for the field 'BackoffRate' must be a NUMBER greater than or "
                               "equal to 1.0", f"{iloc}/BackoffRate")
                else:
                    retrier.backoff_rate = float(rate)
            if "MaxDelaySeconds" in item:
                retrier.max_delay_seconds = self.positive_int(item["MaxDelaySeconds"],
                                                              f"{iloc}/MaxDelaySeconds", "MaxDelaySeconds")
            if "JitterStrategy" in item:
                if item["JitterStrategy"] not in ("FULL", "NONE"):
                    self.error("The field 'JitterStrategy' should have one of these values: [FULL, NONE]",
                               f"{iloc}/JitterStrategy")
                else:
                    retrier.jitter = item["JitterStrategy"]
            out.append(retrier)
        return out

    def catchers(self, value: Any, loc: str, jsonata: bool) -> list[Catcher]:
        if not isinstance(value, list):
            self.error("The value for the field 'Catch' must be an ARRAY", loc)
            return []
        allowed = {"ErrorEquals", "Next", "Comment", "Assign"} | ({"Output"} if jsonata else {"ResultPath"})
        out = []
        for i, item in enumerate(value):
            iloc = f"{loc}[{i}]"
            if not isinstance(item, dict):
                self.error("The value must be an OBJECT", iloc)
                continue
            for key in item:
                if key not in allowed:
                    self.error(f"Field '{key}' is not supported", iloc)
            names = self.error_equals(item, iloc, i == len(value) - 1)
            if not isinstance(item.get("Next"), str):
                self.error("These fields are required: [Next]", iloc)
                continue
            catcher = Catcher(names, item["Next"])
            if "ResultPath" in item:
                catcher.result_path = self.path_field(item["ResultPath"], f"{iloc}/ResultPath", "ResultPath",
                                                      reference=True)
            if "Output" in item:
                catcher.output = self.jsonata_template(item["Output"], f"Catch[{i}]/Output", f"{iloc}/Output")
            if "Assign" in item:
                catcher.assign = self.assign(item["Assign"], f"{iloc}/Assign", jsonata)
            out.append(catcher)
        return out

    # -- one builder per state type -----------------------------------------------------

    def state_pass(self, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
        state = PassState(name, "Pass", ql)
        if ql == JSONPATH:
            if "Result" in raw:
                state.result = Const(raw["Result"])
            if "Parameters" in raw:
                state.parameters = self.payload(raw["Parameters"], f"{loc}/Parameters", "Parameters")
            if "ResultPath" in raw:
                state.result_path = self.path_field(raw["ResultPath"], f"{loc}/ResultPath", "ResultPath",
                                                    reference=True)
        return state

    def state_task(self, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
        state = TaskState(name, "Task", ql)
        resource = raw.get("Resource")
        if resource is None:
            self.error("These fields are required: [Resource]", loc)
        elif not isinstance(resource, str) or not resource.startswith("arn:"):
            self.error(f"The resource provided {resource} is not recognized. The value is not a valid "
                       "resource ARN, or the resource is not available in this region.",
                       f"{loc}/Resource", "INVALID_RESOURCE")
        else:
            state.resource = resource
            self.resources.append(resource)
            self.task_token |= resource.endswith(".waitForTaskToken")
        if ql == JSONPATH and "Parameters" in raw:
            state.parameters = self.payload(raw["Parameters"], f"{loc}/Parameters", "Parameters")
        if ql == JSONATA and "Arguments" in raw:
            state.parameters = self.jsonata_template(raw["Arguments"], "Arguments", f"{loc}/Arguments")
        if "Credentials" in raw:
            where = f"{loc}/Credentials"
            state.credentials = (self.jsonata_template(raw["Credentials"], "Credentials", where)
                                 if ql == JSONATA else self.payload(raw["Credentials"], where, "Credentials"))
        jsonata = ql == JSONATA
        state.timeout_seconds = self.number_or_expression(raw, "TimeoutSeconds", loc, jsonata, minimum=1)
        state.heartbeat_seconds = self.number_or_expression(raw, "HeartbeatSeconds", loc, jsonata, minimum=1)
        t, h = raw.get("TimeoutSeconds"), raw.get("HeartbeatSeconds")
        if isinstance(t, int) and isinstance(h, int) and h >= t:
            self.error("The value for the field 'HeartbeatSeconds' must be smaller than the value for "
                       "the field 'TimeoutSeconds'", f"{loc}/HeartbeatSeconds")
        self.error_handling(state, raw, loc)
        return state

    def state_choice(self, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
        state = ChoiceState(name, "Choice", ql)
        choices = raw.get("Choices")
        if not isinstance(choices, list) or not choices:
            self.error("These fields are required: [Choices]" if choices is None else
                       "The field 'Choices' must be a non-empty ARRAY", loc)
            choices = []
        for i, rule in enumerate(choices):
            rloc = f"{loc}/Choices[{i}]"
            if not isinstance(rule, dict) or not isinstance(rule.get("Next"), str):
                self.error("These fields are required: [Next]", rloc)
                continue
            branch = ChoiceBranch(rule["Next"])
            if ql == JSONATA:
                for key in rule:
                    if key not in ("Condition", "Next", "Comment", "Output", "Assign"):
                        self.error(f"Field '{key}' is not supported", rloc)
                if "Condition" not in rule:
                    self.error("These fields are required: [Condition]", rloc)
                else:
                    branch.condition = self.jsonata_template(rule["Condition"], f"Choices[{i}]/Condition",
                                                             f"{rloc}/Condition")
                if "Output" in rule:
                    branch.output = self.jsonata_template(rule["Output"], f"Choices[{i}]/Output",
                                                          f"{rloc}/Output")
            else:
                try:
                    branch.rule = compile_rule(rule, rloc, top_level=True)
                except RuleError as exc:
                    self.error(str(exc), exc.location)
            if "Assign" in rule:
                branch.assign = self.assign(rule["Assign"], f"{rloc}/Assign", ql == JSONATA)
            state.choices.append(branch)
        if "Default" in raw:
            if isinstance(raw["Default"], str):
                state.default = raw["Default"]
            else:
                self.error("The value for the field 'Default' must be a STRING", f"{loc}/Default")
        return state

    def state_wait(self, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
        state = WaitState(name, "Wait", ql)
        present = [f for f in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if f in raw]
        if len(present) != 1:
            options = "[Seconds, Timestamp]" if ql == JSONATA else \
                "[Seconds, Timestamp, SecondsPath, TimestampPath]"
            self.error(f"Exactly one of these fields must be provided: {options}", loc)
            return state
        jsonata = ql == JSONATA
        if "Seconds" in raw or "SecondsPath" in raw:
            state.seconds = self.number_or_expression(raw, "Seconds", loc, jsonata, minimum=0)
        elif "TimestampPath" in raw:
            path = self.path_field(raw["TimestampPath"], f"{loc}/TimestampPath", "TimestampPath", True)
            if path not in (None, NULL):
                state.timestamp = PathValue(path, "TimestampPath")  # type: ignore[arg-type]
        else:
            value = raw["Timestamp"]
            if jsonata and is_expression(value):
                state.timestamp = self.jsonata_template(value, "Timestamp", f"{loc}/Timestamp")
            elif parse_timestamp(value) is None:
                self.error("The value for the field 'Timestamp' must be a valid RFC3339 timestamp",
                           f"{loc}/Timestamp")
            else:
                state.timestamp = Const(value)
        return state

    def state_succeed(self, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
        return SucceedState(name, "Succeed", ql)

    def state_fail(self, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
        state = FailState(name, "Fail", ql)
        for field in ("Error", "Cause"):
            path_field = f"{field}Path"
            if field in raw and path_field in raw:
                self.error(f"At most one of these fields may be provided: [{field}, {path_field}]", loc)
                continue
            if path_field in raw:
                try:
                    node = compile_dynamic_value(raw[path_field], path_field, f"{loc}/{path_field}")
                except TemplateError as exc:
                    self.error(str(exc), exc.location)
                    continue
            elif field in raw:
                value = raw[field]
                if ql == JSONATA and is_expression(value):
                    node = self.jsonata_template(value, field, f"{loc}/{field}")
                elif not isinstance(value, str):
                    self.error(f"The value for the field '{field}' must be a STRING", f"{loc}/{field}")
                    continue
                else:
                    node = Const(value)
            else:
                continue
            setattr(state, field.lower(), node)
        return state

    def state_parallel(self, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
        state = ParallelState(name, "Parallel", ql)
        branches = raw.get("Branches")
        if not isinstance(branches, list) or not branches:
            self.error("These fields are required: [Branches]" if branches is None else
                       "The field 'Branches' must be a non-empty ARRAY", loc)
        else:
            for i, branch in enumerate(branches):
                program = self.program(branch, f"{loc}/Branches[{i}]", ql, False, depth + 1)
                if program is not None:
                    state.branches.append(program)
        if ql == JSONPATH and "Parameters" in raw:
            state.parameters = self.payload(raw["Parameters"], f"{loc}/Parameters", "Parameters")
        if ql == JSONATA and "Arguments" in raw:
            state.parameters = self.jsonata_template(raw["Arguments"], "Arguments", f"{loc}/Arguments")
        self.error_handling(state, raw, loc)
        return state

    def state_map(self, name: str, raw: dict[str, Any], loc: str, ql: str, depth: int) -> State:
        state = MapState(name, "Map", ql)
        jsonata = ql == JSONATA
        processor_key = next((k for k in ("ItemProcessor", "Iterator") if k in raw), None)
        if processor_key is None or ("ItemProcessor" in raw and "Iterator" in raw):
            self.error("Exactly one of these fields must be provided: [ItemProcessor, Iterator]", loc)
        else:
            proc = raw[processor_key]
            config = proc.get("ProcessorConfig", {}) if isinstance(proc, dict) else {}
            if not isinstance(config, dict):
                self.error("The value for the field 'ProcessorConfig' must be an OBJECT",
                           f"{loc}/{processor_key}/ProcessorConfig")
                config = {}
            for key in config:
                if key not in ("Mode", "ExecutionType"):
                    self.error(f"Field '{key}' is not supported", f"{loc}/{processor_key}/ProcessorConfig")
            state.mode = config.get("Mode", "INLINE")
            if state.mode not in ("INLINE", "DISTRIBUTED"):
                self.error("The field 'Mode' should have one of these values: [INLINE, DISTRIBUTED]",
                           f"{loc}/{processor_key}/ProcessorConfig/Mode")
            if state.mode == "DISTRIBUTED":
                self.distributed = True
                state.execution_type = config.get("ExecutionType")
                if state.execution_type not in ("STANDARD", "EXPRESS"):
                    self.error("The field 'ExecutionType' should have one of these values: "
                               "[STANDARD, EXPRESS]", f"{loc}/{processor_key}/ProcessorConfig")
            extra = frozenset({"ProcessorConfig"}) if processor_key == "ItemProcessor" else frozenset()
            state.processor = self.program(proc, f"{loc}/{processor_key}", ql, False, depth + 1, extra)
        if state.mode != "DISTRIBUTED":
            for key in ("ItemReader", "ResultWriter", "ItemBatcher", "ToleratedFailureCount",
                        "ToleratedFailurePercentage", "ToleratedFailureCountPath",
                        "ToleratedFailurePercentagePath"):
                if key in raw:
                    self.error(f"The field '{key}' is only supported when the ProcessorConfig Mode is "
                               "DISTRIBUTED", f"{loc}/{key}")
        if not jsonata:
            if "ItemsPath" in raw:
                path = self.path_field(raw["ItemsPath"], f"{loc}/ItemsPath", "ItemsPath", reference=True)
                if path not in (None, NULL):
                    state.items = PathValue(path, "ItemsPath")  # type: ignore[arg-type]
            if "ItemSelector" in raw and "Parameters" in raw:
                self.error("At most one of these fields may be provided: [ItemSelector, Parameters]", loc)
            for key in ("ItemSelector", "Parameters"):
                if key in raw:
                    state.item_selector = self.payload(raw[key], f"{loc}/{key}", key)
        else:
            if "Items" in raw:
                items = raw["Items"]
                if not isinstance(items, list) and not is_expression(items):
                    self.error("The value for the field 'Items' must be an ARRAY or a JSONata expression",
                               f"{loc}/Items")
                else:
                    state.items = self.jsonata_template(items, "Items", f"{loc}/Items")
            if "ItemSelector" in raw:
                state.item_selector = self.jsonata_template(raw["ItemSelector"], "ItemSelector",
                                                            f"{loc}/ItemSelector")
        state.max_concurrency = self.number_or_expression(raw, "MaxConcurrency", loc, jsonata)
        state.tolerated_failure_count = self.number_or_expression(raw, "ToleratedFailureCount", loc, jsonata)
        state.tolerated_failure_percentage = self.number_or_expression(
            raw, "ToleratedFailurePercentage", loc, jsonata, maximum=100, integer=False)
        if "ItemBatcher" in raw:
            state.item_batcher = self.item_batcher(raw["ItemBatcher"], f"{loc}/ItemBatcher", jsonata)
        for key in ("ItemReader", "ResultWriter"):
            if key in raw:
                self.reader_writer(state, key, raw[key], f"{loc}/{key}", jsonata)
        if "Label" in raw:
            label = raw["Label"]
            if not isinstance(label, str) or len(label) > 40:
                self.error("The value for the field 'Label' must be a STRING of at most 40 characters",
                           f"{loc}/Label")
            else:
                state.label = label
        self.error_handling(state, raw, loc)
        return state

    def item_batcher(self, raw: Any, loc: str, jsonata: bool) -> ItemBatcher | None:
        if not isinstance(raw, dict):
            self.error("The value for the field 'ItemBatcher' must be an OBJECT", loc)
            return None
        for key in raw:
            if key not in ("MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput") and \
                    (jsonata or key not in ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath")):
                self.error(f"Field '{key}' is not supported", loc)
        batcher = ItemBatcher(
            self.number_or_expression(raw, "MaxItemsPerBatch", loc, jsonata, minimum=1),
            self.number_or_expression(raw, "MaxInputBytesPerBatch", loc, jsonata, minimum=1,
                                      maximum=256 * 1024),
        )
        if batcher.max_items is None and batcher.max_bytes is None:
            self.error("At least one of these fields must be provided: [MaxItemsPerBatch, "
                       "MaxInputBytesPerBatch]", loc)
        if "BatchInput" in raw:
            batcher.batch_input = (self.jsonata_template(raw["BatchInput"], "BatchInput", f"{loc}/BatchInput")
                                   if jsonata else self.payload(raw["BatchInput"], f"{loc}/BatchInput",
                                                                "BatchInput"))
        return batcher

    def reader_writer(self, state: MapState, key: str, raw: Any, loc: str, jsonata: bool) -> None:
        if not isinstance(raw, dict):
            self.error(f"The value for the field '{key}' must be an OBJECT", loc)
            return
        config_key = "ReaderConfig" if key == "ItemReader" else "WriterConfig"
        params_key = "Arguments" if jsonata else "Parameters"
        for field in raw:
            if field not in ("Resource", config_key, params_key):
                self.error(f"Field '{field}' is not supported", loc)
        if not isinstance(raw.get("Resource"), str):
            self.error("These fields are required: [Resource]", loc)
        params = None
        if params_key in raw:
            params = (self.jsonata_template(raw[params_key], f"{key}/{params_key}", f"{loc}/{params_key}")
                      if jsonata else self.payload(raw[params_key], f"{loc}/{params_key}", params_key))
        if key == "ItemReader":
            state.item_reader, state.item_reader_parameters = raw, params
        else:
            state.result_writer, state.result_writer_parameters = raw, params
