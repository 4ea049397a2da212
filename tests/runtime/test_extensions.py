"""Extensions and Telemetry APIs inside environments: external extensions from layers, internal ones
through AWS_LAMBDA_EXEC_WRAPPER, INVOKE/SHUTDOWN events, telemetry delivery."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from .conftest import Runtime, payload, wait_for

EXTENSION = textwrap.dedent('''
    #!{python}
    import json, os, sys, urllib.request
    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
    name = os.path.basename(__file__)
    req = urllib.request.Request(API + "/register", data=json.dumps({{"events": ["INVOKE", "SHUTDOWN"]}}).encode(),
                                 headers={{"Lambda-Extension-Name": name}}, method="POST")
    with urllib.request.urlopen(req) as r:
        ext_id = r.headers["Lambda-Extension-Identifier"]
        print("registered", name, json.loads(r.read())["functionName"], flush=True)
    while True:
        req = urllib.request.Request(API + "/event/next", headers={{"Lambda-Extension-Identifier": ext_id}})
        with urllib.request.urlopen(req) as r:
            event = json.loads(r.read())
        print("event", event["eventType"], event.get("requestId") or event.get("shutdownReason"), flush=True)
        if event["eventType"] == "SHUTDOWN":
            sys.exit(0)
''').lstrip()


def _layer(tmp, name: str, files: dict[str, str], executable: tuple[str, ...] = ()):
    root = tmp / name
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel in executable or rel.startswith("extensions/"):
            path.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def rt_ext(tmp_path_factory):
    runtime = Runtime(tmp_path_factory.mktemp("rtext"), "auto")
    yield runtime
    runtime.close()


def test_external_extension_gets_invoke_and_shutdown(rt_ext, tmp_path):
    layer = _layer(tmp_path, "layer", {"extensions/probe": EXTENSION.format(python=sys.executable)})
    spec = rt_ext.function({"app.py": "def handler(e, c):\n    print('in handler')\n    return 'ok'\n"},
                           layer_dirs=(layer,))
    result = rt_ext.invoke(spec, {}, request_id="req-1")
    assert payload(result) == "ok"
    assert result.completion is not None  # extensions were still busy when the response came

    async def finished():
        await result.completion
    rt_ext.run(finished())
    assert "\tDuration: " in rt_ext.messages(result.log_stream)[-1]
    wait_for(lambda: any("event INVOKE req-1" in m for m in rt_ext.messages(result.log_stream)))
    messages = rt_ext.messages(result.log_stream)
    assert any(m.startswith("registered probe ") for m in messages)
    rt_ext.run(rt_ext.pool.retire(spec.key))
    wait_for(lambda: any("event SHUTDOWN spindown" in m for m in rt_ext.messages(result.log_stream)))
