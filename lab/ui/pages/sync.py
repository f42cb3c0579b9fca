"""Sync: per app, what differs between Git and the cluster (and who changed it), a sync button,
the sync policy's switches, pause/resume, the history of every operation, and rollback — to an
earlier sync (Argo CD's way: pinned and paused) or by `git revert` (the GitOps way).

The live part (status, diff, recent events, history) is a fragment redrawn every 2 s from
`lab.snapshot()`; the commands call the Lab facade as the chosen persona.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from lab import views
from lab.cluster.client import ClusterError
from lab.config import RECONCILER
from lab.engine.reconciler import AppStatus
from lab.engine.source import SourceError
from lab.ui import widgets
from lab.ui.session import session
from lab.workspace import LabError

POLICY = (
    ("automated", "Automated sync", "apply every new revision without asking"),
    ("prune", "Prune", "delete what was removed from Git"),
    ("self_heal", "Self-heal", "undo hand changes (drift) at once"),
    ("allow_empty", "Allow empty", "let a revision with no objects prune everything"),
)
BY_HISTORY = "To an earlier sync (Argo CD's way: pinned, auto-sync paused)"
BY_REVERT = "By a git revert (the GitOps way: a new commit)"
NEWEST = ""

current = session()
lab = current.active
personas = [p.name for p in lab.config.personas if p.name != RECONCILER]
app_names = [a.name for a in lab.config.apps]

st.title("Sync")
if current.in_scenario:
    st.info("A scenario is being played: this is its lab. Stop it on the Scenarios page.")
if not app_names:
    st.info("This lab has no apps: add one to lab.yaml.")
    st.stop()

top_left, top_right = st.columns([2, 1])
app = str(top_left.selectbox("App", app_names, key="sync_app"))
with top_right:
    who = widgets.persona_picker("Act as", "sync_persona", "bob", personas)


def flash() -> None:
    kind, text = st.session_state.pop("sync_flash", ("", ""))
    if kind == "success":
        st.success(text)
    elif kind == "error":
        st.error(text)
    elif kind == "info":
        st.info(text)


def command(done: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one facade command; its outcome becomes the page's next message, never a traceback."""
    try:
        result = func(*args, **kwargs)
    except (LabError, ClusterError) as exc:
        st.session_state["sync_flash"] = ("error", f"Not done: {exc}")
        return None
    st.session_state["sync_flash"] = ("success", done)
    return result


def settle(app: str, shows: Callable[[AppStatus], bool]) -> None:
    """Wait (briefly) until the engine's snapshot shows a command's effect, so the page redraws
    what was just done rather than the moment before."""
    with contextlib.suppress(TimeoutError, LabError):
        lab.wait_for(lambda snap: any(a.name == app and shows(a) for a in snap.apps), timeout=3)


def on_policy(app: str, attr: str, title: str) -> None:
    value = bool(st.session_state[f"sync_{attr}"])
    persona = str(st.session_state.get("sync_persona") or "bob")
    command(
        f"{persona} turned {title.lower()} {'on' if value else 'off'} for {app}.",
        lab.set_policy,
        app,
        persona=persona,
        **{attr: value},
    )
    settle(app, lambda a: getattr(a.spec.policy, attr) == value)


def entry_words(entry: Any) -> str:
    if entry is None:
        return "it was started"
    return f"{entry.phase}" + (f": {entry.message}" if entry.message else "")


flash()


@st.fragment(run_every=2)
def live() -> None:
    snapshot = lab.snapshot()
    try:
        status = snapshot.app(app)
    except LabError:
        st.info("The reconciler is starting...")
        return
    st.markdown(
        f"## {widgets.sync_badge(status.sync)} {widgets.health_badge(status.health)}"
        + (" :violet-badge[paused]" if status.paused else "")
        + (" :orange-badge[rolled back]" if status.pinned else "")
    )
    target, head = status.target, status.head
    if target is not None:
        st.markdown(f"Target `{target.short}` — {target.title} ({target.author})")
    if head is not None and target is not None and head.sha != target.sha:
        st.caption(f"Git HEAD is `{head.short}` — {head.title}")
    if status.message:
        st.markdown(f"_{status.message}_")
    for condition in status.conditions[1:]:
        st.warning(condition)
    for warning in status.warnings:
        st.warning(warning)

    st.subheader("Desired (Git) vs live (cluster)")
    try:
        drifts = lab.audit_events(types=["DriftDetected"], app=app)
        diff = views.diff_dict(snapshot, app, drifts)["apps"][0]
    except KeyError:
        diff = {"resources": []}
    if not diff["resources"]:
        st.success("Nothing differs: the cluster is what Git says.")
    for res in diff["resources"]:
        where = f"{res['namespace']}/" if res["namespace"] else ""
        with st.container(border=True):
            person = res.get("changedBy") or ""
            st.markdown(
                f"**{res['kind']}** {where}{res['name']} {widgets.sync_badge(res['status'])}"
                + (f" — changed by hand by **{person}**" if person else "")
            )
            for change in res["drift"]:
                managers = ", ".join(change["managers"])
                st.markdown(
                    f"- `{change['path']}` {change['change']}"
                    + (f" — changed by **{managers}**" if managers else "")
                )
            if res.get("unified"):
                widgets.diff(res["unified"])

    events = [e for e in snapshot.events if e.app == app][-8:]
    if events:
        st.subheader("Recent events")
        st.code("\n".join(views.event_line(e) for e in reversed(events)), language="text")

    st.subheader("History")
    try:
        entries = [e.as_dict() for e in lab.history(app)]
    except LabError as exc:
        st.caption(str(exc))
        entries = []
    rows = views.history_rows(entries)
    st.dataframe(pd.DataFrame(rows[1:], columns=rows[0]), hide_index=True)


live()

# --- commands ----------------------------------------------------------------------------------

try:
    status = lab.snapshot().app(app)
except LabError:
    st.stop()

st.divider()
st.subheader("Act")
sync_col, pause_col = st.columns(2)
if sync_col.button("Sync now", type="primary", key="sync_now"):
    with st.spinner(f"Syncing {app}..."):
        entry = command(f"{who} synced {app}.", lab.sync, app, persona=who)
    if entry is not None:
        st.session_state["sync_flash"] = (
            "success" if entry.phase == "Succeeded" else "error",
            f"{who} synced {app}: {entry_words(entry)}",
        )
    st.rerun()
if status.paused:
    if pause_col.button("Resume automated sync", key="sync_resume"):
        command(f"{who} resumed automated sync of {app}.", lab.resume, app, persona=who)
        settle(app, lambda a: not a.paused)
        st.rerun()
elif pause_col.button("Pause automated sync", key="sync_pause"):
    command(f"{who} paused automated sync of {app}.", lab.pause, app, persona=who)
    settle(app, lambda a: a.paused)
    st.rerun()

st.markdown("**Sync policy** (changes are recorded in the audit trail as SyncPolicyChanged)")
policy = status.spec.policy
columns = st.columns(len(POLICY))
for column, (attr, title, helptext) in zip(columns, POLICY, strict=True):
    # The switches show the engine's policy, whoever changed it last.
    st.session_state[f"sync_{attr}"] = bool(getattr(policy, attr))
    column.toggle(
        title,
        key=f"sync_{attr}",
        help=helptext,
        on_change=on_policy,
        args=(app, attr, title),
    )

st.markdown("**Roll back**")
how = st.radio("How", [BY_HISTORY, BY_REVERT], key="sync_rollback_how")
pending = st.session_state.get("sync_rollback_pending")
chosen: tuple[str, Any] | None = None
target_text = ""
if how == BY_HISTORY:
    try:
        entries = [e for e in lab.history(app) if e.phase == "Succeeded"]
    except LabError as exc:
        st.error(str(exc))
        entries = []
    if not entries:
        st.caption("No successful sync yet to roll back to.")
    else:
        labels = {
            e.id: f"#{e.id} {e.revision[:7]} — {e.operation} by {e.initiated_by} "
            f"at {e.started[11:19]}"
            for e in entries
        }
        entry_id = int(
            st.selectbox(
                "History entry", list(labels), format_func=labels.__getitem__, key="sync_entry"
            )
        )
        target_text = labels[entry_id]
        chosen = ("to", entry_id)
else:
    try:
        commits = lab.git_log(20)
    except SourceError as exc:
        st.error(f"The Git history cannot be read: {exc}")
        commits = []
    labels_by_sha = {NEWEST: f"the newest commit that touched {status.spec.path}"} | {
        c.sha: f"{c.short} — {c.title} ({c.author})" for c in commits
    }
    sha = str(
        st.selectbox(
            "Commit to revert",
            list(labels_by_sha),
            format_func=labels_by_sha.__getitem__,
            key="sync_revert_commit",
        )
    )
    target_text = labels_by_sha[sha]
    chosen = ("revert", sha)

if chosen is not None:
    if pending != chosen:
        if st.button("Roll back...", key="sync_rollback"):
            st.session_state["sync_rollback_pending"] = chosen
            st.rerun()
    else:
        st.warning(
            f"Roll {app} back {'to' if chosen[0] == 'to' else 'by reverting'} {target_text}, "
            f"as {who}?"
            + (
                " Automated sync will be paused until resumed, and the app will show that Git "
                "HEAD differs."
                if chosen[0] == "to"
                else " A revert commit is pushed; the reconciler applies it like any commit."
            )
        )
        yes, no = st.columns(2)
        if yes.button("Yes, roll back", type="primary", key="sync_rollback_confirm"):
            st.session_state.pop("sync_rollback_pending", None)
            with st.spinner("Rolling back..."):
                if chosen[0] == "to":
                    entry = command(
                        f"{who} rolled {app} back to history #{chosen[1]}; auto-sync is paused.",
                        lab.rollback_to,
                        app,
                        int(chosen[1]),
                        persona=who,
                    )
                    if entry is not None:
                        settle(app, lambda a: bool(a.pinned) and a.paused)
                else:
                    commit = command(
                        f"{who} reverted in Git.",
                        lab.rollback_revert,
                        app,
                        chosen[1] or None,
                        persona=who,
                    )
                    if commit is not None:
                        st.session_state["sync_flash"] = (
                            ("success", f"{who} pushed the revert {commit.sha[:7]}.")
                            if commit.pushed
                            else (
                                "error",
                                f"The revert {commit.sha[:7]} was refused by the Git server: "
                                f"{commit.push.message if commit.push else 'not pushed'}",
                            )
                        )
            st.rerun()
        if no.button("Cancel", key="sync_rollback_cancel"):
            st.session_state.pop("sync_rollback_pending", None)
            st.rerun()
