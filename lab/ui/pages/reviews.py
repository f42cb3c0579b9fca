"""Reviews: merge requests — propose a change on a branch, read its checks and the preview of
what merging would do to the cluster, approve, merge or close it as a persona.

Everything goes through `lab.reviews` (lab/reviews.py) and `lab.commit(..., branch=...)`; the
rules (who must approve, whether main takes direct pushes) come from lab.yaml's `review:`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from lab.config import RECONCILER
from lab.engine.review import MergeRequest, ReviewError
from lab.ui import widgets
from lab.ui.session import session
from lab.workspace import LabError

STATE_BADGES = {
    "open": ":blue-badge[:material/merge_type: open]",
    "merged": ":violet-badge[:material/merge: merged]",
    "closed": ":gray-badge[:material/block: closed]",
}
ACTION_BADGES = {
    "create": ":green-badge[create]",
    "change": ":orange-badge[change]",
    "prune": ":red-badge[prune]",
    "refused": ":red-badge[refused]",
    "unchanged": ":gray-badge[unchanged]",
}

current = session()
lab = current.active
personas = [p.name for p in lab.config.personas if p.name != RECONCILER]
rules = lab.config.review

st.title("Reviews")
st.caption(
    "A change is proposed on a branch, the lab's CI checks it, someone else approves, and only "
    "the merge reaches main — and the cluster."
)
if current.in_scenario:
    st.info("A scenario is being played: this is its lab. Stop it on the Scenarios page.")


def rules_text() -> str:
    parts = [
        "**main** takes only reviewed merges"
        if rules.required
        else "**main** also takes direct pushes (review is optional here)",
        f"**{rules.approvals}** approval(s) of the latest push",
    ]
    if rules.authors_cannot_approve:
        parts.append("authors cannot approve their own change")
    if rules.checks_must_pass:
        parts.append("checks must pass")
    parts += [f"`{p.pattern}` needs {' or '.join(p.allowed)}" for p in rules.approvers]
    return "Rules from lab.yaml: " + "; ".join(parts) + "."


st.markdown(rules_text())


def flash() -> None:
    kind, text = st.session_state.pop("reviews_flash", ("", ""))
    if kind == "success":
        st.success(text, icon=":material/check_circle:")
    elif kind:
        st.error(text, icon=":material/block:")


def command(done: Callable[[Any], str], func: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run a review command; remember a sentence to show after the rerun."""
    try:
        result = func(*args, **kw)
    except (ReviewError, LabError) as exc:
        st.session_state["reviews_flash"] = ("error", f"Not done: {exc}")
        return None
    st.session_state["reviews_flash"] = ("success", done(result))
    return result


flash()

# --- propose ----------------------------------------------------------------------------------

with st.expander("Propose a change", icon=":material/add_circle:"):
    st.caption(
        "Edit one file on a new branch and open a merge request for it. (From a terminal: "
        "`git switch -c NAME`, commit, `git push origin NAME`, then "
        "`gitops-lab review open DIR --branch NAME --title ...`.)"
    )
    files = lab.working_copy().files()
    left, right = st.columns(2)
    path = left.selectbox("File", files, key="reviews_file")
    who = widgets.persona_picker("As", "reviews_author", "alice", personas)
    branch = right.text_input("Branch", key="reviews_branch", placeholder="e.g. three-replicas")
    title = right.text_input("Title", key="reviews_title", placeholder="what the change does")
    original = lab.working_copy().read(path) if path else ""
    text = st.text_area(
        "Content",
        value=original,
        height=260,
        key=f"reviews_text_{path}",
        label_visibility="collapsed",
    )
    if st.button("Commit on the branch and open a merge request", key="reviews_propose"):
        if text == original:
            st.session_state["reviews_flash"] = ("error", "Not done: the file is unchanged")
        elif not branch.strip():
            st.session_state["reviews_flash"] = ("error", "Not done: name the branch")
        else:
            try:
                pushed = lab.commit(
                    {path: text}, title or f"Change {path}", persona=who, branch=branch
                )
                if not pushed.pushed:
                    raise LabError(pushed.push.message if pushed.push else "not pushed")
                request = lab.reviews.open(branch, title or f"Change {path}", persona=who)
            except (ReviewError, LabError) as exc:
                st.session_state["reviews_flash"] = ("error", f"Not done: {exc}")
            else:
                st.session_state["reviews_flash"] = (
                    "success",
                    f"{who} opened !{request.id}; checks "
                    + ("passed" if request.checks_passed else "failed"),
                )
                st.session_state["reviews_selected"] = request.id
        st.rerun()
    unproposed = lab.reviews.unproposed()
    if unproposed:
        st.divider()
        left, right = st.columns([1, 2])
        chosen = left.selectbox("A pushed branch", unproposed, key="reviews_pushed_branch")
        named = right.text_input("Its title", key="reviews_pushed_title")
        if st.button("Open a merge request for it", key="reviews_open_pushed"):
            request = command(
                lambda r: (
                    f"{who} opened !{r.id}; checks " + ("passed" if r.checks_passed else "failed")
                ),
                lab.reviews.open,
                chosen,
                named,
                persona=who,
            )
            if request is not None:
                st.session_state["reviews_selected"] = request.id
            st.rerun()

# --- the list -----------------------------------------------------------------------------------

try:
    requests = lab.reviews.list()
except ReviewError as exc:
    st.error(str(exc))
    st.stop()
if not requests:
    st.info("No merge requests yet. Propose a change above.", icon=":material/merge_type:")
    st.stop()


def approvals_now(request: MergeRequest) -> list[str]:
    return [a.by for a in request.approvals if a.sha == request.head]


table = pd.DataFrame(
    [
        {
            "id": f"!{r.id}",
            "title": r.title,
            "state": r.state,
            "branch": r.branch,
            "author": r.author,
            "checks": "passed" if r.checks_passed else ("failed" if r.checks else "-"),
            "approved by": ", ".join(approvals_now(r)) or "-",
        }
        for r in reversed(requests)
    ]
)
st.dataframe(table, hide_index=True, width="stretch")

ids = [r.id for r in reversed(requests)]
selected = st.session_state.get("reviews_selected")
index = ids.index(selected) if selected in ids else 0
chosen_id = st.selectbox(
    "Merge request",
    ids,
    index=index,
    format_func=lambda i: next(f"!{r.id} {r.title}" for r in requests if r.id == i),
    key="reviews_pick",
)
st.session_state["reviews_selected"] = chosen_id
try:
    request = lab.reviews.get(int(chosen_id))  # re-checked if its branch moved
except (ReviewError, LabError) as exc:
    st.error(str(exc))
    st.stop()

st.subheader(f"!{request.id} {request.title}")
st.markdown(
    f"{STATE_BADGES.get(request.state, request.state)} `{request.branch}` into `main`, opened by "
    f"**{request.author}** · head `{request.head[:7]}` · files: "
    + (", ".join(f"`{f}`" for f in request.files) or "none")
)

checks_col, people_col = st.columns([3, 2])
with checks_col:
    st.markdown("**Checks** (the lab's CI, on the branch head)")
    for check in request.checks:
        icon = (
            ":green[:material/check_circle:]"
            if check.status == "passed"
            else ":red[:material/cancel:]"
        )
        st.markdown(f"{icon} **{check.name}** — {check.message}")
        if len(check.details) > 1 or any(d.startswith("warning:") for d in check.details):
            with st.expander(f"{check.name}: every finding"):
                st.markdown("\n".join(f"- {d}" for d in check.details))
with people_col:
    st.markdown("**Approvals**")
    if not request.approvals:
        st.markdown("_none yet_")
    for approval in request.approvals:
        stale = "" if approval.sha == request.head else " _(an earlier push: no longer counts)_"
        st.markdown(f"- **{approval.by}** at `{approval.sha[:7]}`{stale}")
    if request.state == "open":
        rule, reason = lab.reviews.merge_refusal(request.id)
        if rule:
            st.warning(f"Not mergeable ({rule}): {reason}", icon=":material/block:")
        else:
            st.success("Ready to merge", icon=":material/merge:")
    elif request.state == "merged":
        st.success(f"Merged by {request.merged_by} as `{request.merge_sha[:7]}`")
    else:
        st.info(f"Closed by {request.closed_by}")

st.markdown(
    "**What merging would do to the cluster** (a server-side dry run; Secret values masked)"
)
changed = [p for p in request.preview if p.action != "unchanged"]
if not request.preview:
    st.caption("No preview: the branch does not render or validate (see the checks).")
elif not changed:
    st.caption("Nothing in the cluster would change.")
for item in request.preview:
    where = f"{item.namespace}/" if item.namespace else ""
    label = f"{item.app}: {item.kind} {where}{item.name}"
    badge = ACTION_BADGES.get(item.action, item.action)
    if item.action == "unchanged":
        continue
    with st.expander(f"{label} — {item.action}", expanded=len(changed) <= 3):
        st.markdown(badge + (f" {item.message}" if item.message else ""))
        if item.diff:
            widgets.diff(item.diff)
unchanged = [p for p in request.preview if p.action == "unchanged"]
if unchanged:
    st.caption("Unchanged: " + ", ".join(f"{p.kind} {p.name}" for p in unchanged))

if request.state == "open":
    st.divider()
    actor = widgets.persona_picker("Act as", "reviews_persona", "bob", personas)
    approve, merge, close, recheck = st.columns(4)
    if approve.button("Approve", key="reviews_approve", icon=":material/thumb_up:"):
        command(
            lambda r: f"{actor} approved !{r.id} at {r.head[:7]}",
            lab.reviews.approve,
            request.id,
            persona=actor,
        )
        st.rerun()
    if merge.button("Merge", key="reviews_merge", type="primary", icon=":material/merge:"):
        command(
            lambda r: (
                f"{actor} merged !{r.id} into main as {r.merge_sha[:7]}; the reconciler "
                "takes it from here"
            ),
            lab.reviews.merge,
            request.id,
            persona=actor,
        )
        st.rerun()
    if close.button("Close", key="reviews_close", icon=":material/block:"):
        command(lambda r: f"{actor} closed !{r.id}", lab.reviews.close, request.id, persona=actor)
        st.rerun()
    if recheck.button("Run the checks again", key="reviews_recheck", icon=":material/refresh:"):
        command(
            lambda r: f"checks of !{r.id} " + ("passed" if r.checks_passed else "failed"),
            lab.reviews.refresh,
            request.id,
        )
        st.rerun()
