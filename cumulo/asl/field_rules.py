"""Definition-time checks of field values: paths, payload templates, JSONata, Assign, numbers, Retry and Catch.

`FieldRules` collects the findings (``diagnostics``) and compiles each valid value into what the
model holds; the state rules and the structure checks in ``validation`` build on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from cumulo.asl import errors
from cumulo.asl.jsonata_bridge import is_expression
from cumulo.asl.model import JSONATA, JSONPATH, NULL, Catcher, PathField, Retrier
from cumulo.asl.paths import parse_path, parse_reference_path
from cumulo.asl.templates import Const, Node, PathValue, TemplateError, compile_jsonata, compile_payload

MAX_SECONDS = 99_999_999
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class FieldRules:
    """Collects findings; each method checks one kind of field value and returns it compiled (None if invalid)."""

    def __init__(self) -> None:
        self.diagnostics: list[tuple[str, str, str]] = []

    def error(self, message: str, location: str, code: str = "SCHEMA_VALIDATION_FAILED") -> None:
        self.diagnostics.append((code, message, location or "/"))

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

    def _objects(self, value: Any, loc: str, field: str,
                 allowed: set[str]) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(index, location, item) for each OBJECT of the ARRAY field ``field``, reporting what is not.

        A generator, so that each item's findings come before the next item's, as they always have.
        """
        if not isinstance(value, list):
            self.error(f"The value for the field '{field}' must be an ARRAY", loc)
            return
        for i, item in enumerate(value):
            iloc = f"{loc}[{i}]"
            if not isinstance(item, dict):
                self.error("The value must be an OBJECT", iloc)
                continue
            for key in item:
                if key not in allowed:
                    self.error(f"Field '{key}' is not supported", iloc)
            yield i, iloc, item

    def retriers(self, value: Any, loc: str) -> list[Retrier]:
        out = []
        allowed = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
                   "JitterStrategy", "Comment"}
        for i, iloc, item in self._objects(value, loc, "Retry", allowed):
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
        allowed = {"ErrorEquals", "Next", "Comment", "Assign"} | ({"Output"} if jsonata else {"ResultPath"})
        out = []
        for i, iloc, item in self._objects(value, loc, "Catch", allowed):
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

    def arguments(self, raw: dict[str, Any], loc: str, ql: str) -> Node | None:
        """The state's input template: Parameters (JSONPath) or Arguments (JSONata), None if absent."""
        if ql == JSONPATH and "Parameters" in raw:
            return self.payload(raw["Parameters"], f"{loc}/Parameters", "Parameters")
        if ql == JSONATA and "Arguments" in raw:
            return self.jsonata_template(raw["Arguments"], "Arguments", f"{loc}/Arguments")
        return None
