"""`cumulo build`'s choices: which resources it builds and how (SAM's rules), and esbuild's command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cumulo.packaging.build import BuildEvent, build, changed_since_build
from cumulo.packaging.build_plan import cache_key, default_code_uris, plan
from cumulo.packaging.builders.node import esbuild_arguments
from cumulo.packaging.builders.target import BuildTarget
from cumulo.packaging.builders.tools import BuildError
from cumulo.template_loader import load_template


def targets(tmp_path: Path, resources: dict, globals_function: dict | None = None) -> dict[str, BuildTarget]:
    body = {"Resources": resources, "Globals": {"Function": globals_function or {}}}
    default_code_uris(body)
    return {t.logical_id: t for t in plan(body, tmp_path)}


def function(runtime: str = "", code: str = "src", metadata: dict | None = None, **props) -> dict:
    resource = {"Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": code, **({"Runtime": runtime} if runtime else {}), **props}}
    return {**resource, "Metadata": metadata} if metadata else resource


@pytest.fixture
def src(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    return tmp_path / "src"


def test_the_method_follows_build_method_then_runtime(tmp_path: Path, src: Path):
    found = targets(tmp_path, {
        "Py": function("python3.12"), "Node": function("nodejs22.x"), "Java": function("java21"),
        "Es": function("nodejs22.x", metadata={"BuildMethod": "esbuild"}),
        "Make": function("provided.al2023", metadata={"BuildMethod": "makefile"}),
        "Go": function("provided.al2023", metadata={"BuildMethod": "go1.x"}),
        "Rust": function("provided.al2023", metadata={"BuildMethod": "rust-cargolambda"}),
        "Custom": function("provided.al2023", metadata={"BuildMethod": "python3.13"}),
        "Bootstrap": function("provided.al2023"), "Ruby": function("ruby3.3"),
        "Remote": function("python3.12", code="s3://bucket/code.zip"),
        "Image": function("python3.12", PackageType="Image"),
        "Skipped": function("python3.12", metadata={"SkipBuild": True}),
    })
    assert {name: t.method for name, t in found.items()} == {
        "Py": "python", "Node": "nodejs", "Java": "java-javac", "Es": "esbuild", "Make": "makefile", "Go": "go",
        "Rust": "rust", "Custom": "python"}
    assert found["Custom"].runtime == "python3.13"  # pip runs for the BuildMethod's runtime


def test_java_projects_are_built_by_the_tool_their_files_name(tmp_path: Path, src: Path):
    (src / "pom.xml").write_text("<project/>")
    assert targets(tmp_path, {"Fn": function("java21")})["Fn"].method == "java-maven"
    (src / "pom.xml").unlink()
    (src / "build.gradle.kts").write_text("")
    assert targets(tmp_path, {"Fn": function("java21")})["Fn"].method == "java-gradle"


def test_layers_are_built_only_with_a_build_method(tmp_path: Path, src: Path):
    found = targets(tmp_path, {
        "Built": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "src"},
                  "Metadata": {"BuildMethod": "nodejs22.x", "BuildArchitecture": "arm64"}},
        "Raw": {"Type": "AWS::Lambda::LayerVersion", "Properties": {"Content": "src"},
                "Metadata": {"BuildMethod": "makefile"}},
        "Plain": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "src"}}})
    assert (found["Built"].method, found["Built"].is_layer, found["Built"].architecture) == ("nodejs", True, "arm64")
    assert (found["Raw"].method, found["Raw"].code_property) == ("makefile", "Content")
    assert "Plain" not in found


def test_globals_give_code_runtime_handler_and_architecture(tmp_path: Path, src: Path):
    found = targets(tmp_path, {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {}}},
                    {"CodeUri": "src", "Runtime": "python3.12", "Handler": "app.handler", "Architectures": ["arm64"]})
    assert (found["Fn"].source, found["Fn"].runtime, found["Fn"].handler, found["Fn"].architecture) == (
        src.resolve(), "python3.12", "app.handler", "arm64")


def test_an_unknown_build_method_is_refused(tmp_path: Path, src: Path):
    with pytest.raises(BuildError, match=r"Fn: unknown Metadata\.BuildMethod 'webpack'"):
        targets(tmp_path, {"Fn": function("nodejs22.x", metadata={"BuildMethod": "webpack"})})


def test_the_cache_key_follows_content_and_build_properties_but_not_installed_modules(tmp_path: Path, src: Path):
    (src / "app.ts").write_text("export const handler = 1;\n")
    esbuild = {"BuildMethod": "esbuild", "BuildProperties": {"Minify": True}}
    key = cache_key(targets(tmp_path, {"Fn": function("nodejs22.x", metadata=esbuild)})["Fn"])
    (src / "node_modules").mkdir()
    (src / "node_modules" / "x.js").write_text("1")
    assert cache_key(targets(tmp_path, {"Fn": function("nodejs22.x", metadata=esbuild)})["Fn"]) == key
    esbuild["BuildProperties"] = {"Minify": False}
    assert cache_key(targets(tmp_path, {"Fn": function("nodejs22.x", metadata=esbuild)})["Fn"]) != key
    esbuild["BuildProperties"] = {"Minify": True}
    (src / "app.ts").write_text("export const handler = 2;\n")
    assert cache_key(targets(tmp_path, {"Fn": function("nodejs22.x", metadata=esbuild)})["Fn"]) != key


def test_esbuild_arguments_follow_sams_build_properties(tmp_path: Path, src: Path):
    (src / "handlers").mkdir()
    (src / "handlers" / "app.ts").write_text("")
    defaults = BuildTarget("Fn", "AWS::Serverless::Function", "CodeUri", src, "esbuild", "nodejs22.x",
                           handler="handlers/app.handler")
    out = tmp_path / "out"
    assert esbuild_arguments(defaults, src, out) == [
        "handlers/app.ts", "--bundle", "--platform=node", f"--outdir={out}", "--format=cjs", "--target=es2020",
        "--log-level=warning", f"--outbase={src}", "--minify"]
    everything = BuildTarget("Fn", "AWS::Serverless::Function", "CodeUri", src, "esbuild", "nodejs22.x", properties={
        "EntryPoints": ["a.ts", "b.ts"], "Minify": "false", "Sourcemap": True, "Target": "node22", "Format": "esm",
        "External": ["@aws-sdk/*"], "Loader": [".png=file"], "OutExtension": [".js=.mjs"], "MainFields": "module,main",
        "Banner": "js=// hi"})
    assert esbuild_arguments(everything, src, out) == [
        "a.ts", "b.ts", "--bundle", "--platform=node", f"--outdir={out}", "--format=esm", "--target=node22",
        "--log-level=warning", "--sourcemap", "--external:@aws-sdk/*", "--loader:.png=file",
        "--out-extension:.js=.mjs", "--main-fields=module,main", "--banner:js=// hi"]
    with_node_options = BuildTarget("Fn", "AWS::Serverless::Function", "CodeUri", src, "esbuild", "nodejs22.x",
                                    handler="handlers/app.handler",
                                    environment={"NODE_OPTIONS": "--enable-source-maps"})
    assert "--sourcemap" in esbuild_arguments(with_node_options, src, out)


def test_a_missing_handler_file_asks_for_entry_points(tmp_path: Path, src: Path):
    target = BuildTarget("Fn", "AWS::Serverless::Function", "CodeUri", src, "esbuild", "nodejs22.x",
                         handler="nowhere.handler")
    with pytest.raises(BuildError, match=r"set Metadata\.BuildProperties\.EntryPoints"):
        esbuild_arguments(target, src, tmp_path)


def project(tmp_path: Path, resources: str) -> Path:
    (tmp_path / "template.yaml").write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + resources)
    return tmp_path / "template.yaml"


PYTHON_FUNCTION = "  {name}:\n    Type: AWS::Serverless::Function\n    Properties: {{CodeUri: src/, Handler: app.h, " \
                  "Runtime: python3.12}}\n"


def test_resources_with_the_same_code_and_settings_are_built_once_and_removed_ones_are_cleaned(tmp_path: Path,
                                                                                               src: Path):
    (src / "app.py").write_text("def h(e, c):\n    return 1\n")
    template = project(tmp_path, PYTHON_FUNCTION.format(name="One") + PYTHON_FUNCTION.format(name="Two"))
    events: list[BuildEvent] = []
    build(template, progress=events.append)
    assert [(e.logical_id, e.state) for e in events] == [("One", "building"), ("One", "built"), ("Two", "building"),
                                                         ("Two", "built")]
    out = tmp_path / ".aws-sam" / "build"
    assert (out / "One" / "app.py").read_text() == (out / "Two" / "app.py").read_text()
    template.write_text(template.read_text().replace(PYTHON_FUNCTION.format(name="Two"), ""))
    events.clear()
    build(template, progress=events.append)
    assert [(e.logical_id, e.state) for e in events] == [("One", "cached")]
    assert not (out / "Two").exists()
    assert "Two" not in load_template((out / "template.yaml").read_text())["Resources"]


def test_a_failed_build_keeps_the_previous_artifact(tmp_path: Path, src: Path):
    (src / "app.py").write_text("def h(e, c):\n    return 1\n")
    template = project(tmp_path, PYTHON_FUNCTION.format(name="Fn"))
    build(template, progress=lambda event: None)
    (src / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no dependencies list: refused
    (src / "app.py").write_text("def h(e, c):\n    return 2\n")
    with pytest.raises(BuildError, match="no \\[project\\] dependencies list"):
        build(template, progress=lambda event: None)
    assert "return 1" in (tmp_path / ".aws-sam" / "build" / "Fn" / "app.py").read_text()
    assert changed_since_build(template) == ["Fn"]
