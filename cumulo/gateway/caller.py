"""Who is calling one of Cumulo's own routes: a local process, or a holder of a configured key."""

from __future__ import annotations

import ipaddress

from cumulo.gateway.auth import read_signature, verify
from cumulo.gateway.s3_auth import verify_s3
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest


def is_loopback(address: str) -> bool:
    """Whether the peer address is this machine's loopback (IPv4-mapped IPv6 included)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def has_valid_signature(request: HttpRequest, access_keys: dict[str, str]) -> bool:
    """Whether ``request`` is signed (SigV4, for any service) with one of ``access_keys``."""
    try:
        info = read_signature(request)
        if info is None:
            return False
        if info.service == "s3":
            verify_s3(request, info, access_keys)
        else:
            verify(request, info, access_keys, "rest-json")
    except AwsError:
        return False
    return True
