"""What a target receives: the event, a constant Input, an InputPath or an InputTransformer.

* no input setting: the event as compact JSON;
* ``Input``: that text as is (it must be valid JSON);
* ``InputPath``: the value at that JSON path, as compact JSON (``"baz"`` for a string); when
  the path is not in the event nothing is sent (the delivery counts as done);
* ``InputTransformer``: ``InputPathsMap`` names values of the event (JSON paths, up to 100),
  ``InputTemplate`` places them as ``<name>``. Predefined names: ``aws.events.rule-arn``,
  ``aws.events.rule-name``, ``aws.events.event.ingestion-time`` (ISO 8601),
  ``aws.events.event`` (the event without ``detail``, ``detail-type`` spelt ``detailType``)
  and ``aws.events.event.json`` (the whole event).

Template rules, as AWS applies them:

* a template that starts with ``{`` or ``[`` is a JSON template. There a placeholder outside a
  string literal becomes a JSON value (strings get quotes, objects and arrays their compact
  JSON, a missing value ``""``); a placeholder inside a string literal is replaced by the raw
  text of a string value, unescaped (``"instance \\"<id>\\" is <state>"``). The result is sent
  minified when it is valid JSON;
* any other template is text: every placeholder is replaced by the raw text of its value
  (compact JSON for objects, arrays, numbers, booleans and null; nothing for a missing value)
  and the result is sent as is, quotes included (``"<name> triggered"`` sends the quotes).

JSON paths: ``$``, ``.name`` (letters, digits, ``-``, ``_``, ``/`` ...), ``[n]``, ``.*`` and
``[*]`` (a wildcard path yields a list), and ``['name']``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cumulo.protocol.errors import AwsError

MISSING = object()
PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
PREDEFINED = ("aws.events.rule-arn", "aws.events.rule-name", "aws.events.event", "aws.events.event.json",
              "aws.events.event.ingestion-time")
MAX_PATHS = 100
_NAME = re.compile(r"[^.\[\]\s]+")


# ------------------------------------------------------------------ JSON paths
def parse_path(text: str) -> list[tuple[str, Any]]:
    """Segments of a JSON path: ("key", name), ("index", n) or ("wild", None); ValueError if bad."""
    text = text.strip()
    if not text.startswith("$"):
        raise ValueError("a JSON path starts with $")
    segments: list[tuple[str, Any]] = []
    position = 1
    while position < len(text):
        char = text[position]
        if char == ".":
            if text.startswith(".*", position):
                segments.append(("wild", None))
                position += 2
                continue
            found = _NAME.match(text, position + 1)
            if found is None:
                raise ValueError(f"expected a name at position {position + 1}")
            segments.append(("key", found.group()))
            position = found.end()
        elif char == "[":
            end = text.find("]", position)
            if end < 0:
                raise ValueError("unclosed [")
            inner = text[position + 1:end].strip()
            if inner == "*":
                segments.append(("wild", None))
            elif inner.isdigit():
                segments.append(("index", int(inner)))
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                segments.append(("key", inner[1:-1]))
            else:
                raise ValueError(f"bad subscript [{inner}]")
            position = end + 1
        else:
            raise ValueError(f"unexpected {char!r} at position {position}")
    return segments


def extract(segments: list[tuple[str, Any]], document: Any) -> Any:
    """The value at the path (a list when it has wildcards), or MISSING."""
    wild = any(kind == "wild" for kind, _ in segments)
    values = [document]
    for kind, arg in segments:
        following: list[Any] = []
        for value in values:
            if kind == "key":
                if isinstance(value, dict) and arg in value:
                    following.append(value[arg])
            elif kind == "index":
                if isinstance(value, list) and -len(value) <= arg < len(value):
                    following.append(value[arg])
            elif isinstance(value, dict):
                following.extend(value.values())
            elif isinstance(value, list):
                following.extend(value)
        values = following
    if wild:
        return values
    return values[0] if values else MISSING


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# ------------------------------------------------------------------ validation (PutTargets)
def _invalid(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def validate_input(target: dict[str, Any]) -> None:
    """Check a target's Input / InputPath / InputTransformer as PutTargets does."""
    target_id = target.get("Id")
    given = [name for name in ("Input", "InputPath", "InputTransformer") if target.get(name) is not None]
    if len(given) > 1:
        raise _invalid(f"Only one of Input, InputPath, or InputTransformer must be provided for target {target_id}.")
    if target.get("Input") is not None:
        try:
            json.loads(target["Input"])
        except ValueError as exc:
            raise _invalid(f"Input for target {target_id} is not a valid JSON text.") from exc
    if target.get("InputPath") is not None:
        try:
            parse_path(target["InputPath"])
        except ValueError as exc:
            raise _invalid(f"InputPath for target {target_id} is not a valid JSON path.") from exc
    transformer = target.get("InputTransformer")
    if transformer is not None:
        paths = transformer.get("InputPathsMap") or {}
        for name, path in paths.items():
            if name in PREDEFINED or name.lower().startswith("aws."):
                raise _invalid(f"InputPathsMap for target {target_id} contains reserved key {name}.")
            try:
                parse_path(path)
            except ValueError as exc:
                raise _invalid(f"InputPathsMap for target {target_id} contains invalid JSON path {path}.") from exc
        template = transformer["InputTemplate"]
        for found in PLACEHOLDER.finditer(template):
            if found.group(1) not in paths and found.group(1) not in PREDEFINED:
                raise _invalid(f"InputTemplate for target {target_id} contains invalid placeholder "
                               f"{found.group(1)}.")
        if _is_json_template(template):
            probe = render_template(template, {name: "x" for name in (*paths, *PREDEFINED)})
            try:
                json.loads(probe)
            except ValueError as exc:
                raise _invalid(f"InputTemplate for target {target_id} is not a valid JSON template.") from exc


# ------------------------------------------------------------------ rendering (delivery)
def _is_json_template(template: str) -> bool:
    return template.lstrip()[:1] in ("{", "[")


def _raw(value: Any) -> str:
    if value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    return compact(value)


def _json_value(value: Any) -> str:
    if value is MISSING:
        return '""'
    return compact(value)


def render_template(template: str, values: dict[str, Any]) -> str:
    """Replace the placeholders of ``template`` with ``values`` (see the module notes)."""
    json_mode = _is_json_template(template)
    out: list[str] = []
    in_string = escaped = False
    position = 0
    length = len(template)
    while position < length:
        char = template[position]
        if char == "<":
            found = PLACEHOLDER.match(template, position)
            if found and found.group(1) in values:
                value = values[found.group(1)]
                out.append(_json_value(value) if json_mode and not in_string else _raw(value))
                position = found.end()
                continue
        if json_mode:
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
        out.append(char)
        position += 1
    rendered = "".join(out)
    if json_mode:
        try:
            return compact(json.loads(rendered))
        except ValueError:
            return rendered
    return rendered


def transformer_values(transformer: dict[str, Any], event: dict[str, Any], *, rule_arn: str, rule_name: str,
                       ingestion_time: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        try:
            values[name] = extract(parse_path(path), event)
        except ValueError:
            values[name] = MISSING
    values["aws.events.rule-arn"] = rule_arn
    values["aws.events.rule-name"] = rule_name
    values["aws.events.event.ingestion-time"] = ingestion_time
    values["aws.events.event"] = {("detailType" if key == "detail-type" else key): value
                                  for key, value in event.items() if key != "detail"}
    values["aws.events.event.json"] = event
    return values


def target_payload(target: dict[str, Any], event: dict[str, Any], *, rule_arn: str, rule_name: str,
                   ingestion_time: str) -> str | None:
    """The text the target receives for ``event``; None when there is nothing to send."""
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath") is not None:
        value = extract(parse_path(target["InputPath"]), event)
        return None if value is MISSING else compact(value)
    transformer = target.get("InputTransformer")
    if transformer is not None:
        values = transformer_values(transformer, event, rule_arn=rule_arn, rule_name=rule_name,
                                    ingestion_time=ingestion_time)
        return render_template(transformer["InputTemplate"], values)
    return compact(event)
