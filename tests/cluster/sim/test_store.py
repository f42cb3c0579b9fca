"""The store: indexes, resourceVersions, the event logs watches read, durability."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from lab.cluster.sim import errors
from lab.cluster.sim.store import ADDED, DELETED, MODIFIED, Store


def cm(name: str, ns: str = "default", **labels: str) -> dict:
    meta: dict = {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def owned(name: str, owner_uid: str) -> dict:
    obj = cm(name)
    obj["metadata"]["ownerReferences"] = [
        {"uid": owner_uid, "name": "o", "kind": "X", "apiVersion": "v1"}
    ]
    return obj


def test_every_write_gets_the_next_resource_version() -> None:
    store = Store()
    first = store.put("/configmaps", cm("a"))
    second = store.put("/configmaps", cm("b"))
    third = store.put("/configmaps", cm("a", app="x"))
    assert [o["metadata"]["resourceVersion"] for o in (first, second, third)] == ["1", "2", "3"]
    gone = store.remove("/configmaps", "default", "b")
    assert gone is not None and gone["metadata"]["resourceVersion"] == "4"
    assert store.resource_version == 4
    assert store.remove("/configmaps", "default", "b") is None


def test_stored_objects_are_new_dicts_and_inputs_stay_untouched() -> None:
    store = Store()
    original = cm("a")
    stored = store.put("/configmaps", original)
    assert "resourceVersion" not in original["metadata"]
    assert stored is not original


def test_lists_are_sorted_and_scoped() -> None:
    store = Store()
    for ns, name in [("b", "z"), ("a", "y"), ("a", "x")]:
        store.put("/configmaps", cm(name, ns))
    items, rv = store.query("/configmaps")
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in items] == [
        ("a", "x"),
        ("a", "y"),
        ("b", "z"),
    ]
    assert rv == 3
    assert [o["metadata"]["name"] for o in store.query("/configmaps", "b")[0]] == ["z"]
    assert store.query("/secrets")[0] == []


def test_label_index_narrows_then_predicate_decides() -> None:
    store = Store()
    store.put("/configmaps", cm("a", app="web", tier="front"))
    store.put("/configmaps", cm("b", app="web", tier="back"))
    store.put("/configmaps", cm("c", app="api"))
    items, _ = store.query(
        "/configmaps",
        None,
        [("app", "web")],
        lambda o: o["metadata"]["labels"].get("tier") == "back",
    )
    assert [o["metadata"]["name"] for o in items] == ["b"]
    # Relabelling moves the object between index entries.
    store.put("/configmaps", cm("b", app="api"))
    items, _ = store.query("/configmaps", None, [("app", "web")])
    assert [o["metadata"]["name"] for o in items] == ["a"]
    items, _ = store.query("/configmaps", None, [("app", "api")])
    assert [o["metadata"]["name"] for o in items] == ["b", "c"]


def test_owner_index_follows_owner_references() -> None:
    store = Store()
    store.put("/configmaps", owned("child", "owner-1"))
    assert store.dependents("owner-1") == [("/configmaps", "default", "child")]
    store.put("/configmaps", cm("child"))
    assert store.dependents("owner-1") == []
    store.put("/configmaps", owned("child", "owner-2"))
    store.remove("/configmaps", "default", "child")
    assert store.dependents("owner-2") == []


def test_by_uid_and_namespace_contents() -> None:
    store = Store()
    store.put("/configmaps", cm("a", "shop"))
    store.put("/secrets", {**cm("s", "shop"), "kind": "Secret"})
    found = store.by_uid("uid-shop-a")
    assert found is not None and found[0] == ("/configmaps", "shop", "a")
    assert sorted(store.namespaces_in_use("shop")) == [
        ("/configmaps", "shop", "a"),
        ("/secrets", "shop", "s"),
    ]


def test_event_log_replays_changes_after_a_version() -> None:
    store = Store()
    store.put("/configmaps", cm("a"))
    store.put("/configmaps", cm("a", x="1"))
    store.remove("/configmaps", "default", "a")
    changes = store.changes_after("/configmaps", 0)
    assert [(c.type, c.rv) for c in changes] == [(ADDED, 1), (MODIFIED, 2), (DELETED, 3)]
    assert changes[1].old is not None and "labels" not in changes[1].old["metadata"]
    assert [c.rv for c in store.changes_after("/configmaps", 2)] == [3]


def test_compacted_history_answers_410() -> None:
    store = Store(history=5)
    for i in range(20):
        store.put("/configmaps", cm(f"n{i}"))
    with pytest.raises(errors.ApiError) as caught:
        store.changes_after("/configmaps", 1)
    assert caught.value.code == 410
    assert "too old resource version" in caught.value.message
    assert store.changes_after("/configmaps", 19)[0].rv == 20


def test_waiters_wake_on_writes_without_blocking_the_writer() -> None:
    store = Store()
    seen: list[int] = []

    def watcher() -> None:
        changes = store.wait_for_changes("/configmaps", 0, timeout=5)
        seen.extend(c.rv for c in changes)

    thread = threading.Thread(target=watcher)
    thread.start()
    time.sleep(0.05)
    store.put("/configmaps", cm("a"))
    thread.join(timeout=5)
    assert seen == [1]


def test_listeners_hear_every_change() -> None:
    store = Store()
    heard: list[tuple[str, str]] = []
    store.add_listener(lambda key, change: heard.append((key, change.type)))
    store.put("/configmaps", cm("a"))
    store.remove("/configmaps", "default", "a")
    assert heard == [("/configmaps", ADDED), ("/configmaps", DELETED)]


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = Store(path)
    store.put("/configmaps", cm("a", app="web"))
    store.put("/configmaps", cm("b"))
    store.remove("/configmaps", "default", "b")
    store.close()

    again = Store(path)
    items, rv = again.query("/configmaps")
    assert [o["metadata"]["name"] for o in items] == ["a"]
    assert rv == 3
    assert again.query("/configmaps", None, [("app", "web")])[0][0]["metadata"]["name"] == "a"
    assert again.put("/configmaps", cm("c"))["metadata"]["resourceVersion"] == "4"
    # Watches cannot resume across a restart: the history is gone, as after etcd compaction.
    with pytest.raises(errors.ApiError) as caught:
        again.changes_after("/configmaps", 1)
    assert caught.value.code == 410


def test_closed_store_refuses_writes_and_releases_waiters() -> None:
    store = Store()
    store.close()
    with pytest.raises(errors.ApiError) as caught:
        store.put("/configmaps", cm("a"))
    assert caught.value.code == 503
    assert store.wait_for_changes("/configmaps", 0, timeout=5) == []
