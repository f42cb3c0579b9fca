"""The Sync page: the policy switches (SyncPolicyChanged), drift shown field by field with who
changed it, a manual sync, rollback to a history entry (pinned, paused) and by git revert,
pause and resume."""

from __future__ import annotations

import time
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from lab.ui.session import session
from lab.workspace import Lab

DEPLOYMENT = "apps/web/deployment.yaml"


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.success]
    parts += [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [c.value for c in at.code]
    return "\n".join(str(p) for p in parts)


def until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def rerun_until(at: AppTest, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """What the page's live fragment does in a browser: redraw until the state shows."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, texts(at)
        time.sleep(0.3)
        at.run()


def open_sync(at: AppTest) -> Lab:
    lab = session().lab
    lab.wait_until_synced("web", timeout=60)
    at.switch_page("pages/sync.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sync"]
    return lab


def replicas(lab: Lab) -> int:
    obj = lab.client("admin").get("apps/v1", "Deployment", "web", "web")
    assert obj is not None
    return int(obj["spec"]["replicas"])


def test_self_heal_off_then_drift_is_shown_and_synced_away(app: AppTest) -> None:
    lab = open_sync(app)
    assert "Nothing differs" in texts(app)
    assert app.toggle(key="sync_self_heal").value is True
    app.toggle(key="sync_self_heal").set_value(False).run()
    assert not app.exception
    assert "bob turned self-heal off for web." in texts(app), texts(app)
    assert app.toggle(key="sync_self_heal").value is False
    lab.wait_for(lambda snap: snap.app("web").spec.policy.self_heal is False, timeout=5)
    changed = lab.audit_events(types=["SyncPolicyChanged"])
    assert changed and changed[-1].actor == "bob" and "self_heal off" in changed[-1].message

    lab.client("mallory").patch("apps/v1", "Deployment", "web", "web", {"spec": {"replicas": 5}})
    rerun_until(app, lambda: ":orange-badge[OutOfSync]" in texts(app))
    text = texts(app)
    assert "**Deployment** web/web" in text and "`.spec.replicas` changed" in text
    assert "kubectl-mallory" in text and "changed by hand by **mallory**" in text, text
    assert replicas(lab) == 5

    app.selectbox(key="sync_persona").select("alice")
    app.button(key="sync_now").click().run()
    assert not app.exception
    assert "alice synced web: Succeeded" in texts(app), texts(app)
    assert replicas(lab) == 2
    started = lab.audit_events(types=["SyncStarted"])
    assert started[-1].actor == "alice"


def test_rollback_to_a_history_entry_pins_and_pauses(app: AppTest) -> None:
    lab = open_sync(app)
    first = lab.git_log(1)[0].sha
    text = lab.working_copy().read(DEPLOYMENT).replace("replicas: 2", "replicas: 3")
    lab.commit({DEPLOYMENT: text}, "Scale web to 3", persona="alice")
    until(lambda: replicas(lab) == 3, "replicas: 3")
    lab.wait_until_synced("web", timeout=60)
    app.run()
    app.radio(key="sync_rollback_how").set_value(
        app.radio(key="sync_rollback_how").options[0]
    ).run()
    entries = {e.revision: e.id for e in lab.history("web") if e.phase == "Succeeded"}
    app.selectbox(key="sync_entry").set_value(entries[first]).run()
    app.button(key="sync_rollback").click().run()
    assert "Automated sync will be paused" in texts(app)
    app.button(key="sync_rollback_confirm").click().run()
    assert not app.exception
    assert f"rolled web back to history #{entries[first]}" in texts(app), texts(app)
    status = lab.wait_for(lambda snap: snap.app("web").pinned == first, timeout=10).app("web")
    assert status.paused
    assert replicas(lab) == 2
    # The page redraws from the engine's next snapshot (every 2 s in a browser).
    rerun_until(app, lambda: ":orange-badge[rolled back]" in texts(app))
    assert ":violet-badge[paused]" in texts(app) and "Git HEAD differs" in texts(app)
    assert lab.audit_events(types=["RolledBack"])[-1].actor == "bob"

    app.button(key="sync_resume").click().run()
    assert "bob resumed automated sync of web." in texts(app)
    until(lambda: replicas(lab) == 3, "Git HEAD again after resume")
    lab.wait_for(lambda snap: not snap.app("web").paused, timeout=10)


def test_rollback_by_git_revert_and_pause(app: AppTest) -> None:
    lab = open_sync(app)
    text = lab.working_copy().read(DEPLOYMENT).replace("replicas: 2", "replicas: 4")
    lab.commit({DEPLOYMENT: text}, "Scale web to 4", persona="alice")
    until(lambda: replicas(lab) == 4, "replicas: 4")
    app.run()
    how = app.radio(key="sync_rollback_how")
    how.set_value(how.options[1]).run()
    assert app.selectbox(key="sync_revert_commit").value == ""  # the newest touching apps/web
    app.button(key="sync_rollback").click().run()
    assert "A revert commit is pushed" in texts(app)
    app.button(key="sync_rollback_cancel").click().run()
    assert lab.git_log(1)[0].title == "Scale web to 4"
    app.button(key="sync_rollback").click().run()
    app.button(key="sync_rollback_confirm").click().run()
    assert not app.exception
    assert "bob pushed the revert" in texts(app), texts(app)
    assert lab.git_log(1)[0].title.startswith('Revert "Scale web to 4"')
    until(lambda: replicas(lab) == 2, "the revert to be synced")

    app.button(key="sync_pause").click().run()
    assert "bob paused automated sync of web." in texts(app)
    lab.wait_for(lambda snap: snap.app("web").paused, timeout=10)
    # The page waited for the engine to show it: the button is now "Resume".
    app.button(key="sync_resume").click().run()
    assert "bob resumed automated sync of web." in texts(app)
    lab.wait_for(lambda snap: not snap.app("web").paused, timeout=10)
