"""Which service and operation a request is for, decided the way AWS's front ends decide it.

In order: the ``X-Amz-Target`` header (JSON RPC services), a form-encoded ``Action``
(query services), then the HTTP method and path against the REST services' URI templates.
The SigV4 credential scope's service name, when the request is signed, narrows the
candidates, exactly as it routes requests on AWS's shared endpoints.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest
from cumulo.protocol.protocols import PROTOCOLS, Protocol, QueryProtocol
from cumulo.protocol.rest_routes import RouteTable
from cumulo.protocol.sqs_wire import SQS_JSON, SQS_QUERY, legacy_model

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel

REST = ("rest-json", "rest-xml")
# Services with wire quirks of their own: the protocols that read their JSON and query requests,
# and the query edition of their (JSON) model that query requests are read against.
JSON_PROTOCOLS: dict[str, Protocol] = {"sqs": SQS_JSON}
QUERY_EDITIONS: dict[str, tuple[Callable[[], ServiceModel], Protocol]] = {"sqs": (legacy_model, SQS_QUERY)}


@dataclass
class Resolved:
    service: ServiceModel
    operation: OperationModel
    protocol: Protocol
    labels: dict[str, str] | None = None


class UnknownService(AwsError):
    def __init__(self, message: str) -> None:
        super().__init__("UnknownServiceException", message, status=400)


def service_protocols(service: ServiceModel) -> list[str]:
    """Protocols a service answers: its model's list, plus query for awsQueryCompatible services."""
    protocols = list(service.metadata.get("protocols") or [service.protocol])
    if "awsQueryCompatible" in service.metadata and "query" not in protocols:
        protocols.append("query")
    return protocols


class ServiceCatalog:
    """Lazily loaded botocore service models for the services this server answers."""

    def __init__(self, service_names: Iterable[str]) -> None:
        self.service_names = list(service_names)
        self._loader: Any = None
        self._models: dict[str, ServiceModel] = {}
        self._routes: dict[str, RouteTable] = {}
        self._lock = threading.Lock()
        self._indexes: tuple[dict[str, str], dict[str, list[str]]] | None = None
        self._rest_by_scope: dict[str | None, list[str]] = {}

    def model(self, name: str) -> ServiceModel:
        model = self._models.get(name)
        if model is None:
            with self._lock:
                model = self._models.get(name)
                if model is None:
                    # Imported on first use (botocore.model pulls in urllib3): start-up stays short.
                    import botocore.loaders
                    from botocore.model import ServiceModel

                    if self._loader is None:
                        self._loader = botocore.loaders.create_loader()
                    data = self._loader.load_service_model(name, "service-2")
                    model = self._models[name] = ServiceModel(data, service_name=name)
        return model

    def routes(self, name: str) -> RouteTable:
        table = self._routes.get(name)
        if table is None:
            table = self._routes[name] = RouteTable(self.model(name))
        return table

    def warm(self) -> None:
        """Load every model and route table, and the validator's regular-expression engine
        (called in the background at start-up)."""
        import regex  # noqa: F401

        self._index()
        for name in self.service_names:
            if self.model(name).protocol in REST:
                self.routes(name)

    def _index(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        if self._indexes is None:
            by_target: dict[str, str] = {}
            by_scope: dict[str, list[str]] = {}
            for name in self.service_names:
                model = self.model(name)
                prefix = model.metadata.get("targetPrefix")
                if prefix:
                    by_target[prefix] = name
                for scope in {model.signing_name, model.endpoint_prefix, name}:
                    by_scope.setdefault(scope, []).append(name)
            self._indexes = (by_target, by_scope)
        return self._indexes

    def resolve(self, request: HttpRequest, scope_service: str | None) -> Resolved:
        by_target, by_scope = self._index()
        candidates = by_scope.get(scope_service, []) if scope_service else self.service_names
        if scope_service and not candidates:
            raise UnknownService(f"Service '{scope_service}' is not served by this endpoint. "
                                 f"Served services: {', '.join(sorted(self.service_names))}")

        if request.headers.get("smithy-protocol") == "rpc-v2-cbor":
            return self._resolve_rpc_v2(request, by_target, candidates, scope_service)

        target = request.headers.get("x-amz-target")
        if target:
            prefix, _, operation_name = target.rpartition(".")
            name = by_target.get(prefix)
            if name is None or (scope_service and name not in candidates):
                raise AwsError("UnknownOperationException", f"Unknown target prefix '{prefix}'", status=400)
            model = self.model(name)
            if operation_name not in model.operation_names:
                raise AwsError("UnknownOperationException", "", status=400)
            if request.headers.get("content-type", "").startswith("application/x-amz-cbor-1.1"):
                return Resolved(model, model.operation_model(operation_name), PROTOCOLS["amz-cbor-1.1"])
            return Resolved(model, model.operation_model(operation_name), JSON_PROTOCOLS.get(name, PROTOCOLS["json"]))

        action = self._action(request)
        if action is not None:
            return self._resolve_query(request, action, candidates, scope_service)

        # S3's /{Bucket}/{Key+} matches almost any path: when the request does not say which
        # service it is for, every other REST service is tried first.
        for name in self._rest_services(scope_service, candidates):
            found = self.routes(name).match(request.method, request.path, request.query, request.headers)
            if found is not None:
                model = self.model(name)
                return Resolved(model, found[0], PROTOCOLS[model.protocol], found[1])
        if scope_service and len(candidates) == 1:
            model = self.model(candidates[0])
            if model.protocol in REST:
                raise AwsError("UnknownOperationException",
                               f"No operation of {model.service_name} matches "
                               f"{request.method} {request.path}", status=404)
            raise AwsError("UnknownOperationException" if model.protocol == "json" else "InvalidAction",
                           "Could not find operation: the request names no Action or X-Amz-Target",
                           status=400)
        raise UnknownService(f"Cannot tell which AWS service {request.method} {request.path} is for: "
                             "sign the request (SigV4) or send X-Amz-Target / Action=")

    def _rest_services(self, scope_service: str | None, candidates: list[str]) -> list[str]:
        """The REST services a request may be for, in the order they are tried (cached per scope)."""
        found = self._rest_by_scope.get(scope_service)
        if found is None:
            found = sorted((n for n in candidates if self.model(n).protocol in REST), key=lambda n: n == "s3")
            self._rest_by_scope[scope_service] = found
        return found

    def _resolve_rpc_v2(self, request: HttpRequest, by_target: dict[str, str], candidates: list[str],
                        scope_service: str | None) -> Resolved:
        parts = request.path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "service" or parts[2] != "operation" or request.method != "POST":
            raise AwsError("UnknownOperationException", "RPC v2 requests are POST /service/{Service}/operation/"
                           "{Operation}", status=404)
        name = by_target.get(parts[1])
        if name is None or (scope_service and name not in candidates):
            raise AwsError("UnknownOperationException", f"Unknown service '{parts[1]}'", status=404)
        model = self.model(name)
        if parts[3] not in model.operation_names:
            raise AwsError("UnknownOperationException", f"Unknown operation '{parts[3]}'", status=404)
        return Resolved(model, model.operation_model(parts[3]), PROTOCOLS["smithy-rpc-v2-cbor"])

    @staticmethod
    def _action(request: HttpRequest) -> str | None:
        if "Action" in request.query:
            return request.query["Action"]
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            for key, value in QueryProtocol.form_pairs(request):
                if key == "Action":
                    return value
        return None

    def _resolve_query(self, request: HttpRequest, action: str, candidates: list[str],
                       scope_service: str | None) -> Resolved:
        query_services = [n for n in candidates if "query" in service_protocols(self.model(n))]
        for name in query_services:
            model = self.model(name)
            if action in model.operation_names:
                edition = QUERY_EDITIONS.get(name)
                if edition is None:
                    return Resolved(model, model.operation_model(action), PROTOCOLS["query"])
                model = edition[0]()
                return Resolved(model, model.operation_model(action), edition[1])
        if query_services:
            raise AwsError("InvalidAction", f"The action or operation {action} is not valid "
                           "for this endpoint.", status=400)
        raise UnknownService(f"Action={action} names no operation of a query service served here")
