"""JSONata expressions (``{% ... %}``) for states with ``"QueryLanguage": "JSONata"``.

Wraps the pure-Python ``jsonata`` package: parses once at definition time, evaluates with
``$states`` and the workflow variables bound, adds the functions Step Functions provides on top of
standard JSONata (``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid``, ``$parse``) and
routes every nondeterministic function (``$uuid``, ``$random``, ``$now``, ``$millis``) through the
engine so that a resumed execution replays the values it recorded.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cumulo.asl import errors
from cumulo.asl.intrinsics import HASH_ALGORITHMS, Entropy


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


class Expression:
    """A parsed JSONata expression; ``source`` is the text between ``{%`` and ``%}``."""

    __slots__ = ("_compiled", "source")

    def __init__(self, text: str) -> None:
        import jsonata  # imported lazily so that JSONPath-only users never pay for it

        self.source = text[2:-2].strip() if is_expression(text) else text
        if not self.source:
            raise ValueError("empty JSONata expression")
        try:
            self._compiled = jsonata.Jsonata(self.source)
        except Exception as exc:  # jsonata raises JException (and occasionally others)
            raise ValueError(f"invalid JSONata expression '{self.source}': {exc}") from None
        self._compiled.set_output_convert_nulls(False)

    def evaluate(self, bindings: Mapping[str, Any], entropy: Entropy, now_ms: int, field: str) -> Any:
        """Evaluate with ``bindings`` (``states`` and variables) and return plain JSON.

        Raises States.QueryEvaluationError if the expression fails or returns nothing.
        """
        from jsonata import Jsonata

        frame = self._compiled.create_frame()
        for name, value in bindings.items():
            frame.bind(name, value)
        frame.bind("uuid", Jsonata.JLambda(entropy.uuid))
        frame.bind("random", Jsonata.JLambda(lambda seed=None: _random(entropy, seed)))
        frame.bind("millis", Jsonata.JLambda(lambda: now_ms))
        frame.bind("now", Jsonata.JLambda(lambda *_: _iso(now_ms)))
        frame.bind("partition", Jsonata.JLambda(_partition))
        frame.bind("range", Jsonata.JLambda(_range))
        frame.bind("hash", Jsonata.JLambda(_hash))
        frame.bind("parse", Jsonata.JLambda(_parse))
        try:
            result = self._compiled.evaluate(None, frame)
        except errors.StatesError:
            raise
        except Exception as exc:  # any failure inside the expression is a query evaluation error
            raise errors.EvaluationError(
                errors.QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{self.source}' specified for the field '{field}' threw an "
                f"error during evaluation. {exc}",
            ) from None
        if result is None:
            raise errors.EvaluationError(
                errors.QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{self.source}' specified for the field '{field}' returned "
                "nothing (undefined).",
            )
        return to_plain(result)


def to_plain(value: Any) -> Any:
    """Convert jsonata's result types (JList, its null sentinel, integral floats) to plain JSON."""
    from jsonata.utils import Utils

    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, list):
        return [to_plain(v) for v in value if v is not None]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if callable(value) or (not isinstance(value, str | int | float | bool)):
        raise errors.EvaluationError(errors.QUERY_EVALUATION_ERROR,
                                     "The JSONata expression returned a value that is not JSON")
    return value


def _random(entropy: Entropy, seed: Any = None) -> float:
    if seed is not None:
        return random.Random(seed).random()
    return entropy.random_int(0, 2**53) / 2**53


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _partition(array: Any, size: Any) -> list[Any]:
    if not isinstance(array, list) or not isinstance(size, int | float) or size < 1:
        raise ValueError("$partition expects an array and a positive chunk size")
    n = int(size)
    return [list(array[i:i + n]) for i in range(0, len(array), n)]


def _range(start: Any, end: Any, step: Any) -> list[Any]:
    if not all(isinstance(v, int | float) for v in (start, end, step)) or step == 0:
        raise ValueError("$range expects numeric start, end and a non-zero step")
    out, v = [], start
    while (step > 0 and v <= end) or (step < 0 and v >= end):
        out.append(v)
        v += step
    return out


def _hash(value: Any, algorithm: Any) -> str:
    if not isinstance(value, str) or algorithm not in HASH_ALGORITHMS:
        raise ValueError(f"$hash expects a string and one of {', '.join(HASH_ALGORITHMS)}")
    return hashlib.new(HASH_ALGORITHMS[algorithm], value.encode()).hexdigest()


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise ValueError("$parse expects a string")
    return json.loads(text)
