"""RuleSet: many compiled patterns matched together by one automaton.

Each sub-rule is a sequence of fields ``(path, value list)``, sorted most selective first
(exact values and prefixes, then ranges/suffixes/wildcards, then anything-but and exists;
by path within a class). All sub-rules of a rule set form a trie over those sequences: a
state's outgoing edges are grouped by path into a ``ValueIndex``, and an edge is labelled with
one whole value list, so sub-rules that start with the same fields share states and every
state is reached only through fields that all matched. A state where sub-rules end records
their rule ids.

Matching flattens the event once (only the paths some rule reads), then walks the trie from
the root: at each state, for each path it has edges on and the event has leaves for, the
index returns the next states for those leaves in a few hash lookups; an edge whose value
list allows ``exists: false`` is also taken when the event lacks the path. Work per event
grows with the states the event actually reaches, not with the number of rules: rules that
differ on an early exact field (``source``, ``detail-type``) are never visited.

Array consistency: when the event has arrays of objects, a walk carries the membership of the
leaves it used so far (see flatten.py) and only continues with leaves from the same array
elements.

Thread safety: ``add``, ``remove`` and ``match`` take one internal lock, so a rule set can be
shared by threads that update rules while others match; a match sees the rules as they were
when it started. (Matching is CPU-bound Python, so the lock costs no parallelism under the
GIL.) Rule ids must be hashable; ``add`` with an existing id replaces that rule.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator

from .dialects import Dialect, get_dialect
from .flatten import WantedPaths, flatten, merge
from .index import ValueIndex
from .pattern import CompiledPattern, Field, as_event, compile_pattern


class _Edge:
    __slots__ = ("field", "refs", "target")

    def __init__(self, field: Field, target: _State) -> None:
        self.field = field
        self.target = target
        self.refs = 0


class _State:
    __slots__ = ("absent", "edges", "indexes", "rules")

    def __init__(self) -> None:
        self.indexes: dict[str, ValueIndex] = {}  # path -> index of this state's edges
        self.edges: dict[tuple[str, tuple], _Edge] = {}  # (path, value-list key) -> edge
        self.absent: dict[str, ValueIndex] = {}  # paths with an exists:false edge
        self.rules: dict[Hashable, int] = {}  # rule id -> sub-rules ending here


class RuleSet:
    """Rules (id -> pattern) of one bus, topic or mapping, matched together."""

    def __init__(self, *, dialect: str | Dialect = "eventbridge") -> None:
        self.dialect = get_dialect(dialect)
        self._root = _State()
        self._rules: dict[Hashable, CompiledPattern] = {}
        self._path_refs: dict[str, int] = {}
        self._wanted: WantedPaths | None = WantedPaths(())  # None: rebuild before matching
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._rules))

    def get(self, rule_id: Hashable) -> CompiledPattern | None:
        return self._rules.get(rule_id)

    def add(self, rule_id: Hashable, pattern: str | dict | CompiledPattern) -> CompiledPattern:
        """Add (or replace) a rule; raises ``InvalidEventPattern`` and changes nothing if the
        pattern is not valid."""
        compiled = (
            pattern
            if isinstance(pattern, CompiledPattern)
            else compile_pattern(pattern, dialect=self.dialect)
        )
        with self._lock:
            if rule_id in self._rules:
                self._unlink(rule_id, self._rules.pop(rule_id))
            self._rules[rule_id] = compiled
            for subrule in compiled.subrules:
                state = self._root
                for field in subrule:
                    state = self._edge_to(state, field)
                state.rules[rule_id] = state.rules.get(rule_id, 0) + 1
            self._count_paths(compiled, +1)
        return compiled

    def remove(self, rule_id: Hashable) -> bool:
        """Remove a rule; returns whether it was there."""
        with self._lock:
            compiled = self._rules.pop(rule_id, None)
            if compiled is None:
                return False
            self._unlink(rule_id, compiled)
            return True

    def match(self, event: dict | str) -> set[Hashable]:
        """The ids of the rules that match the event (a JSON object, parsed or as text)."""
        event = as_event(event)
        if event is None:
            return set()
        with self._lock:
            if self._wanted is None:
                self._wanted = WantedPaths(self._path_refs)
            flat = flatten(event, self.dialect.numbers, self._wanted)
            if flat.members is None:
                return self._walk(flat.values)
            return self._walk_arrays(flat.values, flat.members)

    # matching

    def _walk(self, values: dict[str, list]) -> set[Hashable]:
        found: set[Hashable] = set()
        seen: set[_State] = set()
        pending = [self._root]
        while pending:
            state = pending.pop()
            if state.rules:
                found.update(state.rules)
            out: list[_State] = []
            indexes = state.indexes
            if len(indexes) <= len(values):
                for path, index in indexes.items():
                    leaves = values.get(path)
                    if leaves is not None:
                        for leaf in leaves:
                            index.collect(leaf, out)
                    elif index.absent:
                        out.extend(index.absent)
            else:
                for path, leaves in values.items():
                    index = indexes.get(path)
                    if index is not None:
                        for leaf in leaves:
                            index.collect(leaf, out)
                for path, index in state.absent.items():
                    if path not in values:
                        out.extend(index.absent)
            for nxt in out:
                if nxt not in seen:
                    seen.add(nxt)
                    pending.append(nxt)
        return found

    def _walk_arrays(self, values: dict[str, list], members: dict[str, list]) -> set[Hashable]:
        """``_walk`` for events with arrays of objects: states are visited once per
        membership (the array elements the walk has used so far)."""
        found: set[Hashable] = set()
        seen: set[tuple] = set()
        pending: list[tuple[_State, tuple]] = [(self._root, ())]
        while pending:
            state, membership = pending.pop()
            if state.rules:
                found.update(state.rules)
            indexes = state.indexes
            if len(indexes) <= len(values):
                steps = [(index, values.get(path), path) for path, index in indexes.items()]
            else:
                steps = [(indexes[path], leaves, path) for path, leaves in values.items() if path in indexes]
                steps += [(index, None, path) for path, index in state.absent.items() if path not in values]
            for index, leaves, path in steps:
                if leaves is None:
                    for nxt in index.absent:
                        _push(pending, seen, nxt, membership)
                    continue
                for leaf, chain in zip(leaves, members[path], strict=True):
                    extended = merge(membership, chain) if chain else membership
                    if extended is None:
                        continue
                    out: list[_State] = []
                    index.collect(leaf, out)
                    for nxt in out:
                        _push(pending, seen, nxt, extended)
        return found

    # building

    def _edge_to(self, state: _State, field: Field) -> _State:
        key = (field.path, field.key)
        edge = state.edges.get(key)
        if edge is None:
            edge = state.edges[key] = _Edge(field, _State())
            index = state.indexes.get(field.path)
            if index is None:
                index = state.indexes[field.path] = ValueIndex()
            for matcher in field.matchers:
                index.add(matcher, edge.target)
            if field.allows_absence:
                state.absent[field.path] = index
        edge.refs += 1
        return edge.target

    def _unlink(self, rule_id: Hashable, compiled: CompiledPattern) -> None:
        for subrule in compiled.subrules:
            trail: list[tuple[_State, _Edge]] = []
            state = self._root
            for field in subrule:
                edge = state.edges[(field.path, field.key)]
                trail.append((state, edge))
                state = edge.target
            left = state.rules[rule_id] - 1
            if left:
                state.rules[rule_id] = left
            else:
                del state.rules[rule_id]
            for state, edge in reversed(trail):
                edge.refs -= 1
                if edge.refs:
                    continue
                field = edge.field
                del state.edges[(field.path, field.key)]
                index = state.indexes[field.path]
                for matcher in field.matchers:
                    index.remove(matcher, edge.target)
                if not index.size:
                    del state.indexes[field.path]
                if not index.absent:
                    state.absent.pop(field.path, None)
        self._count_paths(compiled, -1)

    def _count_paths(self, compiled: CompiledPattern, delta: int) -> None:
        refs = self._path_refs
        for path in compiled.paths:
            count = refs.get(path, 0) + delta
            if count:
                refs[path] = count
            else:
                del refs[path]
        self._wanted = None


def _push(pending: list, seen: set, state: _State, membership: tuple) -> None:
    key = (state, membership)
    if key not in seen:
        seen.add(key)
        pending.append(key)
