"""The Cluster page: live objects and their YAML, drift injected by hand as mallory (the lab
sees it and names her), an unmanaged ConfigMap, and the kubectl console (no shell)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from lab.ui.session import session
from lab.workspace import Lab


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.success]
    parts += [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [c.value for c in at.code] + [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def open_cluster(at: AppTest) -> Lab:
    lab = session().lab
    lab.wait_until_synced("web", timeout=60)
    at.switch_page("pages/cluster.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Cluster"]
    return lab


def test_objects_by_kind_and_namespace_with_their_yaml(app: AppTest) -> None:
    open_cluster(app)
    assert app.selectbox(key="cluster_namespace").value == "web"
    table = app.dataframe[0].value
    assert list(table["name"]) == ["web"] and bool(table["from Git"][0])
    assert "kind: Deployment" in texts(app) and "managedFields" not in texts(app)
    app.selectbox(key="cluster_kind").select("Pod").run()
    assert len(app.dataframe[0].value) == 2
    app.selectbox(key="cluster_kind").select("Namespace").run()
    assert {"web", "kube-system", "default"} <= set(app.dataframe[0].value["name"])
    app.selectbox(key="cluster_kind").select("ConfigMap").run()
    app.selectbox(key="cluster_object").select("web/web-config").run()
    assert "GREETING: Hello from GitOps Lab" in texts(app)
    app.checkbox(key="cluster_managed_fields").check().run()
    assert "managedFields" in texts(app)
    assert not app.exception


def test_scaling_by_hand_as_mallory_is_drift_that_self_heals(app: AppTest) -> None:
    lab = open_cluster(app)
    app.radio(key="cluster_drift_action").set_value("Scale a Deployment").run()
    assert app.selectbox(key="cluster_drift_persona").value == "mallory"
    app.selectbox(key="cluster_scale_target").select("web/web")
    app.number_input(key="cluster_scale_replicas").set_value(5)
    app.button(key="cluster_scale").click().run()
    assert not app.exception
    assert "mallory patched Deployment/web" in texts(app), texts(app)

    def drift_seen() -> bool:
        return bool(lab.audit_events(types=["DriftDetected"]))

    until(drift_seen, "the drift to be detected")
    drift = lab.audit_events(types=["DriftDetected"])[0]
    assert drift.actor == "mallory" and drift.app == "web"
    # selfHeal is on: the reconciler puts Git's value back.
    until(lambda: lab.audit_events(types=["DriftCorrected"]), "self-heal")
    obj = lab.client("admin").get("apps/v1", "Deployment", "web", "web")
    assert obj is not None and obj["spec"]["replicas"] == 2


def test_edit_delete_and_an_unmanaged_configmap(app: AppTest) -> None:
    lab = open_cluster(app)
    lab.set_policy("web", persona="bob", self_heal=False)
    app.radio(key="cluster_drift_action").set_value("Edit a field").run()
    app.selectbox(key="cluster_edit_kind").select("ConfigMap").run()
    app.selectbox(key="cluster_edit_target").select("web/web-config")
    app.text_input(key="cluster_edit_path").input("data.COLOR")
    app.text_input(key="cluster_edit_value").input("green")
    app.button(key="cluster_edit").click().run()
    assert "mallory patched ConfigMap/web-config" in texts(app), texts(app)
    cm = lab.client("admin").get("v1", "ConfigMap", "web-config", "web")
    assert cm is not None and cm["data"]["COLOR"] == "green"
    # A path into a list cannot be a merge patch: said plainly, nothing sent.
    app.text_input(key="cluster_edit_path").input("spec.ports[0].port")
    app.button(key="cluster_edit").click().run()
    assert "merge patch reaches map keys only" in "\n".join(e.value for e in app.error)

    app.radio(key="cluster_drift_action").set_value("Create a ConfigMap").run()
    app.text_input(key="cluster_cm_name").input("hand-made")
    app.button(key="cluster_create").click().run()
    assert "mallory created ConfigMap/hand-made" in texts(app), texts(app)
    made = lab.client("admin").get("v1", "ConfigMap", "hand-made", "web")
    assert made is not None and made["data"] == {"note": "made by hand"}
    app.button(key="cluster_create").click().run()
    assert "already exists" in "\n".join(e.value for e in app.error)

    app.radio(key="cluster_drift_action").set_value("Delete an object").run()
    app.selectbox(key="cluster_edit_kind").select("Service").run()
    app.selectbox(key="cluster_delete_target").select("web/web")
    app.button(key="cluster_delete").click().run()
    assert "mallory deleted Service/web" in texts(app), texts(app)
    until(
        lambda: any(a.sync == "OutOfSync" for a in lab.snapshot().apps),
        "the app to go OutOfSync",
    )
    assert not app.exception


def test_kubectl_console_runs_get_pods_without_a_shell(app: AppTest, tmp_path: Path) -> None:
    open_cluster(app)
    app.text_input(key="cluster_kubectl").input("kubectl get pods -n web")
    app.selectbox(key="cluster_kubectl_persona").select("viewer")
    app.button(key="cluster_kubectl_run").click().run()
    assert not app.exception
    out = "\n".join(c.value for c in app.code)
    assert "NAME" in out and "web-" in out and "Running" in out, out
    assert "kubectl --context viewer get pods -n web` → exit 0" in texts(app)
    # Shell syntax is only text: nothing else runs.
    marker = tmp_path / "pwned"
    app.text_input(key="cluster_kubectl").input(f"get pods -n web && touch {marker}")
    app.button(key="cluster_kubectl_run").click().run()
    assert not marker.exists()
    assert "exit 1" in texts(app)
    # A viewer may not change anything: kubectl says so, shown as an error.
    app.text_input(key="cluster_kubectl").input("scale deploy web -n web --replicas=3")
    app.button(key="cluster_kubectl_run").click().run()
    assert "forbidden" in "\n".join(e.value for e in app.error).lower()
    app.text_input(key="cluster_kubectl").input("edit deploy web -n web")
    app.button(key="cluster_kubectl_run").click().run()
    assert "needs a terminal" in "\n".join(e.value for e in app.error)
    assert not app.exception
