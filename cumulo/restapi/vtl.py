"""Velocity mapping templates as API Gateway runs them: airspeed (a maintained Velocity engine)
with API Gateway's variables on top: ``$input`` (``body``, ``json()``, ``path()``, ``params()``),
``$util`` (``escapeJavaScript``, ``parseJson``, ``urlEncode``, ``urlDecode``, ``base64Encode``,
``base64Decode``), ``$context`` and ``$stageVariables``.

JSONPath expressions of ``$input.json``/``$input.path`` are evaluated with jsonpath-ng; a path
that finds nothing gives an empty string (``json``) or null (``path``), as API Gateway does.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, unquote_plus

if TYPE_CHECKING:
    import airspeed


class TemplateError(ValueError):
    """The template could not be parsed or rendered (API Gateway answers 500)."""


@lru_cache(maxsize=512)
def _template(text: str) -> airspeed.Template:
    import airspeed  # imported on first use (start-up time)

    return airspeed.Template(text)


@lru_cache(maxsize=512)
def _jsonpath(expression: str) -> Any:
    from jsonpath_ng.ext import parse  # imported on first use (start-up time)

    return parse(expression)


def _select(document: Any, expression: str) -> Any:
    if expression in ("$", ""):
        return document
    try:
        found = [match.value for match in _jsonpath(expression).find(document)]
    except Exception:  # jsonpath-ng raises its own types for bad expressions
        raise TemplateError(f"Invalid JSONPath expression {expression}") from None
    if not found:
        return None
    return found[0] if len(found) == 1 and "*" not in expression and ".." not in expression else found


class Input:
    """``$input``: the payload (request or integration response) and the request's parameters."""

    def __init__(self, body: str, params: dict[str, dict[str, str]]) -> None:
        self.body = body
        self._params = params
        self._parsed: Any = None
        self._did_parse = False

    def _document(self) -> Any:
        if not self._did_parse:
            self._did_parse = True
            try:
                self._parsed = json.loads(self.body) if self.body.strip() else {}
            except ValueError:
                self._parsed = None
        return self._parsed

    def json(self, expression: str = "$") -> str:
        if self._document() is None:
            return self.body if expression == "$" else ""
        value = _select(self._document(), expression)
        return json.dumps(value, separators=(",", ":")) if value is not None else ""

    def path(self, expression: str = "$") -> Any:
        document = self._document()
        if document is None:
            return self.body if expression == "$" else None
        return _select(document, expression)

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return self._params
        for place in ("path", "querystring", "header"):
            value = self._params.get(place, {}).get(name)
            if value is None and place == "header":
                value = next((v for k, v in self._params["header"].items() if k.lower() == name.lower()), None)
            if value is not None:
                return value
        return ""


class Util:
    """``$util``."""

    @staticmethod
    def escapeJavaScript(text: Any) -> str:
        value = json.dumps("" if text is None else str(text))[1:-1]
        return value.replace("'", "\\'")

    @staticmethod
    def parseJson(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as error:
            raise TemplateError(f"$util.parseJson: {error}") from None

    @staticmethod
    def urlEncode(text: Any) -> str:
        return quote_plus("" if text is None else str(text))

    @staticmethod
    def urlDecode(text: Any) -> str:
        return unquote_plus("" if text is None else str(text))

    @staticmethod
    def base64Encode(text: Any) -> str:
        return base64.b64encode(str(text).encode()).decode()

    @staticmethod
    def base64Decode(text: Any) -> str:
        return base64.b64decode(str(text)).decode("utf-8", "replace")


_UTIL = Util()


def render(template: str, body: str, params: dict[str, dict[str, str]], context: dict[str, Any],
           stage_variables: dict[str, str]) -> str:
    """The template rendered for one request; raises ``TemplateError``."""
    try:
        compiled = _template(template)
        return compiled.merge({"input": Input(body, params), "util": _UTIL, "context": context,
                               "stageVariables": dict(stage_variables)})
    except TemplateError:
        raise
    except Exception as error:  # airspeed's TemplateSyntaxError and errors raised while merging
        raise TemplateError(f"Mapping template failed: {error}") from None
