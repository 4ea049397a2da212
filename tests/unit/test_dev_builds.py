"""Which functions ``cumulo dev`` builds before deploying or updating them."""

from __future__ import annotations

from pathlib import Path

import yaml

from cumulo.cli.dev import built_functions


def test_dev_builds_what_has_a_build_method_or_dependencies(tmp_path: Path):
    for folder, files in {"plain": {"app.py": ""}, "deps": {"app.py": "", "requirements.txt": "six\n"},
                          "ts": {"app.ts": "export const handler = async () => 1;\n"},
                          "node": {"index.js": ""}}.items():
        (tmp_path / folder).mkdir()
        for name, text in files.items():
            (tmp_path / folder / name).write_text(text)
    function = "AWS::Serverless::Function"
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump({"Transform": "AWS::Serverless-2016-10-31", "Resources": {
        "Plain": {"Type": function, "Properties": {"CodeUri": "plain", "Runtime": "python3.12", "Handler": "app.h"}},
        "Deps": {"Type": function, "Properties": {"CodeUri": "deps", "Runtime": "python3.12", "Handler": "app.h"}},
        "Node": {"Type": function, "Properties": {"CodeUri": "node", "Runtime": "nodejs20.x", "Handler": "index.h"}},
        "Ts": {"Type": function, "Properties": {"CodeUri": "ts", "Runtime": "nodejs20.x", "Handler": "app.handler"},
               "Metadata": {"BuildMethod": "esbuild", "BuildProperties": {"EntryPoints": ["app.ts"]}}}}}))
    assert built_functions(template) == {"Deps", "Ts"}
