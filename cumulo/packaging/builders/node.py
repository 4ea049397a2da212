"""Node.js functions and layers: npm (``package.json``) and esbuild (``Metadata: BuildMethod: esbuild``).

* npm: the code copied, then ``npm install --omit=dev`` in the copy (a layer's under ``nodejs/``);
  ``npm ci`` instead with BuildProperties ``UseNpmCi: true``.
* esbuild, as ``sam build`` runs it: the entry points (``EntryPoints``, by default the handler's
  file) bundled for Node with BuildProperties ``Minify`` (default true), ``Target`` (es2020),
  ``Sourcemap`` (false; true adds ``--enable-source-maps`` to the function's NODE_OPTIONS, and
  NODE_OPTIONS with it turns source maps on), ``Format`` (cjs), ``External``, ``Loader``,
  ``MainFields``, ``OutExtension``, ``Banner`` and ``Footer``. The dependencies bundled are the
  project's ``node_modules`` when it has one, else installed (with dev dependencies) in a scratch
  copy first. esbuild itself comes from the project's ``node_modules/.bin`` (or a parent
  folder's) or from PATH.
"""

from __future__ import annotations

import json
from pathlib import Path

from cumulo.packaging.builders.files import COPY_EXCLUDED, copy_tree
from cumulo.packaging.builders.target import BuildTarget, Outcome, as_list, flag
from cumulo.packaging.builders.tools import BuildError, find_tool, run

ENTRY_EXTENSIONS = (".ts", ".js", ".mjs", ".cjs", ".mts", ".cts", ".tsx", ".jsx")
SOURCE_MAPS = "--enable-source-maps"


def _npm_install(directory: Path, target: BuildTarget, *, dev: bool) -> None:
    """``npm install`` (``npm ci`` with BuildProperties ``UseNpmCi: true``, as in SAM)."""
    npm = find_tool("npm", f"{target.logical_id} (package.json)")
    verb = "ci" if flag(target.properties.get("UseNpmCi"), False) else "install"
    omit = [] if dev else ["--omit=dev"]
    run([npm, verb, *omit, "--no-audit", "--no-fund", "--no-update-notifier"], cwd=directory,
        what=f"{target.what}: npm {verb}")


def build_nodejs(target: BuildTarget, artifacts: Path, scratch: Path) -> Outcome:
    root = artifacts / "nodejs" if target.is_layer else artifacts
    copy_tree(target.source, root, COPY_EXCLUDED | {"node_modules"})
    if (root / "package.json").is_file():
        _npm_install(root, target, dev=False)
    return Outcome()


def _has_dependencies(package_json: Path) -> bool:
    try:
        manifest = json.loads(package_json.read_text())
    except (OSError, ValueError):
        return False
    return any(manifest.get(key) for key in ("dependencies", "devDependencies", "optionalDependencies"))


def _work_dir(target: BuildTarget, scratch: Path) -> Path:
    """Where esbuild runs: the source itself when its dependencies are installed, else a scratch copy."""
    source = target.source
    if (source / "node_modules").is_dir() or not _has_dependencies(source / "package.json"):
        return source
    copy_tree(source, scratch, COPY_EXCLUDED | {"node_modules"})
    _npm_install(scratch, target, dev=True)
    return scratch


def _bin_dirs(work: Path, source: Path) -> list[Path]:
    """node_modules/.bin of the working folder and of the source's parents (a monorepo's root)."""
    return [work / "node_modules" / ".bin", *(parent / "node_modules" / ".bin" for parent in source.parents)]


def _default_entry(target: BuildTarget, work: Path) -> str:
    module = target.handler.rpartition(".")[0]
    if not module:
        raise BuildError(f"{target.what}: no EntryPoints in BuildProperties and no Handler to take the entry "
                         "point from")
    for extension in ENTRY_EXTENSIONS:
        if (work / f"{module}{extension}").is_file():
            return f"{module}{extension}"
    tried = ", ".join(f"{module}{extension}" for extension in ENTRY_EXTENSIONS[:3])
    raise BuildError(f"{target.what}: the handler's file was not found in {target.source} (tried {tried}, ...): "
                     "set Metadata.BuildProperties.EntryPoints")


def sourcemap_enabled(target: BuildTarget) -> bool:
    node_options = str(target.environment.get("NODE_OPTIONS", ""))
    return flag(target.properties.get("Sourcemap"), SOURCE_MAPS in node_options.split())


def esbuild_arguments(target: BuildTarget, work: Path, artifacts: Path) -> list[str]:
    props = target.properties
    entries = as_list(props.get("EntryPoints"))
    arguments = [*(entries or [_default_entry(target, work)]), "--bundle", "--platform=node",
                 f"--outdir={artifacts}", f"--format={props.get('Format') or 'cjs'}",
                 f"--target={props.get('Target') or 'es2020'}", "--log-level=warning"]
    if not entries:  # the output keeps the handler's path (src/app.ts -> src/app.js)
        arguments.append(f"--outbase={work}")
    if flag(props.get("Minify"), True):
        arguments.append("--minify")
    if sourcemap_enabled(target):
        arguments.append("--sourcemap")
        if not flag(props.get("SourcesContent"), True):
            arguments.append("--sources-content=false")
    arguments += [f"--external:{name}" for name in as_list(props.get("External"))]
    arguments += [f"--loader:{rule}" for rule in as_list(props.get("Loader"))]
    arguments += [f"--out-extension:{rule}" for rule in as_list(props.get("OutExtension"))]
    if props.get("MainFields"):
        arguments.append(f"--main-fields={','.join(as_list(props['MainFields']))}")
    for name in ("Banner", "Footer"):
        if props.get(name):
            arguments.append(f"--{name.lower()}:{props[name]}")
    return arguments


def build_esbuild(target: BuildTarget, artifacts: Path, scratch: Path) -> Outcome:
    if target.is_layer:
        raise BuildError(f"{target.logical_id}: BuildMethod esbuild is for functions; a layer takes nodejsN.x "
                         "(or makefile)")
    work = _work_dir(target, scratch)
    esbuild = find_tool("esbuild", f"{target.logical_id} (BuildMethod esbuild)",
                        local_dirs=_bin_dirs(work, target.source))
    run([esbuild, *esbuild_arguments(target, work, artifacts)], cwd=work, what=f"{target.what}: esbuild")
    if not sourcemap_enabled(target):
        return Outcome()
    options = str(target.environment.get("NODE_OPTIONS", "")).split()
    return Outcome({"NODE_OPTIONS": " ".join(options if SOURCE_MAPS in options else [*options, SOURCE_MAPS])})
