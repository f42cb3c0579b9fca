"""The bad-input corpus (tests/corpus/*.yaml): each case is committed and pushed to a running
lab like a learner's mistake. The engine must name the place (file, line, object or field) in
an audit event, leave the cluster exactly as it was, and stay responsive: putting the good
files back syncs again.

A case file:

    title: what the learner did
    files: {PATH: TEXT | null | {replace: [OLD, NEW]}}       # edits, committed as alice
    make: [{path, kind: configmap|nested|encoded|bytes|symlink|repeat, ...}]   # made at run time
    expect: {event: ComparisonError | SyncFailed | SyncSucceeded | none, says: [TEXT...]}

`event: none` means the input is tolerated (the app stays Synced, nothing changes);
`SyncSucceeded` means it is valid after all (it syncs).

One lab serves the whole module (instant cluster timings, the push wakes the reconciler): a
case is one commit and one wait for its event; the good tree is then put back in one commit,
whatever the case changed, and the next case starts from a Synced app.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim.settings import Timings
from lab.engine.model import SyncStatus
from lab.engine.reconciler import AppStatus, EngineSnapshot
from lab.workspace import Lab
from lab.worktree import FileContent, Symlink

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.glob("*.yaml"))
APP = "web"
# What "the cluster is unchanged" is checked over: every kind a case could create or change.
WATCHED = (
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
)


def made(spec: dict[str, Any]) -> FileContent:
    kind = spec["kind"]
    if kind == "configmap":  # a ConfigMap of about `bytes` bytes
        filler = "x" * (int(spec["bytes"]) - 80)
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: {filler}\n"
    if kind == "nested":
        depth = int(spec["depth"])
        return (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n  a: "
            + "[" * depth
            + "]" * depth
            + "\n"
        )
    if kind == "encoded":
        return str(spec["text"]).encode(spec["encoding"])
    if kind == "bytes":
        return bytes.fromhex(spec["hex"]) if "hex" in spec else base64.b64decode(spec["base64"])
    if kind == "symlink":
        return Symlink(str(spec["target"]))
    if kind == "repeat":
        return str(spec["text"]) * int(spec["times"])
    raise AssertionError(f"unknown make kind {kind!r}")


def edits(lab: Lab, case: dict[str, Any]) -> dict[str, FileContent]:
    out: dict[str, FileContent] = {}
    copy = lab.working_copy()
    for path, value in (case.get("files") or {}).items():
        if isinstance(value, dict):
            old, new = value["replace"]
            text = copy.read(path)
            assert old in text, f"{path} has no {old!r}"
            out[path] = text.replace(old, new)
        else:
            out[path] = value
    for spec in case.get("make") or []:
        out[spec["path"]] = made(spec)
    return out


def live_state(lab: Lab) -> set[tuple[str, str, str, str]]:
    client = lab.client("admin")
    state = set()
    for api_version, kind in WATCHED:
        for obj in client.list(api_version, kind)[0]:
            meta = obj["metadata"]
            state.add((kind, meta.get("namespace", ""), meta["name"], meta["resourceVersion"]))
    return state


def tree(lab: Lab) -> dict[str, FileContent]:
    """Every file of the learner's clone, as written (bytes; links as links)."""
    root = lab.working_copy().path
    out: dict[str, FileContent] = {}
    for relative in lab.working_copy().files():
        path = root / relative
        out[relative] = Symlink(os.readlink(path)) if path.is_symlink() else path.read_bytes()
    return out


def back_to(good: dict[str, FileContent], now: dict[str, FileContent]) -> dict[str, FileContent]:
    """The edits that turn the tree `now` into the tree `good`: changed files, deleted extras."""
    edits: dict[str, FileContent] = {p: None for p in now if p not in good}
    edits.update({p: content for p, content in good.items() if now.get(p) != content})
    return edits


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    made_lab = Lab.init(tmp_path_factory.mktemp("corpus") / "lab", "web-app")
    made_lab.up(timings=Timings.instant())
    made_lab.wait_until_synced(timeout=90)
    try:
        yield made_lab
    finally:
        made_lab.down()


@pytest.fixture(scope="module")
def good(lab: Lab) -> dict[str, FileContent]:
    """The template's files: every case ends by putting them back."""
    return tree(lab)


def target_of(found: EngineSnapshot | AppStatus) -> str:
    """The commit the app is at ("" before its first revision)."""
    status = found.app(APP) if isinstance(found, EngineSnapshot) else found
    return status.target.sha if status.target is not None else ""


def wait_event(lab: Lab, kind: str, revision: str, after: int, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in lab.audit_events(types=[kind], after=after):
            if event.data.get("revision") == revision:
                return event
        time.sleep(0.05)
    seen = [f"{e.type}: {e.message}" for e in lab.audit_events(after=after)]
    raise AssertionError(f"no {kind} for {revision[:7]} within {timeout:g} s; saw {seen}")


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_bad_input(lab: Lab, good: dict[str, FileContent], path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    expect = case["expect"]
    files = edits(lab, case)
    before = live_state(lab)
    after = lab.audit_events()[-1].seq
    commit = lab.commit(files, f"corpus: {case['title']}", persona="alice")
    assert commit.pushed, commit.push
    try:
        if expect["event"] in ("none", "SyncSucceeded"):
            assert target_of(lab.wait_until_synced(APP, timeout=60)) == commit.sha
            if expect["event"] == "none":
                assert live_state(lab) == before
        else:
            event = wait_event(lab, expect["event"], commit.sha, after)
            said = "\n".join([event.message, *map(str, event.data.get("errors") or [])])
            for words in expect["says"]:
                assert words in said, f"{words!r} not in:\n{said}"
            assert "Traceback" not in said
            assert live_state(lab) == before, "the cluster changed"
            status = lab.snapshot().app(APP)
            assert status.sync is not SyncStatus.SYNCED or target_of(status) != commit.sha
    finally:
        # The lab is still responsive: the good tree back in one commit, and it syncs again.
        undo = back_to(good, tree(lab))
        if undo:
            fixed = lab.commit(undo, f"corpus: undo {path.stem}", persona="alice")
            assert fixed.pushed, fixed.push
        head = lab.working_copy().head()
        assert target_of(lab.wait_until_synced(APP, timeout=60)) == head
