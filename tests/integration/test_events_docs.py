"""The Python examples of docs/eventbridge.md run as written against a real server."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "eventbridge.md"


def test_python_examples_run(server):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:
        code = block.replace('"http://127.0.0.1:4566"', repr(server.url))
        exec(compile(code, str(DOC), "exec"), namespace)  # our own documentation
    assert namespace["result"]["FailedEntryCount"] == 0
    assert '"detail":{"id":"o-1","total":250}' in namespace["message"]["Body"]
