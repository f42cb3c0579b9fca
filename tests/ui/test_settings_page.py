"""The Settings page: the cluster backend, the simulator's ConfigMap (timings, registry, HPA
load) changed through the Kubernetes API, and "reset the lab" with confirmation."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from lab.ui.session import session
from lab.workspace import Lab

SIMULATOR = ("v1", "ConfigMap", "gitops-lab-simulator", "kube-system")


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.success]
    parts += [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def simulator(lab: Lab) -> dict[str, str]:
    cm = lab.client("admin").get(*SIMULATOR)
    assert cm is not None
    return dict(cm["data"])


def open_settings(at: AppTest) -> Lab:
    lab = session().lab
    lab.wait_until_synced("web", timeout=60)
    at.switch_page("pages/settings.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Settings"]
    return lab


def test_backends_and_simulator_settings_change_the_configmap(app: AppTest) -> None:
    lab = open_settings(app)
    backends = app.dataframe[0].value
    assert list(backends["status"]) == ["in use", "not yet", "not yet"]
    assert "embedded cluster only" in texts(app)
    assert app.number_input(key="settings_pullSeconds").value == 0.0

    app.number_input(key="settings_pullSeconds").set_value(1.5)
    app.checkbox(key="settings_registry_unavailable").check()
    app.button(key="settings_save").click().run()
    assert not app.exception
    assert "timings.pullSeconds=1.5" in texts(app), texts(app)
    data = simulator(lab)
    assert data["timings.pullSeconds"] == "1.5" and data["registry.unavailable"] == "true"
    assert data["timings.startSeconds"] == "0"  # untouched
    assert app.number_input(key="settings_pullSeconds").value == 1.5

    # Changed elsewhere (kubectl, a scenario): the form shows the ConfigMap as it is.
    lab.client("admin").patch(*SIMULATOR, {"data": {"timings.pullSeconds": "3"}})
    app.run()
    assert app.number_input(key="settings_pullSeconds").value == 3.0

    app.selectbox(key="settings_load_target").select("web/web")
    app.number_input(key="settings_load_percent").set_value(85)
    app.button(key="settings_set_load").click().run()
    assert simulator(lab)["load.web.web"] == "85"
    assert list(app.dataframe[1].value["deployment"]) == ["web/web"]
    assert not app.exception


def test_reset_asks_then_starts_a_fresh_lab(app: AppTest) -> None:
    lab = open_settings(app)
    root = lab.root
    text = lab.working_copy().read("apps/web/deployment.yaml")
    lab.commit({"apps/web/deployment.yaml": text.replace("replicas: 2", "replicas: 3")}, "x")
    assert len(lab.git_log(5)) == 2
    app.button(key="settings_reset").click().run()
    assert "cannot be undone" in texts(app)
    app.button(key="settings_reset_cancel").click().run()
    assert lab.running and len(lab.git_log(5)) == 2
    app.button(key="settings_reset").click().run()
    app.button(key="settings_reset_confirm").click().run()
    assert not app.exception
    assert "was reset" in texts(app), texts(app)
    assert not lab.running
    fresh = session().lab
    assert fresh is not lab and fresh.root == root and fresh.running
    assert len(fresh.git_log(5)) == 1
    fresh.wait_until_synced("web", timeout=60)
