"""Events as matchers see them: field paths mapped to scalar leaves.

An object's keys are joined with ``.`` into paths, so ``{"a": {"b": 1}}`` and ``{"a.b": 1}``
both have the path ``a.b`` (AWS does the same). Arrays are transparent: every element is a
leaf (or object) at the array's own path, and nested arrays flatten the same way. Objects
and empty arrays are not leaves, so ``exists`` never sees them.

Array consistency: a leaf inside an array that holds objects or arrays carries its
*membership*, the chain of ``(array id, element index)`` from the root to it. A match may
not combine two leaves whose chains disagree on the element of a shared array (two fields
taken from different objects of the same array). Arrays of scalars need no chain: two fields
of a sub-rule always have different paths, so they never both come from the same array of
scalars.

``wanted`` restricts flattening to the paths some rule mentions (and their parents), which
keeps the cost of a big event independent of its unused parts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .numbers import Num, NumberFormat

Chain = tuple[tuple[int, int], ...]
Membership = tuple[tuple[int, int], ...]


@dataclass
class Flat:
    """The flattened event: leaves per path and, when the event has arrays of objects, the
    membership chain of each leaf (same positions as in ``values``)."""

    values: dict[str, list] = field(default_factory=dict)
    members: dict[str, list[Chain]] | None = None


class WantedPaths:
    """The paths a rule set reads, and every dotted prefix of them."""

    __slots__ = ("leaves", "prefixes")

    def __init__(self, paths: Iterable[str]) -> None:
        self.leaves = frozenset(paths)
        prefixes: set[str] = set()
        for path in self.leaves:
            cut = path.rfind(".")
            while cut > 0:
                prefixes.add(path[:cut])
                cut = path.rfind(".", 0, cut)
        self.prefixes = frozenset(prefixes)


def flatten(event: dict, numbers: NumberFormat, wanted: WantedPaths | None = None) -> Flat:
    """Flatten ``event`` (only the ``wanted`` paths, if given)."""
    walk = _Walk(numbers, wanted)
    walk.object(event, None, ())
    return Flat(walk.values, walk.members)


class _Walk:
    """One flattening pass. A class rather than closures: cheaper to set up per event."""

    __slots__ = ("key_of", "leaves", "limit", "members", "next_array", "prefixes", "scale", "values")

    def __init__(self, numbers: NumberFormat, wanted: WantedPaths | None) -> None:
        self.values: dict[str, list] = {}
        self.members: dict[str, list[Chain]] | None = None
        self.leaves = wanted.leaves if wanted is not None else None
        self.prefixes = wanted.prefixes if wanted is not None else None
        self.limit = numbers.limit
        self.scale = numbers.scale
        self.key_of = numbers.key_of
        self.next_array = 0

    def object(self, obj: dict, prefix: str | None, chain: Chain) -> None:
        leaves, prefixes, values = self.leaves, self.prefixes, self.values
        for key, value in obj.items():
            path = key if prefix is None else f"{prefix}.{key}"
            t = type(value)
            if t is dict:
                if prefixes is None or path in prefixes:
                    self.object(value, path, chain)
            elif t is list:
                if leaves is None or path in leaves or path in prefixes:
                    self.array(value, path, chain)
            elif leaves is None or path in leaves:
                if t is str or t is bool or value is None:
                    leaf = value
                elif t is int:
                    leaf = Num(value, value * self.scale if -self.limit <= value <= self.limit else None)
                elif t is float:
                    leaf = Num(value, self.key_of(value))
                else:
                    continue  # not a JSON scalar
                if chain or self.members is not None:
                    self.add_member(path, leaf, chain)
                else:
                    bucket = values.get(path)
                    if bucket is None:
                        values[path] = [leaf]
                    else:
                        bucket.append(leaf)

    def array(self, array: list, path: str, chain: Chain) -> None:
        tracked = False
        for element in array:
            if type(element) is dict or type(element) is list:
                tracked = True
                break
        if tracked:
            array_id = self.next_array
            self.next_array += 1
        for index, element in enumerate(array):
            inner = (*chain, (array_id, index)) if tracked else chain
            t = type(element)
            if t is dict:
                self.object(element, path, inner)
            elif t is list:
                self.array(element, path, inner)
            else:
                self.scalar(path, element, inner)

    def scalar(self, path: str, value: object, chain: Chain) -> None:
        if self.leaves is not None and path not in self.leaves:
            return
        t = type(value)
        if t is str or t is bool or value is None:
            leaf = value
        elif t is int:
            leaf = Num(value, value * self.scale if -self.limit <= value <= self.limit else None)
        elif t is float:
            leaf = Num(value, self.key_of(value))
        else:
            return
        if chain or self.members is not None:
            self.add_member(path, leaf, chain)
        else:
            self.values.setdefault(path, []).append(leaf)

    def add_member(self, path: str, leaf: object, chain: Chain) -> None:
        """Add a leaf when memberships are tracked (from the first leaf with a chain on)."""
        members = self.members
        if members is None:
            members = self.members = {p: [()] * len(v) for p, v in self.values.items()}
        self.values.setdefault(path, []).append(leaf)
        members.setdefault(path, []).append(chain)


def merge(membership: Membership, chain: Chain) -> Membership | None:
    """The membership of a partial match extended with a leaf's chain, or None if they
    disagree on the element of some array (the leaf is from another array element)."""
    if not chain:
        return membership
    if not membership:
        return chain
    known = dict(membership)
    for array_id, index in chain:
        seen = known.get(array_id)
        if seen is None:
            known[array_id] = index
        elif seen != index:
            return None
    return tuple(sorted(known.items()))
