"""Sync history: every sync the engine ran, self-heals included, kept across restarts.

Argo CD keeps the last ten successful full syncs and leaves self-heal out, so users cannot see
when drift was corrected. Here every operation is an entry: manual syncs, automated syncs,
self-heals, rollbacks, with who started it, what revision, the result and each resource's
outcome. Entries live in SQLite (WAL) under the workspace's `.lab/` folder, next to the
per-app flags that must survive a restart (paused, pinned revision).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

SYNC = "sync"
AUTO_SYNC = "auto-sync"
SELF_HEAL = "self-heal"
ROLLBACK = "rollback"

SUCCEEDED = "Succeeded"
FAILED = "Failed"
RUNNING = "Running"
INTERRUPTED = "interrupted: the lab stopped during this sync"


@dataclass(frozen=True)
class ResourceResult:
    """What a sync did to one resource."""

    kind: str
    namespace: str
    name: str
    action: str  # created | configured | unchanged | pruned | pruneSkipped | failed
    message: str = ""
    group: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "group": self.group,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "action": self.action,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceResult:
        return cls(
            str(data.get("kind", "")),
            str(data.get("namespace", "")),
            str(data.get("name", "")),
            str(data.get("action", "")),
            str(data.get("message", "")),
            str(data.get("group", "")),
        )


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    app: str
    revision: str
    operation: str  # sync | auto-sync | self-heal | rollback
    initiated_by: str  # a persona, or "automated"
    started: str
    finished: str
    phase: str  # Running | Succeeded | Failed
    message: str = ""
    resources: tuple[ResourceResult, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app,
            "revision": self.revision,
            "operation": self.operation,
            "initiatedBy": self.initiated_by,
            "started": self.started,
            "finished": self.finished,
            "phase": self.phase,
            "message": self.message,
            "resources": [r.as_dict() for r in self.resources],
        }


class History:
    """The history table and per-app flags in `state.db`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._tx() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "app TEXT, revision TEXT, operation TEXT, initiated_by TEXT, started TEXT, "
                "finished TEXT, phase TEXT, message TEXT, resources BLOB)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS history_app ON history (app, id)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS app_flags (app TEXT, key TEXT, value TEXT, "
                "PRIMARY KEY (app, key))"
            )
            # An operation cut short by a crash (kill -9, a power cut) is not left "Running"
            # forever: closed as Failed, and kept for the owner to report (`interrupted`).
            rows = db.execute(
                "SELECT * FROM history WHERE phase = ? ORDER BY id", (RUNNING,)
            ).fetchall()
            db.execute(
                "UPDATE history SET phase = ?, message = ? WHERE phase = ?",
                (FAILED, INTERRUPTED, RUNNING),
            )
        self.interrupted: tuple[HistoryEntry, ...] = tuple(
            replace(_entry(row), phase=FAILED, message=INTERRUPTED) for row in rows
        )

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def start(
        self, app: str, revision: str, operation: str, initiated_by: str, started: str
    ) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO history (app, revision, operation, initiated_by, started, finished, "
                "phase, message, resources) VALUES (?, ?, ?, ?, ?, '', ?, '', ?)",
                (app, revision, operation, initiated_by, started, RUNNING, b"[]"),
            )
            return int(cursor.lastrowid or 0)

    def finish(
        self,
        entry_id: int,
        *,
        phase: str,
        message: str,
        finished: str,
        resources: list[ResourceResult],
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE history SET phase = ?, message = ?, finished = ?, resources = ? "
                "WHERE id = ?",
                (
                    phase,
                    message,
                    finished,
                    orjson.dumps([r.as_dict() for r in resources]),
                    entry_id,
                ),
            )

    def entries(self, app: str | None = None, limit: int = 100) -> list[HistoryEntry]:
        """Newest first."""
        query = "SELECT * FROM history"
        params: tuple[Any, ...] = ()
        if app is not None:
            query += " WHERE app = ?"
            params = (app,)
        query += " ORDER BY id DESC LIMIT ?"
        with self._tx() as db:
            rows = db.execute(query, (*params, limit)).fetchall()
        return [_entry(row) for row in rows]

    def get(self, entry_id: int) -> HistoryEntry | None:
        with self._tx() as db:
            row = db.execute("SELECT * FROM history WHERE id = ?", (entry_id,)).fetchone()
        return _entry(row) if row else None

    # --- per-app flags ---------------------------------------------------------------------

    def flags(self, app: str) -> dict[str, str]:
        with self._tx() as db:
            rows = db.execute("SELECT key, value FROM app_flags WHERE app = ?", (app,)).fetchall()
        return {k: v for k, v in rows}

    def set_flag(self, app: str, key: str, value: str | None) -> None:
        with self._tx() as db:
            if value is None:
                db.execute("DELETE FROM app_flags WHERE app = ? AND key = ?", (app, key))
            else:
                db.execute("INSERT OR REPLACE INTO app_flags VALUES (?, ?, ?)", (app, key, value))


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    (
        entry_id,
        app,
        revision,
        operation,
        initiated_by,
        started,
        finished,
        phase,
        message,
        resources,
    ) = row
    return HistoryEntry(
        int(entry_id),
        app,
        revision,
        operation,
        initiated_by,
        started,
        finished,
        phase,
        message,
        tuple(ResourceResult.from_dict(r) for r in orjson.loads(resources or b"[]")),
    )
