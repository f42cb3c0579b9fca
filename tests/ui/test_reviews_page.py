"""The Reviews page: propose a change on a branch, read checks and the preview, approve and
merge as personas — the rules refuse in plain words."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from lab.ui.session import session

PAGE = "pages/reviews.py"
CONFIGMAP = "apps/web/configmap.yaml"


def text(at: AppTest) -> str:
    parts = [str(m.value) for m in at.markdown]
    parts += [str(e.value) for e in (*at.success, *at.error, *at.warning, *at.info)]
    parts += [str(s.value) for s in at.subheader]
    return "\n".join(parts)


@pytest.fixture
def page(app: AppTest) -> AppTest:
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    return app


def propose(
    at: AppTest, branch: str, title: str, edit: tuple[str, str], author: str = "alice"
) -> None:
    at.selectbox(key="reviews_file").set_value(CONFIGMAP).run()
    area = at.text_area(key=f"reviews_text_{CONFIGMAP}")
    assert edit[0] in area.value
    area.set_value(area.value.replace(*edit))
    at.selectbox(key="reviews_author").set_value(author)
    at.text_input(key="reviews_branch").set_value(branch)
    at.text_input(key="reviews_title").set_value(title)
    at.button(key="reviews_propose").click().run()
    assert not at.exception, at.exception


def act(at: AppTest, persona: str, button: str) -> None:
    at.selectbox(key="reviews_persona").set_value(persona)
    at.button(key=button).click().run()
    assert not at.exception, at.exception


def test_propose_check_approve_and_merge(page: AppTest) -> None:
    assert "Rules from lab.yaml" in text(page) and "No merge requests yet" in text(page)
    propose(page, "green", "Make it green", ("COLOR: blue", "COLOR: green"))
    shown = text(page)
    assert "alice opened !1; checks passed" in shown
    assert "!1 Make it green" in shown
    assert "**render**" in shown and "**preview**" in shown
    assert "Not mergeable (approvals)" in shown
    labels = [e.label for e in page.expander]
    assert any("ConfigMap web/web-config — change" in label for label in labels)

    act(page, "alice", "reviews_approve")
    assert "alice opened !1 and cannot approve their own change" in text(page)
    act(page, "bob", "reviews_approve")
    assert "bob approved !1" in text(page) and "Ready to merge" in text(page)
    act(page, "bob", "reviews_merge")
    assert "bob merged !1 into main" in text(page)
    assert "Merged by bob" in text(page)

    lab = session().active  # the same cached lab the page used
    deadline = time.monotonic() + 30
    while (
        lab.kubectl("get", "cm", "web-config", "-n", "web", "-o", "jsonpath={.data.COLOR}").stdout
        != "green"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_a_broken_change_cannot_be_merged(page: AppTest) -> None:
    propose(page, "broken", "Broken YAML", ("COLOR: blue", "COLOR: [blue"))
    shown = text(page)
    assert "checks failed" in shown
    assert "Not mergeable (checks)" in shown and "render" in shown
    act(page, "bob", "reviews_merge")
    assert "Not done: !1 cannot be merged: checks must pass first" in text(page)
    act(page, "alice", "reviews_close")
    assert "alice closed !1" in text(page) and "Closed by alice" in text(page)


def test_an_unchanged_file_or_a_missing_branch_name_is_refused(page: AppTest) -> None:
    page.selectbox(key="reviews_file").set_value(CONFIGMAP).run()
    page.text_input(key="reviews_branch").set_value("x")
    page.button(key="reviews_propose").click().run()
    assert "Not done: the file is unchanged" in text(page)
    area = page.text_area(key=f"reviews_text_{CONFIGMAP}")
    area.set_value(area.value + "\n# note\n")
    page.text_input(key="reviews_branch").set_value("")
    page.button(key="reviews_propose").click().run()
    assert "Not done: name the branch" in text(page)
    assert not page.exception
