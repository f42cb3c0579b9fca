"""Git: the repository's files and an editor, commit and push as a persona, the history with
each commit's signature and diff, and `git revert` (with confirmation).

Everything goes through the Lab facade: `working_copy()` to read files, `commit()` to write,
commit and push (the Git server may refuse: its sentence is shown as is), `git_log()` and
`verify()` for the history, `revert()` to undo a commit the GitOps way.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lab.config import RECONCILER
from lab.engine.signatures import SignatureCheck
from lab.engine.source import SourceError
from lab.ui import widgets
from lab.ui.session import session
from lab.workspace import Lab, LabError
from lab.worktree import WorkingCopyError

NEW_FILE = "(new file)"
SIGNATURE_BADGES = {
    "verified": ":green-badge[:material/verified: verified]",
    "unsigned": ":orange-badge[:material/edit_off: unsigned]",
    "untrusted": ":red-badge[:material/gpp_bad: untrusted]",
    "forged": ":red-badge[:material/gpp_bad: forged]",
    "bad": ":red-badge[:material/gpp_bad: bad signature]",
}

current = session()
lab = current.active
personas = [p.name for p in lab.config.personas if p.name != RECONCILER]

st.title("Git")
st.caption(
    "The lab's Git server is the single source of truth: the reconciler applies only what was "
    "committed and pushed here."
)
if current.in_scenario:
    st.info("A scenario is being played: this is its lab. Stop it on the Scenarios page.")


def signature(sha: str) -> SignatureCheck | None:
    """A commit's signature check (a commit never changes: kept per session)."""
    cache: dict[str, SignatureCheck] = st.session_state.setdefault("git_signatures", {})
    key = f"{lab.root}:{sha}"
    if key not in cache:
        try:
            cache[key] = lab.verify(sha)
        except LabError as exc:
            st.caption(f"Cannot check the signature of {sha[:7]}: {exc}")
            return None
    return cache[key]


def load_file() -> None:
    """The editor follows the chosen file (called when the file selection changes)."""
    path = st.session_state.get("git_file", NEW_FILE)
    if path == NEW_FILE:
        st.session_state["git_editor"] = ""
        return
    try:
        st.session_state["git_editor"] = lab.working_copy().read(path)
    except (OSError, UnicodeDecodeError) as exc:
        st.session_state["git_editor"] = ""
        st.session_state["git_flash"] = ("error", f"Cannot read {path}: {exc}")


def flash() -> None:
    kind, text = st.session_state.pop("git_flash", ("", ""))
    if kind == "success":
        st.success(text)
    elif kind == "error":
        st.error(text)
    elif kind == "warning":
        st.warning(text)


def do_commit(lab: Lab, path: str, content: str | None) -> None:
    who = str(st.session_state["git_persona"])
    sign = bool(st.session_state["git_sign"])
    message = str(st.session_state.get("git_message") or "").strip()
    author = st.session_state.get("git_author") or ""
    signer = st.session_state.get("git_signer") or ""
    if not message:
        st.session_state["git_flash"] = ("warning", "Write a commit message first.")
        return
    if not path:
        st.session_state["git_flash"] = (
            "warning",
            "Give the new file a path, e.g. apps/web/x.yaml.",
        )
        return
    try:
        result = lab.commit(
            {path: content},
            message,
            persona=who,
            sign=sign,
            author=author or None,
            signer=(signer or None) if sign else None,
        )
    except LabError as exc:
        st.session_state["git_flash"] = ("error", f"Nothing was committed: {exc}")
        return
    if result.push is not None and not result.push.ok:
        st.session_state["git_flash"] = (
            "error",
            f"{who} committed {result.sha[:7]}, but the Git server refused the push: "
            f"{result.push.message or 'no reason given'}. Nothing reached the cluster; the "
            "clone is back to what the server has (your text is still in the editor).",
        )
        return
    note = (
        ""
        if sign
        else " It is unsigned: while signatures are enforced the reconciler will not apply it."
    )
    st.session_state["git_next"] = {"git_message": "", "git_delete": False}
    if content is not None:
        st.session_state["git_next"]["git_file"] = path
    st.session_state["git_flash"] = (
        "success",
        f"{who} committed {result.sha[:7]} and pushed it: the reconciler takes it from there "
        f"(see the Sync page).{note}",
    )


# --- files and the commit form ---------------------------------------------------------------

try:
    files = lab.working_copy().files()
except WorkingCopyError as exc:
    st.error(f"The learner's clone cannot be read: {exc}")
    st.stop()

# Widget values set by the previous run's command (a widget's value cannot change once drawn).
for key, value in st.session_state.pop("git_next", {}).items():
    st.session_state[key] = value
    if key == "git_file":
        load_file()
flash()
files_tab, history_tab = st.tabs(["Files and commit", "History"])

with files_tab:
    options = [*files, NEW_FILE]
    if st.session_state.get("git_file") not in options:
        # Start on a manifest of the first app (its folder), else the first file.
        folder = lab.config.apps[0].path.rstrip("/") + "/" if lab.config.apps else ""
        manifests = [f for f in files if f.startswith(folder) and f.endswith((".yaml", ".yml"))]
        st.session_state["git_file"] = (manifests or options)[0]
        load_file()
    elif "git_editor" not in st.session_state:
        load_file()
    chosen = st.selectbox("File", options, key="git_file", on_change=load_file)
    new_path = ""
    if chosen == NEW_FILE:
        new_path = st.text_input(
            "Path of the new file", key="git_new_path", placeholder="apps/web/extra.yaml"
        ).strip()
    with st.form("git_commit_form"):
        st.text_area("Content", key="git_editor", height=420)
        delete = False
        if chosen != NEW_FILE:
            delete = st.checkbox("Delete this file in the commit", key="git_delete")
        left, middle, right = st.columns([2, 1, 3])
        with left:
            widgets.persona_picker("Commit and push as", "git_persona", "alice", personas)
        with middle:
            st.checkbox("Sign the commit", value=True, key="git_sign")
        with right:
            st.text_input("Commit message", key="git_message", placeholder="Scale web to 3")
        with st.expander("Advanced: a different author or signer (to stage a forgery)"):
            st.selectbox(
                "Author line says",
                ["", *personas],
                format_func=lambda name: name or "(the committer)",
                key="git_author",
            )
            st.selectbox(
                "Signed with the key of",
                ["", *personas],
                format_func=lambda name: name or "(the committer's own key)",
                key="git_signer",
            )
        submitted = st.form_submit_button("Commit and push", type="primary", key="git_commit")
    if submitted:
        path = new_path if chosen == NEW_FILE else chosen
        content = None if delete else str(st.session_state.get("git_editor") or "")
        with st.spinner("Committing and pushing..."):
            do_commit(lab, path, content)
        st.rerun()

# --- history -----------------------------------------------------------------------------------

with history_tab:
    try:
        revisions = lab.git_log(20)
    except SourceError as exc:
        st.error(f"The Git server's history cannot be read: {exc}")
        revisions = []
    rows = []
    for rev in revisions:
        check = signature(rev.sha)
        rows.append(
            {
                "commit": rev.short,
                "message": rev.title,
                "author": rev.author,
                "date": rev.committed_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                "signature": check.status if check else "?",
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    if revisions:
        labels = {rev.sha: f"{rev.short} — {rev.title} ({rev.author})" for rev in revisions}
        # Show the newest commit as new ones arrive, unless the learner picked an older one.
        newest, seen = revisions[0].sha, st.session_state.get("git_seen_head")
        if st.session_state.get("git_commit_pick") in (None, seen):
            st.session_state["git_commit_pick"] = newest
        st.session_state["git_seen_head"] = newest
        sha = str(
            st.selectbox(
                "Commit", list(labels), format_func=labels.__getitem__, key="git_commit_pick"
            )
        )
        check = signature(sha)
        if check is not None:
            st.markdown(f"{SIGNATURE_BADGES.get(check.status, check.status)} {check.message}")
        pending = st.session_state.get("git_revert_pending")
        if pending != sha:
            if st.button("Revert this commit...", key="git_revert"):
                st.session_state["git_revert_pending"] = sha
                st.rerun()
        else:
            st.warning(
                f"Revert {sha[:7]}? A new commit undoing it is pushed; the history keeps both."
            )
            who_col, yes_col, no_col = st.columns([2, 1, 1])
            with who_col:
                who = widgets.persona_picker("Revert as", "git_revert_persona", "bob", personas)
            if yes_col.button("Yes, revert", type="primary", key="git_revert_confirm"):
                st.session_state.pop("git_revert_pending", None)
                try:
                    with st.spinner("Reverting and pushing..."):
                        result = lab.revert(sha, persona=who)
                except LabError as exc:
                    st.session_state["git_flash"] = ("error", f"Nothing was reverted: {exc}")
                else:
                    if result.push is not None and not result.push.ok:
                        st.session_state["git_flash"] = (
                            "error",
                            f"The revert {result.sha[:7]} was made, but the Git server refused "
                            f"the push: {result.push.message}",
                        )
                    else:
                        st.session_state["git_flash"] = (
                            "success",
                            f"{who} reverted {sha[:7]} as {result.sha[:7]} and pushed it.",
                        )
                st.rerun()
            if no_col.button("Cancel", key="git_revert_cancel"):
                st.session_state.pop("git_revert_pending", None)
                st.rerun()
        st.markdown("**What this commit changed**")
        try:
            widgets.diff(lab.commit_diff(sha))
        except LabError as exc:
            st.warning(str(exc))
