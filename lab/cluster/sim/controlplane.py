"""The embedded cluster's control plane, without its network front: store, registry, controllers.

`ControlPlane` is everything of the simulated cluster but HTTPS: the durable store, the
registry that enforces the API's rules, the simulated controllers, the live simulator settings
and the Event recorder, plus what a fresh cluster starts with (system namespaces, nodes, the
`kubernetes` Service, a `default` ServiceAccount and `kube-root-ca.crt` in every namespace, the
simulator's settings ConfigMap, with the simulated cloud's `cloud.*` knobs). `EmbeddedCluster`
puts the API server in front of it; tests of controllers use it alone, on a manual clock, with
no thread at all.

CustomResourceDefinitions are served as soon as they are established (the registry follows
them, also when the store is reopened after a restart). The simulated cloud's CRDs are not
installed by default: a lab commits them to Git like any other manifest; `install_cloud_crds`
(or `cloud_crds=True`) is there for tests and for labs that want them from the start.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lab.cluster.sim import auth, crds, errors
from lab.cluster.sim.auth import User
from lab.cluster.sim.clock import Clock, RealClock, rfc3339
from lab.cluster.sim.cloud.console import crd_manifests
from lab.cluster.sim.cloud.timings import CloudTimings
from lab.cluster.sim.controllers import builtin_controllers
from lab.cluster.sim.controllers.events import EventRecorder
from lab.cluster.sim.controllers.runtime import ControllerContext, ControllerManager
from lab.cluster.sim.nodes import node_object
from lab.cluster.sim.registry import Registry, Request
from lab.cluster.sim.resources import ResourceCatalog, ResourceType
from lab.cluster.sim.settings import CONFIGMAP as SETTINGS_CONFIGMAP
from lab.cluster.sim.settings import NAMESPACE as SETTINGS_NAMESPACE
from lab.cluster.sim.settings import LiveSettings, SimSettings, Timings
from lab.cluster.sim.store import Obj, Store

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class ControlPlane:
    """Store, registry, controllers and a fresh cluster's contents, for one state folder."""

    def __init__(
        self,
        store_path: Path | None = None,
        *,
        clock: Clock | None = None,
        timings: Timings | None = None,
        nodes: int = 2,
        watch_history: int = 250,
        ca_pem: str = "",
        cloud_crds: bool = False,
    ) -> None:
        self.clock: Clock = clock or RealClock()
        self.catalog = ResourceCatalog()
        self.store = Store(store_path, history=watch_history)
        self.registry = Registry(self.store, self.catalog, self.clock)
        self.settings = LiveSettings(SimSettings(timings=timings or Timings()))
        self.events = EventRecorder(self.registry, self.clock)
        self.controllers = ControllerManager(self.registry, self.clock)
        self.node_count = nodes
        self.ca_pem = ca_pem
        control = ControllerContext(
            self.registry, self.clock, self.settings, self.events, self.controllers
        )
        for controller_class in builtin_controllers():
            controller = self.controllers.add(controller_class(control))
            logs = getattr(controller, "log_source", None)
            if logs is not None:
                self.registry.logs = logs
        self._install_hooks()
        self.bootstrap()
        if cloud_crds:
            self.install_cloud_crds()

    def start(self, *, threaded: bool = True) -> None:
        """Start the controllers: on their own thread, or attached only (tests drive them)."""
        if threaded:
            self.controllers.start()
        else:
            self.controllers.attach()

    def stop(self) -> None:
        self.controllers.stop()
        self.store.close()

    def settle(self, max_seconds: float = 3600.0, max_steps: int = 100_000) -> float:
        """With a manual clock: run controllers and jump to each timer until nothing is due.

        Returns how many (simulated) seconds passed. Stops at `max_seconds`.
        """
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError("settle() needs a ManualClock")
        waited = 0.0
        while True:
            self.controllers.run_until_idle(max_steps)
            delay = self.controllers.next_timer_in()
            if delay is None or waited + delay > max_seconds:
                return waited
            advance(delay)
            waited += delay

    def run_for(self, seconds: float, max_steps: int = 100_000) -> None:
        """With a manual clock: let `seconds` of cluster time pass, doing all that falls due."""
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError("run_for() needs a ManualClock")
        remaining = seconds
        while True:
            self.controllers.run_until_idle(max_steps)
            delay = self.controllers.next_timer_in()
            if delay is None or delay > remaining:
                advance(remaining)
                self.controllers.run_until_idle(max_steps)
                return
            advance(delay)
            remaining -= delay

    def _system_request(self) -> Request:
        return Request(user=auth.APISERVER, field_manager="kube-apiserver")

    def _install_hooks(self) -> None:
        registry = self.registry

        def namespace_created(namespace: Obj) -> None:
            # What the ServiceAccount and root-CA publisher controllers do for every namespace.
            name = namespace["metadata"]["name"]
            sa = self.catalog.by_key("/serviceaccounts")
            cm = self.catalog.by_key("/configmaps")
            assert sa is not None and cm is not None
            controller = Request(
                user=auth.CONTROLLER_MANAGER, field_manager="kube-controller-manager"
            )
            made: tuple[tuple[ResourceType, dict[str, Any]], ...] = (
                (sa, {"metadata": {"name": "default"}}),
                (
                    cm,
                    {
                        "metadata": {
                            "name": "kube-root-ca.crt",
                            "annotations": {
                                "kubernetes.io/description": "Contains a CA bundle that can be "
                                "used to verify the kube-apiserver when using internal endpoints "
                                "such as the internal service IP or kubernetes.default.svc. No "
                                "other usage is guaranteed across distributions of Kubernetes "
                                "clusters."
                            },
                        },
                        "data": {"ca.crt": self.ca_pem},
                    },
                ),
            )
            for rtype, body in made:
                if registry.find(rtype, name, body["metadata"]["name"]) is None:
                    registry.create(controller, rtype, name, body)

        registry.on_create("/namespaces", namespace_created)

    def bootstrap(self) -> None:
        """Create what every cluster starts with, if missing (idempotent across restarts)."""
        registry = self.registry
        request = self._system_request()
        namespaces = self.catalog.by_key("/namespaces")
        services = self.catalog.by_key("/services")
        assert namespaces is not None and services is not None
        for name in SYSTEM_NAMESPACES:
            if registry.find(namespaces, "", name) is None:
                registry.create(request, namespaces, "", {"metadata": {"name": name}})
        nodes = self.catalog.by_key("/nodes")
        configmaps = self.catalog.by_key("/configmaps")
        assert nodes is not None and configmaps is not None
        for index in range(self.node_count):
            node = node_object(index, rfc3339(self.clock.now()))
            if registry.find(nodes, "", node["metadata"]["name"]) is None:
                created = registry.create(request, nodes, "", node)
                registry.update(
                    request,
                    nodes,
                    "",
                    created["metadata"]["name"],
                    {**created, "status": node["status"]},
                    "status",
                )
        if registry.find(configmaps, SETTINGS_NAMESPACE, SETTINGS_CONFIGMAP) is None:
            registry.create(
                request,
                configmaps,
                SETTINGS_NAMESPACE,
                {
                    "metadata": {
                        "name": SETTINGS_CONFIGMAP,
                        "labels": {"app.kubernetes.io/part-of": "gitops-lab"},
                        "annotations": {
                            "gitops-lab/description": "Knobs of the simulated cluster: "
                            "timings, registry behaviour and load for the HPA."
                        },
                    },
                    "data": {**self.settings.defaults.to_data(), **CloudTimings().to_data()},
                },
            )
        if registry.find(services, "default", "kubernetes") is None:
            registry.create(
                request,
                services,
                "default",
                {
                    "metadata": {
                        "name": "kubernetes",
                        "labels": {"component": "apiserver", "provider": "kubernetes"},
                    },
                    "spec": {
                        "type": "ClusterIP",
                        "clusterIP": "10.96.0.1",
                        "ports": [
                            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}
                        ],
                        "sessionAffinity": "None",
                    },
                },
            )

    def install_cloud_crds(self) -> None:
        """Create the simulated cloud's CRDs (Bucket, DBInstance, Role) if missing; they are
        established as soon as the controllers run."""
        rtype = self.catalog.by_key(crds.CRD_KEY)
        assert rtype is not None
        request = Request(user=auth.APISERVER, field_manager="gitops-lab-sim")
        for manifest in crd_manifests():
            if self.registry.find(rtype, "", manifest["metadata"]["name"]) is None:
                self.registry.create(request, rtype, "", manifest)

    # --- direct access for the simulator's own parts and tests ---------------------------------

    def apply_objects(self, objects: Iterable[dict[str, Any]], user: User = auth.APISERVER) -> None:
        """Create objects as a system user (fixtures, benchmarks); refuses invalid ones."""
        registry = self.registry
        request = Request(user=user, field_manager="gitops-lab-sim")
        for obj in objects:
            rtype = registry.type_for(obj.get("apiVersion", ""), obj.get("kind", ""))
            ns = (obj.get("metadata") or {}).get("namespace", "default") if rtype.namespaced else ""
            try:
                registry.create(request, rtype, ns, obj)
            except errors.ApiError as exc:
                if exc.code != 409:
                    raise
