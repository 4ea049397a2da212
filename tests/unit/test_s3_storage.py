"""S3's content-addressed bodies: one file per content, reference counts, the start-up sweep."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import pytest

from cumulo.protocol.errors import AwsError
from cumulo.services.s3.storage import BodyStore, check_digests
from cumulo.store.sqlite import SqliteStore


@pytest.fixture
def bodies(tmp_path):
    store = SqliteStore(tmp_path / "state.db")
    yield BodyStore(tmp_path / "s3", store)
    store.close()


def _age(path) -> None:
    os.utime(path, (path.stat().st_mtime - 3600,) * 2)


def test_the_same_content_is_stored_once_and_kept_while_referenced(bodies):
    first = bodies.stage_bytes(b"same", ["CRC32", "SHA256"])
    second = bodies.stage_bytes(b"same")
    assert first.sha256 == second.sha256 == hashlib.sha256(b"same").hexdigest()
    assert first.checksums == {"CRC32": base64.b64encode(zlib.crc32(b"same").to_bytes(4, "big")).decode(),
                               "SHA256": base64.b64encode(hashlib.sha256(b"same").digest()).decode()}
    with bodies.store.transaction():
        bodies.retain(bodies.commit(first))
        bodies.retain(bodies.commit(second))
    with bodies.store.transaction():
        released = bodies.release(first.sha256)
    bodies.delete_unreferenced([released])
    assert bodies.read(first.sha256) == b"same"  # one reference is left
    with bodies.store.transaction():
        released = bodies.release(first.sha256)
    bodies.delete_unreferenced([released])
    assert not bodies.path(first.sha256).exists()


def test_the_sweep_removes_old_unreferenced_bodies_and_staged_files_only(bodies):
    kept, orphan, young = (bodies.stage_bytes(data) for data in (b"kept", b"orphan", b"young"))
    for staged in (kept, orphan, young):
        bodies.commit(staged)
    with bodies.store.transaction():
        bodies.retain(kept.sha256)
    leftover = bodies.stage_bytes(b"staged, never committed")
    for path in (bodies.path(kept.sha256), bodies.path(orphan.sha256), bodies.staging / os.path.basename(
            leftover.path)):
        _age(path)
    assert bodies.sweep() == 2
    assert bodies.read(kept.sha256) == b"kept" and bodies.read(young.sha256) == b"young"
    assert not bodies.path(orphan.sha256).exists() and not os.path.exists(leftover.path)


def test_digests_are_checked(bodies):
    staged = bodies.stage_bytes(b"body", ["SHA1"])
    check_digests(staged, base64.b64encode(hashlib.md5(b"body").digest()).decode(), {"SHA1": staged.checksums["SHA1"]})
    with pytest.raises(AwsError) as wrong:
        check_digests(staged, None, {"SHA1": base64.b64encode(b"x" * 20).decode()})
    assert wrong.value.code == "BadDigest"
