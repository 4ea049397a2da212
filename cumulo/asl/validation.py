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
from typing import Any

from cumulo.asl import errors
from cumulo.asl.field_rules import FieldRules
from cumulo.asl.model import JSONATA, JSONPATH, ChoiceState, ParsedStateMachine, Program, State
from cumulo.asl.state_rules import STATE_BUILDERS

STATE_TYPES = ["Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map"]
MAX_STATE_NAME = 80
MAX_NESTING = 40

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
    validator = Validator()
    program = validator.program(document, "", JSONPATH, top_level=True, depth=0)
    if validator.diagnostics or program is None:
        raise errors.InvalidDefinition(validator.diagnostics)
    return ParsedStateMachine(program, document, validator.resources, validator.distributed,
                              validator.task_token)


def validate_state(name: str, state: dict[str, Any], query_language: str = JSONPATH) -> State:
    """Validate one state on its own (for TestState): transitions are not checked."""
    validator = Validator()
    validator.check_targets = False
    compiled = validator.state(name, state, f"/States/{name}", query_language, 0)
    if validator.diagnostics or compiled is None:
        raise errors.InvalidDefinition(validator.diagnostics)
    return compiled


class Validator(FieldRules):
    """Checks a definition's structure (programs, states, transitions) and compiles it."""

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, str] = {}
        self.resources: list[str] = []
        self.distributed = False
        self.task_token = False
        self.check_targets = True

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
        state = STATE_BUILDERS[stype](self, name, raw, loc, ql, depth)
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
