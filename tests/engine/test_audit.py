"""The audit log: a real SQLite file, tampered with by hand, read while it is written.

session.yaml (tests/fixtures/audit/) is a whole demo of 31 events; most tests record it and
then read, filter, tamper with or time the log. redaction.yaml is a table of event data and
what may be stored of it. Failures are real: another process writes while we read, and a
file size limit (RLIMIT_FSIZE) makes the disk refuse a write, as a full disk would.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import pytest
import yaml

from lab.engine.audit import (
    ENGINE_ACTOR,
    EVENT_TYPES,
    GENESIS,
    AuditError,
    AuditEvent,
    AuditLog,
    AuditWriteError,
    ChainCheck,
    actor_of,
    canonical_json,
    chain_hash,
    dataframe,
    plain,
    redact,
)
from lab.engine.model import HealthStatus, ResourceKey

FIXTURES = Path(__file__).parents[1] / "fixtures" / "audit"
SESSION: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "session.yaml").read_text())
LAST = len(SESSION)  # 31
GOOD = "3f2a1c0d9b8e7f6a5b4c3d2e1f0a9b8c7d6e5f40"
SECRET_VALUES = ("aHVudGVyMg==", "czNjcjN0LXYx", "bWFsbG9yeS13YXMtaGVyZQ==")


def record(log: AuditLog, events: list[dict[str, Any]]) -> list[AuditEvent]:
    return [
        log.append(
            e["type"],
            app=e.get("app", ""),
            actor=e.get("actor", ""),
            message=e.get("message", ""),
            data=e.get("data"),
            time=e["time"],
        )
        for e in events
    ]


@dataclass
class Recorded:
    path: Path
    events: list[AuditEvent]


@pytest.fixture
def session(tmp_path: Path) -> Recorded:
    path = tmp_path / "state" / "audit.db"
    with AuditLog(path) as log:
        return Recorded(path, record(log, SESSION))


@pytest.fixture
def reader(session: Recorded) -> Iterator[AuditLog]:
    with AuditLog(session.path, read_only=True) as log:
        yield log


# --- the chain ---------------------------------------------------------------------------


def test_entries_are_numbered_and_chained(session: Recorded) -> None:
    events = session.events
    assert [e.seq for e in events] == list(range(1, LAST + 1))
    assert events[0].prev_hash == GENESIS == "0" * 64
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(events))
    assert len({e.hash for e in events}) == LAST


def test_each_hash_follows_the_documented_recipe(session: Recorded) -> None:
    # An outside verifier needs only sha256 and a JSON writer: no code from this project.
    for event in session.events:
        body = {
            "seq": event.seq,
            "time": event.time,
            "type": event.type,
            "app": event.app,
            "actor": event.actor,
            "message": event.message,
            "data": event.data,
            "prev_hash": event.prev_hash,
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert event.hash == hashlib.sha256((event.prev_hash + text).encode()).hexdigest()
        assert event.hash == chain_hash(event.prev_hash, event.content())


def test_canonical_json_sorts_keys_drops_spaces_and_writes_utf8() -> None:
    value = {"b": 1, "a": ["café", 1.5, None, True], "c": {"z": "", "y": 0}}
    assert canonical_json(value) == '{"a":["café",1.5,null,true],"b":1,"c":{"y":0,"z":""}}'.encode()
    assert canonical_json({"é": "ü"}) == b'{"\xc3\xa9":"\xc3\xbc"}'
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"x": math.nan})


def test_what_is_read_is_what_was_appended(session: Recorded, reader: AuditLog) -> None:
    assert reader.events() == session.events


def test_an_intact_log_verifies(session: Recorded, reader: AuditLog) -> None:
    assert reader.verify() == ChainCheck(
        True, LAST, None, f"all {LAST} entries are intact", session.events[-1].hash
    )


def test_an_empty_log_verifies(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        assert log.verify() == ChainCheck(True, 0, None, "the log is empty", GENESIS)
        assert log.events() == []


def test_appends_continue_the_chain_after_a_restart(session: Recorded) -> None:
    with AuditLog(session.path) as log:
        event = log.append("LabStarted", time="2026-05-04T10:00:00Z")
        assert (event.seq, event.prev_hash) == (LAST + 1, session.events[-1].hash)
        assert log.verify().checked == LAST + 1


def test_threads_of_one_owner_share_the_writer(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:

        def write(worker: int) -> None:
            for i in range(100):
                log.append("SyncStarted", app=f"app-{worker}", data={"historyId": i})

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [e.seq for e in log.events()] == list(range(1, 401))
        assert log.verify().ok


# --- tampering ---------------------------------------------------------------------------


Statement = str | tuple[str, tuple[Any, ...]]


def tamper(path: Path, *statements: Statement) -> None:
    """Edit the file as anyone with sqlite3 could: drop the guards, change rows."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    db.execute("DROP TRIGGER IF EXISTS events_no_delete")
    for statement in statements:
        sql, params = (statement, ()) if isinstance(statement, str) else statement
        db.execute(sql, params)
    db.close()


def verify(path: Path) -> ChainCheck:
    with AuditLog(path, read_only=True) as log:
        return log.verify()


TAMPERING = [
    pytest.param(
        ["UPDATE events SET message = 'nothing to see here' WHERE seq = 17"],
        (16, 17, "entry 17 was changed (its hash does not match)"),
        id="edit a row's message",
    ),
    pytest.param(
        ["UPDATE events SET actor = 'bob' WHERE seq = 16"],
        (15, 16, "entry 16 was changed (its hash does not match)"),
        id="blame someone else",
    ),
    pytest.param(
        ["UPDATE events SET data = replace(data, 'kubectl-patch', 'gitops-lab') WHERE seq = 16"],
        (15, 16, "entry 16 was changed (its hash does not match)"),
        id="edit the details",
    ),
    pytest.param(
        ["UPDATE events SET time = '2026-05-04T08:00:00.000000Z' WHERE seq = 9"],
        (8, 9, "entry 9 was changed (its hash does not match)"),
        id="move an entry in time",
    ),
    pytest.param(
        ["UPDATE events SET data = '{not json' WHERE seq = 12"],
        (11, 12, "entry 12 was changed (its hash does not match)"),
        id="make the details unreadable",
    ),
    pytest.param(
        ["DELETE FROM events WHERE seq = 18"],
        (17, 18, "entry 18 is missing (the chain jumps from 17 to 19)"),
        id="delete a row",
    ),
    pytest.param(
        ["DELETE FROM events WHERE seq BETWEEN 18 AND 20"],
        (17, 18, "entries 18 to 20 are missing (the chain jumps from 17 to 21)"),
        id="delete three rows",
    ),
    pytest.param(
        ["DELETE FROM events WHERE seq = 1"],
        (0, 1, "entry 1 is missing (the log starts at 2)"),
        id="delete the first row",
    ),
    pytest.param(
        [
            "UPDATE events SET seq = -22 WHERE seq = 22",
            "UPDATE events SET seq = 22 WHERE seq = 23",
            "UPDATE events SET seq = 23 WHERE seq = -22",
        ],
        (21, 22, "entries are out of order at 22 (it was written after the entry now numbered 23)"),
        id="swap two rows' seq",
    ),
    pytest.param(
        [
            "UPDATE events SET seq = -5 WHERE seq = 5",
            "UPDATE events SET seq = 5 WHERE seq = 9",
            "UPDATE events SET seq = 9 WHERE seq = -5",
        ],
        (4, 5, "entries are out of order at 5 (it was written after the entry now numbered 8)"),
        id="swap rows far apart",
    ),
    pytest.param(
        [("UPDATE events SET hash = ? WHERE seq = 17", ("f" * 64,))],
        (16, 17, "entry 17 was changed (its hash does not match)"),
        id="change a hash",
    ),
    pytest.param(
        [("UPDATE events SET prev_hash = ? WHERE seq = 17", ("a" * 64,))],
        (16, 17, "entry 17 was changed (it does not link to entry 16)"),
        id="change a link",
    ),
    pytest.param(
        [("DELETE FROM events WHERE seq = ?", (LAST,))],
        (
            LAST - 1,
            LAST,
            f"entry {LAST} is missing (the log ends at {LAST - 1} but {LAST} entries were written)",
        ),
        id="truncate the last row",
    ),
    pytest.param(
        [("DELETE FROM events WHERE seq > ?", (LAST - 3,))],
        (
            LAST - 3,
            LAST - 2,
            f"entries {LAST - 2} to {LAST} are missing "
            f"(the log ends at {LAST - 3} but {LAST} entries were written)",
        ),
        id="truncate the last three rows",
    ),
    pytest.param(
        ["DELETE FROM events"],
        (
            0,
            1,
            f"entries 1 to {LAST} are missing (the log is empty but {LAST} entries were written)",
        ),
        id="empty the log",
    ),
    pytest.param(
        ["DELETE FROM head"],
        (LAST, None, "the log's head record is missing, so removed newest entries would not show"),
        id="remove the head record",
    ),
]


@pytest.mark.parametrize(("statements", "expected"), TAMPERING)
def test_tampering_is_found_and_named(
    session: Recorded, statements: list[Statement], expected: tuple[int, int | None, str]
) -> None:
    tamper(session.path, *statements)
    checked, first_bad, reason = expected
    assert verify(session.path) == ChainCheck(False, checked, first_bad, reason)


def rehash(row: tuple[Any, ...], **changes: Any) -> tuple[Any, ...]:
    """A stored row with some columns changed and its own hash recomputed, as a careful
    tamperer would do it."""
    names = ("seq", "time", "type", "app", "actor", "message", "data", "prev_hash", "hash")
    values = dict(zip(names, row, strict=True)) | changes
    content = {k: values[k] for k in names[:-1]} | {"data": json.loads(values["data"])}
    values["hash"] = chain_hash(values["prev_hash"], content)
    return tuple(values[k] for k in names)


def stored_row(path: Path, seq: int) -> tuple[Any, ...]:
    db = sqlite3.connect(path)
    row = db.execute("SELECT * FROM events WHERE seq = ?", (seq,)).fetchone()
    db.close()
    return tuple(row)


def replace_row(path: Path, row: tuple[Any, ...]) -> None:
    tamper(
        path,
        ("DELETE FROM events WHERE seq = ?", (row[0],)),
        ("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row),
    )


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(session: Recorded) -> None:
    row = rehash(stored_row(session.path, 17), message="nothing to see here")
    db = sqlite3.connect(session.path, isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    db.execute("UPDATE events SET message = ?, hash = ? WHERE seq = 17", (row[5], row[8]))
    db.close()
    assert verify(session.path) == ChainCheck(
        False,
        16,
        17,
        "entry 17 was changed (its hash was recomputed, so entry 18 no longer links to it)",
    )


def test_the_newest_entry_replaced_and_rehashed_does_not_match_the_head(session: Recorded) -> None:
    row = rehash(stored_row(session.path, LAST), actor="alice")
    db = sqlite3.connect(session.path, isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    db.execute("UPDATE events SET actor = ?, hash = ? WHERE seq = ?", (row[4], row[8], LAST))
    db.close()
    assert verify(session.path) == ChainCheck(
        False, LAST - 1, LAST, f"entry {LAST} was changed (it is not the entry the lab wrote last)"
    )


def test_an_entry_added_behind_the_labs_back_shows(session: Recorded) -> None:
    last = session.events[-1]
    forged = {
        "seq": LAST + 1,
        "time": "2026-05-04T09:16:00.000000Z",
        "type": "SyncPolicyChanged",
        "app": "shop",
        "actor": "bob",
        "message": "bob turned automated off",
        "data": {"by": "bob", "changes": {"automated": False}},
        "prev_hash": last.hash,
    }
    row = (*[forged[k] for k in ("seq", "time", "type", "app", "actor", "message")],)
    db = sqlite3.connect(session.path, isolation_level=None)
    db.execute(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*row, json.dumps(forged["data"]), last.hash, chain_hash(last.hash, forged)),
    )
    db.close()
    assert verify(session.path) == ChainCheck(
        False,
        LAST,
        LAST + 1,
        f"entry {LAST + 1} was added outside the lab (the last entry the lab wrote is {LAST})",
    )


def test_a_truncated_log_stays_caught_after_the_lab_appends_again(session: Recorded) -> None:
    tamper(session.path, ("DELETE FROM events WHERE seq = ?", (LAST,)))
    with AuditLog(session.path) as log:
        event = log.append("LabStarted", time="2026-05-04T10:00:00Z")
    # The lab continues from the head it wrote, so the gap stays in the chain.
    assert (event.seq, event.prev_hash) == (LAST + 1, session.events[-1].hash)
    assert verify(session.path) == ChainCheck(
        False,
        LAST - 1,
        LAST,
        f"entry {LAST} is missing (the chain jumps from {LAST - 1} to {LAST + 1})",
    )


def test_a_whole_rewrite_is_caught_only_against_a_kept_head(session: Recorded) -> None:
    anchor = verify(session.path).head
    # Rewrite entry 17 and every later entry, and the head: the chain alone cannot tell.
    rows = [stored_row(session.path, seq) for seq in range(17, LAST + 1)]
    prev = session.events[15].hash
    for i, row in enumerate(rows):
        changes: dict[str, Any] = {"prev_hash": prev}
        if i == 0:
            changes["message"] = "nothing to see here"
        rows[i] = rehash(row, **changes)
        prev = rows[i][8]
    for row in rows:
        replace_row(session.path, row)
    db = sqlite3.connect(session.path, isolation_level=None)
    db.execute("UPDATE head SET hash = ?", (prev,))
    db.close()
    check = verify(session.path)
    assert (check.ok, check.checked) == (True, LAST)
    assert check.head != anchor


def test_the_table_refuses_updates_and_deletes(session: Recorded) -> None:
    db = sqlite3.connect(session.path, isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError, match="the audit log is append-only"):
        db.execute("UPDATE events SET message = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="the audit log is append-only"):
        db.execute("DELETE FROM events WHERE seq = 1")
    db.close()
    assert verify(session.path).ok


def test_a_damaged_file_is_reported_not_raised(session: Recorded) -> None:
    data = bytearray(session.path.read_bytes())
    data[4096 * 2 :] = bytes(len(data) - 4096 * 2)  # zero every page after the schema
    session.path.write_bytes(bytes(data))
    with AuditLog(session.path, read_only=True) as log:
        assert log.verify() == ChainCheck(
            False,
            0,
            None,
            f"could not read the audit log {session.path}: "
            "the file is damaged (database disk image is malformed)",
        )
        with pytest.raises(AuditError, match="the file is damaged"):
            log.events()


# --- reading -----------------------------------------------------------------------------


def seqs(events: list[AuditEvent]) -> list[int]:
    return [e.seq for e in events]


def test_filters(reader: AuditLog) -> None:
    assert seqs(reader.events(types={"DriftDetected", "DriftCorrected"})) == [9, 13, 16, 19]
    assert seqs(reader.events(app="")) == [1, 2, 20, 31]
    assert seqs(reader.events(actor="mallory")) == [9, 16]
    assert seqs(reader.events(actor="bob")) == [15, 17, 18, 26, 29, 30]
    # the same instant written with an offset
    assert seqs(reader.events(since="2026-05-04T11:12:00+02:00")) == [26, 27, 28, 29, 30, 31]
    assert seqs(reader.events(limit=3)) == [29, 30, 31]
    assert seqs(reader.events(types=["SyncStarted"], app="shop", limit=2)) == [22, 26]
    assert seqs(reader.events(after=28)) == [29, 30, 31]
    assert reader.events(types=[]) == []
    assert reader.events(limit=0) == []


def test_actors_come_from_the_data_when_not_given(session: Recorded) -> None:
    actors = [e.actor for e in session.events]
    assert actors[:9] == [
        "",  # LabStarted: whoever ran the lab
        "alice",  # CommitPushed: the pusher
        ENGINE_ACTOR,  # RevisionDetected
        "automated",  # SyncStarted: initiatedBy
        ENGINE_ACTOR,  # HealthChanged
        ENGINE_ACTOR,  # SyncStatusChanged
        "automated",  # SyncSucceeded
        ENGINE_ACTOR,  # HealthChanged
        "mallory",  # DriftDetected: changedBy, the API audit user
    ]


@pytest.mark.parametrize(
    ("type", "data", "actor"),
    [
        ("SyncStarted", {"initiatedBy": "automated"}, "automated"),
        ("SyncSucceeded", {"initiatedBy": "bob"}, "bob"),
        ("SyncPolicyChanged", {"by": "bob", "paused": True}, "bob"),
        ("RolledBack", {"by": "bob", "initiatedBy": "automated"}, "bob"),
        ("CommitPushed", {"pusher": "alice", "author": "Mallory <m@lab.example>"}, "alice"),
        ("CommitPushed", {"pusher": "", "madeBy": "alice"}, "alice"),
        ("PushRejected", {"pusher": "mallory"}, "mallory"),
        ("DriftDetected", {"changedBy": "mallory", "managers": ["kubectl-edit"]}, "mallory"),
        ("DriftDetected", {"managers": ["kubectl-edit"]}, ""),
        ("HealthChanged", {"from": "Healthy", "to": "Degraded"}, ENGINE_ACTOR),
        ("VerificationFailed", {"revision": GOOD}, ENGINE_ACTOR),
        ("LabStarted", {}, ""),
    ],
)
def test_actor_of(type: str, data: dict[str, Any], actor: str) -> None:
    assert actor_of(type, data) == actor


def test_a_given_actor_wins(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        event = log.append("SyncStarted", actor="carol", data={"initiatedBy": "automated"})
    assert event.actor == "carol"


def test_times_are_stored_in_utc_with_microseconds(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        event = log.append("LabStarted", time="2026-05-04T11:00:00+02:00")
        assert event.time == "2026-05-04T09:00:00.000000Z"
        assert event.at == datetime(2026, 5, 4, 9, tzinfo=UTC)
        for when in (None, ""):
            now = log.append("LabStopped", time=when)
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", now.time)


def test_a_message_is_one_line(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        event = log.append("SyncFailed", message="sync failed:\nline two\r\nline three")
    assert event.message == "sync failed: line two line three"


def test_mistakes_are_refused_and_write_nothing(session: Recorded) -> None:
    with AuditLog(session.path) as log:
        with pytest.raises(ValueError, match="'DriftDetcted' is not an audit event type"):
            log.append("DriftDetcted")
        with pytest.raises(ValueError, match="'2026-05-04T09:00:00' is not an RFC 3339 time"):
            log.append("LabStarted", time="2026-05-04T09:00:00")
        assert log.verify().checked == LAST


def test_every_event_the_lab_emits_has_a_type_here() -> None:
    emitted: set[str] = set()
    for path in (Path(__file__).parents[2] / "lab").rglob("*.py"):
        emitted |= set(re.findall(r'EngineEvent\(\s*"(\w+)"', path.read_text()))
    assert len(emitted) >= 10, "the pattern no longer finds the engine's events"
    assert emitted - set(EVENT_TYPES) == set()


# --- plain data --------------------------------------------------------------------------


class Shade(Enum):
    DARK = 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (HealthStatus.DEGRADED, "Degraded"),
        (Shade.DARK, 1),
        (
            ResourceKey("apps", "Deployment", "shop", "web"),
            {"group": "apps", "kind": "Deployment", "namespace": "shop", "name": "web"},
        ),
        (("a", ("b", 1)), ["a", ["b", 1]]),
        ({"b", "a", "c"}, ["a", "b", "c"]),
        ({2: "two", HealthStatus.HEALTHY: "ok"}, {"2": "two", "Healthy": "ok"}),
        (math.nan, "nan"),
        (-math.inf, "-inf"),
        (datetime(2026, 5, 4, 9, 0, 0, 123), "2026-05-04T09:00:00.000123Z"),
        (PurePosixPath("apps/shop/web.yaml"), "apps/shop/web.yaml"),
        (b"\x00\xff", "AP8="),
        ("bad \udcff byte", "bad ? byte"),
        (object, "<class 'object'>"),
    ],
    ids=[
        "a status word",
        "an enum",
        "a resource key",
        "tuples",
        "a set, sorted",
        "keys made text",
        "nan",
        "infinity",
        "a naive datetime taken as UTC",
        "a path",
        "bytes",
        "a lone surrogate",
        "anything else",
    ],
)
def test_plain(value: Any, expected: Any) -> None:
    assert plain(value) == expected
    canonical_json(plain(value))  # always serialisable


# --- secrets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c["name"])
        for c in yaml.safe_load((FIXTURES / "redaction.yaml").read_text())
    ],
)
def test_redact(case: dict[str, Any]) -> None:
    original = copy.deepcopy(case["data"])
    assert redact(case["data"]) == case["expect"]
    assert case["data"] == original, "redact must not change what it is given"


def test_secret_values_never_reach_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    redaction = yaml.safe_load((FIXTURES / "redaction.yaml").read_text())
    with AuditLog(folder / "audit.db") as log:
        record(log, SESSION)
        for case in redaction[:5]:
            log.append("SyncSucceeded", app="shop", data=case["data"])
        stored = log.events(types={"DriftDetected"}, actor="mallory")[1].data
        assert stored["fields"][0] == {
            "path": ".data.password",
            "change": "changed",
            "desired": "<redacted>",
            "live": "<redacted>",
            "managers": ["kubectl-patch"],
        }
        assert log.verify().ok
        written = b"".join(p.read_bytes() for p in folder.iterdir())
    written += b"".join(p.read_bytes() for p in folder.iterdir())  # after the checkpoint too
    for value in (
        *SECRET_VALUES,
        "LS0tLS1CRUdJTg==",
        "c2stbGl2ZS0xMjM0",
        "rotate me",
        "plain-text-value",
    ):
        assert value.encode() not in written, value


# --- failures ----------------------------------------------------------------------------


def test_a_read_only_log_refuses_to_append(session: Recorded, reader: AuditLog) -> None:
    with pytest.raises(AuditWriteError) as caught:
        reader.append("LabStopped")
    assert str(caught.value) == (
        f"cannot record LabStopped: the audit log {session.path} was opened read-only"
    )
    assert reader.verify().checked == LAST


def test_a_closed_log_refuses_to_append(session: Recorded) -> None:
    log = AuditLog(session.path)
    log.close()
    with pytest.raises(AuditWriteError) as caught:
        log.append("LabStopped")
    assert str(caught.value) == (
        f"could not record LabStopped in the audit log {session.path}: the log is closed; "
        "nothing was written and the log is unchanged"
    )
    assert verify(session.path).checked == LAST


def test_opening_errors_are_plain(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "audit.db"
    with pytest.raises(AuditError) as caught:
        AuditLog(missing, read_only=True)
    assert str(caught.value) == (
        f"there is no audit log at {missing} yet: the lab creates it when it starts"
    )
    other = tmp_path / "state.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE history (id INTEGER)")
    db.close()
    with pytest.raises(AuditError) as caught:
        AuditLog(other, read_only=True)
    assert str(caught.value) == f"{other} is not an audit log (it has no events table)"
    text = tmp_path / "notes.txt"
    text.write_text("not a database, but long enough to look like a header to sqlite3\n" * 20)
    with pytest.raises(AuditError) as caught:
        AuditLog(text, read_only=True)
    assert str(caught.value) == (
        f"cannot open the audit log {text}: the file is not an audit log (file is not a database)"
    )
    with pytest.raises(AuditWriteError, match=r"^cannot open the audit log .*notes\.txt/audit\.db"):
        AuditLog(text / "audit.db")


FULL_DISK = """
import json, resource, signal, sys
from pathlib import Path
from lab.engine.audit import AuditLog, AuditWriteError

log = AuditLog(Path(sys.argv[1]))
# Past the limit a write fails with EFBIG, as it would with ENOSPC on a full disk, instead
# of the process being killed by SIGXFSZ.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
written = 0
results = [{"kind": "ConfigMap", "name": f"cm-{i}", "action": "created"} for i in range(20)]
try:
    while True:
        log.append("SyncSucceeded", app="shop", data={"resources": results, "n": written})
        written += 1
except AuditWriteError as exc:
    error = str(exc)
for later in ("SyncStarted", "SyncFailed"):  # refused too: they wait behind the first
    try:
        log.append(later, app="shop", data={"after": written})
    except AuditWriteError:
        pass
waiting = log.pending
# Room again (the limit lifted): the event kept in memory is written, in its place.
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
left = log.flush()
print(json.dumps({"written": written, "error": error, "waiting": waiting, "left": left}))
"""


def test_a_disk_that_refuses_a_write_leaves_the_log_whole(session: Recorded) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(session.path), str(256 * 1024)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["written"] > 10, done.stderr
    # EFBIG reads as an I/O error; ENOSPC, a really full disk, as "full": both are plain.
    assert result["error"] in {
        f"could not record SyncSucceeded in the audit log {session.path}: {reason}; "
        "nothing was written and the log is unchanged. The event is kept in memory (1 "
        "waiting) and written, in order, once the file takes writes again; it is lost if the "
        "lab stops first"
        for reason in (
            "the disk reported an I/O error (disk I/O error)",
            "the disk is full (database or disk is full)",
        )
    }
    assert (result["waiting"], result["left"]) == (3, 0)
    total = LAST + result["written"] + 3  # the refused events, written once there was room
    check = verify(session.path)
    assert (check.ok, check.checked) == (True, total)
    with AuditLog(session.path) as log:  # room again: the chain goes on
        last = [(e.type, e.data.get("n", e.data.get("after"))) for e in log.events()[-3:]]
        n = result["written"]
        assert last == [("SyncSucceeded", n), ("SyncStarted", n), ("SyncFailed", n)]
        assert log.append("LabStopped").seq == total + 1
        assert log.verify().checked == total + 1


WRITER = """
import sys
from pathlib import Path
from lab.engine.audit import AuditLog

log = AuditLog(Path(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[2])):
    log.append(
        "SyncStarted",
        app="shop",
        data={"revision": f"{i:040x}", "operation": "self-heal", "initiatedBy": "automated"},
    )
log.close()
"""


def test_a_reader_sees_a_consistent_prefix_while_the_owner_writes(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    total = 3000
    owner = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(total)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdin is not None and owner.stdout is not None
    assert owner.stdout.readline().strip() == "ready"
    seen: set[int] = set()
    with AuditLog(path, read_only=True) as reader:
        owner.stdin.write("go\n")
        owner.stdin.flush()
        while True:
            finished = owner.poll() is not None
            events = reader.events()
            assert seqs(events) == list(range(1, len(events) + 1))
            assert all(b.prev_hash == a.hash for a, b in pairwise(events))
            check = reader.verify()
            assert check.ok, check.reason
            seen.update((len(events), check.checked))
            if finished:
                break
        assert owner.wait(timeout=60) == 0
        assert reader.verify().checked == total
    assert any(0 < n < total for n in seen), "the reads did not overlap the writes"


def test_a_thousand_appends_take_under_a_millisecond_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        started = time.perf_counter()
        for i in range(1000):
            event = SESSION[i % LAST]
            log.append(
                event["type"],
                app=event.get("app", ""),
                message=event.get("message", ""),
                data=event.get("data"),
                time=event["time"],
            )
        elapsed = time.perf_counter() - started
        assert log.verify().checked == 1000
    with capsys.disabled():
        print(f"\n1,000 audit appends: {elapsed * 1000:.1f} ms, {elapsed * 1000:.0f} µs each")
    assert elapsed < 1.0


# --- views -------------------------------------------------------------------------------


def test_dataframe_is_typed(session: Recorded) -> None:
    frame = dataframe(session.events)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == {
        "seq": "int64",
        "time": "datetime64[us, UTC]",
        "type": "string",
        "app": "string",
        "actor": "string",
        "message": "string",
        "resource": "string",
        "revision": "string",
        "operation": "string",
        "managers": "string",
        "hash": "string",
        "data": "object",
    }
    assert len(frame) == LAST
    assert frame["time"].iloc[0] == pd.Timestamp("2026-05-04T09:00:00Z")
    drift = frame[frame["seq"] == 9].iloc[0]
    assert (drift["type"], drift["actor"], drift["resource"], drift["managers"]) == (
        "DriftDetected",
        "mallory",
        "Deployment/shop/web",
        "kubectl-edit",
    )
    heal = frame[frame["seq"] == 11].iloc[0]
    assert (heal["revision"], heal["operation"], heal["resource"]) == (GOOD, "self-heal", "")
    assert frame[frame["seq"] == 16].iloc[0]["resource"] == "Secret/shop/db"
    assert frame[frame["seq"] == 16].iloc[0]["data"]["changedBy"] == "mallory"
    per_actor = frame[frame["type"] == "SyncStarted"].groupby("actor").size().to_dict()
    assert per_actor == {"automated": 3, "bob": 2}


def test_an_empty_dataframe_keeps_its_types() -> None:
    frame = dataframe([])
    assert len(frame) == 0
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"
    assert str(frame["seq"].dtype) == "int64"
    assert str(frame["resource"].dtype) == "string"
