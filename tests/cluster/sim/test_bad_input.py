"""Bad requests get the right Status, change nothing, and never a 500."""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any

import pytest

from lab.cluster.sim.cluster import EmbeddedCluster


class Raw:
    """Plain HTTPS requests, to send what no well-behaved client would."""

    def __init__(self, cluster: EmbeddedCluster) -> None:
        self.cluster = cluster
        self.context = ssl.create_default_context(cafile=str(cluster.ca_file))

    def __call__(
        self,
        method: str,
        path: str,
        body: bytes | str | dict[str, Any] | None = None,
        *,
        content_type: str = "application/json",
        persona: str | None = "admin",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.cluster.port, context=self.context, timeout=30
        )
        sent: dict[str, str] = {"Content-Type": content_type, **(headers or {})}
        if persona:
            sent["Authorization"] = f"Bearer {self.cluster.token(persona)}"
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        if isinstance(data, str):
            data = data.encode()
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")


@pytest.fixture(scope="module")
def raw(cluster: EmbeddedCluster) -> Raw:
    requester = Raw(cluster)
    status, _ = requester("POST", "/api/v1/namespaces", {"metadata": {"name": "bad"}})
    assert status == 201
    return requester


CM_PATH = "/api/v1/namespaces/bad/configmaps"


def cm(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}


def rv(raw: Raw) -> str:
    status, body = raw("GET", CM_PATH)
    assert status == 200
    return str(body["metadata"]["resourceVersion"])


def test_malformed_json_is_400(raw: Raw) -> None:
    before = rv(raw)
    status, body = raw("POST", CM_PATH, b'{"metadata": {"name": ')
    assert status == 400 and body["reason"] == "BadRequest"
    assert "not valid JSON" in body["message"]
    assert rv(raw) == before


def test_malformed_yaml_is_400(raw: Raw) -> None:
    status, body = raw("POST", CM_PATH, b"metadata: [unclosed", content_type="application/yaml")
    assert status == 400 and "YAML" in body["message"]


def test_yaml_alias_bombs_are_refused(raw: Raw) -> None:
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    status, body = raw("POST", CM_PATH, bomb, content_type="application/yaml")
    assert status == 400 and "aliases" in body["message"]


def test_unknown_resource_is_404(raw: Raw) -> None:
    status, body = raw("GET", "/api/v1/namespaces/bad/widgets")
    assert status == 404 and body["reason"] == "NotFound"
    status, _ = raw("GET", "/apis/nope.example.com/v1/things")
    assert status == 404


def test_missing_object_is_404_with_the_real_message(raw: Raw) -> None:
    status, body = raw("GET", "/apis/apps/v1/namespaces/bad/deployments/ghost")
    assert status == 404
    assert body["message"] == 'deployments.apps "ghost" not found'
    assert body["details"] == {"name": "ghost", "group": "apps", "kind": "deployments"}


def test_kind_or_version_mismatch_is_400(raw: Raw) -> None:
    status, body = raw(
        "POST", CM_PATH, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}
    )
    assert status == 400 and "does not match the expected kind" in body["message"]
    status, body = raw(
        "POST", CM_PATH, {"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    )
    assert status == 400 and "does not match the expected API version" in body["message"]


def test_namespace_mismatch_is_400(raw: Raw) -> None:
    status, body = raw(
        "POST", CM_PATH, {**cm("x"), "metadata": {"name": "x", "namespace": "default"}}
    )
    assert status == 400 and "namespace" in body["message"]


def test_bodies_over_3_mib_are_413(raw: Raw) -> None:
    big = cm("big", data={"blob": "x" * (3 * 1024 * 1024 + 10)})
    status, body = raw("POST", CM_PATH, big)
    assert status == 413 and body["reason"] == "RequestEntityTooLarge"


def test_invalid_names_are_422_with_causes(raw: Raw) -> None:
    before = rv(raw)
    status, body = raw("POST", CM_PATH, cm("Bad_Name"))
    assert status == 422 and body["reason"] == "Invalid"
    causes = body["details"]["causes"]
    assert causes[0]["field"] == "metadata.name" and causes[0]["reason"] == "FieldValueInvalid"
    assert rv(raw) == before


def test_wrong_field_types_are_422(raw: Raw) -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "typed"},
        "spec": {
            "replicas": "three",
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    status, body = raw("POST", "/apis/apps/v1/namespaces/bad/deployments", deploy)
    assert status == 422
    assert any(c["field"] == "spec.replicas" for c in body["details"]["causes"])


def test_strict_field_validation_refuses_unknown_fields(raw: Raw) -> None:
    status, body = raw("POST", CM_PATH + "?fieldValidation=Strict", cm("strict", bogus=1))
    assert status == 400 and 'unknown field "bogus"' in body["message"]
    status, body = raw("POST", CM_PATH, cm("lenient", bogus=1))
    assert status == 201 and "bogus" not in body


def test_stale_resource_version_is_409_and_changes_nothing(raw: Raw) -> None:
    status, created = raw("POST", CM_PATH, cm("stale", data={"a": "1"}))
    assert status == 201
    update = dict(created, data={"a": "2"})
    status, _ = raw("PUT", CM_PATH + "/stale", update)
    assert status == 200
    status, body = raw("PUT", CM_PATH + "/stale", dict(created, data={"a": "3"}))
    assert status == 409 and body["reason"] == "Conflict"
    status, current = raw("GET", CM_PATH + "/stale")
    assert current["data"] == {"a": "2"}


def test_unsupported_patch_type_is_415(raw: Raw) -> None:
    raw("POST", CM_PATH, cm("patchme"))
    status, body = raw("PATCH", CM_PATH + "/patchme", {"data": {}}, content_type="text/csv")
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


def test_no_token_is_401_and_viewer_writes_are_403(raw: Raw) -> None:
    status, body = raw("GET", CM_PATH, persona=None)
    assert status == 401 and body["reason"] == "Unauthorized"
    status, body = raw("GET", CM_PATH, persona=None, headers={"Authorization": "Bearer nope"})
    assert status == 401
    before = rv(raw)
    status, body = raw("POST", CM_PATH, cm("viewer-made"), persona="viewer")
    assert status == 403 and body["reason"] == "Forbidden"
    assert rv(raw) == before


def test_public_endpoints_need_no_token(raw: Raw) -> None:
    status, body = raw("GET", "/version", persona=None)
    assert status == 200 and body["major"] == "1"
    status, body = raw("GET", "/healthz", persona=None)
    assert status == 200 and body == "ok"


GARBAGE = [
    ("GET", "/api/v1/namespaces/bad/configmaps/x/y/z/w", None, "application/json"),
    ("GET", "/apis", None, "application/json"),
    ("GET", "/apis/apps", None, "application/json"),
    ("POST", CM_PATH, b"\xff\xfe\x00garbage", "application/json"),
    ("POST", CM_PATH, b"[1,2,3]", "application/json"),
    ("POST", CM_PATH, b"null", "application/json"),
    ("POST", CM_PATH, b'"text"', "application/json"),
    ("POST", CM_PATH, b'{"metadata": "nope"}', "application/json"),
    ("POST", CM_PATH, b'{"metadata": {"name": 5}}', "application/json"),
    ("POST", CM_PATH, b'{"metadata": {"name": "x", "labels": []}}', "application/json"),
    ("POST", CM_PATH, b"k8s\x00\x01\x02\x03", "application/vnd.kubernetes.protobuf"),
    ("PATCH", CM_PATH + "/patchme", b"[{}]", "application/json-patch+json"),
    ("PATCH", CM_PATH + "/patchme", b'[{"op": "explode"}]', "application/json-patch+json"),
    (
        "PATCH",
        CM_PATH + "/patchme",
        b'{"$patch": "boom"}',
        "application/strategic-merge-patch+json",
    ),
    ("PATCH", CM_PATH + "/patchme", b'{"data": 5}', "application/merge-patch+json"),
    ("PATCH", CM_PATH + "/patchme?fieldManager=x", b"[]", "application/apply-patch+yaml"),
    ("PATCH", CM_PATH, b"{}", "application/merge-patch+json"),
    ("PUT", CM_PATH, b"{}", "application/json"),
    ("DELETE", CM_PATH + "/patchme", b'{"propagationPolicy": "Sideways"}', "application/json"),
    ("GET", CM_PATH + "?labelSelector=%3D%3D%3D", None, "application/json"),
    ("GET", CM_PATH + "?fieldSelector=spec.nope%3D1", None, "application/json"),
    ("GET", CM_PATH + "?limit=abc", None, "application/json"),
    ("GET", CM_PATH + "?watch=true&resourceVersion=abc", None, "application/json"),
    ("GET", CM_PATH + "?continue=%%%", None, "application/json"),
    ("GET", "/api/v1/namespaces/bad/pods/nope/log", None, "application/json"),
    ("GET", "/openapi/v3/apis/nope/v9", None, "application/json"),
]


@pytest.mark.parametrize(("method", "path", "body", "content_type"), GARBAGE)
def test_garbage_never_gets_a_500(
    raw: Raw, method: str, path: str, body: bytes | None, content_type: str
) -> None:
    status, answer = raw(method, path, body, content_type=content_type)
    assert status < 500, answer
    if status >= 400:
        assert answer["kind"] == "Status" and answer["message"]
    # and the server still answers afterwards
    assert raw("GET", "/version")[0] == 200
