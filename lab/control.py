"""The running lab's command channel: how `gitops-lab status/sync/rollback ...` reach its owner.

Exactly one process owns a workspace (it holds `.lab/owner.lock`): `gitops-lab up`, or the app.
Other commands never touch the cluster or the reconciler themselves — they would race the
owner — they ask it over a small JSON-over-HTTP channel on 127.0.0.1, authenticated with a
token kept in `.lab/owner.json` (mode 0600). The Git server's post-receive hook uses the same
channel as its webhook.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import os
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

Handler = Callable[[Mapping[str, str], Any], tuple[int, Any]]


class OwnershipError(Exception):
    """Another process already runs this lab, or none does when one is needed."""


class ControlError(Exception):
    """The running lab answered with an error; the message is its plain words."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Ownership:
    """The lock that makes a process the one owner of a workspace."""

    lock_path: Path
    owner_path: Path
    handle: IO[str] | None = None

    def acquire(self) -> None:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            pid = "?"
            with contextlib.suppress(OSError, ValueError, KeyError):
                pid = str(json.loads(self.owner_path.read_text())["pid"])
            raise OwnershipError(
                f"this lab is already running in another process (pid {pid}). Use `gitops-lab "
                "status`, `sync`, `diff`... to talk to it, or stop it (Ctrl-C) before starting "
                "it again."
            ) from None
        self.handle = handle

    def publish(self, port: int, token: str) -> None:
        data = json.dumps({"pid": os.getpid(), "port": port, "token": token})
        fd = os.open(self.owner_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a stale owner.json left by a crash may have another mode
        with os.fdopen(fd, "w") as out:
            out.write(data)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.owner_path.unlink()
        if self.handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


class ControlServer:
    """Serves the owner's commands on 127.0.0.1 (a random port) to holders of the token."""

    def __init__(self, routes: Mapping[tuple[str, str], Handler]) -> None:
        self.routes = dict(routes)
        self.token = secrets.token_urlsafe(24)
        server = self

        class _RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, code: int, body: Any) -> None:
                data = json.dumps(body, default=str).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if not 0 <= length <= 1 << 20:
                    # A body we will not read would be taken for the next request: hang up.
                    self.close_connection = True
                    self._answer(400, {"error": "bad Content-Length"})
                    return
                raw = self.rfile.read(length) if length else b""
                given = (self.headers.get("Authorization") or "").encode()
                if not hmac.compare_digest(given, f"Bearer {server.token}".encode()):
                    self._answer(401, {"error": "not authorized"})
                    return
                split = urlsplit(self.path)
                handler = server.routes.get((method, split.path))
                if handler is None:
                    self._answer(404, {"error": f"no command {method} {split.path}"})
                    return
                body: Any = raw.decode(errors="replace")
                if self.headers.get("Content-Type", "").startswith("application/json") and raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        self._answer(400, {"error": "the body is not JSON"})
                        return
                try:
                    code, answer = handler(dict(parse_qsl(split.query)), body)
                except ControlError as exc:
                    code, answer = exc.code, {"error": str(exc)}
                except Exception as exc:  # noqa: BLE001 - the owner must answer, never die
                    code, answer = 500, {"error": f"{type(exc).__name__}: {exc}"}
                self._answer(code, answer)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="control",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class ControlClient:
    """Talks to the process that owns a workspace."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token

    @classmethod
    def for_workspace(cls, owner_path: Path) -> ControlClient:
        try:
            data = json.loads(owner_path.read_text())
            return cls(int(data["port"]), str(data["token"]))
        except (OSError, ValueError, KeyError) as exc:
            raise OwnershipError(
                "this lab is not running. Start it with `gitops-lab up DIR` (or `make run`) "
                "and try again."
            ) from exc

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        timeout: float = 300.0,
    ) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}"
        if query:
            url += "?" + urlencode(dict(query))
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1
            url,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", str(exc))
            except ValueError:
                message = str(exc)
            raise ControlError(message, exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise OwnershipError(
                "the lab's owner process does not answer (did it stop?). Start it again with "
                "`gitops-lab up DIR`."
            ) from exc
