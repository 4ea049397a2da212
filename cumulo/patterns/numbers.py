"""Comparable numbers: AWS's fixed-point view of JSON numbers.

EventBridge (event-ruler) compares numbers as fixed-point values: a number in
[-5.0e9, +5.0e9] is truncated (towards minus infinity) to 6 digits after the decimal point,
and two numbers are equal when those fixed-point values are equal. SNS uses the same idea
with [-1.0e9, +1.0e9] and 5 digits. A number outside the range has no comparable form: it
never matches a numeric range or a numeric anything-but, only an exact number of the same
value.

Here the fixed-point value is an ``int`` counting units of ``10**-digits`` (a "key"),
computed exactly from the decimal text, never through binary floating point, so ``0.3`` and
``3e-1`` and ``0.30`` all get the same key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation


@dataclass(frozen=True)
class NumberFormat:
    """The comparable range and precision of one dialect."""

    limit: int  # inclusive bound on the absolute value
    digits: int  # digits kept after the decimal point

    @property
    def scale(self) -> int:
        return 10**self.digits

    def range_error(self) -> str:
        bound = _java_double(self.limit)
        return f"Value must be between -{bound} and {bound}, inclusive"

    def key_of_text(self, text: str) -> int | None:
        """The key of a number written as JSON text, or None when it is out of range."""
        try:
            value = Decimal(text)
        except InvalidOperation:
            return None
        if not value.is_finite() or abs(value) > self.limit:
            return None
        return int(value.scaleb(self.digits).to_integral_value(rounding=ROUND_FLOOR))

    def key_of(self, value: int | float) -> int | None:
        """The key of a parsed JSON number (``int`` or ``float``), or None when out of range."""
        if type(value) is int:
            return value * self.scale if -self.limit <= value <= self.limit else None
        if not math.isfinite(value) or not -self.limit <= value <= self.limit:
            return None
        if value.is_integer():
            return int(value) * self.scale
        # repr() is the shortest text that round-trips, i.e. what the JSON said.
        return self.key_of_text(repr(value))


def _java_double(value: int) -> str:
    """How Java prints a double like 5e9 (``5.0E9``), as event-ruler's messages do."""
    exponent = len(str(value)) - 1
    mantissa = value / 10**exponent
    return f"{mantissa!r}E{exponent}"


EVENTBRIDGE_NUMBERS = NumberFormat(limit=5_000_000_000, digits=6)
SNS_NUMBERS = NumberFormat(limit=1_000_000_000, digits=5)


class Num:
    """A number leaf of a flattened event: its JSON value and its comparable key (or None)."""

    __slots__ = ("key", "value")

    def __init__(self, value: int | float, key: int | None) -> None:
        self.value = value
        self.key = key

    def __repr__(self) -> str:
        return f"Num({self.value!r})"
