"""Where the embedded cluster keeps its objects: indexed, versioned, watched and durable.

This plays etcd's part. Every write gets the next cluster-wide `resourceVersion` (one counter,
like etcd's revision), lands in an in-memory index (by type, namespace, name, label and owner,
so lists are not full scans), is appended to its type's event log (what watches replay from)
and is committed to SQLite in WAL mode under the workspace, so a stopped server starts again
with every object in place.

Objects handed out are shared, never copied: callers must treat them as read-only and build a
new dict to write. Watchers never block writers: a write appends to a log and wakes the
waiters; each watcher reads the log at its own pace, and one that falls too far behind gets
410 Expired, as from a real API server after compaction.
"""

from __future__ import annotations

import sqlite3
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from lab.cluster.sim import errors

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"

Obj = dict[str, Any]
Ref = tuple[str, str, str]  # (type key, namespace, name)


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of a type's event log."""

    type: str
    rv: int
    obj: Obj
    old: Obj | None


class _EventLog:
    """One type's recent changes, in resourceVersion order, trimmed from the front."""

    def __init__(self, capacity: int, compacted: int) -> None:
        self.capacity = capacity
        self.entries: list[Change] = []
        self.rvs: list[int] = []
        self.compacted = compacted  # changes at or below this rv are no longer here

    def append(self, change: Change) -> None:
        self.entries.append(change)
        self.rvs.append(change.rv)
        if len(self.entries) > 2 * self.capacity:
            drop = len(self.entries) - self.capacity
            self.compacted = self.rvs[drop - 1]
            del self.entries[:drop]
            del self.rvs[:drop]

    def after(self, rv: int) -> list[Change]:
        return self.entries[bisect_right(self.rvs, rv) :]


def _labels(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _owner_uids(obj: Obj) -> list[str]:
    return [
        str(ref.get("uid"))
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
        if ref.get("uid")
    ]


def _with_rv(obj: Obj, rv: int) -> Obj:
    meta = dict(obj.get("metadata") or {})
    meta["resourceVersion"] = str(rv)
    out = dict(obj)
    out["metadata"] = meta
    return out


class Store:
    """Objects by (type key, namespace, name), with indexes, event logs and durability."""

    def __init__(self, path: Path | None = None, history: int = 250) -> None:
        self.lock = threading.RLock()
        self._history = history
        self._objects: dict[str, dict[str, dict[str, Obj]]] = {}
        self._by_label: dict[str, dict[tuple[str, str], set[tuple[str, str]]]] = {}
        self._by_owner: dict[str, set[Ref]] = {}
        self._by_uid: dict[str, Ref] = {}
        self._logs: dict[str, _EventLog] = {}
        self._conditions: dict[str, threading.Condition] = {}
        self._any_change = threading.Condition(self.lock)
        self._listeners: list[Callable[[str, Change], None]] = []
        self._closed = False
        self._rv = 0
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._open(path)
        self._opened_rv = self._rv

    # --- durability ------------------------------------------------------------------------

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS objects (type TEXT, namespace TEXT, name TEXT, "
            "body BLOB, PRIMARY KEY (type, namespace, name))"
        )
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key = 'rv'").fetchone()
        self._rv = int(row[0]) if row else 0
        for type_key, _ns, _name, body in db.execute("SELECT * FROM objects"):
            self._index(type_key, orjson.loads(body))
        self._db = db

    def _persist(self, type_key: str, ns: str, name: str, obj: Obj | None) -> None:
        if self._db is None:
            return
        try:
            self._db.execute("BEGIN")
            if obj is None:
                self._db.execute(
                    "DELETE FROM objects WHERE type = ? AND namespace = ? AND name = ?",
                    (type_key, ns, name),
                )
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                    (type_key, ns, name, orjson.dumps(obj)),
                )
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(self._rv),))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise errors.ApiError(
                507, "InternalError", f"the cluster could not save the change: {exc}"
            ) from exc

    def close(self) -> None:
        with self.lock:
            self._closed = True
            for cond in self._conditions.values():
                cond.notify_all()
            self._any_change.notify_all()
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def closed(self) -> bool:
        return self._closed

    # --- indexes ---------------------------------------------------------------------------

    def _index(self, type_key: str, obj: Obj) -> None:
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        self._objects.setdefault(type_key, {}).setdefault(ns, {})[name] = obj
        labels = self._by_label.setdefault(type_key, {})
        for pair in _labels(obj).items():
            labels.setdefault(pair, set()).add((ns, name))
        for uid in _owner_uids(obj):
            self._by_owner.setdefault(uid, set()).add((type_key, ns, name))
        if meta.get("uid"):
            self._by_uid[meta["uid"]] = (type_key, ns, name)

    def _unindex(self, type_key: str, obj: Obj) -> None:
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        in_ns = self._objects.get(type_key, {}).get(ns)
        if in_ns is not None:
            in_ns.pop(name, None)
            if not in_ns:
                del self._objects[type_key][ns]
        labels = self._by_label.get(type_key, {})
        for pair in _labels(obj).items():
            members = labels.get(pair)
            if members is not None:
                members.discard((ns, name))
                if not members:
                    del labels[pair]
        for uid in _owner_uids(obj):
            owned = self._by_owner.get(uid)
            if owned is not None:
                owned.discard((type_key, ns, name))
                if not owned:
                    del self._by_owner[uid]
        if meta.get("uid"):
            self._by_uid.pop(meta["uid"], None)

    # --- reads -----------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, type_key: str, ns: str, name: str) -> Obj | None:
        if not isinstance(name, str) or not isinstance(ns, str):
            return None  # a malformed name from a request body (a map, a list) names nothing
        return self._objects.get(type_key, {}).get(ns, {}).get(name)

    def by_uid(self, uid: str) -> tuple[Ref, Obj] | None:
        with self.lock:
            ref = self._by_uid.get(uid)
            if ref is None:
                return None
            obj = self.get(*ref)
            return (ref, obj) if obj is not None else None

    def query(
        self,
        type_key: str,
        ns: str | None = None,
        label_pairs: Iterable[tuple[str, str]] = (),
        where: Callable[[Obj], bool] | None = None,
    ) -> tuple[list[Obj], int]:
        """Objects of a type (in one namespace or all), sorted like etcd keys, and the list's rv.

        `label_pairs` are equality requirements used to narrow through the label index before
        `where` filters exactly.
        """
        with self.lock:
            by_ns = self._objects.get(type_key, {})
            candidates: set[tuple[str, str]] | None = None
            for pair in label_pairs:
                members = self._by_label.get(type_key, {}).get(pair, set())
                if candidates is None or len(members) < len(candidates):
                    candidates = members
            if candidates is not None:
                found = [
                    by_ns[n][name]
                    for n, name in candidates
                    if (ns is None or n == ns) and n in by_ns and name in by_ns[n]
                ]
            elif ns is None:
                found = [obj for objs in by_ns.values() for obj in objs.values()]
            else:
                found = list(by_ns.get(ns, {}).values())
            rv = self._rv
        if where is not None:
            found = [obj for obj in found if where(obj)]
        found.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return found, rv

    def namespaces_in_use(self, ns: str) -> list[Ref]:
        """Every object stored in namespace `ns`, of any type."""
        with self.lock:
            return [
                (type_key, ns, name)
                for type_key, by_ns in self._objects.items()
                for name in by_ns.get(ns, {})
            ]

    def dependents(self, owner_uid: str) -> list[Ref]:
        with self.lock:
            return sorted(self._by_owner.get(owner_uid, ()))

    def count(self) -> int:
        with self.lock:
            return sum(len(objs) for by_ns in self._objects.values() for objs in by_ns.values())

    def types(self) -> list[str]:
        with self.lock:
            return list(self._objects)

    # --- writes ----------------------------------------------------------------------------

    def _log(self, type_key: str) -> _EventLog:
        log = self._logs.get(type_key)
        if log is None:
            # A type with no log yet has had no change since the store opened.
            log = _EventLog(self._history, self._opened_rv)
            self._logs[type_key] = log
        return log

    def _condition(self, type_key: str) -> threading.Condition:
        cond = self._conditions.get(type_key)
        if cond is None:
            cond = threading.Condition(self.lock)
            self._conditions[type_key] = cond
        return cond

    def _commit(self, type_key: str, change: Change) -> None:
        self._log(type_key).append(change)
        self._condition(type_key).notify_all()
        self._any_change.notify_all()
        for listener in list(self._listeners):
            listener(type_key, change)

    def put(self, type_key: str, obj: Obj) -> Obj:
        """Create or replace an object; returns it with its new resourceVersion."""
        with self.lock:
            self._check_open()
            meta = obj["metadata"]
            ns, name = meta.get("namespace", ""), meta["name"]
            old = self.get(type_key, ns, name)
            stored = _with_rv(obj, self._rv + 1)
            self._rv += 1
            try:
                self._persist(type_key, ns, name, stored)
            except errors.ApiError:
                self._rv -= 1
                raise
            if old is not None:
                self._unindex(type_key, old)
            self._index(type_key, stored)
            self._commit(type_key, Change(MODIFIED if old else ADDED, self._rv, stored, old))
            return stored

    def remove(self, type_key: str, ns: str, name: str) -> Obj | None:
        """Delete an object; returns its last state carrying the deletion's resourceVersion."""
        with self.lock:
            self._check_open()
            old = self.get(type_key, ns, name)
            if old is None:
                return None
            self._rv += 1
            gone = _with_rv(old, self._rv)
            try:
                self._persist(type_key, ns, name, None)
            except errors.ApiError:
                self._rv -= 1
                raise
            self._unindex(type_key, old)
            self._commit(type_key, Change(DELETED, self._rv, gone, old))
            return gone

    def _check_open(self) -> None:
        if self._closed:
            raise errors.ApiError(503, "ServiceUnavailable", "the cluster is shutting down")

    # --- change feeds ----------------------------------------------------------------------

    def add_listener(self, listener: Callable[[str, Change], None]) -> None:
        """Call `listener(type_key, change)` after every write, under the store lock.

        Listeners must be quick and must not write: in-process controllers use them to
        enqueue keys, then do their work on their own threads.
        """
        with self.lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[str, Change], None]) -> None:
        with self.lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def changes_after(self, type_key: str, rv: int) -> list[Change]:
        """Changes of a type after `rv`; 410 Expired if they are no longer all kept."""
        with self.lock:
            log = self._log(type_key)
            if rv < log.compacted:
                raise errors.gone(f"too old resource version: {rv} ({log.compacted + 1})")
            return log.after(rv)

    def wait_for_changes(self, type_key: str, rv: int, timeout: float) -> list[Change]:
        """Block until the type has changes after `rv` (or timeout, or close)."""
        with self.lock:
            cond = self._condition(type_key)
            changes = self.changes_after(type_key, rv)
            if not changes and not self._closed:
                cond.wait(timeout)
                changes = self.changes_after(type_key, rv)
            return changes

    def wait_for_any_change(self, rv: int, timeout: float) -> int:
        """Block until the store's resourceVersion passes `rv`; returns the new one."""
        with self.lock:
            if self._rv <= rv and not self._closed:
                self._any_change.wait(timeout)
            return self._rv

    def snapshot(self, type_key: str, ns: str | None) -> tuple[list[Obj], int]:
        """Current objects and the rv they are consistent with (for watches from "now")."""
        return self.query(type_key, ns)

    def iter_all(self) -> Iterator[tuple[str, Obj]]:
        with self.lock:
            items = [
                (type_key, obj)
                for type_key, by_ns in self._objects.items()
                for objs in by_ns.values()
                for obj in objs.values()
            ]
        return iter(items)
