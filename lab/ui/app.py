"""GitOps Lab, the app: `gitops-lab app` (or `make run`) opens it on a workspace.

Each page is a thin script over the Lab facade and the scenario player.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent

st.set_page_config(page_title="GitOps Lab", page_icon=":material/sync:", layout="wide")

pages = st.navigation(
    [
        st.Page(
            HERE / "pages" / "overview.py",
            title="Overview",
            icon=":material/dashboard:",
            default=True,
        ),
        st.Page(HERE / "pages" / "scenarios.py", title="Scenarios", icon=":material/school:"),
        st.Page(HERE / "pages" / "git.py", title="Git", icon=":material/commit:"),
        st.Page(HERE / "pages" / "reviews.py", title="Reviews", icon=":material/merge_type:"),
        st.Page(HERE / "pages" / "cluster.py", title="Cluster", icon=":material/deployed_code:"),
        st.Page(HERE / "pages" / "cloud.py", title="Cloud", icon=":material/cloud:"),
        st.Page(HERE / "pages" / "sync.py", title="Sync", icon=":material/sync:"),
        st.Page(HERE / "pages" / "audit.py", title="Audit", icon=":material/policy:"),
        st.Page(HERE / "pages" / "settings.py", title="Settings", icon=":material/settings:"),
    ]
)
pages.run()
