"""Simulated workloads: 100 Deployments x 3 replicas to Available; idle CPU; memory."""

from __future__ import annotations

import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import Report

AREA = "Simulated workloads"


def _deployment(i: int) -> dict[str, Any]:
    labels = {"app": f"app-{i:03d}"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"app-{i:03d}", "namespace": "load"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "ghcr.io/gitops-lab/web:1.0",
                            "resources": {"requests": {"cpu": "5m", "memory": "8Mi"}},
                        }
                    ]
                },
            },
        },
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _hundred_deployments(report: Report, label: str, timings: Any, idle: bool) -> None:
    from kubernetes import client, config

    from lab.cluster.sim.cluster import EmbeddedCluster

    area = AREA
    with tempfile.TemporaryDirectory() as tmp:
        # Three nodes: 300 pods do not fit in two (a real kubelet takes at most 110 pods).
        cluster = EmbeddedCluster(Path(tmp) / "state", timings=timings, nodes=3).start()
        try:
            api = config.new_client_from_config(
                config_file=str(cluster.kubeconfig_path), context="admin"
            )
            core = client.CoreV1Api(api)
            apps: Any = client.AppsV1Api(api)  # bodies as dicts, raw lists: untyped use
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="load")))
            start = time.perf_counter()
            for i in range(100):
                apps.create_namespaced_deployment("load", _deployment(i))
            deadline = start + 600
            available = 0
            while time.perf_counter() < deadline:
                listed = apps.list_namespaced_deployment("load", _preload_content=False)
                items = json.loads(listed.data)["items"]
                available = sum(
                    1 for d in items if (d.get("status") or {}).get("availableReplicas") == 3
                )
                if available == 100:
                    break
                time.sleep(0.2)
            elapsed = time.perf_counter() - start
            report.add(
                area,
                f"100 Deployments x 3 replicas, apply to all Available ({label})",
                elapsed,
                "s",
                note=f"{available}/100 available",
            )
            if idle:
                time.sleep(2)
                before = _cpu_seconds()
                time.sleep(30)
                used = _cpu_seconds() - before
                report.add(
                    area,
                    "CPU of an idle cluster with 300 running pods, over 30 s",
                    100 * used / 30,
                    "% of one core",
                    goal="~0 %",
                    met=used / 30 < 0.01,
                )
                with open("/proc/self/status") as status:  # noqa: PTH123
                    rss = next(
                        int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:")
                    )
                report.add(
                    area,
                    "memory (RSS) of the process, cluster with 300 pods",
                    rss,
                    "MB",
                    note=f"{cluster.store.count()} objects stored",
                )
        finally:
            cluster.stop()


def run(report: Report) -> None:
    from lab.cluster.sim.settings import Timings

    _hundred_deployments(report, "zero delays", Timings.instant(), idle=False)
    _hundred_deployments(report, "default timings", Timings(), idle=True)
