"""Access logs of HTTP API stages: the stage's format with its ``$context`` variables filled in.

A variable with no value is written as ``-``, as API Gateway writes it. Variable names are
matched longest first, so ``$context.authorizer.claims.sub`` and ``$context.status`` both work
next to any punctuation (JSON, CLF or CSV formats).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cumulo.httpapi.call import Call

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_:\-]+)*)")


@lru_cache(maxsize=64)
def _compile(fmt: str) -> list[tuple[str, str | None]]:
    """The format as (literal text, variable name or None) pieces."""
    pieces: list[tuple[str, str | None]] = []
    position = 0
    for found in _VARIABLE.finditer(fmt):
        pieces.append((fmt[position:found.start()], found.group(1)))
        position = found.end()
    pieces.append((fmt[position:], None))
    return pieces


def render(fmt: str, call: Call) -> str:
    out = []
    for literal, name in _compile(fmt):
        out.append(literal)
        if name is not None:
            value = call.context_value(name)
            out.append("-" if value is None or value == "" else str(value))
    return "".join(out)
