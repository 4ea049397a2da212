"""The agent's typed configuration crosses into the environment as JSON and back unchanged,
and the agent stays cheap to import (a zygote imports it before every environment it forks)."""

from __future__ import annotations

import json
import subprocess
import sys

from cumulo.runtime.agent.config import AgentConfig, FunctionInfo, RuntimeCommand


def _config() -> AgentConfig:
    function = FunctionInfo(name="fn", version="$LATEST", handler="app.handler", account="123456789012",
                            initialization_type="on-demand", runtime_version="python:3.11.v1",
                            runtime_version_arn="arn:aws:lambda:us-east-1::runtime:abc")
    command = RuntimeCommand(python_handler="app.handler", sys_path=["/var/task", "/var/runtime"],
                             wrapper="/opt/wrapper", bootstrap="/var/runtime/bootstrap.py")
    return AgentConfig({"AWS_REGION": "us-east-1"}, "/var/task", function, command, telemetry=True,
                       peer_check=True, sandbox_user=[993, 990], oom_protect=False, measure_rss=True,
                       rlimit_nofile=1024, rlimit_data=128 * 1024 * 1024, extensions_dir="/opt/extensions")


def test_agent_config_round_trips_through_json():
    config = _config()
    data = json.loads(json.dumps(config.to_json()))
    assert AgentConfig.from_json(data) == config
    assert data["function"]["name"] == "fn" and data["runtime"]["argv"] == []
    assert AgentConfig.from_json(data) != AgentConfig.from_json({**data, "cwd": "/elsewhere"})


def test_agent_imports_no_heavy_modules():
    code = ("import sys, cumulo.runtime.zygote\n"
            "print(sorted(m for m in ('dataclasses', 'inspect', 'typing', 'asyncio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
