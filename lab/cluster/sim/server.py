"""The HTTPS front of the embedded cluster: the Kubernetes REST API on 127.0.0.1.

This is the only way in: kubectl, the official Python client and the GitOps engine all talk to
it exactly as they talk to kind. It authenticates bearer tokens (TLS makes kubectl send them),
authorizes by role, decodes bodies (JSON, YAML, the protobuf `kubectl create` sends), routes
to the registry, and encodes answers the way clients ask for them: plain JSON, server-side
Tables for `kubectl get`, PartialObjectMetadata, chunked watch streams, aggregated discovery.
Every request leaves an entry in the API audit log.

Custom resources are served like built-in kinds, with their CRD's printer columns; a path
naming no served resource (a custom resource whose CRD is not there) gets a NotFound Status
saying "the server could not find the requested resource", the words clients print for a
real server's 404 there. Beside the
Kubernetes paths, `/simcloud/v1/...` is the simulated cloud's console (`cloud/console.py`),
behind the same bearer tokens and recorded in the same audit log.

No request may crash the server or change state when refused: `ApiError`s become `Status`
bodies, anything unexpected becomes a 500 Status and a line in the server log.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import ssl
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import yaml

from lab.cluster.sim import cloud, discovery, errors, protobuf, selectors, tables
from lab.cluster.sim.auditlog import ApiAuditLog
from lab.cluster.sim.auth import Authenticator, User, allowed
from lab.cluster.sim.openapi import OpenApiDocuments, swagger_v2
from lab.cluster.sim.patch import json_kind
from lab.cluster.sim.registry import (
    APPLY_PATCH,
    BOOKMARK,
    DeleteOptions,
    Registry,
    Request,
)
from lab.cluster.sim.resources import ResourceType

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024
DRAIN_LIMIT = 64 * 1024 * 1024  # past this, a refused body is not read: the connection closes
KUBERNETES_VERSION = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.1-gitops-lab",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-09-23T00:00:00Z",
    "goVersion": "go1.26.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}
ENDPOINTS_DEPRECATED = "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
_PUBLIC_PATHS = {"/version", "/healthz", "/livez", "/readyz"}
_TABLE_MARK = "as=Table"
_PARTIAL_MARK = "as=PartialObjectMetadata"
_JSON = "application/json"
_NOT_FOUND_TEXT = b"404 page not found\n"
_CONSOLE_VERBS = {"GET": "get", "HEAD": "get", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class Route:
    """A resource URL, taken apart."""

    rtype: ResourceType
    namespace: str | None
    name: str
    subresource: str


@dataclass
class _Exchange:
    """What the audit entry of one request needs, filled in as the request is understood."""

    received: datetime
    verb: str
    user: User | None = None
    impersonator: User | None = None
    route: Route | None = None
    request_object: Any = None
    created_name: str = ""
    audited: bool = False
    audit_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class _Reply(Exception):
    """Raised to answer at once with a prepared body (used for non-resource endpoints)."""

    def __init__(self, code: int, body: bytes, content_type: str = _JSON) -> None:
        super().__init__(code)
        self.code = code
        self.body = body
        self.content_type = content_type


def _yaml_load(data: bytes) -> Any:
    # PyYAML builds anchors lazily but aliases can still multiply: refuse them outright.
    text = data.decode("utf-8")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _has_alias(node, set()):
            raise errors.bad_request("YAML aliases and anchors are not accepted in request bodies")
        return loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def _has_alias(node: yaml.Node, seen: set[int]) -> bool:
    if id(node) in seen:
        return True
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        return any(_has_alias(child, seen) for child in node.value)
    if isinstance(node, yaml.MappingNode):
        return any(_has_alias(k, seen) or _has_alias(v, seen) for k, v in node.value)
    return False


def decode_body(data: bytes, content_type: str) -> Any:
    """Body bytes -> JSON value, by media type; 400/415 on anything else."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not data.strip():
        return None
    if media == protobuf.PROTOBUF_MEDIA_TYPE:
        return within_depth(protobuf.decode(data))
    try:
        if media in ("application/yaml", "application/apply-patch+yaml", "text/yaml"):
            try:
                return within_depth(orjson.loads(data))
            except orjson.JSONDecodeError:
                return within_depth(_yaml_load(data))
        if media in ("", "*/*", "application/json", "text/plain") or media.endswith("+json"):
            return within_depth(orjson.loads(data))
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"the request body is not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise errors.bad_request("the request body is not valid UTF-8") from None
    except RecursionError:
        raise errors.bad_request(_TOO_DEEP) from None  # the YAML parser recurses per level
    raise errors.unsupported_media(content_type)


# No Kubernetes object nests anywhere near this deep (a CRD's schema, the deepest, stays under
# 40); past ~250 levels the server could not even encode the object again (audit log, answer).
MAX_DEPTH = 100
_INT64 = -(2**63)
_TOO_DEEP = f"the request body is nested more than {MAX_DEPTH} levels deep"


def within_depth(value: Any, depth: int = 0) -> Any:
    """The decoded body, refused (400) past MAX_DEPTH levels or when a string holds a UTF-16
    surrogate (a YAML "\\ud800" escape, which Go's YAML decoder refuses too): whatever is
    accepted can be encoded again."""
    if depth > MAX_DEPTH:
        raise errors.bad_request(_TOO_DEEP)
    if isinstance(value, str):
        _encodable(value)
    elif isinstance(value, int) and not isinstance(value, bool) and not _INT64 <= value < -_INT64:
        # Go decodes JSON integers as int64; larger ones never reach an object.
        raise errors.bad_request(
            f"json: cannot unmarshal number {value} into Go value of type int64"
        )
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                _encodable(key)
            within_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            within_depth(item, depth + 1)
    return value


def _encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.bad_request(
            "the request body is not valid YAML: found invalid Unicode character escape code"
        ) from None


class ApiServer:
    """Owns the listening socket, its threads and the per-request plumbing."""

    def __init__(
        self,
        registry: Registry,
        authenticator: Authenticator,
        openapi: OpenApiDocuments,
        audit: ApiAuditLog | None,
        ssl_context: ssl.SSLContext,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        now: Callable[[], datetime],
    ) -> None:
        self.registry = registry
        self.authenticator = authenticator
        self.openapi = openapi
        self.audit = audit
        self.now = now
        self.console = cloud.Console(cloud.Account(registry.store, now))
        self.stopping = threading.Event()
        self._httpd = _TlsHttpServer((host, port), _Handler, ssl_context, self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="apiserver",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_open_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _TlsHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
        api: ApiServer,
    ) -> None:
        super().__init__(address, handler)
        self.ssl_context = context
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, on the connection's own thread, so a slow or broken
        # client never holds up the accept loop.
        request.settimeout(30)
        # Small request/response exchanges over keep-alive must not wait on Nagle's algorithm.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self._connections_lock:
            self._connections.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        finally:
            with self._connections_lock:
                self._connections.discard(tls)

    def close_open_connections(self) -> None:
        with self._connections_lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffer writes so headers and body leave as one TLS record; watches flush per event.
    wbufsize = 64 * 1024
    server: _TlsHttpServer
    server_version = "gitops-lab-apiserver"
    sys_version = ""

    # --- plumbing ----------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_OPTIONS(self) -> None:
        self._serve("OPTIONS")

    @property
    def api(self) -> ApiServer:
        return self.server.api

    def _send(
        self,
        code: int,
        body: bytes,
        content_type: str = _JSON,
        warnings: list[str] | None = None,
    ) -> None:
        # The audit entry is on disk before the client hears the answer, so whoever reacts to
        # the response (or to the watch event it caused) can already read who did it.
        self._audit(code)
        route = self._exchange.route
        if route is not None and route.rtype.key == "/endpoints":
            warnings = [*(warnings or []), ENDPOINTS_DEPRECATED]
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for warning in warnings or []:
            self.send_header("Warning", f"299 - {quote_ascii(warning)}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _read_body(self) -> bytes:
        self._body_read = True
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = chunk_size(self.rfile.readline(65537))
                if size is None:
                    # The rest of the stream cannot be framed: answer, then hang up.
                    self.close_connection = True
                    raise errors.bad_request("invalid chunked request body")
                if size == 0:
                    self.rfile.readline(65537)
                    break
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    raise errors.too_large(MAX_BODY)
                chunk = self.rfile.read(size)
                if len(chunk) < size:
                    self.close_connection = True
                    raise errors.bad_request("invalid chunked request body")
                chunks.append(chunk)
                self.rfile.readline(65537)
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise errors.bad_request("invalid Content-Length")
        if length > MAX_BODY:
            self._drain(length)
            raise errors.too_large(MAX_BODY)
        return self.rfile.read(length) if length else b""

    def _drain(self, length: int) -> None:
        """Read and drop an oversized body so the client can read our 413 (up to a bound)."""
        if length > DRAIN_LIMIT:
            self.close_connection = True
            return
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                self.close_connection = True
                return
            remaining -= len(chunk)

    # --- the request ---------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        self._body_read = False
        exchange = self._exchange = _Exchange(self.api.now(), method.lower())
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            if path in _PUBLIC_PATHS:
                self._public(path)
                return
            user = self.api.authenticator.authenticate(self.headers.get("Authorization"))
            if user is None:
                raise errors.unauthorized()
            exchange.user, exchange.impersonator = self._impersonate(user)
            user = exchange.user
            if method == "OPTIONS":
                raise errors.method_not_supported("", "", "OPTIONS")
            if path.startswith(cloud.PREFIX + "/") or path == cloud.PREFIX:
                self._cloud_console(method, path, query, user)
                return
            if self._non_resource(path, query):
                return
            route = exchange.route = self._route(path)
            verb = exchange.verb = self._verb(method, route, query)
            if not allowed(
                user,
                verb,
                route.rtype.plural,
                route.subresource,
                namespaced=route.rtype.namespaced,
            ):
                raise errors.forbidden(
                    user.name,
                    verb,
                    route.rtype.plural,
                    route.rtype.group,
                    route.namespace or "",
                    route.name,
                )
            body = self._read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
            decoded = decode_body(body, self.headers.get("Content-Type", "")) if body else None
            exchange.request_object = decoded
            if verb not in ("get", "list", "watch"):
                self._audit_received(decoded)
            self._resource(method, verb, route, query, decoded, user)
        except _Reply as reply:
            self._send(reply.code, reply.body, reply.content_type)
        except errors.ApiError as exc:
            self._discard_body()
            self._send(exc.code, orjson.dumps(exc.status()))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.close_connection = True
            self._audit(499)
        except Exception as exc:  # noqa: BLE001 - the server must answer, never die
            log.error(
                "internal error serving %s %s:\n%s", method, self.path, traceback.format_exc()
            )
            # Forget a half-built answer (a header that failed to encode) before starting anew.
            self._headers_buffer: list[bytes] = []
            try:
                self._discard_body()
                self._send(500, orjson.dumps(errors.internal(type(exc).__name__).status()))
            except Exception:  # noqa: BLE001 - even the 500 failed: hang up, never die
                self.close_connection = True

    def _discard_body(self) -> None:
        """Leave the connection clean for the next request after refusing this one."""
        if self._body_read or self.command not in ("POST", "PUT", "PATCH", "DELETE"):
            return
        self._body_read = True
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            return
        try:
            self._drain(int(self.headers.get("Content-Length") or 0))
        except (ValueError, OSError):
            self.close_connection = True

    def _impersonate(self, user: User) -> tuple[User, User | None]:
        target = self.headers.get("Impersonate-User")
        if not target:
            return user, None
        if not allowed(user, "impersonate", "users"):
            raise errors.forbidden(user.name, "impersonate", "users", "", "", target)
        persona = self.api.authenticator.user(target)
        if persona is None:
            groups = tuple(self.headers.get_all("Impersonate-Group") or ()) or (
                "system:authenticated",
            )
            # Nobody bound it to a role: as on a real cluster, it may do nothing (discovery aside).
            persona = User(target, groups, "")
        return persona, user

    def _object_ref(self, name: str) -> dict[str, Any]:
        route = self._exchange.route
        assert route is not None
        ref: dict[str, Any] = {
            "resource": route.rtype.plural,
            "apiGroup": route.rtype.group,
            "apiVersion": route.rtype.version,
        }
        if route.namespace:
            ref["namespace"] = route.namespace
        if name:
            ref["name"] = name
        if route.subresource:
            ref["subresource"] = route.subresource
        return ref

    def _audit_received(self, body: Any) -> None:
        """The RequestReceived stage of a write, before it changes anything."""
        exchange = self._exchange
        if self.api.audit is None or exchange.user is None or exchange.route is None:
            return
        name = exchange.route.name
        if not name and isinstance(body, dict) and isinstance(body.get("metadata"), dict):
            name = str(body["metadata"].get("name") or "")
        self.api.audit.record(
            user=exchange.user,
            verb=exchange.verb,
            uri=self.path,
            user_agent=self.headers.get("User-Agent", ""),
            code=None,
            received=exchange.received,
            completed=self.api.now(),
            object_ref=self._object_ref(name),
            request_object=exchange.request_object,
            impersonated_by=exchange.impersonator,
            stage="RequestReceived",
            audit_id=exchange.audit_id,
        )

    def _audit(self, code: int) -> None:
        exchange = self._exchange
        if exchange.audited:
            return
        exchange.audited = True
        user, route = exchange.user, exchange.route
        if self.api.audit is None or user is None or route is None:
            return
        ref: dict[str, Any] = {
            "resource": route.rtype.plural,
            "apiGroup": route.rtype.group,
            "apiVersion": route.rtype.version,
        }
        if route.namespace:
            ref["namespace"] = route.namespace
        name = route.name or exchange.created_name
        if name:
            ref["name"] = name
        if route.subresource:
            ref["subresource"] = route.subresource
        self.api.audit.record(
            user=user,
            verb=exchange.verb,
            uri=self.path,
            user_agent=self.headers.get("User-Agent", ""),
            code=code,
            received=exchange.received,
            completed=self.api.now(),
            object_ref=ref,
            request_object=exchange.request_object,
            impersonated_by=exchange.impersonator,
            audit_id=exchange.audit_id,
        )

    # --- the simulated cloud's console ---------------------------------------------------------

    def _cloud_console(self, method: str, path: str, query: dict[str, str], user: User) -> None:
        target = cloud.route(path)
        if target is None:
            raise _Reply(404, _NOT_FOUND_TEXT, "text/plain; charset=utf-8")
        verb = _CONSOLE_VERBS.get(method, method.lower())
        body: Any = None
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            raw = self._read_body()
            try:
                body = within_depth(orjson.loads(raw)) if raw.strip() else None
            except (orjson.JSONDecodeError, errors.ApiError):
                body = _Invalid()
        ref = target.object_ref()
        if verb != "get":
            self._console_audit(user, verb, ref, body, None, "RequestReceived")
        if isinstance(body, _Invalid):
            answer = cloud.console.Answer(
                400,
                orjson.dumps({"code": "MalformedRequest", "message": "The body is not JSON."}),
            )
        else:
            answer = self.api.console.handle(method, target, query, body, user)
        self._console_audit(user, verb, ref, body, answer.code, "ResponseComplete")
        self._exchange.audited = True
        self._send(answer.code, answer.body, answer.content_type)

    def _console_audit(
        self,
        user: User,
        verb: str,
        ref: dict[str, Any],
        body: Any,
        code: int | None,
        stage: str,
    ) -> None:
        if self.api.audit is None:
            return
        self.api.audit.record(
            user=user,
            verb=verb,
            uri=self.path,
            user_agent=self.headers.get("User-Agent", ""),
            code=code,
            received=self._exchange.received,
            completed=self.api.now(),
            object_ref=ref,
            request_object=None if isinstance(body, _Invalid) else body,
            stage=stage,
            audit_id=self._exchange.audit_id,
        )

    # --- non-resource endpoints --------------------------------------------------------------

    def _public(self, path: str) -> None:
        if path == "/version":
            self._send(200, orjson.dumps(KUBERNETES_VERSION))
        else:
            self._send(200, b"ok", "text/plain; charset=utf-8")

    def _non_resource(self, path: str, query: dict[str, str]) -> bool:
        catalog = self.api.registry.catalog
        accept = self.headers.get("Accept", "")
        parts = path.strip("/").split("/")
        if path == "/api":
            if discovery.wants_aggregated(accept):
                raise _Reply(
                    200,
                    orjson.dumps(discovery.aggregated(catalog, legacy=True)),
                    discovery.AGGREGATED_V2,
                )
            raise _Reply(200, orjson.dumps(discovery.api_versions(self.api_address)))
        if path == "/apis":
            if discovery.wants_aggregated(accept):
                raise _Reply(
                    200,
                    orjson.dumps(discovery.aggregated(catalog, legacy=False)),
                    discovery.AGGREGATED_V2,
                )
            raise _Reply(200, orjson.dumps(discovery.api_group_list(catalog)))
        if parts[0] == "api" and len(parts) == 2:
            found = discovery.resource_list(catalog, "", parts[1])
            if found is None:
                raise errors.path_not_found(path)
            raise _Reply(200, orjson.dumps(found))
        if parts[0] == "apis" and len(parts) == 2:
            group = discovery.api_group(catalog, parts[1])
            if group is None:
                raise errors.path_not_found(path)
            raise _Reply(200, orjson.dumps(group))
        if parts[0] == "apis" and len(parts) == 3:
            found = discovery.resource_list(catalog, parts[1], parts[2])
            if found is None:
                raise errors.path_not_found(path)
            raise _Reply(200, orjson.dumps(found))
        if parts[0] == "openapi":
            if parts[1:] == ["v2"]:
                body, media = swagger_v2(KUBERNETES_VERSION["gitVersion"], accept)
                raise _Reply(200, body, media)
            if len(parts) >= 2 and parts[1] == "v3":
                if len(parts) == 2:
                    raise _Reply(200, orjson.dumps(self.api.openapi.root()))
                doc = self.api.openapi.document("/".join(parts[2:]))
                if doc is None:
                    raise errors.path_not_found(path)
                raise _Reply(200, doc)
            raise errors.path_not_found(path)
        return False

    @property
    def api_address(self) -> str:
        return self.api.address

    # --- resources ---------------------------------------------------------------------------

    def _route(self, path: str) -> Route:
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.path_not_found(path)
        catalog = self.api.registry.catalog
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and catalog.by_path(group, version, rest[2]):
            namespace, rest = rest[1], rest[2:]
        elif (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and group == ""
            and rest[2] in ("status", "finalize")
        ):
            pass  # /api/v1/namespaces/{name}/status
        elif rest[0] == "namespaces" and len(rest) >= 3:
            raise _unknown_resource()
        rtype = catalog.by_path(group, version, rest[0])
        if rtype is None:
            raise _unknown_resource()
        if len(rest) > 3:
            raise errors.path_not_found(path)
        name = rest[1] if len(rest) >= 2 else ""
        sub = rest[2] if len(rest) == 3 else ""
        if sub and sub not in rtype.subresources:
            raise errors.path_not_found(path)
        if namespace is not None and not rtype.namespaced:
            raise errors.path_not_found(path)
        return Route(rtype, namespace, name, sub)

    def _verb(self, method: str, route: Route, query: dict[str, str]) -> str:
        watching = query.get("watch", "").lower() in ("true", "1")
        if method in ("GET", "HEAD"):
            if route.name:
                if watching:
                    raise errors.method_not_supported(
                        route.rtype.plural, route.rtype.group, "watch"
                    )
                return "get"
            return "watch" if watching else "list"
        if method == "POST":
            if route.name and route.subresource not in ("binding", "eviction"):
                raise errors.method_not_supported(route.rtype.plural, route.rtype.group, "create")
            return "create"
        if method == "PUT":
            if not route.name:
                raise errors.method_not_supported(route.rtype.plural, route.rtype.group, "update")
            return "update"
        if method == "PATCH":
            if not route.name:
                raise errors.method_not_supported(route.rtype.plural, route.rtype.group, "patch")
            return "patch"
        if method == "DELETE":
            return "delete" if route.name else "deletecollection"
        raise errors.method_not_supported(route.rtype.plural, route.rtype.group, method)

    def _request(self, user: User, query: dict[str, str]) -> Request:
        validation = query.get("fieldValidation", "Warn") or "Warn"
        if validation not in ("Ignore", "Warn", "Strict"):
            raise errors.bad_request(
                f"fieldValidation must be one of Ignore, Warn or Strict, not {validation!r}"
            )
        dry_run = query.get("dryRun", "")
        if dry_run and dry_run != "All":
            raise errors.bad_request(
                f'dryRun: Unsupported value: "{dry_run}": supported values: "All"'
            )
        return Request(
            user=user,
            user_agent=self.headers.get("User-Agent", ""),
            field_manager=query.get("fieldManager", ""),
            dry_run=dry_run == "All",
            field_validation=validation,
        )

    def _resource(
        self,
        method: str,
        verb: str,
        route: Route,
        query: dict[str, str],
        body: Any,
        user: User,
    ) -> None:
        registry = self.api.registry
        rtype = route.rtype
        ns = route.namespace or ""
        if verb in ("list", "watch", "deletecollection"):
            labels = selectors.parse_label_selector(query.get("labelSelector", ""))
            fields = selectors.parse_field_selector(rtype.kind, query.get("fieldSelector", ""))
            if verb == "watch":
                self._watch(route, query, labels, fields)
                return
            if verb == "list":
                listed = registry.list(
                    rtype,
                    route.namespace,
                    labels,
                    fields,
                    limit=_int(query.get("limit"), "limit"),
                    continue_token=query.get("continue", ""),
                )
                self._send_object(200, listed, route, listing=True)
                return
            req = self._request(user, query)
            deleted = registry.delete_collection(
                req, rtype, route.namespace, labels, fields, DeleteOptions.parse(body, query)
            )
            self._send_object(200, deleted, route, listing=True)
            return
        if verb == "get":
            if route.subresource == "log":
                text = registry.pod_log(
                    ns,
                    route.name,
                    container=query.get("container", ""),
                    previous=query.get("previous", "").lower() == "true",
                    tail_lines=_int(query.get("tailLines"), "tailLines")
                    if "tailLines" in query
                    else None,
                    since_seconds=_int(query.get("sinceSeconds"), "sinceSeconds")
                    if "sinceSeconds" in query
                    else None,
                    timestamps=query.get("timestamps", "").lower() == "true",
                )
                self._send(200, text.encode(), "text/plain")
                return
            if route.subresource == "scale":
                self._send_object(200, registry.get_scale(rtype, ns, route.name), route)
                return
            self._send_object(200, registry.get(rtype, ns, route.name), route)
            return
        req = self._request(user, query)
        if verb == "create":
            if route.subresource:
                obj = self._create_subresource(req, route, body)
            else:
                obj = registry.create(req, rtype, ns, body)
                self._exchange.created_name = (obj.get("metadata") or {}).get("name", "")
            self._send_object(201, obj, route, warnings=req.warnings)
            return
        if verb == "update":
            obj = registry.update(req, rtype, ns, route.name, body, route.subresource)
            self._send_object(200, obj, route, warnings=req.warnings)
            return
        if verb == "patch":
            patch_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            force = query.get("force", "").lower() == "true"
            if force and patch_type != APPLY_PATCH:
                raise errors.bad_request("force may only be used with apply patches")
            obj, created = registry.patch(
                req,
                rtype,
                ns,
                route.name,
                patch_type,
                body,
                force=force,
                subresource=route.subresource,
            )
            self._send_object(201 if created else 200, obj, route, warnings=req.warnings)
            return
        if verb == "delete":
            options = DeleteOptions.parse(body, query)
            obj = registry.delete(req, rtype, ns, route.name, options)
            self._send_object(200, obj, route)
            return
        raise errors.method_not_supported(rtype.plural, rtype.group, verb)

    def _create_subresource(self, req: Request, route: Route, body: Any) -> Any:
        registry = self.api.registry
        ns = route.namespace or ""
        kind = {"eviction": "Eviction", "binding": "Binding"}.get(route.subresource, "")
        if body is not None and not isinstance(body, dict):
            raise errors.bad_request(
                f"json: cannot unmarshal {json_kind(body)} into Go value of type v1.{kind}"
            )
        target_ref = (body or {}).get("target")
        if route.subresource == "binding" and not isinstance(target_ref, dict | None):
            raise errors.bad_request(
                f"json: cannot unmarshal {json_kind(target_ref)} into Go struct field "
                "Binding.target of type v1.ObjectReference"
            )
        if route.subresource == "eviction":
            registry.delete(
                req,
                route.rtype,
                ns,
                route.name,
                DeleteOptions.parse((body or {}).get("deleteOptions"), {}),
            )
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "code": 201,
            }
        if route.subresource == "binding":
            target = ((body or {}).get("target") or {}).get("name")
            if not target:
                raise errors.invalid("Binding", "", route.name, [errors.required("target.name")])
            uid = ((body or {}).get("metadata") or {}).get("uid") or ""
            registry.bind(req, ns, route.name, str(target), uid=str(uid))
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "code": 201,
            }
        raise errors.method_not_supported(route.rtype.plural, route.rtype.group, "create")

    # --- encodings -----------------------------------------------------------------------------

    def _send_object(
        self,
        code: int,
        obj: Any,
        route: Route,
        *,
        listing: bool = False,
        warnings: list[str] | None = None,
    ) -> None:
        accept = self.headers.get("Accept", "")
        if (
            _TABLE_MARK in accept
            and isinstance(obj, dict)
            and obj.get("kind") not in ("Status", "Scale")
        ):
            items = obj["items"] if listing else [obj]
            table = self._table(route.rtype, items, include_columns=True)
            table["metadata"] = (
                {
                    k: v
                    for k, v in (obj.get("metadata") or {}).items()
                    if k in ("resourceVersion", "continue", "remainingItemCount")
                }
                if listing
                else {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
            )
            self._send(code, orjson.dumps(table), _JSON, warnings)
            return
        if (
            _PARTIAL_MARK in accept
            and isinstance(obj, dict)
            and obj.get("kind") not in ("Status", "Scale")
        ):
            if listing:
                partial = {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata", {}),
                    "items": [_partial(item) for item in obj["items"]],
                }
            else:
                partial = _partial(obj)
            self._send(code, orjson.dumps(partial), _JSON, warnings)
            return
        self._send(code, orjson.dumps(obj), _JSON, warnings)

    def _table(
        self, rtype: ResourceType, items: list[dict[str, Any]], *, include_columns: bool
    ) -> dict[str, Any]:
        query = dict(parse_qsl(urlsplit(self.path).query))
        include = query.get("includeObject", "Metadata")
        now = self.api.now()
        rows = []
        custom = rtype.custom
        for item in items:
            if custom is not None:
                cells = tables.custom_cells(custom.printer_columns, item, now)
            else:
                cells = tables.cells(rtype.group, rtype.kind, item, now)
            row: dict[str, Any] = {"cells": cells}
            if include == "Object":
                row["object"] = item
            elif include != "None":
                row["object"] = _partial(item)
            rows.append(row)
        table: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}}
        if include_columns:
            found = (
                tables.custom_columns(custom.printer_columns)
                if custom is not None
                else tables.columns(rtype.group, rtype.kind)
            )
            table["columnDefinitions"] = [c.as_dict() for c in found]
        table["rows"] = rows
        return table

    def _watch(
        self,
        route: Route,
        query: dict[str, str],
        labels: selectors.LabelSelector,
        fields: selectors.FieldSelector,
    ) -> None:
        registry = self.api.registry
        send_initial: bool | None = None
        if "sendInitialEvents" in query:
            send_initial = query["sendInitialEvents"].lower() == "true"
        watch = registry.watch(
            route.rtype,
            route.namespace,
            labels,
            fields,
            resource_version=query.get("resourceVersion", ""),
            send_initial_events=send_initial,
        )
        timeout = _int(query.get("timeoutSeconds"), "timeoutSeconds") or 1800
        bookmarks = query.get("allowWatchBookmarks", "").lower() == "true"
        as_table = _TABLE_MARK in self.headers.get("Accept", "")
        self._audit(200)
        self.send_response(200)
        self.send_header("Content-Type", _JSON)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()
        first = True

        def emit(event_type: str, obj: dict[str, Any]) -> None:
            nonlocal first
            if as_table and event_type not in (BOOKMARK, "ERROR"):
                obj = self._table(route.rtype, [obj], include_columns=first)
                first = False
            line = orjson.dumps({"type": event_type, "object": obj}) + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()

        deadline = time.monotonic() + timeout
        last_bookmark = time.monotonic()
        initial_pending = send_initial is True
        try:
            for obj in watch.initial:
                emit("ADDED", obj)
            if initial_pending and bookmarks:
                emit(*watch.bookmark(initial_events_end=True))
            while not self.api.stopping.is_set() and time.monotonic() < deadline:
                try:
                    events = watch.next(min(1.0, max(0.0, deadline - time.monotonic())))
                except errors.ApiError as exc:
                    emit("ERROR", exc.status())
                    break
                for event_type, obj in events:
                    emit(event_type, obj)
                if watch.gone:
                    break  # the CRD was deleted: its watches end, as on a real server
                if bookmarks and time.monotonic() - last_bookmark > 30:
                    emit(*watch.bookmark())
                    last_bookmark = time.monotonic()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True


class _Invalid:
    """A console request body that is not JSON."""


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote_ascii(text: str) -> str:
    """`text` quoted as Go's strconv.QuoteToASCII does: a Warning header's text can then never
    end the header (CR, LF) nor hold a byte HTTP/1.1 headers cannot carry."""
    out = []
    for char in text:
        point = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0x20 <= point < 0x7F:
            out.append(char)
        elif point < 0x80:
            out.append(f"\\x{point:02x}")
        elif point <= 0xFFFF:
            out.append(f"\\u{point:04x}")
        else:
            out.append(f"\\U{point:08x}")
    return '"' + "".join(out) + '"'


_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]+")


def chunk_size(line: bytes) -> int | None:
    """The size on one chunk-size line (RFC 9112 7.1: hex digits, then optional extensions),
    or None when the line is not one: empty, not hex, signed, `0x`-prefixed, or cut off."""
    if not line.endswith(b"\n"):
        return None
    digits = line.split(b";", 1)[0].strip()
    if not _CHUNK_SIZE.fullmatch(digits):
        return None
    return int(digits, 16)


def _unknown_resource() -> errors.ApiError:
    """No such resource (say, a custom resource whose CRD is not installed). A real server's
    not-found handler answers a bare 404, which client-go reports with exactly these words."""
    return errors.ApiError(404, "NotFound", "the server could not find the requested resource")


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def _int(text: str | None, name: str) -> int:
    if text is None or text == "":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise errors.bad_request(f"{name}: invalid value {text!r}: must be an integer") from None
    if value < 0:
        raise errors.bad_request(f"{name}: invalid value {text!r}: must not be negative")
    return value
