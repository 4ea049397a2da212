"""ValueIndex: all value matchers of one field at one automaton state, indexed.

Given a leaf, ``collect`` appends every target (next automaton state) whose matcher accepts
it, without testing matchers one by one where a lookup can do:

- exact strings, numbers (by comparable key, or by value when out of range) and literals,
  and equals-ignore-case values: one hash lookup each;
- prefixes and suffixes (plain and ignore-case): one hash lookup per distinct length present;
- numeric ranges: bisect over sorted interval boundaries into precomputed targets;
- CIDR blocks and IP literals: the leaf is parsed once, then each block is a bound check;
- wildcards and anything-but: tested per matcher (they are few per field and state, because
  the automaton walks them last; see machine.py).

Semantics are the ones of ``Matcher.test``; the tests hold the two together.
"""

from __future__ import annotations

from bisect import bisect_right

from .ip import parse_ip
from .matchers import Matcher, in_range
from .numbers import Num
from .wildcard import literal_prefix

_HASHED_STR = ("exact_s", "eq_ic")  # kinds kept in the dict attribute of the same name
_AFFIX = ("prefix", "prefix_ic", "suffix", "suffix_ic")
_STRING_AB = ("ab_s", "ab_prefix", "ab_suffix", "ab_ic", "ab_wildcard")


class _Affixes:
    """Prefixes (or suffixes) of one kind: text -> targets, plus the lengths in use."""

    __slots__ = ("by_text", "lengths")

    def __init__(self) -> None:
        self.by_text: dict[str, list] = {}
        self.lengths: list[int] = []

    def add(self, text: str, target: object) -> None:
        bucket = self.by_text.setdefault(text, [])
        bucket.append(target)
        if len(bucket) == 1:
            self.lengths = sorted({*self.lengths, len(text)})

    def remove(self, text: str, target: object) -> None:
        bucket = self.by_text[text]
        bucket.remove(target)
        if not bucket:
            del self.by_text[text]
            self.lengths = sorted({len(t) for t in self.by_text})


class _Ranges:
    """Numeric ranges: stabbing queries answered from precomputed elementary segments."""

    __slots__ = ("bounds", "items", "slots")

    def __init__(self) -> None:
        self.items: list[tuple[tuple, object]] = []
        self.bounds: list[int] | None = None
        self.slots: list[list] = []

    def add(self, bounds: tuple, target: object) -> None:
        self.items.append((bounds, target))
        self.bounds = None

    def remove(self, bounds: tuple, target: object) -> None:
        self.items.remove((bounds, target))
        self.bounds = None

    def collect(self, key: int, out: list) -> None:
        if self.bounds is None:
            self._build()
        # slot 2i+1 is the point bounds[i]; slot 2i is the open segment below it.
        i = bisect_right(self.bounds, key) - 1
        slot = 2 * i + 1 if i >= 0 and self.bounds[i] == key else 2 * i + 2
        out.extend(self.slots[slot])

    def _build(self) -> None:
        points = sorted({b for bounds, _ in self.items for b in (bounds[0], bounds[2]) if b is not None})
        # Keys are integers: an open segment (a, b) holds a key only when b - a >= 2, and
        # every key in it falls in the same ranges as a + 1.
        slots: list[list] = [self._stab(points[0] - 1)]
        for i, point in enumerate(points):
            if i:
                previous = points[i - 1]
                slots.append(self._stab(previous + 1) if point - previous >= 2 else [])
            slots.append(self._stab(point))
        slots.append(self._stab(points[-1] + 1))
        self.bounds = points
        self.slots = slots

    def _stab(self, key: int) -> list:
        return [target for bounds, target in self.items if in_range(key, bounds)]


class ValueIndex:
    """Matchers of one field at one state. Targets are opaque (automaton states)."""

    def __init__(self) -> None:
        self.exact_s: dict[str, list] = {}
        self.eq_ic: dict[str, list] = {}
        self.exact_n: dict[int, list] = {}
        self.exact_raw: dict[float | int, list] = {}
        self.exact_l: dict[object, list] = {}
        self.affixes = {kind: _Affixes() for kind in _AFFIX}
        self.ranges = _Ranges()
        self.cidrs: list[tuple[int, int, int, object]] = []
        self.wildcards = _Affixes()  # literal text before the first '*' -> (matcher, target)
        self.string_ab: list[tuple[Matcher, object]] = []  # anything-but of strings
        self._excluded: dict[str, list] | None = None  # value -> ab_s targets it does not fail
        self.number_ab: list[tuple[Matcher, object]] = []  # anything-but of numbers
        self.any_leaf: list = []  # exists: true
        self.absent: list = []  # exists: false
        self.size = 0
        self._refresh()

    # registration

    def add(self, matcher: Matcher, target: object) -> None:
        self._apply(matcher, target, adding=True)
        self.size += 1
        self._refresh()

    def remove(self, matcher: Matcher, target: object) -> None:
        self._apply(matcher, target, adding=False)
        self.size -= 1
        self._refresh()

    def _apply(self, matcher: Matcher, target: object, adding: bool) -> None:
        kind, arg = matcher.kind, matcher.arg
        if kind in _HASHED_STR:
            _bucket_op(getattr(self, kind), arg, target, adding)
        elif kind == "exact_n":
            key, raw = arg
            _bucket_op(self.exact_n if key is not None else self.exact_raw, key if key is not None else raw,
                       target, adding)  # fmt: skip
        elif kind == "exact_l":
            _bucket_op(self.exact_l, arg, target, adding)
        elif kind in _AFFIX:
            (self.affixes[kind].add if adding else self.affixes[kind].remove)(arg, target)
        elif kind == "numeric":
            (self.ranges.add if adding else self.ranges.remove)(arg, target)
        elif kind == "cidr":
            _list_op(self.cidrs, (*arg, target), adding)
        elif kind == "wildcard":
            text = literal_prefix(arg)
            (self.wildcards.add if adding else self.wildcards.remove)(text, (matcher, target))
        elif kind in _STRING_AB:
            _list_op(self.string_ab, (matcher, target), adding)
        elif kind == "ab_n":
            _list_op(self.number_ab, (matcher, target), adding)
        elif kind == "exists":
            _list_op(self.any_leaf if arg else self.absent, target, adding)
        else:
            raise AssertionError(kind)

    def _refresh(self) -> None:
        """Precompute which families are in use, so ``collect`` skips empty ones cheaply."""
        affixes = self.affixes
        self._prefix = affixes["prefix"] if affixes["prefix"].by_text else None
        self._suffix = affixes["suffix"] if affixes["suffix"].by_text else None
        self._prefix_ic = affixes["prefix_ic"] if affixes["prefix_ic"].by_text else None
        self._suffix_ic = affixes["suffix_ic"] if affixes["suffix_ic"].by_text else None
        self._lower = bool(self.eq_ic or self._prefix_ic or self._suffix_ic)
        self._string_scan = bool(self.cidrs or self.wildcards.by_text or self.string_ab)
        self._plain_ab = [target for matcher, target in self.string_ab if matcher.kind == "ab_s"]
        self._other_ab = [(matcher, target) for matcher, target in self.string_ab if matcher.kind != "ab_s"]
        self._excluded = None
        self._numbers = bool(self.exact_n or self.exact_raw or self.ranges.items or self.number_ab)

    # matching

    def collect(self, leaf: object, out: list) -> None:
        """Append the targets of every matcher that accepts ``leaf``."""
        t = type(leaf)
        if t is str:
            hit = self.exact_s.get(leaf)
            if hit:
                out.extend(hit)
            if self._prefix is not None:
                _affix_hits(self._prefix, leaf, out, True)
            if self._suffix is not None:
                _affix_hits(self._suffix, leaf, out, False)
            if self._lower:
                lower = leaf.lower()
                hit = self.eq_ic.get(lower)
                if hit:
                    out.extend(hit)
                if self._prefix_ic is not None:
                    _affix_hits(self._prefix_ic, lower, out, True)
                if self._suffix_ic is not None:
                    _affix_hits(self._suffix_ic, lower, out, False)
            if self._string_scan:
                self._scan_string(leaf, out)
        elif t is Num:
            if self._numbers:
                self._match_number(leaf, out)
            for _, target in self.string_ab:
                out.append(target)
        else:
            hit = self.exact_l.get(leaf)
            if hit:
                out.extend(hit)
            for _, target in self.string_ab:
                out.append(target)
        if self.any_leaf:
            out.extend(self.any_leaf)

    def _scan_string(self, leaf: str, out: list) -> None:
        if self.cidrs:
            ip = parse_ip(leaf)
            if ip is not None:
                family, value = ip
                for fam, low, high, target in self.cidrs:
                    if fam == family and low <= value <= high:
                        out.append(target)
        if self.wildcards.by_text:
            candidates: list[tuple[Matcher, object]] = []
            _affix_hits(self.wildcards, leaf, candidates, True)
            for matcher, target in candidates:
                if matcher.regex.fullmatch(leaf) is not None:
                    out.append(target)
        if self._plain_ab:
            excluded = self._excluded
            if excluded is None:
                excluded = self._excluded = self._exclusions()
            out.extend(excluded.get(leaf, self._plain_ab))
        for matcher, target in self._other_ab:
            if matcher.test(leaf):
                out.append(target)

    def _exclusions(self) -> dict[str, list]:
        """For each string some plain anything-but excludes: the targets that still accept it."""
        plain = [(m, t) for m, t in self.string_ab if m.kind == "ab_s"]
        values = {value for matcher, _ in plain for value in matcher.arg}
        return {value: [t for m, t in plain if value not in m.arg] for value in values}

    def _match_number(self, leaf: Num, out: list) -> None:
        key = leaf.key
        if key is not None:
            hit = self.exact_n.get(key)
            if hit:
                out.extend(hit)
            if self.ranges.items:
                self.ranges.collect(key, out)
            for matcher, target in self.number_ab:
                if key not in matcher.arg:
                    out.append(target)
        elif self.exact_raw:
            hit = self.exact_raw.get(leaf.value)
            if hit:
                out.extend(hit)


def _affix_hits(affixes: _Affixes, text: str, out: list, prefix: bool) -> None:
    by_text = affixes.by_text
    size = len(text)
    for length in affixes.lengths:
        if length > size:
            break
        hit = by_text.get(text[:length] if prefix else text[size - length :])
        if hit:
            out.extend(hit)


def _bucket_op(table: dict, key: object, target: object, adding: bool) -> None:
    if adding:
        table.setdefault(key, []).append(target)
    else:
        bucket = table[key]
        bucket.remove(target)
        if not bucket:
            del table[key]


def _list_op(items: list, item: object, adding: bool) -> None:
    if adding:
        items.append(item)
    else:
        items.remove(item)
