"""The Audit page: the table and its filters, the chain badge (verified, then broken after a
hand edit of the database), the outcome metrics and the timeline."""

from __future__ import annotations

import sqlite3
import time

from streamlit.testing.v1 import AppTest

from lab.ui.session import session
from lab.workspace import Lab


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def open_audit(at: AppTest) -> Lab:
    lab = session().lab
    lab.wait_until_synced("web", timeout=60)
    at.switch_page("pages/audit.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Audit"]
    return lab


def test_events_filters_chain_badge_and_outcomes(app: AppTest) -> None:
    lab = open_audit(app)
    assert ":green-badge[:material/verified: chain verified (" in markdown(app)
    table = app.dataframe[0].value
    assert 0 < len(table) <= len(lab.audit_events())
    assert {"CommitPushed", "SyncStarted", "SyncSucceeded", "LabStarted"} <= set(table["type"])
    pushed = table[table["type"] == "CommitPushed"]
    assert list(pushed["actor"]) == ["alice"]
    assert "data" not in table.columns and "hash" not in table.columns
    labels = [m.label for m in app.metric]
    assert labels[:5] == [
        "Drifts",
        "Time to detect drift",
        "Time to correct drift",
        "Time to recover",
        "Changes",
    ]
    assert {"alice", "automated"} <= set(labels[5:])
    assert app.metric[0].value == "0"

    app.multiselect(key="audit_types").select("CommitPushed").select("SyncSucceeded").run()
    assert set(app.dataframe[0].value["type"]) == {"CommitPushed", "SyncSucceeded"}
    app.selectbox(key="audit_actor").select("alice").run()
    assert list(app.dataframe[0].value["type"]) == ["CommitPushed"]
    app.multiselect(key="audit_types").set_value([]).run()
    app.selectbox(key="audit_actor").select("(all)")
    app.selectbox(key="audit_app").select("(lab-wide events)").run()
    assert set(app.dataframe[0].value["app"]) == {""}
    app.selectbox(key="audit_app").select("web")
    app.selectbox(key="audit_since").select("last 5 minutes").run()
    assert set(app.dataframe[0].value["app"]) == {"web"}
    assert not app.exception


def test_drift_figures_and_a_broken_chain(app: AppTest) -> None:
    lab = open_audit(app)
    lab.client("mallory").patch("apps/v1", "Deployment", "web", "web", {"spec": {"replicas": 4}})
    deadline = time.monotonic() + 30
    while not lab.audit_events(types=["DriftCorrected"]):
        assert time.monotonic() < deadline, "self-heal did not happen"
        time.sleep(0.2)
    app.run()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Drifts"] == "1"
    assert metrics["Time to correct drift"].endswith(" s")
    assert metrics["mallory"] == "1"

    # Someone edits the database by hand: the chain says which entry no longer fits.
    with sqlite3.connect(lab.audit_path, timeout=10) as db:
        db.execute("DROP TRIGGER events_no_update")
        db.execute("UPDATE events SET message = 'nothing happened' WHERE seq = 2")
    app.run()
    assert not app.exception
    assert "chain broken" in markdown(app)
    error = "\n".join(e.value for e in app.error)
    assert "tampered with" in error and "2" in error, error
