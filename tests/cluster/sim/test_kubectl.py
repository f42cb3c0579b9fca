"""The real kubectl against the embedded API server over HTTPS: what learners will type.

Each test asserts on what kubectl prints or on the object afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import Kubectl, kubectl_binary

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: {image}
        ports: [{{containerPort: 8080}}]
        env: [{{name: MODE, value: blue}}]
"""


def deployment(ns: str, replicas: int = 2, image: str = "ghcr.io/gitops-lab/web:1.0") -> str:
    return DEPLOYMENT.format(ns=ns, replicas=replicas, image=image)


def get_json(kubectl: Kubectl, *args: str) -> dict:
    return json.loads(kubectl("get", *args, "-o", "json", "--show-managed-fields").stdout)


@pytest.fixture(scope="module")
def ns(kubectl: Kubectl) -> str:
    kubectl("create", "namespace", "shop")
    return "shop"


def test_version_and_discovery(kubectl: Kubectl) -> None:
    out = kubectl("version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["minor"] == "37"
    resources = kubectl("api-resources").stdout
    assert "deployments" in resources and "deploy" in resources
    assert "horizontalpodautoscalers" in resources
    short = kubectl("api-resources", "--api-group=apps", "-o", "name").stdout.split()
    assert "deployments.apps" in short


def test_fresh_cluster_has_system_namespaces_and_the_kubernetes_service(kubectl: Kubectl) -> None:
    names = kubectl("get", "ns", "-o", "name").stdout.split()
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert f"namespace/{ns}" in names
    svc = kubectl("get", "svc", "kubernetes", "-n", "default").stdout
    assert "10.96.0.1" in svc and "443/TCP" in svc
    assert "kube-root-ca.crt" in kubectl("get", "cm", "-n", "default").stdout


def test_apply_creates_then_updates_then_reports_unchanged(kubectl: Kubectl, ns: str) -> None:
    out = kubectl("apply", "-f", "-", input=deployment(ns)).stdout
    assert out.strip() == "deployment.apps/web created"
    out = kubectl("apply", "-f", "-", input=deployment(ns)).stdout
    assert out.strip() == "deployment.apps/web unchanged"
    out = kubectl("apply", "-f", "-", input=deployment(ns, replicas=3)).stdout
    assert out.strip() == "deployment.apps/web configured"
    obj = get_json(kubectl, "deploy", "web", "-n", ns)
    assert obj["spec"]["replicas"] == 3
    assert obj["metadata"]["generation"] == 2
    # The server filled in what a real one fills in.
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"
    assert obj["spec"]["progressDeadlineSeconds"] == 600
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    managers = {m["manager"] for m in obj["metadata"]["managedFields"]}
    assert "kubectl-client-side-apply" in managers


def test_get_output_formats(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment(ns))
    table = kubectl("get", "deploy", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[0] == "web"
    wide = kubectl("get", "deploy", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert "ghcr.io/gitops-lab/web:1.0" in wide[1] and "app=web" in wide[1]
    as_yaml = yaml.safe_load(kubectl("get", "deploy", "web", "-n", ns, "-o", "yaml").stdout)
    assert as_yaml["kind"] == "Deployment" and as_yaml["metadata"]["namespace"] == ns
    path = kubectl(
        "get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    ).stdout
    assert path == "ghcr.io/gitops-lab/web:1.0"
    everywhere = kubectl("get", "deploy", "-A").stdout.splitlines()
    assert everywhere[0].split()[0] == "NAMESPACE"
    assert any(line.split()[:2] == [ns, "web"] for line in everywhere[1:])
    labelled = kubectl("get", "deploy", "-A", "-l", "app=web", "-o", "name").stdout.split()
    assert labelled == ["deployment.apps/web"]
    assert kubectl("get", "deploy", "-A", "-l", "app=nope", "-o", "name").stdout == ""
    names = kubectl("get", "all", "-n", ns, "-o", "name").stdout.split()
    assert "deployment.apps/web" in names


def test_server_side_apply_and_conflicts(kubectl: Kubectl, ns: str) -> None:
    manifest = deployment(ns, image="ghcr.io/gitops-lab/web:2.0").replace(
        "name: web\n  namespace", "name: ssa\n  namespace", 1
    )
    out = kubectl("apply", "--server-side", "-f", "-", input=manifest).stdout
    assert out.strip() == "deployment.apps/ssa serverside-applied"
    kubectl("scale", "deploy", "ssa", "-n", ns, "--replicas=5")
    conflict = kubectl("apply", "--server-side", "-f", "-", input=manifest, check=False)
    assert conflict.returncode != 0
    assert "conflict" in conflict.stderr.lower() and ".spec.replicas" in conflict.stderr
    obj = get_json(kubectl, "deploy", "ssa", "-n", ns)
    assert obj["spec"]["replicas"] == 5
    forced = kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=manifest)
    assert "serverside-applied" in forced.stdout
    assert get_json(kubectl, "deploy", "ssa", "-n", ns)["spec"]["replicas"] == 2


def test_edit_with_a_scripted_editor(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl("apply", "-f", "-", input=deployment(ns))
    editor = tmp_path / "editor.py"
    editor.write_text(
        textwrap.dedent(
            """\
            import sys
            path = sys.argv[-1]
            text = open(path).read()
            open(path, "w").write(text.replace("value: blue", "value: green"))
            """
        )
    )
    out = kubectl(
        "edit", "deploy", "web", "-n", ns, env={"KUBE_EDITOR": f"{sys.executable} {editor}"}
    )
    assert "deployment.apps/web edited" in out.stdout
    env = get_json(kubectl, "deploy", "web", "-n", ns)["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    assert env == [{"name": "MODE", "value": "green"}]


def test_patch_in_all_three_types(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment(ns))
    kubectl(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type=strategic",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"EXTRA","value":"1"}]}]}}}}',
    )
    obj = get_json(kubectl, "deploy", "web", "-n", ns)
    names = [e["name"] for e in obj["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert names == ["EXTRA", "MODE"] or names == ["MODE", "EXTRA"]
    kubectl(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"metadata":{"labels":{"team":"shop"}}}',
    )
    assert get_json(kubectl, "deploy", "web", "-n", ns)["metadata"]["labels"]["team"] == "shop"
    kubectl(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":4}]',
    )
    assert get_json(kubectl, "deploy", "web", "-n", ns)["spec"]["replicas"] == 4
    bad = kubectl(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type=json",
        "-p",
        '[{"op":"test","path":"/spec/replicas","value":99}]',
        check=False,
    )
    assert bad.returncode != 0
    assert get_json(kubectl, "deploy", "web", "-n", ns)["spec"]["replicas"] == 4


def test_label_annotate_scale_set_image(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment(ns))
    assert "labeled" in kubectl("label", "deploy", "web", "-n", ns, "tier=front").stdout
    assert "annotated" in kubectl("annotate", "deploy", "web", "-n", ns, "owner=alice").stdout
    assert "scaled" in kubectl("scale", "deploy", "web", "-n", ns, "--replicas=6").stdout
    assert (
        "image updated"
        in kubectl("set", "image", "deploy/web", "-n", ns, "web=ghcr.io/gitops-lab/web:1.1").stdout
    )
    obj = get_json(kubectl, "deploy", "web", "-n", ns)
    assert obj["metadata"]["labels"]["tier"] == "front"
    assert obj["metadata"]["annotations"]["owner"] == "alice"
    assert obj["spec"]["replicas"] == 6
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/gitops-lab/web:1.1"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    scale_entry = [m for m in obj["metadata"]["managedFields"] if m.get("subresource") == "scale"]
    assert scale_entry and "f:replicas" in json.dumps(scale_entry[0]["fieldsV1"])
    assert "label" in kubectl("label", "deploy", "web", "-n", ns, "tier-").stdout
    assert "tier" not in get_json(kubectl, "deploy", "web", "-n", ns)["metadata"]["labels"]


def test_describe_shows_the_object_and_its_events(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment(ns))
    uid = get_json(kubectl, "deploy", "web", "-n", ns)["metadata"]["uid"]
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.1", "namespace": ns},
        "involvedObject": {
            "kind": "Deployment",
            "name": "web",
            "namespace": ns,
            "uid": uid,
            "apiVersion": "apps/v1",
        },
        "reason": "ScalingReplicaSet",
        "message": "Scaled up replica set web-abc to 2",
        "type": "Normal",
        "source": {"component": "deployment-controller"},
        "count": 1,
    }
    kubectl("create", "-f", "-", input=json.dumps(event))
    out = kubectl("describe", "deploy", "web", "-n", ns).stdout
    assert "Name:" in out and "web" in out
    assert "Selector:" in out and "app=web" in out
    assert "ScalingReplicaSet" in out and "Scaled up replica set web-abc to 2" in out
    events = kubectl("get", "events", "-n", ns).stdout
    assert "ScalingReplicaSet" in events and "deployment/web" in events


def test_delete_cascades_by_owner_references(kubectl: Kubectl, ns: str) -> None:
    kubectl("create", "configmap", "owner", "-n", ns, "--from-literal=a=b")
    uid = get_json(kubectl, "cm", "owner", "-n", ns)["metadata"]["uid"]
    for name in ("child-1", "child-2"):
        child = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": ns,
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}
                ],
            },
        }
        kubectl("create", "-f", "-", input=json.dumps(child))
    out = kubectl("delete", "cm", "owner", "-n", ns).stdout
    assert 'configmap "owner" deleted' in out
    left = kubectl("get", "cm", "-n", ns, "-o", "name").stdout.split()
    assert "configmap/child-1" not in left and "configmap/child-2" not in left

    kubectl("create", "configmap", "owner2", "-n", ns)
    uid = get_json(kubectl, "cm", "owner2", "-n", ns)["metadata"]["uid"]
    orphan = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "orphan",
            "namespace": ns,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner2", "uid": uid}
            ],
        },
    }
    kubectl("create", "-f", "-", input=json.dumps(orphan))
    kubectl("delete", "cm", "owner2", "-n", ns, "--cascade=orphan")
    kept = get_json(kubectl, "cm", "orphan", "-n", ns)
    assert "ownerReferences" not in kept["metadata"]

    kubectl("create", "configmap", "owner3", "-n", ns)
    uid = get_json(kubectl, "cm", "owner3", "-n", ns)["metadata"]["uid"]
    fg = dict(
        orphan,
        metadata={
            **orphan["metadata"],
            "name": "fg-child",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner3", "uid": uid}
            ],
        },
    )
    kubectl("create", "-f", "-", input=json.dumps(fg))
    kubectl("delete", "cm", "owner3", "-n", ns, "--cascade=foreground")
    left = kubectl("get", "cm", "-n", ns, "-o", "name").stdout.split()
    assert "configmap/owner3" not in left and "configmap/fg-child" not in left


def test_get_watch_streams_changes(kubectl: Kubectl, cluster: object, ns: str) -> None:
    kubectl("create", "configmap", "watched", "-n", ns)
    proc = subprocess.Popen(
        [
            str(kubectl_binary()),
            "--context",
            "admin",
            "--cache-dir",
            str(kubectl.home / "cache"),
            "get",
            "cm",
            "watched",
            "-n",
            ns,
            "-w",
            "-o",
            "custom-columns=NAME:.metadata.name,V:.data.v",
            "--no-headers",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"KUBECONFIG": str(kubectl.kubeconfig), "HOME": str(kubectl.home), "PATH": ""},
    )
    try:
        time.sleep(1.5)
        kubectl("patch", "cm", "watched", "-n", ns, "--type=merge", "-p", '{"data":{"v":"one"}}')
        kubectl("patch", "cm", "watched", "-n", ns, "--type=merge", "-p", '{"data":{"v":"two"}}')
        lines: list[str] = []
        deadline = time.monotonic() + 20
        assert proc.stdout is not None
        while time.monotonic() < deadline and len(lines) < 3:
            line = proc.stdout.readline()
            if line:
                lines.append(line.split())
    finally:
        proc.kill()
        proc.wait()
    assert lines[0] == ["watched", "<none>"]
    assert lines[1] == ["watched", "one"]
    assert lines[2] == ["watched", "two"]


def test_get_watch_with_tables(kubectl: Kubectl, ns: str) -> None:
    kubectl("create", "configmap", "tablewatch", "-n", ns, "--from-literal=a=1")
    proc = subprocess.Popen(
        [
            str(kubectl_binary()),
            "--context",
            "admin",
            "--cache-dir",
            str(kubectl.home / "cache"),
            "get",
            "cm",
            "-n",
            ns,
            "-w",
            "-l",
            "w=yes",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"KUBECONFIG": str(kubectl.kubeconfig), "HOME": str(kubectl.home), "PATH": ""},
    )
    try:
        time.sleep(1.5)
        kubectl("label", "cm", "tablewatch", "-n", ns, "w=yes")
        assert proc.stdout is not None
        header = proc.stdout.readline().split()
        row = proc.stdout.readline().split()
    finally:
        proc.kill()
        proc.wait()
    assert header == ["NAME", "DATA", "AGE"]
    assert row[:2] == ["tablewatch", "1"]


def test_logs_follow_container_state(kubectl: Kubectl, ns: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "logger", "namespace": ns},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]},
    }
    kubectl("create", "-f", "-", input=json.dumps(pod))
    waiting = kubectl("logs", "logger", "-n", ns, check=False)
    assert waiting.returncode != 0
    assert 'container "app" in pod "logger" is waiting to start' in waiting.stderr
    wrong = kubectl("logs", "logger", "-n", ns, "-c", "nope", check=False)
    assert "container nope is not valid for pod logger" in wrong.stderr


def test_diff_changes_nothing(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment(ns))
    before = get_json(kubectl, "deploy", "web", "-n", ns)["metadata"]["resourceVersion"]
    same = kubectl("diff", "-f", "-", input=deployment(ns, replicas=2), check=False)
    changed = kubectl("diff", "-f", "-", input=deployment(ns, replicas=9), check=False)
    assert changed.returncode == 1, changed.stderr
    assert "-  replicas: 2" in changed.stdout and "+  replicas: 9" in changed.stdout
    new = kubectl(
        "diff",
        "-f",
        "-",
        input=deployment(ns).replace("name: web\n  namespace", "name: brand-new\n  namespace", 1),
        check=False,
    )
    assert new.returncode == 1 and "+  name: brand-new" in new.stdout
    after = get_json(kubectl, "deploy", "web", "-n", ns)
    assert after["metadata"]["resourceVersion"] == before
    assert after["spec"]["replicas"] == 2
    assert "brand-new" not in kubectl("get", "deploy", "-n", ns, "-o", "name").stdout
    assert same.returncode in (0, 1)


def test_create_configmap_and_secret_imperatively(kubectl: Kubectl, ns: str) -> None:
    out = kubectl(
        "create",
        "configmap",
        "settings",
        "-n",
        ns,
        "--from-literal=color=blue",
        "--from-literal=size=L",
    )
    assert out.stdout.strip() == "configmap/settings created"
    assert get_json(kubectl, "cm", "settings", "-n", ns)["data"] == {"color": "blue", "size": "L"}
    kubectl("create", "secret", "generic", "creds", "-n", ns, "--from-literal=password=s3cret")
    secret = get_json(kubectl, "secret", "creds", "-n", ns)
    assert secret["type"] == "Opaque" and secret["data"]["password"] == "czNjcmV0"
    kubectl("create", "deployment", "quick", "-n", ns, "--image=nginx:1.27", "--replicas=2")
    quick = get_json(kubectl, "deploy", "quick", "-n", ns)
    assert quick["spec"]["replicas"] == 2
    assert quick["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_secret_string_data_is_folded(kubectl: Kubectl, ns: str) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "folded", "namespace": ns},
        "stringData": {"token": "abc"},
    }
    kubectl("apply", "-f", "-", input=json.dumps(secret))
    stored = get_json(kubectl, "secret", "folded", "-n", ns)
    assert stored["data"] == {"token": "YWJj"} and "stringData" not in stored


def test_identities_401_and_403(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    denied = kubectl("--context", "viewer", "create", "configmap", "nope", "-n", ns, check=False)
    assert denied.returncode != 0
    assert (
        'configmaps is forbidden: User "viewer" cannot create resource "configmaps"'
        in denied.stderr
    )
    assert "kube-root-ca.crt" in kubectl("--context", "viewer", "get", "cm", "-n", ns).stdout
    hidden = kubectl("--context", "viewer", "get", "secrets", "-n", ns, check=False)
    assert hidden.returncode != 0 and "Forbidden" in hidden.stderr
    config = yaml.safe_load(kubectl.kubeconfig.read_text())
    for user in config["users"]:
        user["user"]["token"] = "not-a-real-token"
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text(yaml.safe_dump(config))
    unauthorized = subprocess.run(
        [
            str(kubectl_binary()),
            "--kubeconfig",
            str(bad),
            "--cache-dir",
            str(tmp_path / "c"),
            "get",
            "ns",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"HOME": str(tmp_path), "PATH": ""},
    )
    assert unauthorized.returncode != 0
    assert "Unauthorized" in unauthorized.stderr or "must be logged in" in unauthorized.stderr


def test_mallory_can_change_workloads_but_not_namespaces(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment(ns))
    kubectl("--context", "mallory", "scale", "deploy", "web", "-n", ns, "--replicas=1")
    obj = get_json(kubectl, "deploy", "web", "-n", ns)
    assert obj["spec"]["replicas"] == 1
    denied = kubectl("--context", "mallory", "delete", "ns", ns, check=False)
    assert denied.returncode != 0 and "Forbidden" in denied.stderr


def test_explain_uses_the_schemas(kubectl: Kubectl) -> None:
    out = kubectl("explain", "deployment.spec.strategy").stdout
    assert "KIND:" in out and "Deployment" in out
    assert "rollingUpdate" in out


def test_delete_namespace_deletes_its_contents(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "doomed")
    kubectl("create", "configmap", "c", "-n", "doomed")
    kubectl("apply", "-f", "-", input=deployment("doomed"))
    kubectl("delete", "namespace", "doomed", "--wait=true", timeout=60)
    assert "doomed" not in kubectl("get", "ns", "-o", "name").stdout
    gone = kubectl("get", "cm", "c", "-n", "doomed", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
