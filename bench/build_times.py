"""`cumulo build` times: a Node.js TypeScript function (esbuild) and a Java source tree (javac alone).

* cold: the ``cumulo build`` command with no earlier build (``.aws-sam`` removed);
* cached: the same command again with nothing changed (it hashes the sources and builds nothing);
* in-process: the cached build called as a function, without the command's start-up.

The TypeScript project bundles esbuild's output of 20 modules and a local dependency; esbuild
comes from npm (the benchmark installs it once into a scratch project; no figure when npm cannot
reach the registry). The Java tree has 20 classes and one jar under lib/.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Figure, print_figures
from tests.server import subprocess_env

SAM = "Transform: AWS::Serverless-2016-10-31\nResources:\n"


def _typescript_project(root: Path) -> bool:
    (root / "src" / "lib").mkdir(parents=True)
    (root / "template.yaml").write_text(SAM + (
        "  Ts:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: src/, Handler: app.handler, Runtime: nodejs20.x}\n"
        "    Metadata: {BuildMethod: esbuild, BuildProperties: {Sourcemap: true}}\n"))
    (root / "package.json").write_text('{"private": true, "devDependencies": {"esbuild": "^0.25.0"}}')
    imports = []
    for index in range(20):
        (root / "src" / "lib" / f"m{index}.ts").write_text(
            f"export interface Item{index} {{ id: number; name: string }}\n"
            f"export const make{index} = (id: number): Item{index} => ({{ id, name: `item-{index}-${{id}}` }});\n")
        imports.append(f"import {{ make{index} }} from './lib/m{index}';")
    calls = ", ".join(f"make{index}(n)" for index in range(20))
    handler = f"export const handler = async (n: number) => [{calls}];\n"
    (root / "src" / "app.ts").write_text("\n".join([*imports, handler]))
    installed = subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=root, capture_output=True,
                               timeout=300)
    return installed.returncode == 0


def _java_project(root: Path) -> None:
    source = root / "fn" / "src" / "main" / "java" / "com" / "example"
    source.mkdir(parents=True)
    (root / "template.yaml").write_text(SAM + (
        "  Java:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn/, Handler: com.example.Handler::handleRequest, Runtime: java17}\n"))
    for index in range(19):
        (source / f"Part{index}.java").write_text(
            f"package com.example;\npublic final class Part{index} {{\n"
            f"  public static String name(int n) {{ return \"part-{index}-\" + n; }}\n}}\n")
    calls = " + ".join(f"Part{index}.name(n)" for index in range(19))
    (source / "Handler.java").write_text(
        "package com.example;\npublic class Handler {\n"
        f"  public String handleRequest(Integer n) {{ return {calls}; }}\n}}\n")
    (root / "fn" / "lib").mkdir()
    (root / "fn" / "lib" / "empty.jar").write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip


def _command(project: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cumulo.cli.main", "build"], cwd=project, check=True, capture_output=True,
                   env=subprocess_env())
    return time.perf_counter() - started


def _in_process(project: Path) -> float:
    from cumulo.packaging.build import build

    started = time.perf_counter()
    build(project / "template.yaml", progress=lambda event: None)
    return time.perf_counter() - started


def _figures(name: str, project: Path, rounds: int) -> list[Figure]:
    cold, cached, in_process = [], [], []
    for _ in range(rounds):
        shutil.rmtree(project / ".aws-sam", ignore_errors=True)
        cold.append(_command(project))
        cached.append(_command(project))
        in_process.append(_in_process(project))
    return [Figure("build_times", f"{name} cold", round(statistics.median(cold), 2), "s", "the cumulo build command"),
            Figure("build_times", f"{name} cached", round(statistics.median(cached), 2), "s", "nothing changed"),
            Figure("build_times", f"{name} cached in-process", round(statistics.median(in_process) * 1000, 1), "ms",
                   "build() without the command's start-up")]


def run(quick: bool = False) -> list[Figure]:
    rounds = 1 if quick else 3
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="cumulo-bench-build-") as scratch:
        typescript, java = Path(scratch) / "ts", Path(scratch) / "java"
        typescript.mkdir()
        if shutil.which("npm") and _typescript_project(typescript):
            figures += _figures("TypeScript (esbuild)", typescript, rounds)
        else:
            figures.append(Figure("build_times", "TypeScript (esbuild)", float("nan"), "s",
                                  "npm could not install esbuild"))
        if shutil.which("javac"):
            _java_project(java)
            figures += _figures("Java (javac)", java, rounds)
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
