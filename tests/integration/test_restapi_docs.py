"""The Python quick start of docs/rest-apis.md runs as written against a real server."""

from __future__ import annotations

import contextlib
import io
import json
import re

from tests.server import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "rest-apis.md"


def test_quick_start_runs_as_written(server):
    source = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[0].replace("http://127.0.0.1:4566", server.url)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(source, str(DOC), "exec"), {})
    assert json.loads(output.getvalue()) == {"id": "7", "stage": "prod"}
