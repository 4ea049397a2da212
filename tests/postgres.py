"""A throw-away PostgreSQL database per test, for the cluster store and cluster nodes.

The server is the one named by ``CUMULO_TEST_POSTGRES_URL`` (default: the local one on
127.0.0.1:5432 with trust authentication, as CI starts it). Each database gets a unique name
and is dropped afterwards, so parallel test runs never share state. Without a reachable server
(or without the ``cluster`` extra installed) the tests that need one are skipped, saying why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

ADMIN_URL = os.environ.get("CUMULO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def temporary_database() -> Iterator[str]:
    """Create a uniquely named database and yield its URL; drop it on the way out."""
    psycopg = pytest.importorskip("psycopg", reason="the cluster extra (psycopg) is not installed")
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL server reachable at {ADMIN_URL}: {error}")
    name = f"cumulo_test_{uuid.uuid4().hex[:16]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
