"""`cumulo build` as `sam build`: each language's build, layers, the cache, missing tools, and deploying the result."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from cumulo.packaging.package import zip_directory
from tests.integration.build_sources import GO_BOOTSTRAP, JAVA_HANDLER, JAVA_LIBRARY, RUST_BOOTSTRAP
from tests.integration.test_cli_dev import make_wheel
from tests.server import CumuloServer, subprocess_env

SAM = "Transform: AWS::Serverless-2016-10-31\nResources:\n"


def cumulo(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cumulo.cli.main", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=subprocess_env({"PIP_NO_INDEX": "1", **(env or {})}))


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def built(project: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = cumulo("build", *args, cwd=project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def deploy(server: CumuloServer, project: Path, stack: str) -> None:
    deployed = cumulo("deploy", "--stack-name", stack, "--endpoint-url", server.url, cwd=project)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr


def invoke(server: CumuloServer, stack: str, logical_id: str, event: object) -> object:
    name = server.client("cloudformation").describe_stack_resource(
        StackName=stack, LogicalResourceId=logical_id)["StackResourceDetail"]["PhysicalResourceId"]
    result = server.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    payload = json.loads(result["Payload"].read())
    assert "FunctionError" not in result, payload
    return payload


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# --- Node.js with esbuild --------------------------------------------------------------------------------

ESBUILD_TEMPLATE = SAM + """
  Ts:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: nodejs20.x}
    Metadata:
      BuildMethod: esbuild
      BuildProperties: {Sourcemap: true, Target: es2020}
  Esm:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: esm/, Handler: main.handler, Runtime: nodejs20.x}
    Metadata:
      BuildMethod: esbuild
      BuildProperties: {Format: esm, OutExtension: [.js=.mjs], EntryPoints: [main.ts], Minify: false}
"""


@pytest.fixture(scope="module")
def esbuild_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """esbuild installed from npm at the project's root; src/ has a local dependency to bundle."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    root = write(tmp_path_factory.mktemp("esbuild"), {
        "template.yaml": ESBUILD_TEMPLATE,
        "package.json": '{"name": "app", "private": true, "devDependencies": {"esbuild": "^0.25.0"}}',
        "src/package.json": '{"name": "ts-fn", "private": true, "dependencies": {"shout": "file:./shout"}}',
        "src/shout/package.json": '{"name": "shout", "version": "1.0.0", "main": "index.js"}',
        "src/shout/index.js": "module.exports = (text) => text.toUpperCase() + '!';\n",
        "src/util.ts": "import shout from 'shout';\nexport const greet = (name: string) => shout(`hi ${name}`);\n",
        "src/app.ts": """
            import { greet } from './util';
            interface Event { name?: string }
            export const handler = async (event: Event): Promise<string> => greet(event.name ?? 'world');
        """,
        "esm/main.ts": "export const handler = async (event: {n: number}): Promise<number> => event.n * 2;\n",
    })
    installed = subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=root, capture_output=True, text=True,
                               timeout=240)
    if installed.returncode != 0:
        pytest.skip(f"npm could not install esbuild from the registry: {installed.stderr[-300:]}")
    return root


def test_esbuild_bundles_typescript_and_the_deployed_bundle_runs(server, esbuild_project: Path):
    output = built(esbuild_project)
    assert "Ts" in output and "Esm" in output and "built" in output
    artifacts = esbuild_project / ".aws-sam" / "build"
    # One bundle: TypeScript compiled, the dependency inlined (no node_modules), minified, with its map.
    assert files_in(artifacts / "Ts") == {"app.js", "app.js.map"}
    bundle = (artifacts / "Ts" / "app.js").read_text()
    assert "toUpperCase" in bundle and "interface" not in bundle and bundle.count("\n") < 5
    assert bundle.rstrip().endswith("//# sourceMappingURL=app.js.map")
    assert files_in(artifacts / "Esm") == {"main.mjs"}  # Format esm with OutExtension, not minified
    assert "export {" in (artifacts / "Esm" / "main.mjs").read_text()
    template = yaml.safe_load((artifacts / "template.yaml").read_text())["Resources"]
    assert template["Ts"]["Properties"]["CodeUri"] == "Ts"
    assert template["Ts"]["Properties"]["Environment"] == {"Variables": {"NODE_OPTIONS": "--enable-source-maps"}}
    deploy(server, esbuild_project, "esbuild-app")
    assert invoke(server, "esbuild-app", "Ts", {"name": "cumulo"}) == "HI CUMULO!"
    assert invoke(server, "esbuild-app", "Esm", {"n": 21}) == 42


def test_an_unchanged_build_does_nothing_and_an_edit_rebuilds_only_its_function(esbuild_project: Path):
    built(esbuild_project)
    bundle = esbuild_project / ".aws-sam" / "build" / "Ts" / "app.js"
    before = bundle.stat().st_mtime_ns
    again = built(esbuild_project)
    assert "Nothing to do: all 2 up to date." in again
    assert bundle.stat().st_mtime_ns == before
    (esbuild_project / "esm" / "main.ts").write_text("export const handler = async (e: {n: number}) => e.n * 3;\n")
    edited = built(esbuild_project)
    assert "Built 1, 1 up to date." in edited
    assert bundle.stat().st_mtime_ns == before
    assert "* 3" in (esbuild_project / ".aws-sam" / "build" / "Esm" / "main.mjs").read_text()


def test_without_esbuild_the_error_names_it_and_how_to_get_it(tmp_path: Path):
    write(tmp_path, {"template.yaml": ESBUILD_TEMPLATE, "src/app.ts": "export const handler = async () => 1;\n",
                     "esm/main.ts": "export const handler = async () => 1;\n"})
    empty_path = tmp_path / "no-tools"
    empty_path.mkdir()
    result = cumulo("build", cwd=tmp_path, env={"PATH": str(empty_path)})
    assert result.returncode == 1
    assert "Ts (BuildMethod esbuild) needs `esbuild`" in result.stderr
    assert "npm install --save-dev esbuild" in result.stderr
    assert not (tmp_path / ".aws-sam" / "build" / "template.yaml").exists()


# --- makefile, Python layers, pyproject ------------------------------------------------------------------

def test_makefile_build_runs_the_logical_ids_target_with_artifacts_dir(server, tmp_path: Path):
    write(tmp_path, {
        "template.yaml": SAM + """
          Made:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.11}
            Metadata: {BuildMethod: makefile}
        """,
        "fn/app.py": "def handler(event, context):\n    return open('made.txt').read()\n",
        "fn/Makefile": "build-Made:\n\tcp app.py $(ARTIFACTS_DIR)/\n"
                       "\tprintf 'written by make' > $(ARTIFACTS_DIR)/made.txt\n",
    })
    built(tmp_path)
    assert files_in(tmp_path / ".aws-sam" / "build" / "Made") == {"app.py", "made.txt"}
    deploy(server, tmp_path, "made-app")
    assert invoke(server, "made-app", "Made", {}) == "written by make"
    (tmp_path / "fn" / "app.py").write_text("def handler(event, context):\n    return 'edited'\n")
    # The warning comes before anything is sent: no server needs to answer.
    stale = cumulo("deploy", "--stack-name", "made-app", "--endpoint-url", "http://127.0.0.1:9", cwd=tmp_path)
    assert "deploying the last build; changed since: Made (run `cumulo build`)" in stale.stderr


def test_a_missing_make_target_fails_with_makes_message(tmp_path: Path):
    write(tmp_path, {
        "template.yaml": SAM + """
          Made:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.11}
            Metadata: {BuildMethod: makefile}
        """,
        "fn/Makefile": "build-Other:\n\ttrue\n",
    })
    result = cumulo("build", cwd=tmp_path)
    assert result.returncode == 1
    assert "Made (make): make build-Made: `make -f" in result.stderr and "build-Made" in result.stderr


def test_layers_with_a_build_method_and_pyproject_dependencies_are_built(server, tmp_path: Path):
    wheel = make_wheel(tmp_path, "greeting_lib", "WORD = 'from a built layer'\n")
    write(tmp_path, {
        "template.yaml": SAM + """
          Lib:
            Type: AWS::Serverless::LayerVersion
            Properties: {ContentUri: lib/, CompatibleRuntimes: [python3.11]}
            Metadata: {BuildMethod: python3.11}
          Plain:
            Type: AWS::Serverless::LayerVersion
            Properties: {ContentUri: plain/}
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.11, Layers: [!Ref Lib]}
          Uses:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: uses/, Handler: app.handler, Runtime: python3.11}
        """,
        "uses/app.py": "import greeting_lib\n",
        "uses/pyproject.toml": f'[project]\nname = "fn"\nversion = "1"\n'
                               f'dependencies = ["greeting_lib @ {wheel.as_uri()}"]\n',
        "lib/requirements.txt": f"{wheel}\n",
        "lib/helpers.py": "def shout(text):\n    return text.upper()\n",
        "plain/python/plain.py": "X = 1\n",
        "fn/app.py": "import greeting_lib, helpers\n\ndef handler(e, c):\n"
                     "    return helpers.shout(greeting_lib.WORD)\n",
    })
    built(tmp_path)
    layer = tmp_path / ".aws-sam" / "build" / "Lib"
    assert {"python/helpers.py", "python/greeting_lib.py", "python/requirements.txt"} <= files_in(layer)
    template = yaml.safe_load((tmp_path / ".aws-sam" / "build" / "template.yaml").read_text())["Resources"]
    assert template["Lib"]["Properties"]["ContentUri"] == "Lib"
    assert template["Plain"]["Properties"]["ContentUri"] == "../../plain"  # no BuildMethod: not built
    assert not (tmp_path / ".aws-sam" / "build" / "Plain").exists()
    assert {"app.py", "greeting_lib.py"} <= files_in(tmp_path / ".aws-sam" / "build" / "Uses")
    deploy(server, tmp_path, "layer-app")
    assert invoke(server, "layer-app", "Fn", {}) == "FROM A BUILT LAYER"


# --- Java -------------------------------------------------------------------------------------------------

def _greeting_jar(folder: Path) -> Path:
    """A library jar compiled here, as a project would have it in lib/."""
    write(folder / "greeting-src", {"org/greeting/Greeting.java": JAVA_LIBRARY})
    subprocess.run(["javac", "-d", str(folder / "greeting-classes"),
                    str(folder / "greeting-src" / "org" / "greeting" / "Greeting.java")], check=True)
    jar = folder / "greeting.jar"
    jar.write_bytes(zip_directory(folder / "greeting-classes"))
    return jar


def test_java_trees_are_built_with_javac_alone_into_lambdas_zip_layout(tmp_path: Path):
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("no JDK (javac) on this machine")
    write(tmp_path, {
        "template.yaml": SAM + """
          Layout:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: layout/, Handler: com.example.Handler::handleRequest, Runtime: java17}
          Flat:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: flat/, Handler: com.example.Handler::handleRequest, Runtime: java17}
        """,
        "layout/src/main/java/com/example/Handler.java": JAVA_HANDLER,
        "layout/src/main/resources/settings.properties": "mood=cheerful\n",
        "flat/com/example/Handler.java": JAVA_HANDLER,
        "flat/settings.properties": "mood=flat\n",
    })
    jar = _greeting_jar(tmp_path / "tmp")
    for function in ("layout", "flat"):
        (tmp_path / function / "lib").mkdir()
        shutil.copy(jar, tmp_path / function / "lib" / "greeting.jar")
    output = built(tmp_path)
    assert "javac, java17" in output
    for function, mood in (("Layout", "cheerful"), ("Flat", "flat")):
        artifact = tmp_path / ".aws-sam" / "build" / function
        # Classes and resources at the root, jars under lib/, no sources: what Lambda's Java runtime loads.
        assert files_in(artifact) == {"com/example/Handler.class", "settings.properties", "lib/greeting.jar"}
        ran = subprocess.run(["java", "-cp", f"{artifact}{os.pathsep}{artifact}/lib/*", "com.example.Handler", "x"],
                             capture_output=True, text=True, check=True)
        assert ran.stdout.strip() == f"hello x from a lib jar ({mood})"


def _reachable(host: str) -> bool:
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError:
        return False
    return True


MAVEN_POM = """
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId><artifactId>fn</artifactId><version>1.0</version>
  <properties><maven.compiler.release>17</maven.compiler.release></properties>
  <dependencies>
    <dependency><groupId>com.amazonaws</groupId><artifactId>aws-lambda-java-core</artifactId><version>1.2.3</version></dependency>
  </dependencies>
</project>
"""


def test_a_maven_project_is_built_into_classes_and_lib(tmp_path: Path):
    if shutil.which("mvn") is None:
        pytest.skip("Maven (mvn) is not installed")
    if not _reachable("repo.maven.apache.org"):
        pytest.skip("Maven Central (repo.maven.apache.org) is not reachable from this machine")
    write(tmp_path, {
        "template.yaml": SAM + """
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: fn/, Handler: com.example.Handler::handleRequest, Runtime: java17}
        """,
        "fn/pom.xml": MAVEN_POM,
        "fn/src/main/java/com/example/Handler.java": """
            package com.example;
            import com.amazonaws.services.lambda.runtime.Context;
            import com.amazonaws.services.lambda.runtime.RequestHandler;
            public class Handler implements RequestHandler<String, String> {
                public String handleRequest(String input, Context context) { return input; }
            }
        """,
    })
    built(tmp_path)
    artifact = files_in(tmp_path / ".aws-sam" / "build" / "Fn")
    assert "com/example/Handler.class" in artifact
    assert any(name.startswith("lib/aws-lambda-java-core") for name in artifact)


def test_a_gradle_project_is_built_into_classes_and_lib(tmp_path: Path):
    if shutil.which("gradle") is None:
        pytest.skip("Gradle is not installed")
    if not _reachable("repo.maven.apache.org"):
        pytest.skip("Maven Central (repo.maven.apache.org) is not reachable from this machine")
    write(tmp_path, {
        "template.yaml": SAM + """
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: fn/, Handler: com.example.Handler::handleRequest, Runtime: java17}
        """,
        "fn/settings.gradle": "rootProject.name = 'fn'\n",
        "fn/build.gradle": """
            plugins { id 'java' }
            repositories { mavenCentral() }
            dependencies { implementation 'com.amazonaws:aws-lambda-java-core:1.2.3' }
        """,
        "fn/src/main/java/com/example/Handler.java": "package com.example; public class Handler {}\n",
    })
    built(tmp_path)
    artifact = files_in(tmp_path / ".aws-sam" / "build" / "Fn")
    assert "com/example/Handler.class" in artifact
    assert any(name.startswith("lib/aws-lambda-java-core") for name in artifact)


# --- Go and Rust into a bootstrap -------------------------------------------------------------------------

def _assert_bootstrap(project: Path) -> None:
    bootstrap = project / ".aws-sam" / "build" / "Fn" / "bootstrap"
    assert bootstrap.stat().st_mode & stat.S_IXUSR
    assert bootstrap.read_bytes()[:4] == b"\x7fELF"


def test_rust_is_built_into_a_bootstrap_that_runs_on_provided_al2023(server, tmp_path: Path):
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed")
    write(tmp_path, {
        "template.yaml": SAM + """
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: fn/, Handler: bootstrap, Runtime: provided.al2023}
            Metadata: {BuildMethod: rust-cargolambda}
        """,
        "fn/Cargo.toml": '[package]\nname = "echo-fn"\nversion = "0.1.0"\nedition = "2021"\n',
        "fn/src/main.rs": RUST_BOOTSTRAP,
    })
    output = built(tmp_path)
    assert "Cargo, provided.al2023" in output
    _assert_bootstrap(tmp_path)
    deploy(server, tmp_path, "rust-app")
    assert invoke(server, "rust-app", "Fn", {"a": 1}) == {"built_by": "cargo", "event": {"a": 1}}


@pytest.mark.timeout(600)  # a first `go build` on a machine compiles Go's runtime and standard library
def test_go_is_built_into_a_linux_bootstrap(server, tmp_path: Path):
    if shutil.which("go") is None:
        pytest.skip("Go is not installed on this machine")
    write(tmp_path, {
        "template.yaml": SAM + """
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: fn/, Handler: bootstrap, Runtime: provided.al2023}
            Metadata: {BuildMethod: go1.x}
        """,
        "fn/go.mod": "module example.com/fn\n\ngo 1.21\n",
        "fn/main.go": GO_BOOTSTRAP,
    })
    built(tmp_path)
    _assert_bootstrap(tmp_path)
    deploy(server, tmp_path, "go-app")
    assert invoke(server, "go-app", "Fn", {"a": 1}) == {"built_by": "go", "event": {"a": 1}}


def test_without_go_the_error_names_it_and_where_to_get_it(tmp_path: Path):
    write(tmp_path, {
        "template.yaml": SAM + """
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: fn/, Handler: bootstrap, Runtime: provided.al2023}
            Metadata: {BuildMethod: go1.x}
        """,
        "fn/main.go": GO_BOOTSTRAP,
    })
    empty_path = tmp_path / "no-tools"
    empty_path.mkdir()
    result = cumulo("build", cwd=tmp_path, env={"PATH": str(empty_path)})
    assert result.returncode == 1
    assert "Fn (Go) needs `go`, which was not found in PATH: install Go (https://go.dev/dl/" in result.stderr
