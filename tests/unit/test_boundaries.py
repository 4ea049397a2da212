"""Module boundaries: services reach each other only through the platform's typed interfaces.

* Nothing but ``cumulo/platform.py`` and ``cumulo/gateway/`` indexes the platform's providers by
  name (``providers[...]``, ``providers.get(...)``).
* No module reads another service's store tables: it imports neither another service's table
  name constants nor its repository. More broadly, no module imports another service's package
  at all (``services/registry.py``, which lists the providers, aside).
* The top-level packages of ``cumulo`` (each service package counted on its own) import each
  other without cycles, counting the imports made when a module loads.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "cumulo"
ALLOWED_TO_INDEX_PROVIDERS = ("cumulo/platform.py", "cumulo/gateway/")
TABLE_NAME = re.compile(r"^[a-z0-9_]+\.[a-z0-9_.]+$")


def modules() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        found.append((relative, ast.parse(path.read_text(), relative)))
    return found


def module_name(relative: str) -> str:
    name = relative[:-3].replace("/", ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


# Packages outside ``cumulo/services/`` that are part of one service: the HTTP API data plane
# serves what API Gateway v2's control plane defines, the REST API one what API Gateway's defines.
SERVICE_PARTS = {"cumulo.httpapi": "apigatewayv2", "cumulo.restapi": "apigateway"}


def service_of(name: str) -> str | None:
    """``cumulo.services.sqs.provider`` -> ``sqs``; None outside a service package."""
    for package, service in SERVICE_PARTS.items():
        if name == package or name.startswith(package + "."):
            return service
    parts = name.split(".")
    if len(parts) >= 4 and parts[:2] == ["cumulo", "services"]:
        return parts[2]
    return None


def exempt(relative: str, prefixes: tuple[str, ...]) -> bool:
    return any(relative == p or (p.endswith("/") and relative.startswith(p)) for p in prefixes)


def test_only_the_platform_and_the_gateway_look_providers_up_by_name():
    offenders = []
    for relative, tree in modules():
        if exempt(relative, ALLOWED_TO_INDEX_PROVIDERS):
            continue
        for node in ast.walk(tree):
            target = node.value if isinstance(node, ast.Subscript) else (
                node.value if isinstance(node, ast.Attribute) and node.attr == "get" else None)
            if isinstance(target, ast.Attribute) and target.attr == "providers":
                offenders.append(f"{relative}:{node.lineno}")
    assert offenders == []


def table_constants() -> dict[str, set[str]]:
    """Module -> the names it binds to store table names (``"sqs.queues"``) and its repositories."""
    found: dict[str, set[str]] = {}
    for relative, tree in modules():
        names: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Repository"):
                names.add(node.name)
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                pairs = []
                if isinstance(target, ast.Name):
                    pairs = [(target, node.value)]
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs = list(zip(target.elts, node.value.elts, strict=False))
                for name, value in pairs:
                    if (isinstance(name, ast.Name) and name.id.isupper() and isinstance(value, ast.Constant)
                            and isinstance(value.value, str) and TABLE_NAME.match(value.value)):
                        names.add(name.id)
        found[module_name(relative)] = names
    return found


def test_no_module_reads_another_services_tables():
    tables = table_constants()
    offenders = []
    for relative, tree in modules():
        importer = module_name(relative)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
                continue
            owner = service_of(node.module)
            if owner is None or owner == service_of(importer):
                continue
            if node.module.endswith(".repository"):
                offenders.append(f"{relative}:{node.lineno} imports {node.module}")
            touched = {alias.name for alias in node.names} & tables.get(node.module, set())
            if touched:
                offenders.append(f"{relative}:{node.lineno} imports {sorted(touched)} from {node.module}")
    assert offenders == []


def test_no_module_imports_another_service():
    offenders = []
    for relative, tree in modules():
        if exempt(relative, ("cumulo/services/registry.py",)):
            continue
        importer = service_of(module_name(relative))
        for node in ast.walk(tree):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                owner = service_of(name)
                if owner is not None and owner != importer:
                    offenders.append(f"{relative}:{node.lineno} imports {name}")
    assert offenders == []


def load_time_imports(tree: ast.Module) -> list[str]:
    """Modules imported when the module loads (not in functions, not under TYPE_CHECKING)."""
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node) if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) \
                else ():
            if isinstance(inner, ast.Import):
                names += [alias.name for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.module and not inner.level:
                names.append(inner.module)
    return names


def unit(name: str) -> str | None:
    """The package a module counts in: ``cumulo.<top>``, or ``cumulo.services.<service>``."""
    parts = name.split(".")
    if parts[0] != "cumulo" or len(parts) < 2:
        return None
    if parts[1] == "services" and len(parts) >= 4:
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for following in sorted(graph.get(node, ())):
            if state.get(following) == 1:
                return [*stack[stack.index(following):], following]
            if following not in state:
                cycle = visit(following)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def test_top_level_packages_import_each_other_without_cycles():
    graph: dict[str, set[str]] = {}
    for relative, tree in modules():
        source = unit(module_name(relative))
        if source is None:
            continue
        for imported in load_time_imports(tree):
            target = unit(imported)
            if target is not None and target != source:
                graph.setdefault(source, set()).add(target)
    assert find_cycle(graph) is None


def test_the_platforms_interfaces_are_what_their_providers_offer(tmp_path):
    from cumulo.platform import Platform
    from cumulo.services import interfaces
    from cumulo.settings import Settings

    platform = Platform(Settings(data_dir=tmp_path / "data"))
    bound = {"queues": interfaces.QueueSink, "topics": interfaces.TopicSink, "functions": interfaces.FunctionInvoker,
             "capacity": interfaces.FunctionCapacity, "logs": interfaces.LogSink, "events": interfaces.EventBus,
             "objects": interfaces.ObjectStore, "metrics": interfaces.MetricSink}
    mismatches = []
    for attribute, protocol in bound.items():
        offered = getattr(platform, attribute)
        for name, declared in vars(protocol).items():
            if name.startswith("_") or not inspect.isfunction(declared):
                continue
            method = getattr(offered, name)
            wanted = list(inspect.signature(declared).parameters)[1:]
            if (list(inspect.signature(method).parameters) != wanted
                    or inspect.iscoroutinefunction(method) != inspect.iscoroutinefunction(declared)):
                mismatches.append(f"platform.{attribute}.{name}")
    assert mismatches == []
