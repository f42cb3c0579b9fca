"""Audit: who changed what, when — a timeline, a filterable table, proof that the trail was not
edited (the hash chain), CSV and JSON downloads, and the outcome figures a presenter shows
(time to detect and correct drift, time to recover from a bad commit, changes per person).

Reads `lab.audit_events(...)` (filtered in the audit log itself), `lab.verify_audit()` and
`lab.outcomes()`; `lab.engine.audit.dataframe` makes the table, as in the notebooks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import streamlit as st

from lab.engine.audit import EVENT_TYPES, AuditError, dataframe, format_time
from lab.ui.session import session
from lab.workspace import LabError

ALL = "(all)"
LAB_WIDE = "(lab-wide events)"
SINCE = {
    "all time": None,
    "last 5 minutes": timedelta(minutes=5),
    "last hour": timedelta(hours=1),
    "last 24 hours": timedelta(days=1),
}
SHOWN = [
    "seq",
    "time",
    "type",
    "app",
    "actor",
    "message",
    "resource",
    "revision",
    "operation",
    "managers",
]

current = session()
lab = current.active

st.title("Audit")
st.caption(
    "Every push, refusal, verification, sync, drift, correction, rollback and policy change, "
    "hash-chained: an edited, deleted or reordered entry is found."
)
if current.in_scenario:
    st.info("A scenario is being played: this is its lab. Stop it on the Scenarios page.")


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def filters() -> dict[str, Any]:
    out: dict[str, Any] = {}
    types = st.session_state.get("audit_types") or []
    if types:
        out["types"] = list(types)
    app = st.session_state.get("audit_app", ALL)
    if app == LAB_WIDE:
        out["app"] = ""
    elif app != ALL:
        out["app"] = app
    actor = st.session_state.get("audit_actor", ALL)
    if actor != ALL:
        out["actor"] = actor
    window = SINCE.get(str(st.session_state.get("audit_since", "all time")))
    if window is not None:
        out["since"] = format_time(datetime.now(UTC) - window)
    return out


try:
    every = lab.audit_events()
except (LabError, AuditError) as exc:
    st.error(f"The audit trail cannot be read: {exc}")
    st.stop()

actors = sorted({e.actor for e in every if e.actor})
columns = st.columns([3, 2, 2, 2])
columns[0].multiselect("Event types", list(EVENT_TYPES), key="audit_types")
columns[1].selectbox("App", [ALL, LAB_WIDE, *(a.name for a in lab.config.apps)], key="audit_app")
columns[2].selectbox("Actor", [ALL, *actors], key="audit_actor")
columns[3].selectbox("Since", list(SINCE), key="audit_since")


@st.fragment(run_every=5)
def live() -> None:
    try:
        check = lab.verify_audit()
        events = lab.audit_events(**filters())
        summary = lab.outcomes().summary()
    except (LabError, AuditError) as exc:
        st.error(f"The audit trail cannot be read: {exc}")
        return
    if check.ok:
        st.markdown(
            f"### :green-badge[:material/verified: chain verified ({check.checked} entries)]"
        )
    else:
        st.markdown("### :red-badge[:material/gpp_bad: chain broken]")
        st.error(
            f"The audit trail was tampered with: {check.reason}. Entries before "
            f"#{check.first_bad} are intact ({check.checked})."
        )

    st.subheader("Outcomes")
    figures = st.columns(5)
    figures[0].metric("Drifts", summary["drifts"])
    figures[1].metric(
        "Time to detect drift",
        seconds(summary["drift_detect_median_seconds"]),
        help=f"median of {summary['drift_detect_count']}; max "
        f"{seconds(summary['drift_detect_max_seconds'])}",
    )
    figures[2].metric(
        "Time to correct drift",
        seconds(summary["drift_correct_median_seconds"]),
        help=f"median of {summary['drift_correct_count']}; max "
        f"{seconds(summary['drift_correct_max_seconds'])}",
    )
    figures[3].metric(
        "Time to recover",
        seconds(summary["recover_median_seconds"]),
        help=f"bad commit to healthy again: median of {summary['recover_count']}",
    )
    figures[4].metric("Changes", summary["changes"], help="commits, hand changes, syncs")
    per_actor = summary["changes_per_actor"]
    if per_actor:
        st.caption("Changes per actor (commits pushed, hand changes, syncs started)")
        actor_columns = st.columns(min(len(per_actor), 6))
        for index, (actor, count) in enumerate(per_actor.items()):
            actor_columns[index % len(actor_columns)].metric(actor, count)

    frame = dataframe(events)
    st.subheader(f"Timeline ({len(frame)} events)")
    if len(frame):
        points = frame[["time", "type", "actor", "app", "message"]].astype({"time": "str"})
        points["actor"] = points["actor"].replace("", "(the lab)")
        chart = (
            alt.Chart(points)
            .mark_circle(size=90)
            .encode(
                x=alt.X("time:T", title="time", axis=alt.Axis(format="%H:%M:%S")),
                y=alt.Y("type:N", title=None),
                color=alt.Color("actor:N"),
                tooltip=["time:T", "type:N", "app:N", "actor:N", "message:N"],
            )
            .interactive()
        )
        st.altair_chart(chart, width="stretch")
        shown = frame[SHOWN].copy()
        shown["revision"] = shown["revision"].str.slice(0, 7)
        st.dataframe(shown, hide_index=True)
    else:
        st.caption("No event matches these filters.")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    left, right = st.columns(2)
    left.download_button(
        "Download CSV",
        frame.to_csv(index=False),
        file_name=f"audit-{stamp}.csv",
        mime="text/csv",
        key="audit_csv",
    )
    right.download_button(
        "Download JSON",
        json.dumps([{**e.content(), "hash": e.hash} for e in events], indent=2),
        file_name=f"audit-{stamp}.json",
        mime="application/json",
        key="audit_json",
    )


live()
