"""Java functions and layers, in the zip layout Lambda's Java runtime reads: classes and resources at
the root, dependency jars under ``lib/`` (a layer: every jar under ``java/lib/``).

* Maven (``pom.xml``): in a scratch copy, ``mvn -q -B -DskipTests clean package`` then
  ``mvn dependency:copy-dependencies -DincludeScope=runtime``; ``target/classes`` and the runtime
  dependencies make the artifact. The project's ``mvnw`` wrapper is used when it has one.
* Gradle (``build.gradle`` or ``build.gradle.kts``): the project's ``gradlew`` (else ``gradle``)
  runs a task that an init script adds: main classes/resources and the ``runtimeClasspath`` jars.
* Neither: the JDK alone. ``javac --release N`` (N from the javaN runtime) compiles every ``.java``
  file (``src/main/java`` when the tree has Maven's layout, whose ``src/main/resources`` are copied
  too; else the whole folder, whose other files are copied as they are), with the jars of the
  source's ``lib/`` on the class path and in the artifact.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

from cumulo.packaging.builders.files import COPY_EXCLUDED, copy_tree, files_of
from cumulo.packaging.builders.target import BuildTarget, Outcome
from cumulo.packaging.builders.tools import BuildError, find_tool, run

JAVA_OUTPUTS = frozenset({"target", "build", ".gradle"})
GRADLE_INIT = """
allprojects { p ->
    p.afterEvaluate {
        if (p == p.rootProject && p.plugins.hasPlugin('java')) {
            def out = new File(System.getenv('CUMULO_ARTIFACTS_DIR'))
            p.tasks.register('cumuloFunctionLayout', Copy) {
                into out
                from p.sourceSets.main.output
                into('lib') { from p.configurations.runtimeClasspath }
            }
            p.tasks.register('cumuloLayerLayout', Copy) {
                into new File(out, 'java/lib')
                from p.tasks.named('jar')
                from p.configurations.runtimeClasspath
            }
        }
    }
}
"""


def java_release(runtime: str) -> str:
    """8 for java8.al2, 21 for java21; empty when the runtime names no Java version."""
    match = re.fullmatch(r"java(\d+)(\.al2)?", runtime)
    return match.group(1) if match else ""


def method_for(source: Path) -> str:
    if (source / "pom.xml").is_file():
        return "java-maven"
    if (source / "build.gradle").is_file() or (source / "build.gradle.kts").is_file():
        return "java-gradle"
    return "java-javac"


def _jar(classes: Path, jar: Path) -> None:
    """A jar of ``classes`` (zipfile writes it: no `jar` tool needed)."""
    jar.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: cumulo build\r\n\r\n")
        for path in files_of(classes, frozenset()):
            archive.write(path, path.relative_to(classes).as_posix())


def build_javac(target: BuildTarget, artifacts: Path, scratch: Path) -> Outcome:
    javac = find_tool("javac", f"{target.logical_id} (Java)")
    source = target.source
    classes = scratch / "classes" if target.is_layer else artifacts
    classes.mkdir(parents=True, exist_ok=True)
    if (source / "src" / "main" / "java").is_dir():
        java_root = source / "src" / "main" / "java"
        if (source / "src" / "main" / "resources").is_dir():
            copy_tree(source / "src" / "main" / "resources", classes)
        if (source / "lib").is_dir():
            copy_tree(source / "lib", classes / "lib")
    else:
        java_root = source
        copy_tree(source, classes, COPY_EXCLUDED | JAVA_OUTPUTS | {"*.java"})
    sources = [str(p) for p in files_of(java_root, COPY_EXCLUDED | JAVA_OUTPUTS) if p.suffix == ".java"]
    if not sources:
        raise BuildError(f"{target.what}: no .java files in {java_root}")
    (scratch / "sources.txt").write_text("\n".join(f'"{s}"' for s in sources) + "\n")
    release = java_release(target.runtime)
    run([javac, "-encoding", "UTF-8", *(["--release", release] if release else []), "-d", str(classes),
         "-cp", str(classes / "lib" / "*"), f"@{scratch / 'sources.txt'}"],
        cwd=source, what=f"{target.what}: javac")
    if target.is_layer:
        lib = artifacts / "java" / "lib"
        if (classes / "lib").is_dir():
            copy_tree(classes / "lib", lib)
            shutil.rmtree(classes / "lib")
        _jar(classes, lib / f"{target.logical_id}.jar")
    return Outcome()


def _maven(target: BuildTarget) -> str:
    wrapper = target.source / "mvnw"
    return str(wrapper) if wrapper.is_file() else find_tool("mvn", f"{target.logical_id} (Maven, pom.xml)")


def build_maven(target: BuildTarget, artifacts: Path, scratch: Path) -> Outcome:
    mvn = _maven(target)
    copy_tree(target.source, scratch, COPY_EXCLUDED | {"target"})
    run([mvn, "-q", "-B", "-DskipTests", "clean", "package"], cwd=scratch, what=f"{target.what}: mvn package")
    dependencies = scratch / "target" / "dependency"
    run([mvn, "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={dependencies}"], cwd=scratch, what=f"{target.what}: mvn dependency:copy-dependencies")
    jars = sorted(dependencies.glob("*.jar")) if dependencies.is_dir() else []
    if target.is_layer:
        lib = artifacts / "java" / "lib"
        lib.mkdir(parents=True)
        own = [p for p in (scratch / "target").glob("*.jar") if not p.stem.endswith(("-sources", "-javadoc"))]
        for jar in [*own, *jars]:
            shutil.copy2(jar, lib / jar.name)
        return Outcome()
    if (scratch / "target" / "classes").is_dir():
        copy_tree(scratch / "target" / "classes", artifacts)
    if jars:
        (artifacts / "lib").mkdir(exist_ok=True)
        for jar in jars:
            shutil.copy2(jar, artifacts / "lib" / jar.name)
    return Outcome()


def build_gradle(target: BuildTarget, artifacts: Path, scratch: Path) -> Outcome:
    wrapper = target.source / "gradlew"
    gradle = str(wrapper) if wrapper.is_file() else find_tool("gradle", f"{target.logical_id} (Gradle)")
    init = scratch / "cumulo-init.gradle"
    init.write_text(GRADLE_INIT)
    task = "cumuloLayerLayout" if target.is_layer else "cumuloFunctionLayout"
    run([gradle, "--init-script", str(init), "-q", "--console=plain", "classes", task], cwd=target.source,
        env={"CUMULO_ARTIFACTS_DIR": str(artifacts)}, what=f"{target.what}: gradle {task}")
    return Outcome()
