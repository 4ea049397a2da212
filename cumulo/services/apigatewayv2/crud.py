"""The generic Create/Get/Update/Delete/Get*s operations, driven by the table of resource kinds
in ``cumulo.services.apigatewayv2.kinds``.

``with_resource_operations`` gives the provider class one method per operation the table serves
(``create_route``, ``get_routes``...), because the gateway finds an operation's handler by its
snake_case name on the provider.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from cumulo.services.apigatewayv2.controlplane import ControlPlane, pick
from cumulo.services.apigatewayv2.repository import not_found, public
from cumulo.services.apigatewayv2.resourcekind import Effect, Owner, Record, ResourceKind
from cumulo.services.base import RequestContext, snake_case

Operation = Callable[[ControlPlane, RequestContext, Record], Record]
P = TypeVar("P", bound=type[ControlPlane])


def _parent_id(plane: ControlPlane, kind: ResourceKind, owner: Owner, params: Record, *, check: bool) -> str | None:
    """The id of the record's parent (None for a kind without one); with ``check``, NotFound when it is gone."""
    if kind.parent is None:
        return None
    parent_id = params[kind.parent.id_member]
    if check:
        plane.repo.get(kind.parent, owner.key, parent_id)
    return parent_id


def _stored(plane: ControlPlane, kind: ResourceKind, owner: Owner, params: Record, parent_id: str | None) -> Record:
    record = plane.repo.find(kind.store, owner.key, kind.requested_id(params), parent_id)
    if record is None:
        raise not_found(kind.name, params[kind.store.id_member])
    return record


def _show(plane: ControlPlane, kind: ResourceKind, owner: Owner, record: Record) -> Record:
    return kind.view(plane, owner, record) if kind.view else public(record)


def _tell(plane: ControlPlane, kind: ResourceKind, owner: Owner) -> None:
    """Tell the catalog's listeners about a change they read directly (after the transaction)."""
    if kind.effect is Effect.LIVE:
        plane.catalog.api_changed(owner.key)
    elif kind.effect is Effect.DOMAINS:
        plane.catalog.domains_changed()


def _save(plane: ControlPlane, kind: ResourceKind, owner: Owner, record: Record, parent_id: str | None,
          after: Callable[[], None] | None = None) -> None:
    with plane.platform.store.transaction():
        plane.repo.put(kind.store, owner.key, record, parent_id)
        if after is not None:
            after()
        if kind.effect is Effect.CONFIGURATION:
            plane.reconfigured(owner.api)
    _tell(plane, kind, owner)


def _create(kind: ResourceKind) -> Operation:
    def create(plane: ControlPlane, context: RequestContext, params: Record) -> Record:
        owner = kind.scope(plane, context, params)
        if kind.before_create:
            kind.before_create(plane, owner, params, params)
        parent_id = _parent_id(plane, kind, owner, params, check=True)
        record = pick(params, kind.fields)
        record[kind.store.id_member] = (kind.requested_id(params) if kind.store.id_length == 0
                                        else plane.repo.new_item_id(kind.store, owner.key, parent_id))
        if kind.defaults:
            kind.defaults(plane, owner, record, params)
        if kind.prepare:
            kind.prepare(plane, owner, record, params)
        after_create = kind.after_create
        _save(plane, kind, owner, record, parent_id,
              (lambda: after_create(plane, owner, record, params)) if after_create else None)
        return _show(plane, kind, owner, record)
    return create


def _get(kind: ResourceKind) -> Operation:
    def get(plane: ControlPlane, context: RequestContext, params: Record) -> Record:
        owner = kind.scope(plane, context, params)
        parent_id = _parent_id(plane, kind, owner, params, check=True)
        return _show(plane, kind, owner, _stored(plane, kind, owner, params, parent_id))
    return get


def _list(kind: ResourceKind) -> Operation:
    def get_all(plane: ControlPlane, context: RequestContext, params: Record) -> Record:
        owner = kind.scope(plane, context, params)
        parent_id = _parent_id(plane, kind, owner, params, check=True)
        return plane.page(plane.repo.items(kind.store, owner.key, parent_id), params, kind.list_token,
                          kind.store.id_member, view=lambda record: _show(plane, kind, owner, record))
    return get_all


def _update(kind: ResourceKind) -> Operation:
    def update(plane: ControlPlane, context: RequestContext, params: Record) -> Record:
        owner = kind.scope(plane, context, params)
        parent_id = _parent_id(plane, kind, owner, params, check=False)
        record = _stored(plane, kind, owner, params, parent_id)
        record.update(pick(params, kind.fields))
        if kind.on_update:
            kind.on_update(plane, owner, record, params)
        if kind.prepare:
            kind.prepare(plane, owner, record, params)
        _save(plane, kind, owner, record, parent_id)
        return _show(plane, kind, owner, record)
    return update


def _delete(kind: ResourceKind) -> Operation:
    def delete(plane: ControlPlane, context: RequestContext, params: Record) -> Record:
        owner = kind.scope(plane, context, params)
        parent_id = _parent_id(plane, kind, owner, params, check=False)
        record = _stored(plane, kind, owner, params, parent_id)
        if kind.before_delete:
            kind.before_delete(plane, owner, record, params)
        with plane.platform.store.transaction():
            plane.repo.delete(kind.store, owner.key, record[kind.store.id_member], parent_id)
            if kind.after_delete:
                kind.after_delete(plane, owner, record, params)
            if kind.effect is Effect.CONFIGURATION:
                plane.reconfigured(owner.api)
        _tell(plane, kind, owner)
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
