"""AppTest for the Streamlit app: each test gets its own workspace and a fresh cache.

`st.cache_resource` is shared by every AppTest in one process, so the fixture clears it before
and after (clearing stops the cached lab). Simulator timings are near zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = Path(__file__).parents[2] / "lab" / "ui" / "app.py"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("GITOPS_LAB_DIR", str(tmp_path / "lab"))
    monkeypatch.setenv("GITOPS_LAB_FAST", "1")
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    try:
        yield at
    finally:
        st.cache_resource.clear()
