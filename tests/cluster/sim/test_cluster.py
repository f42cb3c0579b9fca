"""The embedded cluster as a whole: start, restart with state kept, many in one process."""

from __future__ import annotations

import json
from pathlib import Path

from lab.cluster.sim.cluster import EmbeddedCluster
from tests.conftest import Kubectl


def test_state_survives_a_restart_and_the_kubeconfig_stays_valid(tmp_path: Path) -> None:
    state = tmp_path / "state"
    home = tmp_path / "home"
    with EmbeddedCluster(state) as first:
        kubectl = Kubectl(first.kubeconfig_path, home)
        kubectl("create", "namespace", "keep")
        kubectl("create", "configmap", "kept", "-n", "keep", "--from-literal=a=1")
        port = first.port
        token = first.token("alice")
        uid = json.loads(kubectl("get", "cm", "kept", "-n", "keep", "-o", "json").stdout)[
            "metadata"
        ]["uid"]
    with EmbeddedCluster(state) as second:
        assert second.port == port
        assert second.token("alice") == token
        kubectl = Kubectl(second.kubeconfig_path, home)
        again = json.loads(kubectl("get", "cm", "kept", "-n", "keep", "-o", "json").stdout)
        assert again["metadata"]["uid"] == uid and again["data"] == {"a": "1"}
        # Bootstrap is idempotent: still exactly one kubernetes Service and one default SA.
        assert kubectl("get", "sa", "-n", "keep", "-o", "name").stdout.split() == [
            "serviceaccount/default"
        ]
        kubectl("create", "configmap", "after-restart", "-n", "keep")


def test_two_clusters_in_one_process_are_independent(tmp_path: Path) -> None:
    with EmbeddedCluster(tmp_path / "a") as a, EmbeddedCluster(tmp_path / "b") as b:
        assert a.port != b.port
        ka = Kubectl(a.kubeconfig_path, tmp_path / "ha")
        kb = Kubectl(b.kubeconfig_path, tmp_path / "hb")
        ka("create", "namespace", "only-in-a")
        assert "only-in-a" not in kb("get", "ns", "-o", "name").stdout
        # A token of one cluster means nothing to the other.
        assert a.token("admin") != b.token("admin")


def test_audit_log_records_hand_changes(tmp_path: Path) -> None:
    from lab.cluster.sim.auditlog import read_events

    with EmbeddedCluster(tmp_path / "s") as cluster:
        kubectl = Kubectl(cluster.kubeconfig_path, tmp_path / "h")
        kubectl("create", "namespace", "shop")
        kubectl("--context", "mallory", "create", "configmap", "sneaky", "-n", "shop")
        kubectl("--context", "mallory", "label", "cm", "sneaky", "-n", "shop", "x=y")
        events = read_events(cluster.audit_log_path)
    mallory = [e for e in events if e["user"]["username"] == "mallory"]
    # Each write is logged when received (before it happens) and when complete.
    assert [(e["stage"], e["verb"], e["objectRef"].get("name")) for e in mallory] == [
        ("RequestReceived", "create", "sneaky"),
        ("ResponseComplete", "create", "sneaky"),
        ("RequestReceived", "patch", "sneaky"),
        ("ResponseComplete", "patch", "sneaky"),
    ]
    assert mallory[0]["auditID"] == mallory[1]["auditID"] != mallory[2]["auditID"]
    assert "responseStatus" not in mallory[0] and mallory[1]["responseStatus"]["code"] == 201
    assert mallory[3]["requestObject"] == {"metadata": {"labels": {"x": "y"}}}
    assert all(e["verb"] not in ("get", "list", "watch") for e in events)
