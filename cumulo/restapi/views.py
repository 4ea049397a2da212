"""Compiled views of deployed REST API stages: the resource tree for path matching, methods,
authorizers, models, validators and gateway responses of the deployment, and the stage's settings.

Matching follows API Gateway: at each level a literal path part beats a ``{variable}``, which
beats a greedy ``{proxy+}`` (which takes the rest of the path); a resource without the request's
method falls back to its ``ANY`` method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote


@dataclass
class Node:
    resource: dict[str, Any]
    literal: dict[str, Node] = field(default_factory=dict)
    variable: Node | None = None
    greedy: Node | None = None

    @property
    def name(self) -> str:
        part = self.resource.get("pathPart", "")
        return part.strip("{}").rstrip("+")


@dataclass
class Match:
    resource: dict[str, Any]
    method: dict[str, Any]
    path_parameters: dict[str, str]


@dataclass
class StageView:
    api_id: str
    account: str
    region: str
    name: str
    variables: dict[str, str]
    settings: dict[str, Any]  # binaryMediaTypes, apiKeySource, disableExecuteApiEndpoint
    root: Node
    authorizers: dict[str, dict[str, Any]]
    models: dict[str, dict[str, Any]]
    validators: dict[str, dict[str, Any]]
    gateway_responses: dict[str, dict[str, Any]]
    method_settings: dict[str, dict[str, Any]]
    access_log: dict[str, Any] | None
    auth_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = field(default_factory=dict)
    buckets: dict[str, Any] = field(default_factory=dict)  # method throttling, by method settings key

    def match(self, method: str, path: str) -> Match | None:
        """The resource and method for a request path (stage removed, percent-encoded)."""
        segments = [s for s in path.split("/") if s != ""] if path not in ("", "/") else []
        params: dict[str, str] = {}
        node = _walk(self.root, segments, params)
        if node is None:
            return None
        methods = node.resource.get("resourceMethods") or {}
        chosen = methods.get(method) or methods.get("ANY")
        if chosen is None:
            return None
        return Match(node.resource, chosen, params)

    @property
    def binary_media_types(self) -> list[str]:
        return self.settings.get("binaryMediaTypes") or []


def _walk(node: Node, segments: list[str], params: dict[str, str]) -> Node | None:
    if not segments:
        return node
    head, rest = segments[0], segments[1:]
    decoded = unquote(head)
    child = node.literal.get(decoded)
    if child is not None:
        found = _walk(child, rest, params)
        if found is not None:
            return found
    if node.variable is not None:
        trial = dict(params)
        trial[node.variable.name] = decoded
        found = _walk(node.variable, rest, trial)
        if found is not None:
            params.clear()
            params.update(trial)
            return found
    if node.greedy is not None:
        params[node.greedy.name] = unquote("/".join(segments))
        return node.greedy
    return None


def compile_stage(api: dict[str, Any], stage: dict[str, Any], deployment: dict[str, Any]) -> StageView:
    snapshot = deployment["_snapshot"]
    nodes = {r["id"]: Node(r) for r in snapshot["resources"]}
    root = next(n for n in nodes.values() if n.resource["path"] == "/")
    for node in nodes.values():
        parent = nodes.get(node.resource.get("parentId") or "")
        if parent is None:
            continue
        part = node.resource["pathPart"]
        if part.endswith("+}"):
            parent.greedy = node
        elif part.startswith("{"):
            parent.variable = node
        else:
            parent.literal[part] = node
    access = stage.get("accessLogSettings") or {}
    return StageView(
        api_id=api["id"], account=api["_account"], region=api["_region"], name=stage["stageName"],
        variables=dict(stage.get("variables") or {}),
        settings={**snapshot["api"], "disableExecuteApiEndpoint": api.get("disableExecuteApiEndpoint")},
        root=root, authorizers={a["id"]: a for a in snapshot["authorizers"]},
        models={m["name"]: m for m in snapshot["models"]}, validators={v["id"]: v for v in snapshot["validators"]},
        gateway_responses={g["responseType"]: g for g in snapshot["gatewayResponses"]},
        method_settings=dict(stage.get("methodSettings") or {}),
        access_log=access if access.get("destinationArn") and access.get("format") else None)
