"""The API server's audit log: one `audit.k8s.io/v1` Event per request, as JSON lines.

A real cluster writes this file when started with `--audit-log-path`; kind can too. The lab
reads it to say who made a hand change (user, verb, object, time), the same way on the
embedded cluster and on kind. Reads are left out by default (they would drown the writes);
writes are logged at `Request` level so the patch a user sent is on record, except for
Secrets, which are logged at `Metadata` level so their values never reach the file.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from lab.cluster.sim.auth import User
from lab.cluster.sim.clock import rfc3339_micro

READ_VERBS = frozenset({"get", "list", "watch"})
_MAX_BYTES = 64 * 1024 * 1024


class ApiAuditLog:
    """Appends audit events to `path`, rotating to `path.1` past 64 MiB."""

    def __init__(self, path: Path, *, include_reads: bool = False) -> None:
        self.path = path
        self.include_reads = include_reads
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def record(
        self,
        *,
        user: User,
        verb: str,
        uri: str,
        user_agent: str,
        code: int | None,
        received: datetime,
        completed: datetime,
        object_ref: dict[str, Any] | None,
        request_object: Any = None,
        impersonated_by: User | None = None,
        stage: str = "ResponseComplete",
        audit_id: str = "",
    ) -> None:
        """One audit event. Writes are logged twice, as a real API server's policy with no
        omitted stages does: RequestReceived before the change happens (so whoever sees the
        change through a watch can already read who made it), ResponseComplete after."""
        if verb in READ_VERBS and not self.include_reads:
            return
        secret = bool(object_ref and object_ref.get("resource") == "secrets")
        level = "Metadata" if secret or request_object is None else "Request"
        event: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level,
            "auditID": audit_id or str(uuid.uuid4()),
            "stage": stage,
            "requestURI": uri,
            "verb": verb,
            "user": (impersonated_by or user).as_audit(),
            "sourceIPs": ["127.0.0.1"],
            "userAgent": user_agent,
            "requestReceivedTimestamp": rfc3339_micro(received),
            "stageTimestamp": rfc3339_micro(completed),
        }
        if code is not None:
            event["responseStatus"] = {"metadata": {}, "code": code}
            event["annotations"] = {
                "authorization.k8s.io/decision": "allow" if code != 403 else "forbid",
            }
        if impersonated_by is not None:
            event["impersonatedUser"] = user.as_audit()
        if object_ref:
            event["objectRef"] = object_ref
        if level == "Request":
            event["requestObject"] = request_object
        line = orjson.dumps(event) + b"\n"
        with self._lock:
            try:
                if self.path.exists() and self.path.stat().st_size > _MAX_BYTES:
                    self.path.replace(self.path.with_name(self.path.name + ".1"))
                with self.path.open("ab") as out:
                    out.write(line)
            except OSError:
                # A full disk must not take the API down; the request itself already happened.
                return


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every event in an audit log file (rotated file first), skipping torn lines."""
    events: list[dict[str, Any]] = []
    for candidate in (path.with_name(path.name + ".1"), path):
        if not candidate.exists():
            continue
        for line in candidate.read_bytes().splitlines():
            try:
                events.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    return events
