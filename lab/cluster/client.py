"""`ClusterClient`: the one door to any cluster — embedded, kind, or a kubeconfig context.

The GitOps engine never knows which cluster it drives: it reads, applies, deletes and watches
through this class, built on the official `kubernetes` client (DynamicClient for discovery, its
transport for requests). Bodies stay plain JSON dicts (parsed with orjson), because the engine
works on dicts and the client's typed models would cost more than everything else together.

Errors are typed and say what happened in plain words:

    ClusterError
     ├── ClusterUnavailable   the API server cannot be reached (down, wrong address, TLS)
     ├── UnknownKind          the cluster does not serve this apiVersion/kind
     └── ApiRejected          the API server answered with an error Status (code, reason,
                              message, causes), e.g. 422 Invalid, 409 Conflict, 403 Forbidden
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import urllib3
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

Obj = dict[str, Any]

FIELD_MANAGER = "gitops-lab"
UNKNOWN_KIND_TTL = 2.0  # seconds an unknown kind is not looked up again
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class ClusterError(Exception):
    """Something went wrong talking to the cluster."""


class ClusterUnavailable(ClusterError):
    """The API server cannot be reached."""


class UnknownKind(ClusterError):
    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f'the cluster does not serve kind "{kind}" in apiVersion "{api_version}"')
        self.api_version = api_version
        self.kind = kind


@dataclass
class ApiRejected(ClusterError):
    """The API server refused a request; `message` is its own words."""

    code: int
    reason: str
    message: str
    causes: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_exception(cls, exc: ApiException) -> ApiRejected:
        body = exc.body
        try:
            status = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            status = {}
        if not isinstance(status, dict):
            status = {}
        message = str(status.get("message") or exc.reason or f"HTTP {exc.status}")
        causes = (status.get("details") or {}).get("causes") or []
        return cls(int(exc.status or 0), str(status.get("reason") or ""), message, list(causes))


@dataclass(frozen=True)
class ResourceInfo:
    """What discovery says about a kind."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str = "", subresource: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
        if subresource:
            base += f"/{subresource}"
        return base


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
    object: Obj


class ClusterClient:
    """Read, apply, delete and watch objects on one cluster, as one identity (context)."""

    def __init__(
        self,
        kubeconfig: Path,
        context: str | None = None,
        *,
        discovery_cache: Path | None = None,
        field_manager: str = FIELD_MANAGER,
        timeout: float = 30.0,
    ) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.context = context
        self.field_manager = field_manager
        self.timeout = timeout
        try:
            self.api = k8s_config.new_client_from_config(
                config_file=str(self.kubeconfig), context=context
            )
        except (k8s_config.ConfigException, OSError, ValueError) as exc:
            raise ClusterError(f"cannot use kubeconfig {self.kubeconfig.name}: {exc}") from exc
        self._discovery_cache = discovery_cache
        self._dynamic: DynamicClient | None = None
        self._infos: dict[tuple[str, str], ResourceInfo] = {}
        self._unknown: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._streams: set[Any] = set()

    def close(self) -> None:
        self._closed = True
        self.interrupt_watches()
        self.api.close()

    def interrupt_watches(self) -> None:
        """End every open watch stream now (their readers see the stream end)."""
        with self._lock:
            streams = list(self._streams)
        for response in streams:
            with contextlib.suppress(Exception):
                response.shutdown()

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    # --- discovery -------------------------------------------------------------------------

    def _discovery(self) -> DynamicClient:
        if self._dynamic is None:
            kwargs: dict[str, Any] = {}
            if self._discovery_cache is not None:
                self._discovery_cache.parent.mkdir(parents=True, exist_ok=True)
                kwargs["cache_file"] = str(self._discovery_cache)
            try:
                self._dynamic = DynamicClient(self.api, **kwargs)
            except ApiException as exc:
                raise ApiRejected.from_exception(exc) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise ClusterUnavailable(self._unreachable(exc)) from exc
        return self._dynamic

    def resource(self, api_version: str, kind: str) -> ResourceInfo:
        """Discovery for a kind (cached); UnknownKind when the cluster does not serve it."""
        key = (api_version, kind)
        found = self._infos.get(key)
        if found is not None:
            return found
        missed = self._unknown.get(key)
        if missed is not None and time.monotonic() - missed < UNKNOWN_KIND_TTL:
            raise UnknownKind(api_version, kind)
        with self._lock:
            dynamic = self._discovery()
            try:
                try:
                    res = dynamic.resources.get(api_version=api_version, kind=kind)
                except ResourceNotFoundError:
                    dynamic.resources.invalidate_cache()
                    res = dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                # Asking discovery again on every reconcile would cost a round of requests:
                # an unknown kind stays unknown for a moment (a CRD may be on its way).
                self._unknown[key] = time.monotonic()
                raise UnknownKind(api_version, kind) from None
            except ApiException as exc:
                raise ApiRejected.from_exception(exc) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise ClusterUnavailable(self._unreachable(exc)) from exc
            info = ResourceInfo(
                res.group, res.api_version, res.kind, res.name, bool(res.namespaced)
            )
            self._infos[key] = info
            return info

    def namespaced(self, api_version: str, kind: str) -> bool | None:
        """True/False for a served kind, None when the cluster does not serve it."""
        try:
            return self.resource(api_version, kind).namespaced
        except UnknownKind:
            return None

    def forget_discovery(self) -> None:
        """After CRDs change: ask the cluster again."""
        with self._lock:
            self._infos.clear()
            self._unknown.clear()
            if self._dynamic is not None:
                self._dynamic.resources.invalidate_cache()

    # --- transport -------------------------------------------------------------------------

    def _unreachable(self, exc: BaseException) -> str:
        return f"cannot reach the Kubernetes API at {self.server}: {type(exc).__name__}"

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        stream: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """One HTTP call; the parsed JSON body (or the raw response when `stream`)."""
        if self._closed:
            raise ClusterUnavailable("the client is closed")
        headers = {"Accept": "application/json", "Content-Type": content_type}
        params = [(k, _query_value(v)) for k, v in (query or {}).items() if v is not None]
        try:
            serialized = self.api.param_serialize(
                method.upper(),
                path,
                query_params=params,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self.api.call_api(
                *serialized, _request_timeout=timeout if timeout is not None else self.timeout
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnavailable(self._unreachable(exc)) from exc
        if not 200 <= response.status <= 299:
            data = response.read()
            raise ApiRejected.from_exception(
                ApiException(
                    status=response.status,
                    reason=response.reason,
                    body=data.decode(errors="replace"),
                )
            )
        if stream:
            return response.response
        try:
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnavailable(self._unreachable(exc)) from exc
        return orjson.loads(data) if data else None

    # --- reads -----------------------------------------------------------------------------

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Obj | None:
        info = self.resource(api_version, kind)
        try:
            return self.request("GET", info.path(namespace, name))
        except ApiRejected as exc:
            if exc.code == 404:
                return None
            raise

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[Obj], str]:
        """Every object of a kind (following pages); and the list's resourceVersion."""
        info = self.resource(api_version, kind)
        items: list[Obj] = []
        token = ""
        while True:
            body = self.request(
                "GET",
                info.path(namespace),
                query={
                    "labelSelector": label_selector or None,
                    "fieldSelector": field_selector or None,
                    "limit": 500,
                    "continue": token or None,
                },
            )
            for item in body.get("items") or []:
                item.setdefault("apiVersion", info.api_version)
                item.setdefault("kind", info.kind)
                items.append(item)
            token = (body.get("metadata") or {}).get("continue") or ""
            if not token:
                return items, str((body.get("metadata") or {}).get("resourceVersion") or "")

    # --- writes ----------------------------------------------------------------------------

    def apply(
        self,
        obj: Obj,
        *,
        dry_run: bool = False,
        force: bool = True,
        field_manager: str | None = None,
    ) -> Obj:
        """Server-side apply of `obj` (created if missing); the object as the server has it."""
        info = self.resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        return self.request(
            "PATCH",
            info.path(meta.get("namespace") or "", str(meta.get("name") or "")),
            query={
                "fieldManager": field_manager or self.field_manager,
                "force": "true" if force else None,
                "dryRun": "All" if dry_run else None,
                "fieldValidation": "Strict",
            },
            body=orjson.loads(orjson.dumps(obj)),
            content_type=APPLY_PATCH,
        )

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str,
        patch: Any,
        *,
        patch_type: str = MERGE_PATCH,
        subresource: str = "",
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        info = self.resource(api_version, kind)
        return self.request(
            "PATCH",
            info.path(namespace, name, subresource),
            query={
                "fieldManager": field_manager or self.field_manager,
                "dryRun": "All" if dry_run else None,
            },
            body=patch,
            content_type=patch_type,
        )

    def create(self, obj: Obj, *, dry_run: bool = False) -> Obj:
        info = self.resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        return self.request(
            "POST",
            info.path(meta.get("namespace") or ""),
            query={"fieldManager": self.field_manager, "dryRun": "All" if dry_run else None},
            body=obj,
        )

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str = "",
        *,
        propagation: str = "Background",
        dry_run: bool = False,
        uid: str = "",
    ) -> bool:
        """Delete; False when it was already gone."""
        info = self.resource(api_version, kind)
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if dry_run:
            body["dryRun"] = ["All"]
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self.request("DELETE", info.path(namespace, name), body=body)
        except ApiRejected as exc:
            if exc.code == 404:
                return False
            raise
        return True

    # --- watches ---------------------------------------------------------------------------

    def watch(
        self,
        api_version: str,
        kind: str,
        *,
        resource_version: str,
        namespace: str | None = None,
        timeout_seconds: int = 30,
        bookmarks: bool = True,
    ) -> Iterator[WatchEvent]:
        """Changes after `resource_version`, until the server ends the stream.

        An expired resourceVersion arrives as ApiRejected(410): list again and watch from there.
        """
        info = self.resource(api_version, kind)
        response = self.request(
            "GET",
            info.path(namespace),
            query={
                "watch": "true",
                "resourceVersion": resource_version,
                "timeoutSeconds": timeout_seconds,
                "allowWatchBookmarks": "true" if bookmarks else None,
            },
            stream=True,
            timeout=timeout_seconds + 15,
        )
        with self._lock:
            self._streams.add(response)
        try:
            buffer = b""
            for chunk in response.stream(65536, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = orjson.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        raise ApiRejected(
                            int(obj.get("code") or 500),
                            str(obj.get("reason") or ""),
                            str(obj.get("message") or "watch failed"),
                        )
                    obj.setdefault("apiVersion", info.api_version)
                    obj.setdefault("kind", info.kind)
                    yield WatchEvent(str(event.get("type")), obj)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if not self._closed:
                raise ClusterUnavailable(self._unreachable(exc)) from exc
        finally:
            with self._lock:
                self._streams.discard(response)
            response.release_conn()

    # --- convenience -----------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        return self.request("GET", "/version")

    def ensure_namespace(self, name: str, *, dry_run: bool = False) -> bool:
        """Create the namespace if missing (CreateNamespace=true); True when created."""
        if self.get("v1", "Namespace", name) is not None:
            return False
        try:
            self.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                dry_run=dry_run,
            )
        except ApiRejected as exc:
            if exc.code == 409:
                return False
            raise
        return True


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_rejection(exc: ApiRejected) -> str:
    """The server's message plus its field causes, one line."""
    if not exc.causes:
        return exc.message
    fields = "; ".join(
        f"{c.get('field')}: {c.get('message')}" if c.get("field") else str(c.get("message"))
        for c in exc.causes
    )
    return f"{exc.message} ({fields})" if fields not in exc.message else exc.message


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)
