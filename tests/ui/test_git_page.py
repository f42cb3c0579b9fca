"""The Git page: edit a manifest, commit and push as a persona (the reconciler syncs it), the
history with signatures and diffs, revert with confirmation, and a push the server refuses."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lab.ui.session import FAST_TIMINGS, session
from lab.workspace import Lab

from .conftest import APP

DEPLOYMENT = "apps/web/deployment.yaml"


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.success]
    parts += [e.value for e in at.error] + [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts)


def replicas(lab: Lab) -> int | None:
    obj = lab.client("admin").get("apps/v1", "Deployment", "web", "web")
    return None if obj is None else int(obj["spec"]["replicas"])


def until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def open_git(at: AppTest) -> Lab:
    lab = session().lab
    lab.wait_until_synced("web", timeout=60)
    at.switch_page("pages/git.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Git"]
    return lab


def test_commit_and_push_is_synced_by_the_reconciler(app: AppTest) -> None:
    lab = open_git(app)
    app.selectbox(key="git_file").select(DEPLOYMENT).run()
    text = str(app.text_area(key="git_editor").value)
    assert "replicas: 2" in text
    app.text_area(key="git_editor").input(text.replace("replicas: 2", "replicas: 3"))
    app.selectbox(key="git_persona").select("alice")
    app.text_input(key="git_message").input("Scale web to 3")
    app.button(key="git_commit").click().run()
    assert not app.exception
    assert "alice committed" in texts(app) and "pushed it" in texts(app), texts(app)
    head = lab.git_log(1)[0]
    assert head.title == "Scale web to 3" and head.author == "Alice Developer"
    until(lambda: replicas(lab) == 3, "the reconciler to apply replicas: 3")
    # The history lists both commits, signed, and shows the new one's diff.
    history = app.dataframe[0].value
    assert list(history["message"][:2]) == [
        "Scale web to 3",
        "Add the web-app template's manifests",
    ]
    assert set(history["signature"]) == {"verified"}
    assert "verified" in texts(app)


def test_revert_asks_first_then_pushes_a_revert_commit(app: AppTest) -> None:
    lab = open_git(app)
    text = lab.working_copy().read(DEPLOYMENT).replace("replicas: 2", "replicas: 4")
    lab.commit({DEPLOYMENT: text}, "Scale web to 4", persona="alice")
    app.run()
    pick = app.selectbox(key="git_commit_pick")
    assert pick.value == lab.git_log(1)[0].sha
    app.button(key="git_revert").click().run()
    assert "Revert " in texts(app) and lab.git_log(1)[0].title == "Scale web to 4"
    app.button(key="git_revert_cancel").click().run()
    assert lab.git_log(1)[0].title == "Scale web to 4"
    app.button(key="git_revert").click().run()
    app.selectbox(key="git_revert_persona").select("bob")
    app.button(key="git_revert_confirm").click().run()
    assert not app.exception
    assert "bob reverted" in texts(app), texts(app)
    head = lab.git_log(1)[0]
    assert head.title.startswith('Revert "Scale web to 4"') and head.author == "Bob Opslead"
    assert "replicas: 2" in lab.working_copy().read(DEPLOYMENT)
    lab.wait_until_synced("web", timeout=60)
    assert replicas(lab) == 2


@pytest.fixture
def protected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    """A lab where only bob may change apps/web (the Git server enforces it)."""
    root = tmp_path / "lab"
    Lab.init(
        root,
        "web-app",
        overrides={
            "cluster": {"backend": "embedded", "timings": FAST_TIMINGS},
            "policy": {"protectedPaths": [{"path": "apps/web/**", "allowed": ["bob"]}]},
        },
    )
    monkeypatch.setenv("GITOPS_LAB_DIR", str(root))
    monkeypatch.setenv("GITOPS_LAB_FAST", "1")
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    try:
        yield at
    finally:
        st.cache_resource.clear()


def test_a_refused_push_is_said_in_plain_words(protected: AppTest) -> None:
    app = protected
    lab = open_git(app)
    app.selectbox(key="git_file").select(DEPLOYMENT).run()
    edited = str(app.text_area(key="git_editor").value).replace("replicas: 2", "replicas: 9")
    app.text_area(key="git_editor").input(edited)
    app.selectbox(key="git_persona").select("alice")
    app.text_input(key="git_message").input("Scale web to 9")
    app.button(key="git_commit").click().run()
    assert not app.exception
    error = "\n".join(e.value for e in app.error)
    assert "the Git server refused the push" in error and "only bob may change" in error, error
    assert lab.git_log(1)[0].title != "Scale web to 9"
    # The learner's text is kept: bob may push it.
    assert "replicas: 9" in str(app.text_area(key="git_editor").value)
    app.selectbox(key="git_persona").select("bob")
    app.button(key="git_commit").click().run()
    assert "bob committed" in texts(app), texts(app)
    assert lab.git_log(1)[0].title == "Scale web to 9"


def test_an_empty_message_or_no_change_is_a_plain_warning(app: AppTest) -> None:
    lab = open_git(app)
    app.button(key="git_commit").click().run()
    assert "Write a commit message first." in texts(app)
    app.text_input(key="git_message").input("nothing")
    app.button(key="git_commit").click().run()
    assert not app.exception
    assert "nothing to commit" in texts(app), texts(app)
    assert len(lab.git_log(5)) == 1
