"""One builder per build method: ``BUILDERS[method](target, artifacts_dir, scratch_dir) -> Outcome``.

A builder writes the deployable content of one function or layer into ``artifacts_dir`` (empty
when it starts), may use ``scratch_dir`` (empty, removed afterwards), and raises ``BuildError``
(``MissingToolError`` when the tool itself is missing) with the tool's output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cumulo.packaging.builders.java import build_gradle, build_javac, build_maven
from cumulo.packaging.builders.native import build_go, build_makefile, build_rust
from cumulo.packaging.builders.node import build_esbuild, build_nodejs
from cumulo.packaging.builders.python import build_python
from cumulo.packaging.builders.target import BuildTarget, Outcome

Builder = Callable[[BuildTarget, Path, Path], Outcome]
BUILDERS: dict[str, Builder] = {
    "python": build_python,
    "nodejs": build_nodejs,
    "esbuild": build_esbuild,
    "makefile": build_makefile,
    "java-maven": build_maven,
    "java-gradle": build_gradle,
    "java-javac": build_javac,
    "go": build_go,
    "rust": build_rust,
}
