"""Builds that end in an executable or in whatever a Makefile writes: makefile, Go, Rust.

* makefile: ``make -f Makefile build-<LogicalId>`` in a scratch copy of the source, with
  ``ARTIFACTS_DIR`` (in the environment, so also a make variable) naming the artifact folder.
* Go (Runtime go1.x, or ``BuildMethod: go1.x`` on a provided runtime): ``go build`` of the source's
  main package for Linux (GOOS=linux, GOARCH from Architectures, CGO_ENABLED=0) into ``bootstrap``
  (go1.x: into the file the Handler names); BuildProperties ``TrimGoPath`` adds ``-trimpath``.
* Rust (``BuildMethod: rust-cargolambda``): ``cargo lambda build --release`` (``--arm64`` for arm64),
  BuildProperties ``Binary`` (which binary, needed when the package has several) and ``Flags``; the
  binary becomes ``bootstrap``. Without cargo-lambda, a plain ``cargo build --release`` for the host
  serves when the host is Linux on the function's architecture (its binary runs here, not on AWS).
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path

from cumulo.packaging.builders.files import copy_tree
from cumulo.packaging.builders.target import BuildTarget, Outcome, as_list, flag
from cumulo.packaging.builders.tools import BuildError, MissingToolError, find_tool, run

HOST_ARCHITECTURE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), platform.machine())


def build_makefile(target: BuildTarget, artifacts: Path, scratch: Path) -> Outcome:
    if not (target.source / "Makefile").is_file():
        raise BuildError(f"{target.what}: BuildMethod makefile needs a file named Makefile in {target.source}")
    make = find_tool("make", f"{target.logical_id} (BuildMethod makefile)")
    copy_tree(target.source, scratch)
    run([make, "-f", str(scratch / "Makefile"), f"build-{target.logical_id}"], cwd=scratch,
        env={"ARTIFACTS_DIR": str(artifacts)}, what=f"{target.what}: make build-{target.logical_id}")
    return Outcome()


def build_go(target: BuildTarget, artifacts: Path, scratch: Path) -> Outcome:
    go = find_tool("go", f"{target.logical_id} (Go)")
    output = target.handler if target.runtime == "go1.x" and target.handler else "bootstrap"
    trim = ["-trimpath"] if flag(target.properties.get("TrimGoPath"), False) else []
    env = {"GOOS": "linux", "GOARCH": "arm64" if target.architecture == "arm64" else "amd64", "CGO_ENABLED": "0"}
    run([go, "build", *trim, "-o", str(artifacts / output), "."], cwd=target.source, env=env,
        what=f"{target.what}: go build")
    return Outcome()


def _binary(target: BuildTarget, metadata: dict) -> str:
    wanted = target.properties.get("Binary")
    if wanted:
        return str(wanted)
    manifest = (target.source / "Cargo.toml").resolve()
    binaries = [t["name"] for package in metadata["packages"] if Path(package["manifest_path"]).resolve() == manifest
                for t in package["targets"] if "bin" in t["kind"]]
    if len(binaries) != 1:
        raise BuildError(f"{target.what}: the package has {len(binaries)} binaries ({', '.join(binaries) or 'none'}): "
                         "name the function's one in Metadata.BuildProperties.Binary")
    return binaries[0]


def build_rust(target: BuildTarget, artifacts: Path, scratch: Path) -> Outcome:
    if not (target.source / "Cargo.toml").is_file():
        raise BuildError(f"{target.what}: no Cargo.toml in {target.source}")
    cargo = find_tool("cargo", f"{target.logical_id} (BuildMethod rust-cargolambda)")
    metadata = json.loads(run([cargo, "metadata", "--no-deps", "--format-version", "1", "--offline"],
                              cwd=target.source, what=f"{target.what}: cargo metadata"))
    binary, output = _binary(target, metadata), Path(metadata["target_directory"])
    flags = as_list(target.properties.get("Flags"))
    if shutil.which("cargo-lambda"):
        arm = ["--arm64"] if target.architecture == "arm64" else []
        run([cargo, "lambda", "build", "--release", *arm, "--bin", binary, *flags], cwd=target.source,
            what=f"{target.what}: cargo lambda build")
        built = output / "lambda" / binary / "bootstrap"
    elif sys.platform == "linux" and target.architecture == HOST_ARCHITECTURE:
        run([cargo, "build", "--release", "--bin", binary, *flags], cwd=target.source,
            what=f"{target.what}: cargo build")
        built = output / "release" / binary
    else:
        raise MissingToolError("cargo-lambda", f"{target.logical_id} (a {target.architecture} binary built on "
                                               f"{sys.platform}/{HOST_ARCHITECTURE})")
    shutil.copy2(built, artifacts / "bootstrap")
    return Outcome()
