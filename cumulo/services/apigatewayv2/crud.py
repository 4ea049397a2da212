"""The generic Create/Get/Update/Delete/Get*s operations of API sub-resources, driven by the
table in ``cumulo.services.apigatewayv2.kinds``.

``with_resource_operations`` gives the provider class one method per operation the table serves
(``create_route``, ``get_routes``...), because the gateway finds an operation's handler by its
snake_case name on the provider.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from cumulo.services.apigatewayv2.controlplane import ControlPlane, pick
from cumulo.services.apigatewayv2.kinds import Effect, ResourceKind
from cumulo.services.apigatewayv2.repository import public
from cumulo.services.base import RequestContext, snake_case

Record = dict[str, Any]
Operation = Callable[[ControlPlane, RequestContext, Record], Record]
P = TypeVar("P", bound=type[ControlPlane])


def _parent_id(plane: ControlPlane, kind: ResourceKind, api_id: str, params: Record, *, check: bool) -> str | None:
    """The id of the record's parent (None for a kind without one); with ``check``, NotFound when it is gone."""
    if kind.parent is None:
        return None
    parent_id = params[kind.parent.id_member]
    if check:
        plane.repo.get(kind.parent, api_id, parent_id)
    return parent_id


def _show(plane: ControlPlane, kind: ResourceKind, context: RequestContext, api_id: str, record: Record) -> Record:
    return kind.view(plane, context, api_id, record) if kind.view else public(record)


def _save(plane: ControlPlane, kind: ResourceKind, api: Record, record: Record, parent_id: str | None) -> None:
    if kind.effect is Effect.CONFIGURATION:
        with plane.platform.store.transaction():
            plane.repo.put(kind.store, api["ApiId"], record, parent_id)
            plane.reconfigured(api)
        return
    plane.repo.put(kind.store, api["ApiId"], record, parent_id)
    if kind.effect is Effect.LIVE:
        plane.catalog.api_changed(api["ApiId"])


def _create(kind: ResourceKind) -> Operation:
    def create(plane: ControlPlane, context: RequestContext, params: Record) -> Record:
        api = plane.api_of(context, params)
        if kind.before_create:
            kind.before_create(plane, api, params, params)
        parent_id = _parent_id(plane, kind, api["ApiId"], params, check=True)
        record = pick(params, kind.fields)
        if kind.defaults:
            kind.defaults(plane, api, record, params)
        if kind.prepare:
            kind.prepare(plane, api, record, params)
        record[kind.store.id_member] = plane.repo.new_item_id(kind.store, api["ApiId"], parent_id)
        _save(plane, kind, api, record, parent_id)
        return _show(plane, kind, context, api["ApiId"], record)
    return create


def _get(kind: ResourceKind) -> Operation:
    def get(plane: ControlPlane, context: RequestContext, params: Record) -> Record:
        api_id = plane.api_of(context, params)["ApiId"]
        parent_id = _parent_id(plane, kind, api_id, params, check=True)
        record = plane.repo.get(kind.store, api_id, params[kind.store.id_member], parent_id)
        return _show(plane, kind, context, api_id, record)
    return get


def _list(kind: ResourceKind) -> Operation:
    def get_all(plane: ControlPlane, context: RequestContext, params: Record) -> Record:
        api_id = plane.api_of(context, params)["ApiId"]
        parent_id = _parent_id(plane, kind, api_id, params, check=True)
        return plane.page(plane.repo.items(kind.store, api_id, parent_id), params, kind.list_token,
                          kind.store.id_member, view=lambda record: _show(plane, kind, context, api_id, record))
    return get_all


def _update(kind: ResourceKind) -> Operation:
    def update(plane: ControlPlane, context: RequestContext, params: Record) -> Record:
        api = plane.api_of(context, params)
        parent_id = _parent_id(plane, kind, api["ApiId"], params, check=False)
        record = plane.repo.get(kind.store, api["ApiId"], params[kind.store.id_member], parent_id)
        record.update(pick(params, kind.fields))
        if kind.on_update:
            kind.on_update(plane, api, record, params)
        if kind.prepare:
            kind.prepare(plane, api, record, params)
        _save(plane, kind, api, record, parent_id)
        return _show(plane, kind, context, api["ApiId"], record)
    return update


def _delete(kind: ResourceKind) -> Operation:
    def delete(plane: ControlPlane, context: RequestContext, params: Record) -> Record:
        api = plane.api_of(context, params)
        api_id = api["ApiId"]
        parent_id = _parent_id(plane, kind, api_id, params, check=False)
        record = plane.repo.get(kind.store, api_id, params[kind.store.id_member], parent_id)
        if kind.before_delete:
            kind.before_delete(plane, api, record, params)
        with plane.platform.store.transaction():
            plane.repo.delete(kind.store, api_id, record[kind.store.id_member], parent_id)
            if kind.after_delete:
                kind.after_delete(plane, api, record, params)
            if kind.effect is Effect.CONFIGURATION:
                plane.reconfigured(api)
        if kind.effect is Effect.LIVE:
            plane.catalog.api_changed(api_id)
        return {}
    return delete


_MAKERS: dict[str, tuple[str, Callable[[ResourceKind], Operation]]] = {
    "Create": ("Create{}", _create), "Get": ("Get{}", _get), "List": ("Get{}s", _list),
    "Update": ("Update{}", _update), "Delete": ("Delete{}", _delete),
}


def resource_operations(kinds: Iterable[ResourceKind]) -> dict[str, Operation]:
    """Method name (``create_route``) -> handler, for every generic operation of ``kinds``."""
    operations: dict[str, Operation] = {}
    for kind in kinds:
        for verb in sorted(kind.generic):
            template, make = _MAKERS[verb]
            method = snake_case(template.format(kind.name))
            operation = make(kind)
            operation.__name__ = operation.__qualname__ = method
            operations[method] = operation
    return operations


def with_resource_operations(kinds: Iterable[ResourceKind]) -> Callable[[P], P]:
    """Class decorator: add the generic operations of ``kinds`` as methods (never over one the class defines)."""
    def decorate(cls: P) -> P:
        for method, operation in resource_operations(kinds).items():
            if hasattr(cls, method):
                raise TypeError(f"{cls.__name__}.{method} is both defined and generated from the kind table")
            setattr(cls, method, operation)
        return cls
    return decorate
