r"""The audit trail: one append-only record of everything the lab saw and did, that can prove
it was not edited.

Argo CD and Flux leave the questions people ask after an incident to Kubernetes Events (gone
after an hour) and a short status history: who triggered that sync, what exactly was applied,
who turned auto-sync off, when did the drift happen, who made it. Here every event — a push,
a sync and its per-resource results, a hand change and who made it, a policy switch — is one
row of a SQLite file that the running lab (one owner process) appends to and that the CLI, the
app and the notebooks read, even while the owner writes (WAL: a reader sees a consistent
prefix of the log, never half an append).

Append-only, and tamper-evident:

- the API has no way to update or delete an entry, and SQLite triggers refuse UPDATE and
  DELETE on the table, so a slip in a SQL shell does not edit history either;
- each entry carries `prev_hash`, the hash of the entry before it, and its own `hash` =
  sha256(prev_hash + canonical JSON of the entry without `hash`). An edited, deleted or moved
  entry breaks the chain, and `verify()` names the first entry that does not fit;
- a one-row `head` table, written in the same transaction as each entry, remembers the last
  entry written, so removing the newest entries shows too.

Someone who rewrites the whole chain from an entry onwards (and the head) can only be caught
against a copy of a later hash kept elsewhere: `ChainCheck.head` is the value to note.

Secrets never reach the file: `redact` runs on every event before it is hashed and written.

Canonical JSON (`canonical_json`), what every hash covers: object keys sorted by code point,
no whitespace (separators `,` and `:`), UTF-8 bytes; in strings only `"`, `\` and control
characters are escaped (`\n`, `\t`... short forms, else `\u00XX`), everything else is written
as itself; integers in decimal; floats as Python writes them (the shortest text that reads
back the same, `90.0` not `90`); no NaN or Infinity. It is close to, but not, RFC 8785 (JCS),
which writes whole floats without `.0` and sorts keys by UTF-16 code units.

Errors:

    AuditError          the log cannot be opened or read, in plain words
     └─ AuditWriteError an event could not be recorded (full disk, I/O error, read-only
                        file, closed log); nothing of it was written and the log is unchanged

When the file refuses a write (a full disk, an I/O error), the event is not dropped: the
writer keeps it in memory, in order, with any others that could not be written, and writes
them all (before the next event, and in `flush()`) as soon as the file takes writes again, so
the chain has no gap and no event changes its place. `pending` says how many wait; up to
`MAX_PENDING` are kept, beyond that the oldest are dropped and counted in `lost`. Events still
waiting when the process ends are lost; the error said so when it happened.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import math
import re
import sqlite3
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path, PurePath
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from lab.engine.model import ResourceKey

if TYPE_CHECKING:
    import pandas

__all__ = [
    "ENGINE_ACTOR",
    "EVENT_TYPES",
    "GENESIS",
    "REDACTED",
    "AuditError",
    "AuditEvent",
    "AuditLog",
    "AuditWriteError",
    "ChainCheck",
    "actor_of",
    "canonical_json",
    "chain_hash",
    "check_chain",
    "dataframe",
    "format_time",
    "parse_time",
    "plain",
    "redact",
    "to_json",
]

EVENT_TYPES: tuple[str, ...] = (
    # the lab itself
    "LabStarted",
    "LabStopped",
    # Git: what reached the server, what the engine saw of it
    "CommitPushed",
    "PushRejected",
    "RevisionDetected",
    "RevisionVerified",
    "VerificationFailed",
    "SourceError",
    "SourceRecovered",
    "ComparisonError",
    "PolicyViolation",
    # the cluster's API server, as the engine sees it
    "ClusterUnreachable",
    "ClusterReachable",
    # operations and what they changed
    "SyncStarted",
    "SyncSucceeded",
    "SyncFailed",
    "SyncStatusChanged",
    "HealthChanged",
    "DriftDetected",
    "DriftCorrected",
    "PruneRequired",
    "SyncInterrupted",
    "RolledBack",
    "SyncPolicyChanged",
    # change review: merge requests on the lab's Git server
    "ReviewOpened",
    "ChecksPassed",
    "ChecksFailed",
    "Approved",
    "Merged",
    "Closed",
    "MergeRefused",
)

GENESIS = "0" * 64  # the prev_hash of the first entry
REDACTED = "<redacted>"
ENGINE_ACTOR = "gitops-lab"  # the engine, when it is the one that saw or decided something

# Events that are the engine's own findings: nobody else could have done them.
_ENGINE_FINDINGS = frozenset(
    {
        "RevisionDetected",
        "RevisionVerified",
        "VerificationFailed",
        "SourceError",
        "SourceRecovered",
        "ClusterUnreachable",
        "ClusterReachable",
        "PruneRequired",
        "SyncInterrupted",
        "ComparisonError",
        "PolicyViolation",
        "SyncStatusChanged",
        "HealthChanged",
        "DriftCorrected",
    }
)
# Where event data names who did something, most specific first.
_ACTOR_KEYS = ("by", "initiatedBy", "pusher", "madeBy", "changedBy")

_T = TypeVar("_T")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_SELECT = "SELECT seq, time, type, app, actor, message, data, prev_hash, hash FROM events"
_INSERT = (
    "INSERT INTO events (seq, time, type, app, actor, message, data, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, time TEXT NOT NULL, "
    "type TEXT NOT NULL, app TEXT NOT NULL, actor TEXT NOT NULL, message TEXT NOT NULL, "
    "data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_time ON events (time)",
    "CREATE INDEX IF NOT EXISTS events_app ON events (app, seq)",
    # The newest entry written: a truncated log cannot pass for a complete one.
    "CREATE TABLE IF NOT EXISTS head (one INTEGER PRIMARY KEY CHECK (one = 1), "
    "seq INTEGER NOT NULL, hash TEXT NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "PRAGMA user_version = 1",
)


class AuditError(Exception):
    """The audit log cannot be opened or read; the message says why in plain words."""


class AuditWriteError(AuditError):
    """An event could not be recorded. Nothing of it was written: the log is unchanged."""


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the log, exactly as hashed and stored."""

    seq: int  # 1, 2, 3... (the chain's order)
    time: str  # RFC 3339 with microseconds, UTC: 2026-05-01T10:00:00.123456Z
    type: str  # one of EVENT_TYPES
    app: str  # "" for lab-wide events
    actor: str  # a persona ("mallory"), "automated", "gitops-lab", or "" if unknown
    message: str  # one line of plain words
    data: Mapping[str, Any]  # details: revision, resource, fields, managers, results...
    prev_hash: str  # hex sha256 of the previous entry (GENESIS for the first)
    hash: str  # chain_hash(prev_hash, the entry without `hash`)

    def __hash__(self) -> int:
        # `data` is a dict; the chain hash already identifies the entry.
        return hash(self.hash)

    def content(self) -> dict[str, Any]:
        """The entry without its own hash: what `hash` covers."""
        return _content(
            self.seq,
            self.time,
            self.type,
            self.app,
            self.actor,
            self.message,
            self.data,
            self.prev_hash,
        )

    @property
    def at(self) -> datetime:
        return parse_time(self.time)


@dataclass(frozen=True)
class ChainCheck:
    """The result of recomputing every hash of the log in order."""

    ok: bool
    checked: int  # entries found intact, in order, before the first problem (all when ok)
    first_bad: int | None  # seq of the first entry that does not fit (None: ok, or no entry)
    reason: str  # plain words: "entry 17 was changed (its hash does not match)"
    head: str = ""  # hash of the last intact entry: keep a copy elsewhere to anchor the log


# --- canonical form and hashing ----------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """The one serialisation every hash is computed over (see the module docstring).

    `value` must already be plain JSON data (`plain` makes it so).
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def chain_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    """sha256 over the previous entry's hash followed by this entry's canonical JSON."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(content)).hexdigest()


def _content(
    seq: Any,
    time: Any,
    type: Any,
    app: Any,
    actor: Any,
    message: Any,
    data: Any,
    prev_hash: Any,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "time": time,
        "type": type,
        "app": app,
        "actor": actor,
        "message": message,
        "data": data,
        "prev_hash": prev_hash,
    }


def plain(value: Any) -> Any:
    """`value` as plain JSON data, so that what is hashed is exactly what is stored.

    Mappings get string keys; tuples and lists become lists, sets sorted lists; enums their
    value; dataclasses (a ResourceKey, a FieldChange) a mapping of their fields; datetimes
    RFC 3339 UTC; paths their text; bytes base64; NaN and infinities their name. Text that
    cannot be written as UTF-8 (a lone surrogate from a badly decoded commit message) has the
    offending characters replaced. Anything else is recorded as its `str()`, so an odd value
    never costs an event.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, str):
        return _utf8(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items, key=canonical_json)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return format_time(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return _utf8(str(value))


def _key(key: Any) -> str:
    if isinstance(key, Enum):
        key = key.value
    return _utf8(key if isinstance(key, str) else str(key))


def _utf8(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


# --- time --------------------------------------------------------------------------------


def parse_time(text: str) -> datetime:
    """An RFC 3339 time with a zone (`Z` or an offset), as an aware datetime."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except (TypeError, ValueError, AttributeError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValueError(
            f"{text!r} is not an RFC 3339 time with a zone (like 2026-05-01T10:00:00Z)"
        )
    return parsed


def format_time(moment: datetime) -> str:
    """RFC 3339, UTC, with microseconds: the one form stored, so text order is time order."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def _stored_time(text: str | None) -> str:
    return format_time(datetime.now(UTC) if text is None else parse_time(text))


# --- redaction ---------------------------------------------------------------------------

_SECRET_VALUE_FIELDS = frozenset({"data", "stringData"})
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# A path into a Secret's values, however it is written: `.data.password` (the diff),
# `data.password`, `/data/password` (a JSON patch), `.stringData`, or the last-applied
# annotation, which holds the whole Secret as JSON.
_SECRET_VALUE_PATH = re.compile(r"^[./]?(?:data|stringData)(?:$|[./\[])|last-applied-configuration")
# In a change or patch entry on a Secret data path, the keys that carry no value.
_CHANGE_KEYS = frozenset({"path", "change", "managers", "op", "elements"})


def redact(data: Any) -> Any:
    """Never write a Secret's values.

    Any embedded Kubernetes object of kind Secret keeps its keys, but its data and stringData
    values become "<redacted>" (in its last-applied-configuration annotation too, where
    `kubectl apply` keeps a copy of them). Where a mapping is about a Secret (its "resource"
    names one), its diff changes and patch entries on data paths lose their values too, and
    so do partial bodies (a patch's `data`). Keys, paths, change kinds and managers stay: the
    log still says which key changed and who changed it. `None` stays `None` (absence is not
    a secret). Returns a new structure; the input is not changed.
    """
    return _redact(data, about_secret=False)


def _redact(value: Any, *, about_secret: bool) -> Any:
    if isinstance(value, Mapping):
        if value.get("kind") == "Secret":
            return _redacted_secret(value)
        about_secret = about_secret or _names_secret(value.get("resource"))
        if about_secret and _is_value_change(value):
            return {k: v if k in _CHANGE_KEYS else _blank(v) for k, v in value.items()}
        return {
            k: _blank(v)
            if about_secret and k in _SECRET_VALUE_FIELDS and isinstance(v, Mapping)
            else _redact(v, about_secret=about_secret)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(v, about_secret=about_secret) for v in value]
    return value


def _names_secret(resource: Any) -> bool:
    if isinstance(resource, Mapping):
        return resource.get("kind") == "Secret"
    # "Secret/shop/db" (ResourceKey) or "Secret shop/db" (ManifestError.resource)
    return isinstance(resource, str) and resource.split("/", 1)[0].split(" ", 1)[0] == "Secret"


def _is_value_change(entry: Mapping[str, Any]) -> bool:
    # A diff change has "change", a JSON patch operation "op"; a "path" alone may be a file.
    if "change" not in entry and "op" not in entry:
        return False
    path = entry.get("path")
    return isinstance(path, str) and bool(_SECRET_VALUE_PATH.search(path))


def _redacted_secret(secret: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in secret.items():
        if key in _SECRET_VALUE_FIELDS:
            out[key] = _blank(value)
        elif key == "metadata" and isinstance(value, Mapping):
            out[key] = _redacted_metadata(value)
        else:
            # Anything else in it is about this Secret too (a flat record with "fields").
            out[key] = _redact(value, about_secret=True)
    return out


def _redacted_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    out = _redact(meta, about_secret=True)
    annotations = out.get("annotations")
    if isinstance(annotations, dict) and _LAST_APPLIED in annotations:
        annotations[_LAST_APPLIED] = _redacted_last_applied(annotations[_LAST_APPLIED])
    return out


def _redacted_last_applied(text: Any) -> Any:
    try:
        applied = json.loads(text)
    except (TypeError, ValueError):
        return _blank(text)
    if not isinstance(applied, Mapping):
        return _blank(text)
    return json.dumps(_redacted_secret(applied), sort_keys=True, separators=(",", ":"))


def _blank(value: Any) -> Any:
    """The same shape with every value replaced: keys of a data map stay readable."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {k: _blank(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_blank(v) for v in value]
    return REDACTED


# --- who ---------------------------------------------------------------------------------


def actor_of(type: str, data: Mapping[str, Any]) -> str:
    """Who an event is about, from its data, when the caller did not say.

    The person (or "automated") named by the data wins: `by` (a policy change, a rollback),
    `initiatedBy` (a sync), `pusher` (a push; else `madeBy`, whose commit it is), `changedBy`
    (the API audit user behind a hand change). Otherwise the engine's own findings (a new
    revision, health, drift corrected, a comparison error) are "gitops-lab"'s, and anything
    else is unknown ("").
    """
    for key in _ACTOR_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return ENGINE_ACTOR if type in _ENGINE_FINDINGS else ""


# --- the log -----------------------------------------------------------------------------


MAX_PENDING = 10_000  # events kept in memory while the file refuses writes


@dataclass(frozen=True)
class _Row:
    """An event ready to be chained: what `_insert` takes, in its order."""

    type: str
    app: str
    actor: str
    message: str
    when: str
    body: dict[str, Any]
    data_text: str


class AuditLog:
    """The audit log in one SQLite file (WAL).

    One process writes (the running lab); any number read, with `read_only=True`. A writer
    is safe to share between threads. Use as a context manager, or call `close()`.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._lock = threading.Lock()
        self._db = _open_reader(path) if read_only else _open_writer(path)
        self._pending: list[_Row] = []  # refused by the file: written first when it can
        self.lost = 0  # dropped from memory past MAX_PENDING while the file refused writes

    @property
    def pending(self) -> int:
        """Events kept in memory because the file refused them, waiting to be written."""
        return len(self._pending)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writing ---------------------------------------------------------------------------

    def append(
        self,
        type: str,
        *,
        app: str = "",
        actor: str = "",
        message: str = "",
        data: Mapping[str, Any] | None = None,
        time: str | None = None,
    ) -> AuditEvent:
        """Record one event and return it as stored (redacted, hashed, numbered).

        `time` is when it happened (RFC 3339 with a zone; now if None or ""), stored in UTC.
        `actor` defaults to `actor_of(type, data)`. The message is kept to one line. Raises
        ValueError for an unknown type or a bad time (a caller's mistake), AuditWriteError when
        the file cannot take the event; either way nothing is written.
        """
        if self.read_only:
            raise AuditWriteError(
                f"cannot record {type}: the audit log {self.path} was opened read-only"
            )
        if type not in EVENT_TYPES:
            raise ValueError(
                f"{type!r} is not an audit event type (known: {', '.join(EVENT_TYPES)})"
            )
        when = _stored_time(time or None)
        body = redact(plain(data or {}))
        if not isinstance(body, dict):
            raise ValueError(f"the data of {type} must be a mapping, not {body!r}")
        app = plain(app)
        who = plain(actor) or actor_of(type, body)
        line = " ".join(plain(message).splitlines())
        data_text = canonical_json(body).decode("utf-8")
        row = _Row(type, app, who, line, when, body, data_text)
        with self._lock:
            if self._pending:
                self._pending.append(row)  # after those waiting: the order is the order seen
                written = self._write_pending(type)
                if written is None:
                    raise AssertionError("the pending events were written but none returned")
                return written
            try:
                return self._write(row)
            except sqlite3.Error as exc:
                reason = _plain_reason(exc)
                if isinstance(exc, sqlite3.ProgrammingError):  # closed: no later write
                    raise AuditWriteError(
                        f"could not record {type} in the audit log {self.path}: {reason}; "
                        "nothing was written and the log is unchanged"
                    ) from exc
                self._pending.append(row)
                raise AuditWriteError(self._kept(type, reason)) from exc

    def flush(self) -> int:
        """Write the events kept in memory, if the file takes them now; how many still wait.
        Raises nothing: a file still refusing writes just keeps them waiting."""
        with self._lock:
            if self._pending:
                with contextlib.suppress(AuditWriteError):
                    self._write_pending("")
            return len(self._pending)

    def _write(self, row: _Row) -> AuditEvent:
        seq, digest, prev = self._insert(
            row.type, row.app, row.actor, row.message, row.when, row.body, row.data_text
        )
        return AuditEvent(
            seq, row.when, row.type, row.app, row.actor, row.message, row.body, prev, digest
        )

    def _write_pending(self, type: str) -> AuditEvent | None:
        """Write the waiting events in order; the last one written, or AuditWriteError."""
        last = None
        while self._pending:
            try:
                last = self._write(self._pending[0])
            except sqlite3.Error as exc:
                if len(self._pending) > MAX_PENDING:
                    dropped = len(self._pending) - MAX_PENDING
                    del self._pending[:dropped]
                    self.lost += dropped
                raise AuditWriteError(
                    self._kept(type or self._pending[-1].type, _plain_reason(exc))
                ) from exc
            self._pending.pop(0)
        return last

    def _kept(self, type: str, reason: str) -> str:
        waiting = len(self._pending)
        lost = f"; {self.lost} older events were dropped from memory" if self.lost else ""
        return (
            f"could not record {type} in the audit log {self.path}: {reason}; nothing was "
            f"written and the log is unchanged. The event is kept in memory ({waiting} "
            "waiting) and written, in order, once the file takes writes again; it is lost if "
            f"the lab stops first{lost}"
        )

    def _insert(
        self,
        type: str,
        app: str,
        actor: str,
        message: str,
        when: str,
        body: dict[str, Any],
        data_text: str,
    ) -> tuple[int, str, str]:
        db = self._db
        # IMMEDIATE: the write lock first, so the head read below is the one we extend even
        # if another process opened the file for writing by mistake.
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT seq, hash FROM head").fetchone()
            if row is None:  # a log written before the head existed, or empty
                row = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
                row = row.fetchone() or (0, GENESIS)
            seq, prev = int(row[0]) + 1, str(row[1])
            digest = chain_hash(prev, _content(seq, when, type, app, actor, message, body, prev))
            db.execute(
                _INSERT,
                (seq, when, type, app, actor, message, data_text, prev, digest),
            )
            db.execute(
                "INSERT INTO head (one, seq, hash) VALUES (1, ?, ?) "
                "ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (seq, digest),
            )
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        return seq, digest, prev

    # --- reading ---------------------------------------------------------------------------

    def events(
        self,
        *,
        since: str | None = None,
        types: Collection[str] | None = None,
        app: str | None = None,
        actor: str | None = None,
        limit: int | None = None,
        after: int | None = None,
    ) -> list[AuditEvent]:
        """Entries in chain order, filtered.

        `since`: at or after this RFC 3339 time. `types`, `app` ("" = lab-wide events),
        `actor`: exact matches. `after`: entries with a larger seq (to follow a growing log).
        `limit`: only the newest `limit` of the matching entries, still oldest first.
        """
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("time >= ?")
            params.append(_stored_time(since))
        if after is not None:
            where.append("seq > ?")
            params.append(after)
        if types is not None:
            wanted = sorted({types} if isinstance(types, str) else set(types))
            if not wanted:
                return []
            where.append(f"type IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        for column, value in (("app", app), ("actor", actor)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        query = _SELECT
        if where:
            query += " WHERE " + " AND ".join(where)
        if limit is not None:
            query += " ORDER BY seq DESC LIMIT ?"
            params.append(max(0, limit))
        else:
            query += " ORDER BY seq"
        rows = self._read(lambda db: db.execute(query, params).fetchall())
        if limit is not None:
            rows.reverse()
        return [_event(row) for row in rows]

    def verify(self) -> ChainCheck:
        """Recompute every hash in seq order; the first entry that does not fit, in words."""

        def snapshot(db: sqlite3.Connection) -> tuple[list[Any], Any | None]:
            # One read transaction: the entries and the head of the same moment.
            db.execute("BEGIN")
            try:
                rows = db.execute(_SELECT + " ORDER BY seq").fetchall()
                head = db.execute("SELECT seq, hash FROM head").fetchone()
            finally:
                _rollback(db)
            return rows, head

        try:
            rows, head = self._read(snapshot)
        except AuditError as exc:
            return ChainCheck(False, 0, None, str(exc))
        return check_chain(rows, head)

    def _read(self, query: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            try:
                return query(self._db)
            except sqlite3.Error as exc:
                raise AuditError(
                    f"could not read the audit log {self.path}: {_plain_reason(exc)}"
                ) from exc


def check_chain(rows: Sequence[Sequence[Any]], head: Sequence[Any] | None) -> ChainCheck:
    """The chain check over stored rows in seq order (the columns of `events`, in table
    order) and the head row (seq, hash) or None; see `AuditLog.verify`."""
    by_hash = {row[8]: row[0] for row in rows}
    prev_seq, prev_hash = 0, GENESIS
    for row in rows:
        problem = _break_at(row, prev_seq, prev_hash, by_hash)
        if problem is not None:
            first, reason = problem
            return ChainCheck(False, first - 1, first, reason)
        prev_seq, prev_hash = row[0], row[8]
    head_problem = _head_problem(prev_seq, prev_hash, head)
    if head_problem is not None:
        last, why = head_problem
        return ChainCheck(False, len(rows) if last is None else last - 1, last, why)
    if not rows:
        return ChainCheck(True, 0, None, "the log is empty", GENESIS)
    return ChainCheck(True, len(rows), None, f"all {len(rows)} entries are intact", prev_hash)


def _break_at(
    row: Sequence[Any], prev_seq: int, prev_hash: str, by_hash: Mapping[str, int]
) -> tuple[int, str] | None:
    """Why `row` does not follow the entry before it (seq, hash), or None if it does."""
    seq, stored_prev, stored_hash = row[0], row[7], row[8]
    if seq != prev_seq + 1:
        jump = (
            f"the chain jumps from {prev_seq} to {seq}" if prev_seq else f"the log starts at {seq}"
        )
        return prev_seq + 1, _missing(prev_seq + 1, seq - 1, jump)
    if stored_prev != prev_hash:
        earlier = by_hash.get(stored_prev)
        if earlier is not None and earlier != prev_seq:
            return seq, (
                f"entries are out of order at {seq} "
                f"(it was written after the entry now numbered {earlier})"
            )
        if prev_seq and _row_hash(row) == stored_hash:
            # This entry is intact and points at the old version of the one before it.
            return prev_seq, (
                f"entry {prev_seq} was changed "
                f"(its hash was recomputed, so entry {seq} no longer links to it)"
            )
        if not prev_seq:
            return seq, f"entry {seq} was changed (it does not start the chain)"
        return seq, f"entry {seq} was changed (it does not link to entry {prev_seq})"
    if _row_hash(row) != stored_hash:
        return seq, f"entry {seq} was changed (its hash does not match)"
    return None


def _head_problem(
    last_seq: int, last_hash: str, head: Sequence[Any] | None
) -> tuple[int | None, str] | None:
    """Does the newest entry agree with the head the lab wrote with it?"""
    if head is None:
        if last_seq:
            return (
                None,
                "the log's head record is missing, so removed newest entries would not show",
            )
        return None
    head_seq, head_hash = int(head[0]), str(head[1])
    if head_seq > last_seq:
        where = f"the log ends at {last_seq}" if last_seq else "the log is empty"
        return last_seq + 1, _missing(
            last_seq + 1, head_seq, f"{where} but {head_seq} entries were written"
        )
    if head_seq < last_seq:
        return head_seq + 1, (
            f"entry {head_seq + 1} was added outside the lab "
            f"(the last entry the lab wrote is {head_seq})"
        )
    if head_hash != last_hash:
        return last_seq, f"entry {last_seq} was changed (it is not the entry the lab wrote last)"
    return None


def _missing(first: int, last: int, why: str) -> str:
    if first == last:
        return f"entry {first} is missing ({why})"
    return f"entries {first} to {last} are missing ({why})"


def _row_hash(row: Sequence[Any]) -> str:
    """The hash a stored row should have, from its stored values as they are."""
    seq, time, type, app, actor, message, data_text, prev_hash = row[:8]
    try:
        data = json.loads(data_text)
    except (TypeError, ValueError):
        return ""  # unreadable data was not what the lab wrote
    try:
        content = _content(seq, time, type, app, actor, message, data, prev_hash)
        return chain_hash(str(prev_hash), content)
    except (TypeError, ValueError, UnicodeError):
        return ""


def _event(row: Sequence[Any]) -> AuditEvent:
    seq, time, type, app, actor, message, data_text, prev_hash, digest = row
    try:
        data = json.loads(data_text)
    except (TypeError, ValueError):
        data = None
    if not isinstance(data, dict):
        data = {"unreadable": str(data_text)}  # a damaged row still shows; verify() says why
    return AuditEvent(
        int(seq),
        _text(time),
        _text(type),
        _text(app),
        _text(actor),
        _text(message),
        data,
        _text(prev_hash),
        _text(digest),
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --- opening, errors ---------------------------------------------------------------------


def _open_writer(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=_BUSY_SECONDS
        )
    except (OSError, sqlite3.Error) as exc:
        raise AuditWriteError(f"cannot open the audit log {path}: {_plain_reason(exc)}") from exc
    try:
        if str(db.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower() != "wal":
            raise AuditWriteError(f"the audit log {path} cannot use write-ahead logging")
        # NORMAL in WAL mode: a crash of the lab loses nothing; a power cut can lose the last
        # events but never corrupts the file, and an append stays well under a millisecond.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
    except sqlite3.Error as exc:
        db.close()
        raise AuditWriteError(f"cannot open the audit log {path}: {_plain_reason(exc)}") from exc
    except BaseException:
        db.close()
        raise
    return db


def _open_reader(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise AuditError(f"there is no audit log at {path} yet: the lab creates it when it starts")
    try:
        db = sqlite3.connect(
            path.absolute().as_uri() + "?mode=ro",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=_BUSY_SECONDS,
        )
    except sqlite3.Error as exc:
        raise AuditError(f"cannot open the audit log {path}: {_plain_reason(exc)}") from exc
    try:
        found = db.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'head')"
        ).fetchone()[0]
    except sqlite3.Error as exc:
        db.close()
        raise AuditError(f"cannot open the audit log {path}: {_plain_reason(exc)}") from exc
    if found != 2:
        db.close()
        raise AuditError(f"{path} is not an audit log (it has no events table)")
    return db


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        # SQLite may have rolled back already (it does after a full disk or an I/O error).
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _plain_reason(exc: BaseException) -> str:
    """What went wrong, in words a learner can act on, with SQLite's own words after."""
    if isinstance(exc, sqlite3.ProgrammingError):
        return "the log is closed"
    name = str(getattr(exc, "sqlite_errorname", ""))
    for prefix, words in _REASONS:
        if name.startswith(prefix):
            return f"{words} ({exc})"
    return str(exc)


_BUSY_SECONDS = 5.0
_REASONS = (
    ("SQLITE_FULL", "the disk is full"),
    ("SQLITE_READONLY", "the file cannot be written (it or its folder is read-only)"),
    ("SQLITE_IOERR", "the disk reported an I/O error"),
    ("SQLITE_CANTOPEN", "the file cannot be opened (check the folder exists and is readable)"),
    ("SQLITE_BUSY", f"another process kept the log locked for over {_BUSY_SECONDS:g} s"),
    ("SQLITE_LOCKED", "the log is locked"),
    ("SQLITE_CORRUPT", "the file is damaged"),
    ("SQLITE_NOTADB", "the file is not an audit log"),
    ("SQLITE_CONSTRAINT", "the log was changed outside the lab: run verify"),
)


# --- views -------------------------------------------------------------------------------


def to_json(events: Sequence[AuditEvent], *, indent: int | None = 2) -> str:
    """The events as a JSON array, each entry exactly as hashed plus its `hash`: what
    `gitops-lab audit --format json` prints and what anyone can re-hash to check the chain."""
    return json.dumps([{**e.content(), "hash": e.hash} for e in events], indent=indent)


_TEXT_COLUMNS = ("type", "app", "actor", "message", "resource", "revision", "operation")


def dataframe(events: Sequence[AuditEvent]) -> pandas.DataFrame:
    """One row per event, typed, for notebooks and the app.

    Columns: seq (int64), time (datetime64[us, UTC]), type, app, actor, message, resource
    ("Deployment/shop/web"), revision (full sha), operation (sync, auto-sync, self-heal,
    rollback), managers (the field managers behind a drift, comma-separated), all as pandas
    "string"; then hash ("string") and data (the details, as dicts). Empty strings, not
    missing values, where an event has no such detail, so filters need no NA handling.
    """
    import pandas as pd  # here, not at the top: the lab that only writes never pays for it

    columns: dict[str, Any] = {
        "seq": pd.Series([e.seq for e in events], dtype="int64"),
        "time": pd.Series(
            pd.to_datetime([e.time for e in events], utc=True, format="ISO8601"),
            dtype="datetime64[us, UTC]",
        ),
        "type": [e.type for e in events],
        "app": [e.app for e in events],
        "actor": [e.actor for e in events],
        "message": [e.message for e in events],
        "resource": [_resource_text(e.data.get("resource")) for e in events],
        "revision": [_detail(e.data, "revision") for e in events],
        "operation": [_detail(e.data, "operation") for e in events],
        "managers": [", ".join(_strings(e.data.get("managers"))) for e in events],
        "hash": [e.hash for e in events],
    }
    frame = pd.DataFrame(columns)
    for name in (*_TEXT_COLUMNS, "managers", "hash"):
        frame[name] = frame[name].astype("string")
    frame["data"] = pd.Series([dict(e.data) for e in events], dtype=object)
    return frame


def _resource_text(resource: Any) -> str:
    if isinstance(resource, Mapping):
        return str(
            ResourceKey(
                str(resource.get("group") or ""),
                str(resource.get("kind") or ""),
                str(resource.get("namespace") or ""),
                str(resource.get("name") or ""),
            )
        )
    return resource if isinstance(resource, str) else ""


def _detail(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
