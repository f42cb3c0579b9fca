"""Overview: every app with its sync and health, revision, last sync, and resource tree."""

from __future__ import annotations

import streamlit as st

from lab.ui import widgets
from lab.ui.session import session
from lab.workspace import LabError

current = session()
lab = current.active

st.title("Overview")
if current.in_scenario:
    st.info("A scenario is being played: this is its lab. Stop it on the Scenarios page.")


@st.fragment(run_every=2)
def live() -> None:
    snapshot = lab.snapshot()
    if snapshot.head is not None:
        head = snapshot.head
        st.caption(f"Git HEAD `{head.short}` {head.title} — {head.author}")
    if snapshot.engine is not None and not snapshot.engine.cluster_reachable:
        st.error(f"The cluster is unreachable: {snapshot.engine.cluster_message}")
    if not snapshot.apps:
        st.info("The reconciler is starting...")
        return
    for app in snapshot.apps:
        with st.container(border=True):
            left, right = st.columns([3, 2])
            with left:
                st.subheader(app.name)
                st.markdown(
                    f"{widgets.sync_badge(app.sync)} {widgets.health_badge(app.health)}"
                    + (" :violet-badge[paused]" if app.paused else "")
                    + (" :orange-badge[rolled back]" if app.pinned else "")
                )
                target = app.target
                if target is not None:
                    st.markdown(f"Revision `{target.short}` — {target.title} ({target.author})")
                st.caption(f"`{app.spec.path}` → namespace `{app.spec.namespace}`")
                if app.message:
                    st.markdown(f"_{app.message}_")
                for warning in app.warnings:
                    st.warning(warning)
                op = app.operation
                if op is not None:
                    st.caption(
                        f"Last operation #{op.id}: {op.kind} by {op.initiated_by} — {op.phase}"
                        + (f": {op.message}" if op.message else "")
                    )
            with right:
                try:
                    widgets.tree(lab.resource_tree(app.name))
                except LabError as exc:
                    st.caption(str(exc))


live()
