"""The data directory's lock and modes, in one process (flock conflicts between open files)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from cumulo.store.data_dir import DataDirInUse, DataDirLock, prepare_data_dir


def test_a_held_lock_turns_the_next_one_away_naming_its_holder(tmp_path):
    first = DataDirLock(tmp_path)
    first.acquire("http://127.0.0.1:4566")
    try:
        with pytest.raises(DataDirInUse) as refused:
            DataDirLock(tmp_path).acquire("http://127.0.0.1:4567")
        assert str(refused.value) == (f"the data directory {tmp_path} is in use by another Cumulo server "
                                      f"(pid {os.getpid()}, http://127.0.0.1:4566); stop it or use --data-dir")
    finally:
        first.release()
    second = DataDirLock(tmp_path)
    second.acquire("http://127.0.0.1:4567")
    second.release()
    assert json.loads((tmp_path / "cumulo.lock").read_text())["endpoint"] == "http://127.0.0.1:4567"


def test_a_new_data_dir_is_private_and_an_existing_one_is_left_as_it_is(tmp_path):
    created = tmp_path / "new" / "data"
    prepare_data_dir(created)
    assert stat.S_IMODE(created.stat().st_mode) == 0o700
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    prepare_data_dir(existing)
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755


def test_a_data_dir_name_taken_by_a_file_is_not_a_directory(tmp_path):
    (tmp_path / "data").write_text("")
    with pytest.raises(NotADirectoryError):
        prepare_data_dir(tmp_path / "data")
