"""Who changed an object by hand: the Kubernetes API server's audit log, read incrementally.

managedFields say which *field manager* (kubectl, a Python client...) last wrote a field; the
API server's audit log says which *user* sent the request and when. Together they answer "who
made this hand change?". The log is the standard `audit.k8s.io/v1` JSON-lines file that a real
kube-apiserver writes with `--audit-log-path` (kind can mount it on the host); the embedded
cluster writes the same format, with the RequestReceived stage written before a change happens.

The reader follows the file like `tail -f`, keeping only the latest write per object, so a
lookup costs a dictionary access however long the lab has run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import orjson

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
ObjectKey = tuple[str, str, str, str]  # (apiGroup, resource plural, namespace, name)


@dataclass(frozen=True)
class ApiChange:
    """One write request, as the API audit log recorded it."""

    user: str  # the effective user (the impersonated one when impersonation was used)
    verb: str
    time: str  # requestReceivedTimestamp
    user_agent: str
    subresource: str = ""
    code: int | None = None  # None until the ResponseComplete stage is read

    @property
    def tool(self) -> str:
        """`kubectl/v1.37.1 (linux/amd64) ...` -> `kubectl`."""
        return self.user_agent.split("/", 1)[0] if self.user_agent else ""


class ApiAuditTrail:
    """The latest write by a person to each object, from an audit log file."""

    def __init__(
        self,
        path: Path,
        *,
        ignore_users: Collection[str] = (),
        identify: Callable[[str], str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.ignore_users = frozenset(ignore_users)
        # A real cluster's log names ServiceAccounts (system:serviceaccount:gitops-lab:alice):
        # `identify` turns them back into personas before system users are ignored.
        self._identify = identify
        self._offset = 0
        self._inode = 0
        self._partial = b""
        # Per object, its last few writes (audit id, change): a refusal can take one back.
        self._latest: dict[ObjectKey, list[tuple[str, ApiChange]]] = {}
        self._lock = threading.Lock()

    def _ignored(self, user: str) -> bool:
        return user in self.ignore_users or user.startswith("system:")

    def refresh(self) -> None:
        """Read what was appended since the last call (and start over after a rotation)."""
        with self._lock:
            try:
                stat = self.path.stat()
            except OSError:
                return
            if stat.st_ino != self._inode or stat.st_size < self._offset:
                self._inode = stat.st_ino
                self._offset = 0
                self._partial = b""
            if stat.st_size == self._offset:
                return
            with self.path.open("rb") as log:
                log.seek(self._offset)
                chunk = log.read()
            self._offset += len(chunk)
            data = self._partial + chunk
            lines = data.split(b"\n")
            self._partial = lines.pop()  # an incomplete last line waits for the rest
            for line in lines:
                self._take(line)

    def _take(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            return
        verb = event.get("verb", "")
        ref = event.get("objectRef") or {}
        if verb not in WRITE_VERBS or not ref.get("name"):
            return
        who = (event.get("impersonatedUser") or event.get("user") or {}).get("username", "")
        if self._identify is not None:
            who = self._identify(who)
        if self._ignored(who):
            return
        key = (
            str(ref.get("apiGroup") or ""),
            str(ref.get("resource") or ""),
            str(ref.get("namespace") or ""),
            str(ref["name"]),
        )
        audit_id = str(event.get("auditID", ""))
        code = (event.get("responseStatus") or {}).get("code")
        recent = [c for c in self._latest.get(key, []) if c[0] != audit_id]
        if code is not None and code >= 400:
            # A refused request changed nothing: forget it, the write before it stands.
            self._latest[key] = recent
            return
        change = ApiChange(
            who,
            verb,
            str(event.get("requestReceivedTimestamp") or ""),
            str(event.get("userAgent") or ""),
            str(ref.get("subresource") or ""),
            code,
        )
        self._latest[key] = [*recent[-4:], (audit_id, change)]

    def last_change(self, group: str, plural: str, namespace: str, name: str) -> ApiChange | None:
        """The latest write a person made to an object, or None."""
        self.refresh()
        with self._lock:
            recent = self._latest.get((group, plural, namespace, name))
            return recent[-1][1] if recent else None
