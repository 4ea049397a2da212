"""The Python examples of docs/stepfunctions.md run, in order, against a real server."""

from __future__ import annotations

import re

import pytest

from tests.server import PROJECT_ROOT, CumuloServer

DOC = PROJECT_ROOT / "docs" / "stepfunctions.md"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("sfn-docs") / "data").start()
    yield instance
    instance.stop()


def test_the_examples_run(server, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 5
    namespace: dict = {}
    for block in blocks:
        exec(compile(block.replace("http://127.0.0.1:4566", server.url), str(DOC), "exec"), namespace)
    printed = capsys.readouterr().out
    assert 'SUCCEEDED {"greeting":"Hello, Ada!"}' in printed
    assert 'SUCCEEDED {"n":42}' in printed
    assert "ExecutionSucceeded" in printed
    assert '{"result":{"packed":"book"}}' in printed
    assert 'SUCCEEDED {"total":3} Done' in printed
