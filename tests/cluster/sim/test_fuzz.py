"""Fuzzing the embedded API server over real HTTPS: whatever arrives, it answers properly.

Issue #10 asks for proof that no request can crash the embedded cluster or change it when
refused. Hypothesis sends random bodies (JSON, YAML, merge / strategic / JSON patches, apply
YAML, protobuf, non-UTF-8, deeply nested, huge), random paths and query strings and random
headers to a started `EmbeddedCluster`, and checks four properties on every answer:

- never a 5xx, never a dropped connection;
- every error is a metav1 `Status` whose `code` is the HTTP status;
- a refused request changes nothing (the namespace's objects keep their resourceVersions and
  the store's resourceVersion does not move);
- the server still answers `/readyz` afterwards, on the same keep-alive connection when it
  did not announce `Connection: close` (so a refused body was drained properly).

The cluster runs without controllers, so the only writer is the test itself. Each test is
bounded (`max_examples`) and derandomized, so CI sees the same examples every run.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lab.cluster.sim.cluster import EmbeddedCluster

NS = "fuzz"
CM = "/api/v1/namespaces/fuzz/configmaps"
DEPLOY = "/apis/apps/v1/namespaces/fuzz/deployments"
BODY_TYPES = (
    "application/json",
    "application/yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/vnd.kubernetes.protobuf",
    "text/plain",
    "",
    "application/xml",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
)
ACCEPTS = (
    "",
    "*/*",
    "application/json",
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
    "application/vnd.kubernetes.protobuf",
    "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io",
    "application/yaml",
    "text/html",
    "application/json;as=Table;includeObject=Object",
)
# CI runs a bounded number of examples; GITOPS_LAB_FUZZ_EXAMPLES=2000 digs deeper by hand.
FUZZ = settings(
    max_examples=int(os.environ.get("GITOPS_LAB_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=True,
    database=None,  # derandomized: nothing to remember, and no .hypothesis/ in the tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- the wire --------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)


class Wire:
    """Raw HTTPS to the cluster: a fresh connection per fuzzed exchange, one kept for checks."""

    def __init__(self, cluster: EmbeddedCluster) -> None:
        self.cluster = cluster
        self.context = ssl.create_default_context(cafile=str(cluster.ca_file))
        self._kept: http.client.HTTPSConnection | None = None

    def connect(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            "127.0.0.1", self.cluster.port, context=self.context, timeout=30
        )

    def headers(self, persona: str | None = "admin", **extra: str) -> dict[str, str]:
        sent = dict(extra)
        if persona:
            sent["Authorization"] = f"Bearer {self.cluster.token(persona)}"
        return sent

    def exchange(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """Send one request; assert the connection survived and can still serve /readyz."""
        conn = self.connect()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            answer = Answer(response.status, response.headers, response.read())
            closing = {(response.getheader("Connection") or "").lower()}
            closing |= {v.lower() for k, v in (headers or {}).items() if k.lower() == "connection"}
            if "close" not in closing:
                # Keep-alive: the next request on this connection must be understood.
                conn.request("GET", "/readyz")
                again = conn.getresponse()
                assert again.status == 200 and again.read() == b"ok", (method, path)
            return answer
        finally:
            conn.close()

    def check(self, method: str, path: str, body: bytes | None = None) -> Answer:
        """A well-formed request of the test's own, on the kept keep-alive connection."""
        headers = self.headers(**{"Content-Type": "application/json"})
        for attempt in (1, 2):
            if self._kept is None:
                self._kept = self.connect()
            try:
                self._kept.request(method, path, body=body, headers=headers)
                response = self._kept.getresponse()
                return Answer(response.status, response.headers, response.read())
            except (http.client.HTTPException, OSError):
                self._kept.close()
                self._kept = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str) -> Any:
        answer = self.check("GET", path)
        assert answer.status == 200, (path, answer.raw[:300])
        return answer.json()

    def send(self, method: str, path: str, obj: Any, content_type: str) -> Answer:
        return self.exchange(
            method,
            path,
            json.dumps(obj).encode(),
            self.headers(**{"Content-Type": content_type}),
        )


def seed_objects() -> list[tuple[str, dict[str, Any]]]:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "seed", "labels": {"app": "seed"}},
        "data": {"COLOR": "blue"},
    }
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "seed", "labels": {"app": "seed"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "seed"}},
            "template": {
                "metadata": {"labels": {"app": "seed"}},
                "spec": {"containers": [{"name": "web", "image": "ghcr.io/gitops-lab/web:1.0"}]},
            },
        },
    }
    return [(CM, cm), (DEPLOY, deploy)]


@dataclass
class Fuzzed:
    wire: Wire

    def reseed(self) -> None:
        """Put the seed objects back if an earlier (accepted) example removed them."""
        for path, obj in seed_objects():
            answer = self.wire.check("GET", f"{path}/seed")
            if answer.status == 404:
                made = self.wire.check("POST", path, json.dumps(obj).encode())
                assert made.status == 201, made.raw[:300]

    def state(self) -> dict[str, str]:
        """Every object of the namespace by resourceVersion, and the store's resourceVersion."""
        seen: dict[str, str] = {}
        for path in (CM, DEPLOY, "/api/v1/namespaces/fuzz/secrets"):
            listed = self.wire.get(path)
            seen[f"{path}@list"] = listed["metadata"]["resourceVersion"]
            for item in listed["items"]:
                seen[f"{path}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
        seen["namespace"] = self.wire.get(f"/api/v1/namespaces/{NS}")["metadata"]["resourceVersion"]
        return seen


@pytest.fixture(scope="module")
def quiet_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """No controllers: the test is the only writer, so 'nothing changed' is exact."""
    state: Path = tmp_path_factory.mktemp("fuzz-cluster")
    with EmbeddedCluster(state, run_controllers=False) as running:
        yield running


@pytest.fixture(scope="module")
def fuzzed(quiet_cluster: EmbeddedCluster) -> Fuzzed:
    wire = Wire(quiet_cluster)
    made = wire.send("POST", "/api/v1/namespaces", {"metadata": {"name": NS}}, "application/json")
    assert made.status == 201, made.raw
    found = Fuzzed(wire)
    found.reseed()
    return found


# --- the properties ----------------------------------------------------------------------------


def check_answer(answer: Answer, method: str) -> None:
    """Never 5xx; an error is a Status with the same code; a success body is JSON."""
    assert answer.status < 500, answer.raw[:2000]
    if method == "HEAD":
        return
    if answer.status >= 400:
        status = answer.json()
        assert status["kind"] == "Status" and status["apiVersion"] == "v1", status
        assert status["status"] == "Failure" and status["code"] == answer.status, status
        assert status["message"] and status.get("reason"), status
    elif answer.headers.get_content_type() == "application/json" and answer.raw:
        assert isinstance(answer.json(), dict)


def exercise(
    fuzzed: Fuzzed, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> Answer:
    fuzzed.reseed()
    before = fuzzed.state()
    answer = fuzzed.wire.exchange(method, path, body, headers)
    check_answer(answer, method)
    if answer.status >= 400:
        assert fuzzed.state() == before, (method, path, answer.status, answer.raw[:500])
    assert fuzzed.wire.check("GET", "/readyz").status == 200
    return answer


# --- strategies ----------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["", "seed", "fuzz", "-", "a" * 300, "1e999", "\u0000", "$patch", "delete"]),
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "apiVersion",
                    "kind",
                    "metadata",
                    "spec",
                    "data",
                    "binaryData",
                    "status",
                    "name",
                    "namespace",
                    "labels",
                    "annotations",
                    "resourceVersion",
                    "uid",
                    "finalizers",
                    "ownerReferences",
                    "managedFields",
                    "replicas",
                    "selector",
                    "template",
                    "containers",
                    "op",
                    "path",
                    "value",
                    "from",
                    "$patch",
                    "$retainKeys",
                    "$setElementOrder/containers",
                    "$deleteFromPrimitiveList/finalizers",
                ]
            ),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=25,
)

_JSON_PATCH_PATHS = (
    "/data/COLOR",
    "/data/~1x",
    "/metadata/labels/app",
    "/metadata/name",
    "/metadata/resourceVersion",
    "/metadata/finalizers/-",
    "/spec/replicas",
    "/spec/template/spec/containers/0/image",
    "/spec/template/spec/containers/9",
    "/spec/template/spec/containers/-",
    "",
    "/",
    "~2",
    "/data/a~",
    "/kind",
)
json_patch_ops = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bad"]),
            "path": st.one_of(st.sampled_from(_JSON_PATCH_PATHS), st.text(max_size=20)),
        },
        optional={"value": json_values, "from": st.sampled_from(_JSON_PATCH_PATHS)},
    ),
    max_size=5,
)


def mutate(base: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """`base` with the value at `path` replaced (creating maps on the way)."""
    out = json.loads(json.dumps(base))
    node = out
    for key in path[:-1]:
        nxt = node.get(key)
        if not isinstance(nxt, dict):
            nxt = node[key] = {}
        node = nxt
    node[path[-1]] = value
    return out


_FIELD_PATHS = (
    ["metadata", "name"],
    ["metadata", "namespace"],
    ["metadata", "labels"],
    ["metadata", "annotations"],
    ["metadata", "resourceVersion"],
    ["metadata", "finalizers"],
    ["metadata", "ownerReferences"],
    ["metadata", "managedFields"],
    ["metadata", "generateName"],
    ["kind"],
    ["apiVersion"],
    ["data"],
    ["binaryData"],
    ["spec", "replicas"],
    ["spec", "selector"],
    ["spec", "template", "spec", "containers"],
    ["spec", "template", "metadata", "labels"],
    ["spec", "strategy"],
    ["status"],
)


@st.composite
def near_valid(draw: st.DrawFn) -> Any:
    """A seed object with one field replaced by something random: reaches deep validation."""
    _, base = draw(st.sampled_from(seed_objects()))
    path = draw(st.sampled_from(_FIELD_PATHS))
    return mutate(base, list(path), draw(json_values))


def nested(depth: int, kind: str) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value} if kind == "map" else [value]
    return value


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Bytes to send as a request body, from well formed to hostile."""
    choice = draw(st.sampled_from(["json", "near", "patch", "yaml", "bytes", "deep", "nonutf8"]))
    if choice == "json":
        return json.dumps(draw(json_values)).encode()
    if choice == "near":
        return json.dumps(draw(near_valid())).encode()
    if choice == "patch":
        return json.dumps(draw(json_patch_ops)).encode()
    if choice == "yaml":
        import yaml

        text = yaml.safe_dump(draw(near_valid()), allow_unicode=True)
        # one document, two documents, a directive YAML 1.1 does not know
        shape = draw(st.sampled_from([text, text + "\n---\n" + text, "%YAML 9.9\n" + text]))
        return shape.encode()
    if choice == "bytes":
        return draw(st.binary(max_size=300))
    if choice == "deep":
        depth = draw(st.sampled_from([5, 20, 60, 90]))
        where = draw(st.sampled_from(["data", "metadata", "top"]))
        shape = draw(st.sampled_from(["map", "list"]))
        deep = nested(depth, shape)
        if where == "top":
            return json.dumps(deep).encode()
        _, base = draw(st.sampled_from(seed_objects()))
        field = ["data", "x"] if where == "data" else ["metadata", "annotations"]
        return json.dumps(mutate(base, field, deep)).encode()
    # non-UTF-8: latin-1, lone surrogates, overlong encodings inside an otherwise fine object
    _, base = draw(st.sampled_from(seed_objects()))
    text = json.dumps(mutate(base, ["metadata", "labels"], {"k": "VALUE"}))
    junk = draw(st.sampled_from([b"\xff\xfe", b"\xed\xa0\x80", b"\xc0\xaf", b"caf\xe9"]))
    return text.encode().replace(b"VALUE", junk)


targets = st.sampled_from([CM, DEPLOY])
names = st.sampled_from(["seed", "seed", "other", "x" * 260, "UPPER", "a/b", "%00", "..", ""])


@st.composite
def write_queries(draw: st.DrawFn) -> str:
    params = draw(
        st.dictionaries(
            st.sampled_from(["fieldManager", "fieldValidation", "dryRun", "force", "pretty"]),
            st.one_of(
                st.sampled_from(["", "All", "Strict", "Warn", "Ignore", "true", "false", "x"]),
                st.text(max_size=20),
            ),
            max_size=3,
        )
    )
    return ("?" + urlencode(params)) if params else ""


# --- tests --------------------------------------------------------------------------------------


@FUZZ
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH", "PATCH", "PATCH", "DELETE"]),
    target=targets,
    name=names,
    content_type=st.sampled_from(BODY_TYPES),
    body=bodies(),
    query=write_queries(),
)
def test_random_bodies_never_break_the_server(
    fuzzed: Fuzzed,
    method: str,
    target: str,
    name: str,
    content_type: str,
    body: bytes,
    query: str,
) -> None:
    path = target if method == "POST" else f"{target}/{quote(name, safe='')}"
    headers = fuzzed.wire.headers(**{"Content-Type": content_type})
    exercise(fuzzed, method, path + query, body, headers)


@FUZZ
@given(
    method=st.sampled_from(["PATCH", "PUT"]),
    target=targets,
    patch_type=st.sampled_from(BODY_TYPES[:6]),
    ops=st.one_of(json_patch_ops, near_valid(), json_values),
    dry_run=st.booleans(),
)
def test_random_patches_on_live_objects(
    fuzzed: Fuzzed, method: str, target: str, patch_type: str, ops: Any, dry_run: bool
) -> None:
    query = "?dryRun=All" if dry_run else ""
    if patch_type == "application/apply-patch+yaml":
        query += ("&" if query else "?") + "fieldManager=fuzz"
    headers = fuzzed.wire.headers(**{"Content-Type": patch_type})
    fuzzed.reseed()
    before = fuzzed.state()
    exercise(fuzzed, method, f"{target}/seed{query}", json.dumps(ops).encode(), headers)
    if dry_run:
        assert fuzzed.state() == before


_QUERY_KEYS = (
    "fieldSelector",
    "labelSelector",
    "watch",
    "resourceVersion",
    "resourceVersionMatch",
    "limit",
    "continue",
    "timeoutSeconds",
    "allowWatchBookmarks",
    "sendInitialEvents",
    "includeObject",
    "propagationPolicy",
    "gracePeriodSeconds",
)
_QUERY_VALUES = (
    "",
    "0",
    "1",
    "-1",
    "true",
    "false",
    "99999999999999999999999",
    "metadata.name=seed",
    "metadata.name!=seed,metadata.namespace=fuzz",
    "status.phase=Running",
    "spec.nodeName==x",
    "bogus.field=1",
    "app=seed",
    "app in (seed,x)",
    "app notin ()",
    "!app",
    "app,!app",
    "a=b=c",
    "app in (",
    "x" * 70 + "=v",
    "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJ4In0",
    "not-base64!",
    "NotOlderThan",
    "Exact",
    "Orphan",
)
_SEGMENTS = (
    "api",
    "apis",
    "v1",
    "apps",
    "namespaces",
    "fuzz",
    "kube-system",
    "configmaps",
    "deployments",
    "pods",
    "seed",
    "status",
    "scale",
    "log",
    "binding",
    "eviction",
    "finalize",
    "openapi",
    "v2",
    "v3",
    "..",
    "%2e%2e",
    "",
    "%00",
    "%ff",
    "a" * 300,
    "watch",
)


@st.composite
def queries(draw: st.DrawFn) -> str:
    pairs = draw(
        st.lists(
            st.tuples(
                st.one_of(st.sampled_from(_QUERY_KEYS), st.text(max_size=8)),
                st.one_of(st.sampled_from(_QUERY_VALUES), st.text(max_size=30)),
            ),
            max_size=5,
        )
    )
    query = dict(pairs)
    if query.get("watch", "").lower() in ("1", "true"):
        # A watch is answered by a stream that lasts timeoutSeconds: keep it short.
        query["timeoutSeconds"] = "1"
    return urlencode(query)


@st.composite
def paths(draw: st.DrawFn) -> str:
    known = draw(
        st.sampled_from(
            [
                CM,
                DEPLOY,
                f"{CM}/seed",
                f"{DEPLOY}/seed",
                f"{DEPLOY}/seed/scale",
                f"{DEPLOY}/seed/status",
                "/api/v1/configmaps",
                "/apis/apps/v1/deployments",
                "/api/v1/namespaces",
                "/api/v1/namespaces/fuzz",
                "/api/v1/namespaces/fuzz/pods/none/log",
                "/api/v1/nodes",
                "/apis/events.k8s.io/v1/namespaces/fuzz/events",
                "/api",
                "/apis",
                "/api/v1",
                "/apis/apps/v1",
                "/openapi/v2",
                "/openapi/v3",
                "/version",
            ]
        )
    )
    if draw(st.booleans()):
        return known
    segments = draw(st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=7))
    return "/" + "/".join(segments)


@FUZZ
@given(
    method=st.sampled_from(["GET", "GET", "GET", "HEAD", "DELETE", "OPTIONS"]),
    path=paths(),
    query=queries(),
    accept=st.sampled_from(ACCEPTS),
)
def test_random_paths_and_queries(
    fuzzed: Fuzzed, method: str, path: str, query: str, accept: str
) -> None:
    # Deleting the namespace itself would end the test's world (no controllers finish it).
    parts = path.strip("/").split("/")
    assume(not (method == "DELETE" and parts[:3] == ["api", "v1", "namespaces"] and len(parts) < 5))
    headers = fuzzed.wire.headers(Accept=accept)
    target = f"{path}?{query}" if query else path
    answer = exercise(fuzzed, method, target, None, headers)
    listing = answer.status == 200 and method == "GET" and "watch=" not in target
    if listing and answer.headers.get_content_type() == "application/json":
        assert isinstance(answer.json(), dict)


_HEADER_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "Bearer",
            "Bearer ",
            "Basic YWRtaW46YWRtaW4=",
            "bearer x",
            "application/json",
            "chunked",
            "-1",
            "1e3",
            "close",
            "admin",
            "system:masters",
            "\t",
        ]
    ),
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        max_size=40,
    ),
)


@FUZZ
@given(
    extra=st.dictionaries(
        st.sampled_from(
            [
                "Authorization",
                "Accept",
                "Content-Type",
                "Impersonate-User",
                "Impersonate-Group",
                "Impersonate-Uid",
                "Accept-Encoding",
                "User-Agent",
                "Expect",
                "Connection",
                "X-Forwarded-For",
            ]
        ),
        _HEADER_VALUES,
        max_size=4,
    ),
    persona=st.sampled_from(["admin", "viewer", "alice", None]),
    method=st.sampled_from(["GET", "POST", "PATCH", "PUT"]),
    target=targets,
)
def test_random_headers(
    fuzzed: Fuzzed,
    extra: dict[str, str],
    persona: str | None,
    method: str,
    target: str,
) -> None:
    headers = fuzzed.wire.headers(persona, **extra)
    if extra.get("Expect"):
        headers.pop("Expect")  # http.client cannot wait for 100-continue
    path = target if method in ("GET", "POST") else f"{target}/seed"
    _, obj = seed_objects()[0 if target == CM else 1]
    body = (
        None if method == "GET" else json.dumps(mutate(obj, ["metadata", "name"], "hdr")).encode()
    )
    answer = exercise(fuzzed, method, path, body, headers)
    if "Authorization" not in headers:
        assert answer.status == 401


@pytest.mark.parametrize("depth", [150, 300, 990, 1100, 5000, 100_000])
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/yaml", "application/merge-patch+json"]
)
def test_deeply_nested_bodies_are_400(fuzzed: Fuzzed, depth: int, content_type: str) -> None:
    """Deep nesting must be refused at the door: past ~250 levels nothing can encode the
    object again (the audit log, the answer, a watch event)."""
    _, obj = seed_objects()[0]
    if content_type == "application/yaml":
        # flow style: YAML's own parser recurses once per level
        body = ("data: {x: " + "[" * depth + "]" * depth + "}").encode()
    else:
        deep = '{"a":' * depth + '"leaf"' + "}" * depth  # json.dumps itself would recurse
        body = json.dumps(mutate(obj, ["data", "x"], "DEEP")).replace('"DEEP"', deep).encode()
    method, path = (
        ("POST", CM)
        if content_type != "application/merge-patch+json"
        else (
            "PATCH",
            f"{CM}/seed",
        )
    )
    headers = fuzzed.wire.headers(**{"Content-Type": content_type})
    answer = exercise(fuzzed, method, path, body, headers)
    assert answer.status == 400, answer.raw[:300]


# --- what the fuzz found, pinned as plain examples ----------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # YAML's "\ud800" escape makes a lone surrogate: no valid UTF-8 can carry it back out
        ("application/yaml", b'metadata: {name: s1}\ndata: {a: "\\ud800"}\n'),
        ("application/apply-patch+yaml", b'metadata: {name: seed}\ndata: {a: "\\udfff"}\n'),
        # JSON refuses them itself; the same text as JSON must stay a 400
        ("application/json", b'{"metadata": {"name": "s2"}, "data": {"a": "\\ud800"}}'),
    ],
)
def test_lone_surrogates_are_400(fuzzed: Fuzzed, content_type: str, body: bytes) -> None:
    method, path = ("POST", CM) if "apply" not in content_type else ("PATCH", f"{CM}/seed")
    query = "?fieldManager=fuzz" if method == "PATCH" else ""
    headers = fuzzed.wire.headers(**{"Content-Type": content_type})
    answer = exercise(fuzzed, method, path + query, body, headers)
    assert answer.status == 400, answer.raw[:300]


@pytest.mark.parametrize(
    "replicas", ["1180591620717411303424", "1e20", "-1e300", "18446744073709551616"]
)
def test_integers_past_64_bits_are_refused(fuzzed: Fuzzed, replicas: str) -> None:
    body = b'{"spec": {"replicas": ' + replicas.encode() + b"}}"
    headers = fuzzed.wire.headers(**{"Content-Type": "application/merge-patch+json"})
    answer = exercise(fuzzed, "PATCH", f"{DEPLOY}/seed", body, headers)
    assert answer.status in (400, 422), answer.raw[:300]


@pytest.mark.parametrize(
    ("subresource", "body"),
    [
        *[("eviction", body) for body in ("[1]", '"x"', "5", "true")],
        *[("binding", body) for body in ("[1]", '"x"', "5", "true", '{"target": "node-1"}')],
    ],
)
def test_pod_subresources_refuse_bodies_that_are_not_objects(
    fuzzed: Fuzzed, subresource: str, body: str
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }
    fuzzed.wire.check("POST", "/api/v1/namespaces/fuzz/pods", json.dumps(pod).encode())
    headers = fuzzed.wire.headers(**{"Content-Type": "application/json"})
    path = f"/api/v1/namespaces/fuzz/pods/p/{subresource}"
    answer = exercise(fuzzed, "POST", path, body.encode(), headers)
    assert answer.status in (400, 422), answer.raw[:300]


@pytest.mark.parametrize(
    "field",
    [
        "bogus\r\nSet-Cookie: pwned=1",  # a CRLF in a field name must not start a header
        "caf\u00e9-\U000d534c",  # nor may non-Latin-1 text break the answer half way
    ],
)
def test_warnings_about_unknown_fields_stay_one_header(fuzzed: Fuzzed, field: str) -> None:
    body = json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "warned", field: 1}}
    ).encode()
    headers = fuzzed.wire.headers(**{"Content-Type": "application/json"})
    answer = exercise(fuzzed, "POST", f"{CM}?dryRun=All", body, headers)
    assert answer.status == 201, answer.raw[:300]
    assert "Set-Cookie" not in answer.headers
    warnings = answer.headers.get_all("Warning") or []
    assert len(warnings) == 1 and warnings[0].startswith('299 - "unknown field'), warnings
    assert warnings[0].isascii() and "\r" not in warnings[0] and "\n" not in warnings[0]


def test_huge_bodies_are_413_and_change_nothing(fuzzed: Fuzzed) -> None:
    _, obj = seed_objects()[0]
    for size in (3 * 1024 * 1024 + 1, 5 * 1024 * 1024):
        huge = mutate(obj, ["data", "big"], "x" * size)
        body = json.dumps(huge).encode()
        for method, path in (("POST", CM), ("PUT", f"{CM}/seed"), ("PATCH", f"{CM}/seed")):
            headers = fuzzed.wire.headers(**{"Content-Type": "application/merge-patch+json"})
            answer = exercise(fuzzed, method, path, body, headers)
            assert answer.status == 413


def test_a_large_but_allowed_body_is_refused_by_validation_not_a_crash(fuzzed: Fuzzed) -> None:
    _, obj = seed_objects()[0]
    # 2 MiB of data is under the body limit but over a ConfigMap's 1 MiB.
    big = mutate(obj, ["data"], {f"k{i}": "v" * 1000 for i in range(2048)})
    big["metadata"]["name"] = "big"
    headers = fuzzed.wire.headers(**{"Content-Type": "application/json"})
    answer = exercise(fuzzed, "POST", CM, json.dumps(big).encode(), headers)
    assert answer.status == 422


# --- below HTTP: raw bytes on the TLS socket ------------------------------------------------


def raw_exchange(cluster: EmbeddedCluster, payload: bytes) -> bytes:
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    with (
        socket.create_connection(("127.0.0.1", cluster.port), timeout=30) as plain,
        context.wrap_socket(plain, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(payload)
        with_eof = b""
        try:
            while chunk := tls.recv(65536):
                with_eof += chunk
                if b"\r\n\r\n" in with_eof and _complete(with_eof):
                    break
        except (ConnectionResetError, ssl.SSLError, TimeoutError):
            pass
        return with_eof


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return True


@pytest.mark.parametrize(
    "chunks",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # not hex
        b"-1\r\nhello\r\n0\r\n\r\n",  # negative
        b"0x5\r\nhello\r\n0\r\n\r\n",  # a prefix HTTP does not allow
        b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",  # absurdly large
        b"5;ext=1\r\nhello\r\n0\r\n\r\n",  # an extension: fine, but the body is no JSON
        b"\r\n\r\n",  # an empty size line
        b"5\r\n{}   \r\n0\r\n\r\n",  # a well-formed chunked empty object
    ],
)
def test_broken_chunked_bodies(
    quiet_cluster: EmbeddedCluster, fuzzed: Fuzzed, chunks: bytes
) -> None:
    fuzzed.reseed()
    before = fuzzed.state()
    token = quiet_cluster.token("admin")
    payload = (
        b"POST /api/v1/namespaces/fuzz/configmaps HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + chunks
    )
    reply = raw_exchange(quiet_cluster, payload)
    assert reply.startswith(b"HTTP/1.1 "), reply[:200]
    code = int(reply.split(b" ", 2)[1])
    assert code < 500, reply[:2000]
    if code >= 400:
        status = json.loads(reply.partition(b"\r\n\r\n")[2])
        assert status["kind"] == "Status" and status["code"] == code
        assert fuzzed.state() == before
    assert fuzzed.wire.exchange("GET", "/readyz").status == 200


@FUZZ
@given(junk=st.binary(min_size=1, max_size=200))
def test_garbage_instead_of_http(
    quiet_cluster: EmbeddedCluster, fuzzed: Fuzzed, junk: bytes
) -> None:
    before = fuzzed.state()
    raw_exchange(quiet_cluster, junk + b"\r\n\r\n")
    # Malformed HTTP may be answered by a plain 400 or a closed connection, like any server;
    # what matters is that nothing changed and the server is still there.
    assert fuzzed.state() == before
    assert fuzzed.wire.exchange("GET", "/readyz").status == 200
