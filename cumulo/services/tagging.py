"""Resource tags as every service keeps them: a ``{key: value}`` map in a field of the resource record.

Services differ in wire shape (a list of ``{Key, Value}`` or ``{key, value}``, or a map), in the limits
they enforce and in the error each limit answers; this module does the common part and takes the
service's errors as :class:`TagRules`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

MAX_TAGS = 50
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
RESERVED_PREFIX = "aws:"


class TagProblem(Enum):
    KEY_LENGTH = "key-length"  # a key is not 1 to 128 characters
    VALUE_LENGTH = "value-length"  # a value is over 256 characters
    RESERVED_PREFIX = "reserved-prefix"  # a key starts with aws: (in any case)


def tag_problems(key: str, value: str) -> frozenset[TagProblem]:
    """Everything wrong with one tag: services rank the problems differently when a tag has several."""
    problems = set()
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        problems.add(TagProblem.KEY_LENGTH)
    if len(value) > MAX_VALUE_LENGTH:
        problems.add(TagProblem.VALUE_LENGTH)
    if key.lower().startswith(RESERVED_PREFIX):
        problems.add(TagProblem.RESERVED_PREFIX)
    return frozenset(problems)


@dataclass(frozen=True)
class TagRules:
    """What a service checks on a resource's tags, and the error it answers for each check."""

    too_many: Callable[[], Exception]
    max_tags: int = MAX_TAGS
    # The error for a tag with problems; None when the service does not check single tags.
    invalid_tag: Callable[[str, frozenset[TagProblem]], Exception] | None = None

    def check(self, tags: Mapping[str, str]) -> None:
        if len(tags) > self.max_tags:
            raise self.too_many()
        if self.invalid_tag is None:
            return
        for key, value in tags.items():
            problems = tag_problems(key, value)
            if problems:
                raise self.invalid_tag(key, problems)


def tag_map(tags: Iterable[Mapping[str, Any]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    """``[{Key, Value}]`` (or the service's spelling) as a map; a tag without a value has the empty one."""
    return {tag[key]: tag.get(value, "") for tag in tags or []}


def tag_list(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """A map of tags in the ``[{Key, Value}]`` wire shape (or the service's spelling)."""
    return [{key: k, value: v} for k, v in tags.items()]


def tags_of(record: Mapping[str, Any], field: str = "tags") -> dict[str, str]:
    """The tags a resource record keeps in ``field``."""
    return dict(record.get(field) or {})


def merged_tags(current: Mapping[str, str], added: Mapping[str, str], rules: TagRules | None = None) -> dict[str, str]:
    """``current`` with ``added`` merged in (a new value replaces the old one), checked against ``rules``."""
    merged = {**current, **added}
    if rules is not None:
        rules.check(merged)
    return merged


def without_tags(current: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    """``current`` without the tags with these keys (keys it does not have are ignored)."""
    dropped = set(keys)
    return {k: v for k, v in current.items() if k not in dropped}


def add_tags(record: dict[str, Any], added: Mapping[str, str], rules: TagRules | None = None,
             field: str = "tags") -> None:
    """Merge ``added`` into the tags the record keeps in ``field``."""
    record[field] = merged_tags(tags_of(record, field), added, rules)


def remove_tags(record: dict[str, Any], keys: Iterable[str], field: str = "tags") -> None:
    """Drop the tags with these keys from the record's ``field``."""
    record[field] = without_tags(tags_of(record, field), keys)
