"""IP addresses and CIDR blocks, the way event-ruler reads them.

An address is ``(family, integer)`` with family 4 or 6, so IPv4 and IPv6 never compare.
Only strings shaped like an address are parsed (dotted quads; hex digits and colons with at
least one colon), so a host name is never looked up. A CIDR block becomes the inclusive
integer range from the address as written (event-ruler does not clear the host bits) to that
address with all host bits set.
"""

from __future__ import annotations

import ipaddress
import re

_IPV4_SHAPE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_SHAPE = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


def _shaped_like_ip(text: str) -> bool:
    return bool(_IPV4_SHAPE.fullmatch(text) or _IPV6_SHAPE.fullmatch(text))


def parse_ip(text: str) -> tuple[int, int] | None:
    """``(family, integer)`` for an IPv4/IPv6 literal, None for anything else."""
    if not _shaped_like_ip(text):
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.version, int(address)


def parse_cidr(text: str) -> tuple[int, int, int]:
    """``(family, low, high)`` of a CIDR block; ValueError with event-ruler's reason if bad."""
    parts = text.split("/")
    while parts and parts[-1] == "":  # Java's String.split drops trailing empty strings
        parts.pop()
    if len(parts) != 2:
        raise ValueError("Malformed CIDR, one '/' required")
    try:
        mask = int(parts[1])
    except ValueError:
        raise ValueError("Malformed CIDR, mask bits must be an integer") from None
    if mask < 0:
        raise ValueError("Malformed CIDR, mask bits must not be negative")
    if not _shaped_like_ip(parts[0]):
        raise ValueError(f"Nonstandard IP address: {parts[0]}")
    parsed = parse_ip(parts[0])
    if parsed is None:
        raise ValueError(f"Invalid IP address: {parts[0]}")
    family, low = parsed
    width = 32 if family == 4 else 128
    if mask > width - 1:
        raise ValueError(f"IPv{family} mask bits must be < {width}")
    host_bits = (1 << (width - mask)) - 1
    return family, low, low | host_bits
