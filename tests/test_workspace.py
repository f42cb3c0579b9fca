"""The Lab facade end to end: a real Git server, the embedded cluster over HTTPS, the engine.

Each test makes a workspace in a temp dir, starts it with instant simulator timings, and acts as
a learner would: commit, push, change the cluster by hand, roll back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lab.cluster.sim.settings import Timings
from lab.engine.model import HealthStatus, SyncStatus
from lab.engine.reconciler import EngineSnapshot
from lab.workspace import Lab, LabError


def deployment(lab: Lab) -> dict:
    out = lab.kubectl("get", "deploy", "web", "-n", "web", "-o", "json", "--show-managed-fields")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def manifest(lab: Lab, path: str) -> dict:
    return yaml.safe_load(lab.working_copy().read(path))


def dump(obj: dict) -> str:
    return yaml.safe_dump(obj, sort_keys=False)


def app_state(snap: EngineSnapshot, name: str = "web") -> tuple[SyncStatus, HealthStatus]:
    app = snap.app(name)
    return app.sync, app.health


def events_of(lab: Lab, kind: str) -> list:
    return [e for e in lab.events() if e.type == kind]


def test_init_makes_the_workspace(tmp_path: Path) -> None:
    lab = Lab.init(tmp_path / "w", "web-app")
    assert (lab.root / "lab.yaml").exists()
    assert (lab.root / "remote.git" / "HEAD").exists()
    assert (lab.root / "repo" / "apps" / "web" / "deployment.yaml").exists()
    log = lab.git_log()
    assert len(log) == 1 and log[0].author == "Alice Developer"
    assert [a.name for a in lab.config.apps] == ["web"]
    with pytest.raises(LabError, match="already holds a lab"):
        Lab.init(tmp_path / "w", "web-app")
    with pytest.raises(LabError, match="no template"):
        Lab.init(tmp_path / "x", "nope")
    for outside in ("../templates/web-app", "/etc", "web-app/../../.."):  # no path traversal
        with pytest.raises(LabError, match="no template"):
            Lab.init(tmp_path / "y", outside)
    assert not (tmp_path / "y").exists()


def test_first_sync_makes_everything_synced_and_healthy(lab: Lab) -> None:
    snap = lab.snapshot()
    app = snap.app("web")
    assert app.sync is SyncStatus.SYNCED and app.health is HealthStatus.HEALTHY
    assert app.target is not None and app.target.sha == snap.head.sha
    kinds = sorted(r.key.kind for r in app.resources)
    assert kinds == ["ConfigMap", "Deployment", "Service"]
    live = deployment(lab)
    assert (
        live["metadata"]["annotations"]["gitops-lab.io/tracking-id"]
        == "web:apps/Deployment:web/web"
    )
    assert any(
        m["manager"] == "gitops-lab" and m["operation"] == "Apply"
        for m in live["metadata"]["managedFields"]
    )
    history = lab.history("web")
    assert history[-1].operation == "auto-sync" and history[-1].phase == "Succeeded"
    assert history[-1].initiated_by == "automated"


def test_a_pushed_change_rolls_out(lab: Lab) -> None:
    dep = manifest(lab, "apps/web/deployment.yaml")
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/gitops-lab/web:1.1"
    commit = lab.commit({"apps/web/deployment.yaml": dump(dep)}, "web 1.1", persona="alice")
    assert commit.pushed, commit.push
    lab.wait_until_synced("web", timeout=60)
    assert (
        deployment(lab)["spec"]["template"]["spec"]["containers"][0]["image"]
        == "ghcr.io/gitops-lab/web:1.1"
    )
    assert lab.snapshot().app("web").target.sha == commit.sha


def test_hand_scaling_is_detected_attributed_and_healed(lab: Lab) -> None:
    out = lab.kubectl("scale", "deploy", "web", "-n", "web", "--replicas=5", persona="mallory")
    assert out.returncode == 0, out.stderr
    lab.wait_for(lambda s: any(e.type == "DriftCorrected" for e in lab.events()), timeout=30)
    drift = events_of(lab, "DriftDetected")[-1]
    assert drift.data["resource"]["name"] == "web"
    assert any(f["path"] == ".spec.replicas" for f in drift.data["fields"])
    assert "kubectl" in " ".join(drift.data["managers"])
    # The API server's audit log names the person, not just the tool.
    assert drift.data["changedBy"] == "mallory" and drift.data["verb"] == "patch"
    assert "by mallory (kubectl patch)" in drift.message
    lab.wait_until_synced("web", timeout=30)
    assert deployment(lab)["spec"]["replicas"] == 2
    assert any(e.operation == "self-heal" for e in lab.history("web"))


def test_without_self_heal_drift_stays_out_of_sync(lab: Lab) -> None:
    lab.set_policy("web", self_heal=False, persona="bob")
    lab.kubectl("scale", "deploy", "web", "-n", "web", "--replicas=4", persona="mallory")
    snap = lab.wait_for(lambda s: s.app("web").sync is SyncStatus.OUT_OF_SYNC, timeout=30)
    res = snap.app("web").resource("Deployment", "web")
    assert res is not None and res.state == "OutOfSync"
    assert deployment(lab)["spec"]["replicas"] == 4
    policy = events_of(lab, "SyncPolicyChanged")[-1]
    assert policy.data["by"] == "bob" and policy.data["changes"] == {"self_heal": False}
    entry = lab.sync("web", persona="alice")
    assert entry is not None and entry.phase == "Succeeded" and entry.initiated_by == "alice"
    assert deployment(lab)["spec"]["replicas"] == 2


def test_a_deleted_resource_is_recreated(lab: Lab) -> None:
    lab.kubectl("delete", "configmap", "web-config", "-n", "web", persona="mallory")
    lab.wait_for(lambda s: any(e.type == "DriftCorrected" for e in lab.events()), timeout=30)
    out = lab.kubectl("get", "configmap", "web-config", "-n", "web")
    assert out.returncode == 0


def test_a_hand_added_label_is_caught_and_removed(lab: Lab) -> None:
    lab.kubectl("label", "deploy", "web", "-n", "web", "sneaky=yes", persona="mallory")
    lab.wait_for(lambda s: any(e.type == "DriftCorrected" for e in lab.events()), timeout=30)
    drift = events_of(lab, "DriftDetected")[-1]
    changes = {f["path"]: f for f in drift.data["fields"]}
    assert changes[".metadata.labels.sneaky"]["change"] == "added"
    lab.wait_until_synced("web", timeout=30)
    assert "sneaky" not in deployment(lab)["metadata"]["labels"]


def test_bad_yaml_gives_unknown_and_changes_nothing(lab: Lab) -> None:
    before = deployment(lab)["metadata"]["resourceVersion"]
    lab.commit({"apps/web/deployment.yaml": "spec:\n  replicas: [1,\n"}, "oops", persona="alice")
    snap = lab.wait_for(lambda s: s.app("web").sync is SyncStatus.UNKNOWN, timeout=30)
    message = snap.app("web").conditions[0]
    assert "apps/web/deployment.yaml" in message and ":" in message
    assert deployment(lab)["metadata"]["resourceVersion"] == before


def test_a_schema_invalid_manifest_applies_nothing(lab: Lab) -> None:
    cm = manifest(lab, "apps/web/configmap.yaml")
    cm["data"]["COLOR"] = "green"
    dep = manifest(lab, "apps/web/deployment.yaml")
    dep["spec"]["replicas"] = "three"
    lab.commit(
        {"apps/web/configmap.yaml": dump(cm), "apps/web/deployment.yaml": dump(dep)},
        "two changes, one broken",
    )
    snap = lab.wait_for(lambda s: s.app("web").sync is SyncStatus.UNKNOWN, timeout=30)
    assert "spec.replicas" in snap.app("web").conditions[0]
    out = json.loads(lab.kubectl("get", "cm", "web-config", "-n", "web", "-o", "json").stdout)
    assert out["data"]["COLOR"] == "blue"


def test_prune_deletes_what_git_dropped(lab: Lab) -> None:
    lab.commit({"apps/web/service.yaml": None}, "drop the service")
    lab.wait_until_synced("web", timeout=30)
    out = lab.kubectl("get", "svc", "web", "-n", "web")
    assert out.returncode != 0 and "NotFound" in out.stderr


def test_without_prune_the_object_stays_and_is_reported(lab: Lab) -> None:
    lab.set_policy("web", prune=False)
    lab.commit({"apps/web/service.yaml": None}, "drop the service")
    snap = lab.wait_for(
        lambda s: (r := s.app("web").resource("Service", "web")) is not None and r.state == "Extra",
        timeout=30,
    )
    assert snap.app("web").sync is SyncStatus.OUT_OF_SYNC
    assert lab.kubectl("get", "svc", "web", "-n", "web").returncode == 0


def test_emptying_the_folder_is_refused_without_allow_empty(lab: Lab) -> None:
    files = {path: None for path in lab.working_copy().files() if path.startswith("apps/web/")}
    lab.commit({**files, "apps/web/.keep": ""}, "empty the app")

    def failed(s: EngineSnapshot) -> bool:
        op = s.app("web").operation
        return op is not None and op.phase == "Failed" and "allowEmpty" in op.message

    lab.wait_for(failed, timeout=30)
    assert lab.kubectl("get", "deploy", "web", "-n", "web").returncode == 0


def test_rollback_the_argo_way_pins_and_pauses(lab: Lab) -> None:
    first = lab.history("web")[-1]
    dep = manifest(lab, "apps/web/deployment.yaml")
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/gitops-lab/web:1.1"
    lab.commit({"apps/web/deployment.yaml": dump(dep)}, "web 1.1")
    lab.wait_until_synced("web", timeout=60)
    entry = lab.rollback_to("web", first.id, persona="bob")
    assert entry is not None and entry.phase == "Succeeded" and entry.operation == "rollback"
    app = lab.snapshot().app("web")
    assert app.paused and app.pinned == first.revision
    assert "Git HEAD differs" in app.message
    image = deployment(lab)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/gitops-lab/web:1.0"
    lab.resume("web", persona="bob")
    lab.wait_until_synced("web", timeout=60)
    assert (
        deployment(lab)["spec"]["template"]["spec"]["containers"][0]["image"]
        == "ghcr.io/gitops-lab/web:1.1"
    )


def test_rollback_by_git_revert(lab: Lab) -> None:
    dep = manifest(lab, "apps/web/deployment.yaml")
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/gitops-lab/web:1.1"
    bad = lab.commit({"apps/web/deployment.yaml": dump(dep)}, "web 1.1")
    lab.wait_until_synced("web", timeout=60)
    revert = lab.rollback_revert("web", persona="bob")
    assert revert.pushed
    log = lab.git_log(3)
    assert (
        log[0].sha == revert.sha
        and log[0].title.startswith("Revert")
        and log[0].author == "Bob Opslead"
    )
    assert bad.sha in log[0].message
    lab.wait_until_synced("web", timeout=60)
    assert (
        deployment(lab)["spec"]["template"]["spec"]["containers"][0]["image"]
        == "ghcr.io/gitops-lab/web:1.0"
    )


def test_one_owner_per_workspace(lab: Lab) -> None:
    other = Lab.open(lab.root)
    with pytest.raises(LabError, match="already running"):
        other.up(timings=Timings.instant())


def test_persona_kubectl_identities(lab: Lab) -> None:
    denied = lab.kubectl("delete", "deploy", "web", "-n", "web", persona="viewer")
    assert denied.returncode != 0 and "forbidden" in denied.stderr
    with pytest.raises(LabError, match="no persona"):
        lab.kubectl("get", "pods", persona="eve")


HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 6
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
"""


def test_ignore_differences_lets_the_hpa_own_replicas(tmp_path: Path) -> None:
    apps = [
        {
            "name": "web",
            "source": {"path": "apps/web"},
            "destination": {"namespace": "web"},
            "ignoreDifferences": [
                {
                    "group": "apps",
                    "kind": "Deployment",
                    "managedFieldsManagers": ["kube-controller-manager"],
                }
            ],
        }
    ]
    lab = Lab.init(tmp_path / "hpa", "web-app", overrides={"apps": apps})
    lab.up(timings=Timings.instant())
    try:
        lab.wait_until_synced("web", timeout=60)
        # The simulated metrics first (no load set means no metrics: the HPA is Degraded).
        load = '{"data": {"load.web.web": "95"}}'
        out = lab.kubectl(
            "patch",
            "configmap",
            "gitops-lab-simulator",
            "-n",
            "kube-system",
            "--type=merge",
            "-p",
            load,
        )
        assert out.returncode == 0, out.stderr
        lab.commit({"apps/web/hpa.yaml": HPA}, "autoscale web")
        lab.wait_until_synced("web", healthy=False, timeout=60)
        # The HPA looks every 15 s (as the real one does) and scales through /scale.
        lab.wait_for(lambda s: deployment(lab)["spec"]["replicas"] > 2, timeout=90)
        live = deployment(lab)
        owners = {
            m["manager"]
            for m in live["metadata"]["managedFields"]
            if "f:replicas" in json.dumps(m.get("fieldsV1"))
        }
        assert "kube-controller-manager" in owners
        snap = lab.wait_until_synced("web", healthy=False, timeout=30)
        assert snap.app("web").sync is SyncStatus.SYNCED
        assert not any(e.operation == "self-heal" for e in lab.history("web"))
    finally:
        lab.down()


def test_multi_env_template_syncs_both_environments(tmp_path: Path) -> None:
    lab = Lab.init(tmp_path / "envs", "multi-env")
    lab.up(timings=Timings.instant())
    try:
        snap = lab.wait_until_synced(timeout=90)
        assert {a.name for a in snap.apps} == {"dev", "prod"}
        prod = json.loads(lab.kubectl("get", "deploy", "web", "-n", "prod", "-o", "json").stdout)
        dev = json.loads(lab.kubectl("get", "deploy", "web", "-n", "dev", "-o", "json").stdout)
        assert prod["spec"]["replicas"] == 3 and dev["spec"]["replicas"] == 1
        assert prod["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.0")
        assert dev["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.1")
        assert dev["metadata"]["labels"]["environment"] == "dev"
        # Promote: prod's overlay takes dev's image in a commit of its own.
        overlay = (
            lab.working_copy()
            .read("envs/prod/kustomization.yaml")
            .replace('newTag: "1.0"', 'newTag: "1.1"')
        )
        lab.commit(
            {"envs/prod/kustomization.yaml": overlay}, "promote web 1.1 to prod", persona="bob"
        )
        lab.wait_until_synced("prod", timeout=90)
        prod = json.loads(lab.kubectl("get", "deploy", "web", "-n", "prod", "-o", "json").stdout)
        assert prod["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.1")
    finally:
        lab.down()


def test_deep_merge_merges_mappings_and_replaces_lists() -> None:
    from lab.workspace import deep_merge

    base = {"policy": {"signatures": {"mode": "enforce"}, "protectedPaths": [{"path": "a"}]}}
    merged = deep_merge(base, {"policy": {"manifests": {"x": "warn"}, "protectedPaths": []}})
    assert merged == {
        "policy": {
            "signatures": {"mode": "enforce"},
            "protectedPaths": [],
            "manifests": {"x": "warn"},
        }
    }
    assert base["policy"]["protectedPaths"] == [{"path": "a"}]  # the base is not changed


def test_init_overrides_keep_the_templates_policy_and_set_the_poll_interval(tmp_path: Path) -> None:
    lab = Lab.init(
        tmp_path / "w",
        "multi-env",
        overrides={
            "policy": {"manifests": {"no-latest-image": "enforce"}},
            "reconciler": {"pollInterval": "2s"},
        },
    )
    for config in (lab.config, Lab.open(lab.root).config):
        assert [(r.path, r.allowed) for r in config.policy.protected] == [
            ("envs/prod/**", ("bob",))
        ]
        assert config.policy.manifests == {"no-latest-image": "enforce"}
        assert config.poll_seconds == 2.0 and config.webhook is True
        assert [a.poll_seconds for a in config.apps] == [2.0, 2.0]
    written = yaml.safe_load((lab.root / "lab.yaml").read_text())
    assert all("pollInterval" not in app for app in written["apps"])
    with pytest.raises(LabError, match=r"reconciler\.pollInterval"):
        Lab.init(tmp_path / "bad", "web-app", overrides={"reconciler": {"pollInterval": "soon"}})


def test_an_apps_own_poll_interval_is_kept(tmp_path: Path) -> None:
    lab = Lab.init(tmp_path / "w", "web-app")
    data = yaml.safe_load((lab.root / "lab.yaml").read_text())
    data["apps"][0]["pollInterval"] = "30s"
    data["reconciler"]["pollInterval"] = "5s"
    (lab.root / "lab.yaml").write_text(yaml.safe_dump(data))
    config = Lab.open(lab.root).config
    assert config.apps[0].poll_seconds == 30.0 and config.poll_seconds == 5.0
    assert config.as_dict()["apps"][0]["pollInterval"] == "30s"


def test_a_refused_revert_leaves_the_clone_as_the_server_has_it(tmp_path: Path) -> None:
    lab = Lab.init(tmp_path / "w", "multi-env")
    overlay = lab.working_copy().read("envs/prod/kustomization.yaml") + "\n# bob's note\n"
    change = lab.commit({"envs/prod/kustomization.yaml": overlay}, "a prod note", persona="bob")
    assert change.pushed
    revert = lab.revert(change.sha, persona="alice")  # alice may not change envs/prod/**
    assert revert.push is not None and not revert.push.ok
    assert "envs/prod" in revert.push.message
    copy = lab.working_copy()
    assert copy.head() == lab.git_log(1)[0].sha == change.sha
    assert copy.read("envs/prod/kustomization.yaml") == overlay


def test_commands_show_in_the_snapshot_when_they_return(lab: Lab) -> None:
    seq = lab.audit_events()[-1].seq
    lab.pause("web", persona="bob")
    assert lab.snapshot().app("web").paused
    lab.resume("web", persona="bob")
    assert not lab.snapshot().app("web").paused
    spec = lab.set_policy("web", persona="bob", self_heal=False, prune=False)
    policy = lab.snapshot().app("web").spec.policy
    assert policy == spec.policy and not policy.self_heal and not policy.prune
    event = lab.wait_for_event("SyncPolicyChanged", app="web", after=seq, timeout=10)
    assert event.actor == "bob" and "paused" in event.message
    later = lab.wait_for_event("SyncPolicyChanged", app="web", after=event.seq, timeout=10)
    assert later.seq > event.seq
    with pytest.raises(TimeoutError, match=r"no RolledBack event for app web within 0\.2 s"):
        lab.wait_for_event("RolledBack", app="web", after=seq, timeout=0.2)


def test_commit_diff_is_the_unified_diff_of_a_commit(lab: Lab) -> None:
    cm = manifest(lab, "apps/web/configmap.yaml")
    cm["data"]["COLOR"] = "green"
    commit = lab.commit({"apps/web/configmap.yaml": dump(cm)}, "green")
    diff = lab.commit_diff(commit.sha)
    assert diff.startswith("diff --git a/apps/web/configmap.yaml b/apps/web/configmap.yaml")
    assert "-  COLOR: blue" in diff and "+  COLOR: green" in diff
    first = lab.git_log(20)[-1]
    assert "new file mode" in lab.commit_diff(first.short)
    for bad in ("nosuchcommit", "--output=/tmp/x", ""):
        with pytest.raises(LabError):
            lab.commit_diff(bad)


def test_diff_view_names_who_changed_each_drifted_resource(lab: Lab) -> None:
    from lab import views

    lab.set_policy("web", persona="bob", self_heal=False)
    seq = lab.audit_events()[-1].seq
    out = lab.kubectl("scale", "deploy", "web", "-n", "web", "--replicas=4", persona="mallory")
    assert out.returncode == 0, out.stderr
    lab.wait_for_event("DriftDetected", app="web", after=seq, timeout=30)
    lab.wait_for(lambda s: s.app("web").sync is SyncStatus.OUT_OF_SYNC, timeout=30)
    drifts = lab.audit_events(types=["DriftDetected"])
    result = views.diff_dict(lab.snapshot(), "web", drifts)
    (res,) = result["apps"][0]["resources"]
    assert res["kind"] == "Deployment" and res["changedBy"] == "mallory"
    assert views.diff_dict(lab.snapshot(), "web")["apps"][0]["resources"][0]["changedBy"] is None


def test_every_public_lab_call_has_a_docstring_and_is_in_the_python_api_page() -> None:
    import inspect

    page = (Path(__file__).parents[1] / "docs" / "python-api.md").read_text()
    missing_doc, missing_page = [], []
    for name in dir(Lab):
        if name.startswith("_"):
            continue
        member = inspect.getattr_static(Lab, name)
        target = member.__func__ if isinstance(member, classmethod | staticmethod) else member
        if not inspect.getdoc(target):
            missing_doc.append(name)
        if f"lab.{name}" not in page and f"Lab.{name}" not in page:
            missing_page.append(name)
    assert not missing_doc, f"no docstring: {missing_doc}"
    assert not missing_page, f"not in docs/python-api.md: {missing_page}"
