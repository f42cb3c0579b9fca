"""CustomResourceDefinitions through the real kubectl and plain HTTPS: the whole lifecycle.

A CRD applied with kubectl is established, listed by discovery and OpenAPI, printed with its
columns; its objects are validated (422 with the field), pruned, defaulted, patched and
applied like a real server does; deleting the CRD deletes them and ends their watches; the
definitions outlive a restart.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim.cluster import EmbeddedCluster
from tests.conftest import Kubectl

FIXTURES = Path(__file__).parents[2] / "fixtures" / "crds"
CRD_FILE = FIXTURES / "widget-crd.yaml"
CRD_NAME = "widgets.example.gitops-lab.dev"
GROUP_PATH = "/apis/example.gitops-lab.dev/v1"
NS = "gadgets"


class Https:
    """Plain requests to the embedded API server, as one persona."""

    def __init__(self, cluster: EmbeddedCluster, persona: str = "admin") -> None:
        self.cluster = cluster
        self.persona = persona
        self.context = ssl.create_default_context(cafile=str(cluster.ca_file))

    def connect(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            "127.0.0.1", self.cluster.port, context=self.context, timeout=30
        )

    def headers(self, content_type: str = "application/json") -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.cluster.token(self.persona)}",
            "Content-Type": content_type,
            "Accept": "application/json",
        }

    def __call__(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        conn = self.connect()
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=self.headers(content_type))
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode()


def widget_yaml(object_name: str, /, **spec: Any) -> str:
    body = {
        "apiVersion": "example.gitops-lab.dev/v1",
        "kind": "Widget",
        "metadata": {"name": object_name, "namespace": NS},
        "spec": spec,
    }
    return yaml.safe_dump(body)


def get_json(kubectl: Kubectl, *args: str) -> dict[str, Any]:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def https(cluster: EmbeddedCluster) -> Https:
    return Https(cluster)


@pytest.fixture(scope="module")
def before_crd(kubectl: Kubectl, https: Https) -> dict[str, Any]:
    """What a client sees of the custom resource while its CRD is not there yet."""
    kubectl("create", "namespace", NS)
    status, body = https(
        "POST",
        f"{GROUP_PATH}/namespaces/{NS}/widgets",
        {"apiVersion": "example.gitops-lab.dev/v1", "kind": "Widget", "metadata": {"name": "w"}},
    )
    applied = kubectl("apply", "-f", "-", input=widget_yaml("early", name="early"), check=False)
    return {"status": status, "body": body, "kubectl": applied}


@pytest.fixture(scope="module")
def crd(kubectl: Kubectl, before_crd: dict[str, Any]) -> dict[str, Any]:
    kubectl("apply", "-f", str(CRD_FILE))
    kubectl("wait", "--for=condition=Established", "--timeout=10s", f"crd/{CRD_NAME}")
    return get_json(kubectl, "crd", CRD_NAME)


def test_a_custom_resource_before_its_crd_is_not_found(before_crd: dict[str, Any]) -> None:
    assert before_crd["status"] == 404
    assert before_crd["body"]["reason"] == "NotFound"
    assert before_crd["body"]["message"] == "the server could not find the requested resource"
    applied = before_crd["kubectl"]
    assert applied.returncode == 1
    assert 'no matches for kind "Widget" in version "example.gitops-lab.dev/v1"' in applied.stderr
    assert "ensure CRDs are installed first" in applied.stderr


def test_an_applied_crd_is_established_with_the_real_conditions(crd: dict[str, Any]) -> None:
    status = crd["status"]
    conditions = {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}
    assert conditions == {
        "NamesAccepted": ("True", "NoConflicts", "no conflicts found"),
        "Established": ("True", "InitialNamesAccepted", "the initial names have been accepted"),
    }
    assert status["acceptedNames"] == {
        "plural": "widgets",
        "singular": "widget",
        "kind": "Widget",
        "listKind": "WidgetList",
        "shortNames": ["wg"],
        "categories": ["gadgets"],
    }
    assert status["storedVersions"] == ["v1"]
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["metadata"]["generation"] == 1


def test_kubectl_get_crd_prints_name_and_created_at(kubectl: Kubectl, crd: dict[str, Any]) -> None:
    lines = kubectl("get", "crd").stdout.splitlines()

    assert lines[0].split() == ["NAME", "CREATED", "AT"]
    assert lines[1].split()[0] == CRD_NAME


def test_discovery_and_openapi_serve_the_new_type(
    kubectl: Kubectl, https: Https, crd: dict[str, Any]
) -> None:
    listed = kubectl("api-resources", "--api-group=example.gitops-lab.dev").stdout.splitlines()
    assert listed[1].split() == ["widgets", "wg", "example.gitops-lab.dev/v1", "true", "Widget"]

    status, resources = https("GET", GROUP_PATH)
    assert status == 200
    assert [(r["name"], r["kind"], r["verbs"]) for r in resources["resources"]] == [
        (
            "widgets",
            "Widget",
            ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
        ),
        ("widgets/status", "Widget", ["get", "patch", "update"]),
    ]
    status, root = https("GET", "/openapi/v3")
    assert "apis/example.gitops-lab.dev/v1" in root["paths"]
    status, document = https("GET", "/openapi/v3/apis/example.gitops-lab.dev/v1")
    definition = document["components"]["schemas"]["dev.gitops-lab.example.v1.Widget"]
    assert definition["x-kubernetes-group-version-kind"] == [
        {"group": "example.gitops-lab.dev", "kind": "Widget", "version": "v1"}
    ]
    patch = document["paths"][f"{GROUP_PATH}/namespaces/{{namespace}}/widgets/{{name}}"]["patch"]
    assert sorted(patch["requestBody"]["content"]) == [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ]


def test_kubectl_explain_reads_the_crd_schema(kubectl: Kubectl, crd: dict[str, Any]) -> None:
    out = kubectl("explain", "widgets.spec.size").stdout

    assert "KIND:       Widget" in out
    assert "FIELD: size <integer>" in out


def test_kubectl_get_prints_the_printer_columns(kubectl: Kubectl, crd: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", input=widget_yaml("w1", name="w1", color="red", owner="ana"))

    lines = kubectl("get", "widgets", "-n", NS).stdout.splitlines()
    wide = kubectl("get", "wg", "-n", NS, "-o", "wide").stdout.splitlines()
    by_category = kubectl("get", "gadgets", "-n", NS).stdout.splitlines()

    assert lines[0].split() == ["NAME", "SIZE", "COLOR", "READY", "AGE"]
    # size defaulted by the schema; READY has no value yet: an empty cell
    assert lines[1].split()[:3] == ["w1", "3", "red"]
    assert len(lines[1].split()) == 4
    assert wide[0].split() == ["NAME", "SIZE", "COLOR", "READY", "OWNER", "AGE"]
    assert wide[1].split()[3] == "ana"  # after the empty READY cell
    assert by_category[0].split()[:2] == ["NAME", "SIZE"]  # the category names the type
    assert by_category[1].split()[0] == "w1"


def test_an_invalid_custom_resource_is_422_with_every_field(
    kubectl: Kubectl, crd: dict[str, Any]
) -> None:
    bad = widget_yaml("w2", name="Bad_Name", size=20, color="pink")

    result = kubectl("apply", "-f", "-", input=bad, check=False)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        'The Widget "w2" is invalid: ',
        '* spec.color: Unsupported value: "pink": supported values: "red", "green", "blue"',
        "* spec.name: Invalid value: \"Bad_Name\": spec.name in body should match '^[a-z0-9.-]+$'",
        "* spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10",
    ]


def test_unknown_fields_are_refused_strictly_or_pruned(
    kubectl: Kubectl, crd: dict[str, Any]
) -> None:
    extra = widget_yaml("w3", name="w3", extra=1)

    strict = kubectl("apply", "-f", "-", input=extra, check=False)
    ignored = kubectl("apply", "--validate=false", "-f", "-", input=extra)

    assert strict.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": Widget in version "v1" '
        'cannot be handled as a Widget: strict decoding error: unknown field "spec.extra"'
    )
    assert ignored.returncode == 0
    assert get_json(kubectl, "widget", "w3", "-n", NS)["spec"] == {
        "name": "w3",
        "size": 3,
        "enabled": True,
    }


def test_the_status_subresource_splits_spec_and_status(
    kubectl: Kubectl, crd: dict[str, Any]
) -> None:
    created = yaml.safe_load(widget_yaml("w4", name="w4"))
    created["status"] = {"phase": "Ignored"}
    kubectl("apply", "-f", "-", input=yaml.safe_dump(created))
    assert "status" not in get_json(kubectl, "widget", "w4", "-n", NS)

    kubectl(
        "patch", "widget", "w4", "-n", NS, "--subresource=status", "--type=merge",
        "-p", '{"status": {"phase": "Ready"}, "spec": {"size": 9}}',
    )  # fmt: skip
    after_status = get_json(kubectl, "widget", "w4", "-n", NS)
    kubectl(
        "patch", "widget", "w4", "-n", NS, "--type=merge",
        "-p", '{"status": {"phase": "Hacked"}, "spec": {"size": 5}}',
    )  # fmt: skip
    after_main = get_json(kubectl, "widget", "w4", "-n", NS)

    assert after_status["status"] == {"phase": "Ready"}
    assert after_status["spec"]["size"] == 3
    assert after_status["metadata"]["generation"] == 1
    assert after_main["status"] == {"phase": "Ready"}
    assert after_main["spec"]["size"] == 5
    assert after_main["metadata"]["generation"] == 2


def test_strategic_merge_patch_is_415_for_custom_resources(
    kubectl: Kubectl, crd: dict[str, Any]
) -> None:
    kubectl("apply", "-f", "-", input=widget_yaml("w5", name="w5"))

    result = kubectl("patch", "widget", "w5", "-n", NS, "-p", '{"spec":{"size":4}}', check=False)

    assert result.stderr.strip() == (
        "error: application/strategic-merge-patch+json is not supported by "
        "example.gitops-lab.dev/v1, Kind=Widget: the body of the request was in an unknown "
        "format - accepted media types include: application/json-patch+json, "
        "application/merge-patch+json, application/apply-patch+yaml"
    )


def test_server_side_apply_and_client_side_apply(kubectl: Kubectl, crd: dict[str, Any]) -> None:
    kubectl(
        "apply", "--server-side", "--field-manager=gitops-lab", "-f", "-",
        input=widget_yaml("w6", name="w6", color="green"),
    )  # fmt: skip
    kubectl("apply", "-f", "-", input=widget_yaml("w7", name="w7"))
    kubectl("apply", "-f", "-", input=widget_yaml("w7", name="w7", color="blue"))

    applied = json.loads(
        kubectl("get", "widget", "w6", "-n", NS, "-o", "json", "--show-managed-fields").stdout
    )
    patched = get_json(kubectl, "widget", "w7", "-n", NS)

    entry = applied["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"]) == ("gitops-lab", "Apply")
    assert entry["fieldsV1"] == {"f:spec": {"f:color": {}, "f:name": {}}}
    assert applied["spec"] == {"name": "w6", "color": "green", "size": 3, "enabled": True}
    assert patched["spec"]["color"] == "blue"
    assert patched["metadata"]["generation"] == 2


def test_a_non_structural_crd_is_refused(kubectl: Kubectl) -> None:
    bad = yaml.safe_load(CRD_FILE.read_text())
    bad["metadata"]["name"] = "blobs.example.gitops-lab.dev"
    bad["spec"]["names"] = {"kind": "Blob", "plural": "blobs"}
    spec_schema = bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    del spec_schema["type"]

    result = kubectl("apply", "-f", "-", input=yaml.safe_dump(bad), check=False)

    assert result.stderr.strip() == (
        'The CustomResourceDefinition "blobs.example.gitops-lab.dev" is invalid: '
        "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be "
        "empty for specified object fields"
    )


def test_a_cluster_scoped_crd_without_subresources_or_columns(
    kubectl: Kubectl, https: Https
) -> None:
    gizmo = yaml.safe_load(CRD_FILE.read_text())
    gizmo["metadata"]["name"] = "gizmos.example.gitops-lab.dev"
    gizmo["spec"]["names"] = {"kind": "Gizmo", "plural": "gizmos"}
    gizmo["spec"]["scope"] = "Cluster"
    version = gizmo["spec"]["versions"][0]
    del version["subresources"], version["additionalPrinterColumns"]
    kubectl("apply", "-f", "-", input=yaml.safe_dump(gizmo))
    kubectl(
        "wait", "--for=condition=Established", "--timeout=10s", "crd/gizmos.example.gitops-lab.dev"
    )
    body = {
        "apiVersion": "example.gitops-lab.dev/v1",
        "kind": "Gizmo",
        "metadata": {"name": "g1"},
        "spec": {"name": "g1"},
        "status": {"phase": "Kept"},
    }

    created = https("POST", f"{GROUP_PATH}/gizmos", body)
    updated = https(
        "PATCH",
        f"{GROUP_PATH}/gizmos/g1",
        {"status": {"phase": "New"}},
        "application/merge-patch+json",
    )
    lines = kubectl("get", "gizmos").stdout.splitlines()
    subresource = https("GET", f"{GROUP_PATH}/gizmos/g1/status")

    assert created[0] == 201 and created[1]["status"] == {"phase": "Kept"}
    assert updated[1]["status"] == {"phase": "New"}
    assert updated[1]["metadata"]["generation"] == 2  # no status subresource: status counts
    assert lines[0].split() == ["NAME", "AGE"]
    assert lines[1].split()[0] == "g1"
    assert subresource[0] == 404


def test_deleting_the_crd_deletes_its_objects_and_ends_their_watches(
    kubectl: Kubectl, https: Https, crd: dict[str, Any]
) -> None:
    kubectl("apply", "-f", "-", input=widget_yaml("w8", name="w8"))
    events: list[tuple[str, str]] = []
    ended = threading.Event()

    def watch() -> None:
        conn = https.connect()
        conn.request(
            "GET", f"{GROUP_PATH}/namespaces/{NS}/widgets?watch=true", headers=https.headers()
        )
        response = conn.getresponse()
        for line in response:
            if line.strip():
                event = json.loads(line)
                events.append((event["type"], event["object"]["metadata"]["name"]))
        ended.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    time.sleep(0.3)

    # Whatever earlier tests on this worker left, every widget there now must go.
    listed = kubectl("get", "widgets", "-n", NS, "-o", "name").stdout.split()
    present = sorted(name.rsplit("/", 1)[-1] for name in listed)
    assert "w8" in present
    kubectl("delete", "crd", CRD_NAME, "--timeout=20s")

    assert ended.wait(5), "the watch did not end with its CRD"
    deleted = sorted(name for kind, name in events if kind == "DELETED")
    assert deleted == present
    listed = kubectl("api-resources", "--api-group=example.gitops-lab.dev").stdout
    assert "widgets" not in listed
    status, _ = https("GET", f"{GROUP_PATH}/namespaces/{NS}/widgets")
    assert status == 404
    assert kubectl("get", "crd", CRD_NAME, check=False).returncode == 1


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "state"


def test_crds_and_their_objects_survive_a_restart(restartable: Path, tmp_path: Path) -> None:
    with EmbeddedCluster(restartable) as first:
        kubectl = Kubectl(first.kubeconfig_path, tmp_path / "home")
        kubectl("apply", "-f", str(CRD_FILE))
        kubectl("wait", "--for=condition=Established", "--timeout=10s", f"crd/{CRD_NAME}")
        kubectl("apply", "-f", "-", input=widget_yaml("kept", name="kept").replace(NS, "default"))

    with EmbeddedCluster(restartable) as second:
        kubectl = Kubectl(second.kubeconfig_path, tmp_path / "home2")
        lines = kubectl("get", "widgets").stdout.splitlines()
        listed = kubectl("api-resources", "--api-group=example.gitops-lab.dev").stdout

    assert lines[1].split()[0] == "kept"
    assert "widgets" in listed
