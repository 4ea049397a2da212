"""Admission control: account concurrency and per-function reserved concurrency.

A slot is taken for the whole invoke (from environment acquisition to response) and given
back when it ends. Functions with reserved concurrency draw only from their reservation;
the others share what the account has left unreserved, as on AWS. Throttles carry AWS's
reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cumulo.protocol.errors import AwsError

RESERVED_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_EXCEEDED = "ConcurrentInvocationLimitExceeded"


def function_key(account: str, region: str, name: str) -> str:
    """What concurrency is counted per: a function, all its versions and aliases together."""
    return f"{account}:{region}:{name}"


def limit_scope(account: str, function: str, reserved: bool) -> str:
    """The concurrency a function draws from: its own reservation, or its account's unreserved pool."""
    return f"function:{function}" if reserved else f"account:{account}"


def throttled(reason: str) -> AwsError:
    return AwsError("TooManyRequestsException", "Rate Exceeded.", status=429,
                    fields={"Type": "User", "Reason": reason})


class ConcurrencyLimiter:
    """In-process counters of running invokes, per account and per function."""

    def __init__(self, account_limit: int) -> None:
        self.account_limit = account_limit
        self._unreserved_running: dict[str, int] = {}
        self._function_running: dict[str, int] = {}
        #: told the scope (``limit_scope``) of every slot given back, e.g. to run a waiting event
        self.on_release: Callable[[str], None] | None = None

    def running(self, function_key: str) -> int:
        return self._function_running.get(function_key, 0)

    def total_running(self) -> int:
        return sum(self._function_running.values())

    def acquire(self, account: str, function_key: str, reserved: int | None, reserved_total: int) -> None:
        """Take one concurrency slot; raises TooManyRequestsException when none is free.

        ``reserved`` is this function's reservation (None when it has none);
        ``reserved_total`` is what the account has set aside (reservations, provisioned
        concurrency of functions without one).  Give it back with :meth:`release`.
        """
        running = self._function_running.get(function_key, 0)
        if reserved is not None:
            if running >= reserved:
                raise throttled(RESERVED_EXCEEDED)
        else:
            unreserved_running = self._unreserved_running.get(account, 0)
            if unreserved_running >= self.account_limit - reserved_total:
                raise throttled(ACCOUNT_EXCEEDED)
            self._unreserved_running[account] = unreserved_running + 1
        self._function_running[function_key] = running + 1

    def release(self, account: str, function_key: str, reserved: int | None) -> None:
        left = self._function_running[function_key] - 1
        if left:
            self._function_running[function_key] = left
        else:
            del self._function_running[function_key]
        if reserved is None:
            self._unreserved_running[account] -= 1
        if self.on_release is not None:
            self.on_release(limit_scope(account, function_key, reserved is not None))

    @contextmanager
    def slot(self, account: str, function_key: str, reserved: int | None,
             reserved_total: int) -> Iterator[None]:
        """Hold one concurrency slot for the ``with`` block (see :meth:`acquire`)."""
        self.acquire(account, function_key, reserved, reserved_total)
        try:
            yield
        finally:
            self.release(account, function_key, reserved)
