"""Deploying the shop example: time to a working endpoint, and `cumulo dev`'s edit-to-live time.

* cold: a new server is started and the stack deployed with the `cumulo deploy` command; the
  clock stops when the API answers a request (server start-up included);
* warm: the same command against a running server, for a second stack;
* edit-to-live: `cumulo dev` is running; a handler file is changed and the clock stops when
  an invoke returns the new behaviour.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.report import Figure, percentile, print_figures
from tests.server import PROJECT_ROOT, CumuloServer, free_port, subprocess_env, wait_for

SHOP = PROJECT_ROOT / "examples" / "shop"


def _deploy(url: str, template: Path, stack: str) -> dict[str, str]:
    subprocess.run([sys.executable, "-m", "cumulo.cli.main", "deploy", "--template", str(template), "--stack-name",
                    stack, "--endpoint-url", url], check=True, capture_output=True, env=subprocess_env())
    import boto3

    stack_record = boto3.client("cloudformation", endpoint_url=url, region_name="us-east-1", aws_access_key_id="t",
                                aws_secret_access_key="t").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack_record["Outputs"]}


def _answers(api: str) -> bool:
    try:
        urllib.request.urlopen(f"{api}/orders/none", timeout=5)
    except urllib.error.HTTPError as error:
        return error.code == 404
    except OSError:
        return False
    return False


def _deploy_times(work: Path) -> tuple[float, float]:
    template = work / "shop" / "template.yaml"
    started = time.perf_counter()
    server = CumuloServer(work / "data").start()
    try:
        outputs = _deploy(server.url, template, "shop-cold")
        wait_for(lambda: _answers(outputs["ApiUrl"]), timeout=60, message="the API")
        cold = time.perf_counter() - started
        started = time.perf_counter()
        outputs = _deploy(server.url, template, "shop-warm")
        wait_for(lambda: _answers(outputs["ApiUrl"]), timeout=60, message="the API")
        warm = time.perf_counter() - started
    finally:
        server.stop()
    return cold, warm


def _edit_to_live(work: Path, rounds: int) -> list[float]:
    project = work / "dev"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text("def handler(e, c):\n    return 0\n")
    (project / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.11}\n")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "cumulo.cli.main", "dev", str(project), "--port", str(port),
                                "--stack-name", "dev-bench", "--data-dir", str(work / "dev-data")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=subprocess_env())
    import boto3

    lambda_client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                                 aws_access_key_id="t", aws_secret_access_key="t")
    try:
        while "Watching" not in (process.stdout.readline() or "Watching"):
            pass
        name = boto3.client("cloudformation", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                            aws_access_key_id="t", aws_secret_access_key="t").describe_stack_resources(
            StackName="dev-bench", LogicalResourceId="Fn")["StackResources"][0]["PhysicalResourceId"]
        samples = []
        for value in range(1, rounds + 1):
            started = time.perf_counter()
            (project / "src" / "app.py").write_text(f"def handler(e, c):\n    return {value}\n")
            wait_for(lambda v=value: json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read()) == v,
                     timeout=30, interval=0.005, message="the new code to answer")
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        process.terminate()
        process.wait(30)
        # The server `cumulo dev` started outlives it (other sessions may share it): stop it.
        subprocess.run([sys.executable, "-m", "cumulo.cli.main", "stop", "--endpoint-url", f"http://127.0.0.1:{port}"],
                       capture_output=True, env=subprocess_env(), timeout=60)


def run(quick: bool = False) -> list[Figure]:
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        shutil.copytree(SHOP, work / "shop", ignore=shutil.ignore_patterns(".cumulo", ".cumulo-build", "__pycache__"))
        cold, warm = _deploy_times(work)
        samples = _edit_to_live(work, 3 if quick else 10)
    return [
        Figure("deploy_shop", "deploy to working endpoint, cold server", round(cold, 2), "s",
               "server start + cumulo deploy + first API answer (22 resources)"),
        Figure("deploy_shop", "deploy to working endpoint, warm server", round(warm, 2), "s", "cumulo deploy"),
        Figure("deploy_shop", "cumulo dev edit-to-live p50", round(percentile(samples, 50) * 1000), "ms",
               "file saved -> invoke returns the new result"),
        Figure("deploy_shop", "cumulo dev edit-to-live max", round(max(samples) * 1000), "ms"),
    ]


if __name__ == "__main__":
    print_figures(run())
