"""Cluster-mode settings: the URL and node name a node is started with, and its scratch folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from cumulo.settings import SettingsError, load_settings


def test_cluster_url_comes_from_the_environment_and_gives_each_node_its_own_scratch(tmp_path):
    settings = load_settings({"data_dir": tmp_path, "port": 4567},
                             environ={"CUMULO_CLUSTER_URL": "postgresql://db/cumulo", "CUMULO_NODE_NAME": "b"},
                             config_file=tmp_path / "none.toml")
    assert settings.cluster_url == "postgresql://db/cumulo"
    assert settings.scratch_dir == tmp_path / "nodes" / "b"


def test_without_a_cluster_the_data_dir_is_the_scratch(tmp_path):
    settings = load_settings({"data_dir": tmp_path}, environ={}, config_file=tmp_path / "none.toml")
    assert settings.cluster_url == "" and settings.scratch_dir == tmp_path


@pytest.mark.parametrize(("name", "value", "message"), [
    ("cluster_url", "mysql://db/x", "postgresql:// URL"),
    ("node_name", "../escape", "letters, digits"),
])
def test_bad_cluster_settings_are_refused_with_a_reason(name, value, message):
    with pytest.raises(SettingsError, match=message):
        load_settings({name: value}, environ={}, config_file=Path("/nonexistent/cumulo.toml"))
