"""The Settings page: the cluster backends and switching between them (a context that does
not answer, another cluster that does), the simulator's ConfigMap (timings, registry, HPA load)
changed through the Kubernetes API, and "reset the lab" with confirmation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from lab.cluster.kind import docker_problem
from lab.cluster.sim.cluster import EmbeddedCluster
from lab.cluster.sim.settings import Timings
from lab.config import LabConfig
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
    assert app.dataframe[0].value["lab.yaml"][0] == "embedded"
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


# --- the cluster backend ------------------------------------------------------------------------


def backends(at: AppTest) -> dict[str, dict[str, str]]:
    rows = at.dataframe[0].value.to_dict("records")
    return {str(row["lab.yaml"]): row for row in rows}


def user_kubeconfig(folder: Path, server: str) -> Path:
    """A user's kubeconfig with one context, `team`, whose cluster is at `server`."""
    path = folder / "user-kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "team", "cluster": {"server": server}}],
        "users": [{"name": "me", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "team", "context": {"cluster": "team", "user": "me"}}],
        "current-context": "team",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_table_shows_what_can_run_here_and_why_not(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    open_settings(app)
    rows = backends(app)
    assert list(rows) == ["embedded", "kind", "context"]
    assert rows["embedded"]["status"] == "in use" and rows["embedded"]["why not"] == ""
    problem = docker_problem()  # this machine's answer, whatever it is
    if problem is None:
        assert rows["kind"]["status"] == "available" and rows["kind"]["why not"] == ""
    else:
        assert rows["kind"]["status"] == "not available" and rows["kind"]["why not"] == problem
    assert rows["context"]["status"] == "not available"
    assert "there is no kubeconfig (KUBECONFIG=" in rows["context"]["why not"]
    if problem is not None:  # nothing else to run on: no switch is offered
        assert "No other cluster can be used from here" in texts(app)
        assert not [b for b in app.button if b.key == "settings_switch"]


def test_switching_to_a_cluster_that_does_not_answer_keeps_the_lab_on_embedded(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(user_kubeconfig(tmp_path, "https://127.0.0.1:1")))
    lab = open_settings(app)
    before = (lab.root / "lab.yaml").read_text()
    assert backends(app)["context:team"]["status"] == "available"
    app.selectbox(key="settings_backend").select("context:team")
    app.button(key="settings_switch").click().run()
    assert "The old cluster is left as it was" in texts(app)
    app.button(key="settings_switch_cancel").click().run()
    assert "settings_switch_confirm" not in [b.key for b in app.button]

    app.selectbox(key="settings_backend").select("context:team")
    app.button(key="settings_switch").click().run()
    app.button(key="settings_switch_confirm").click().run()
    assert not app.exception
    errors = [str(e.value) for e in app.error]
    assert len(errors) == 1, texts(app)
    assert errors[0].startswith("Not switched: the lab cannot run on context:team: "), errors
    assert "the cluster of context 'team' does not answer" in errors[0]
    assert errors[0].endswith("It still runs on embedded, as before.")
    assert lab.running and lab.config.cluster == "embedded"
    assert (lab.root / "lab.yaml").read_text() == before
    assert backends(app)["embedded"]["status"] == "in use"
    lab.wait_until_synced("web", timeout=60)
    assert app.number_input(key="settings_pullSeconds").value == 0.0  # the simulator is there


def test_switching_to_a_reachable_context_moves_the_lab(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedCluster(tmp_path / "team", timings=Timings.instant()) as team:
        monkeypatch.setenv("KUBECONFIG", str(team.kubeconfig_path))
        lab = open_settings(app)
        app.selectbox(key="settings_backend").select("context:admin")
        app.button(key="settings_switch").click().run()
        app.button(key="settings_switch_confirm").click().run()
        assert not app.exception and not app.error, texts(app)
        assert "The lab now runs on context:admin" in texts(app)
        assert "the lab cannot read this cluster's API audit log" in texts(app)
        assert LabConfig.load(lab.root / "lab.yaml").cluster == "context:admin"
        assert backends(app)["context:admin"]["status"] == "in use"
        assert lab.snapshot().cluster_url == team.url
        assert "there is no simulator to set" in "\n".join(str(i.value) for i in app.info)
        lab.wait_until_synced("web", timeout=60)

        app.selectbox(key="settings_backend").select("embedded")
        app.button(key="settings_switch").click().run()
        app.button(key="settings_switch_confirm").click().run()
        assert not app.exception and not app.error, texts(app)
        assert lab.config.cluster == "embedded" and lab.snapshot().cluster_url != team.url
