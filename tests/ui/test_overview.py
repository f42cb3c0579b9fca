"""The Overview page: apps with their badges and resource tree."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from lab.ui.session import session as _session  # noqa: F401 - the page imports it too


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_overview_shows_the_app_synced_and_its_tree(app: AppTest) -> None:
    assert not app.exception
    deadline = time.monotonic() + 60
    while "Synced" not in markdown_text(app) or "Healthy" not in markdown_text(app):
        assert time.monotonic() < deadline, markdown_text(app)
        time.sleep(0.5)
        app.run()
    text = markdown_text(app)
    assert "web" in [s.value for s in app.subheader]
    assert "**Deployment** web" in text and "**ReplicaSet**" in text and "**Pod**" in text
    assert "**Service** web" in text and "**ConfigMap** web-config" in text
    assert not app.exception
