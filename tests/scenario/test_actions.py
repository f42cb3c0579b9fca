"""Scenario actions on a real workspace: what a `commit` action's edits turn into."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.scenario.actions import ActionError, edited_files
from lab.workspace import Lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return Lab.init(tmp_path_factory.mktemp("actions") / "lab", "web-app")


def test_two_edits_of_one_file_apply_in_order(lab: Lab) -> None:
    path = "apps/web/deployment.yaml"
    files = edited_files(
        lab,
        [
            {"path": path, "set": {"spec.replicas": 4}},
            {"path": path, "set": {"metadata.labels.team": "blue"}},
            {"path": path, "replace": {"old": "team: blue", "new": "team: green"}},
        ],
    )
    assert list(files) == [path]
    text = files[path]
    assert isinstance(text, str)
    deployment = yaml.safe_load(text)
    assert deployment["spec"]["replicas"] == 4
    assert deployment["metadata"]["labels"]["team"] == "green"


def test_an_edit_after_a_delete_of_the_same_file_is_a_plain_error(lab: Lab) -> None:
    path = "apps/web/service.yaml"
    with pytest.raises(ActionError, match="deleted by an earlier edit"):
        edited_files(lab, [{"path": path, "delete": True}, {"path": path, "set": {"a": 1}}])
    written = edited_files(lab, [{"path": path, "delete": True}, {"path": path, "write": "x"}])
    assert written == {path: "x"}


def test_edits_of_different_files_stay_apart(lab: Lab) -> None:
    files = edited_files(
        lab,
        [
            {"path": "apps/web/deployment.yaml", "set": {"spec.replicas": 3}},
            {"path": "apps/web/new.yaml", "write": "kind: ConfigMap\n"},
            {"path": "apps/web/deployment.yaml", "set": {"spec.paused": True}},
        ],
    )
    deployment = yaml.safe_load(str(files["apps/web/deployment.yaml"]))
    assert deployment["spec"]["replicas"] == 3 and deployment["spec"]["paused"] is True
    assert files["apps/web/new.yaml"] == "kind: ConfigMap\n"
    assert Path(lab.repo_path / "apps/web/new.yaml").exists() is False
