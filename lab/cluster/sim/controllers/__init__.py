"""The embedded cluster's control plane: the controllers that make objects come alive.

`runtime.py` runs them (a work queue fed by store changes, timers on the cluster clock);
`events.py` records Events; `podstate.py` holds the pod facts several of them share. Each other
module is one controller, named after what it simulates: `deployment.py`, `replicaset.py`,
`scheduler.py`, `kubelet.py`, `endpoints.py`, `endpointslices.py`, `hpa.py`, `job.py`,
`statefulset.py`, and `simsettings.py`, which follows the simulator's own settings ConfigMap.
`crd.py` is the apiextensions server's own controllers (CRD names, Established, cleanup);
`ack.py` holds the simulated cloud's controllers (ACK's s3, rds and iam controllers).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.cluster.sim.controllers.runtime import Controller

# (module, class) of every controller the embedded cluster runs, in start order.
BUILTIN = (
    ("simsettings", "SimSettingsController"),
    ("deployment", "DeploymentController"),
    ("replicaset", "ReplicaSetController"),
    ("scheduler", "Scheduler"),
    ("kubelet", "Kubelet"),
    ("endpoints", "EndpointsController"),
    ("endpointslices", "EndpointSliceController"),
    ("hpa", "HorizontalPodAutoscalerController"),
    ("job", "JobController"),
    ("statefulset", "StatefulSetController"),
    ("crd", "CustomResourceDefinitionController"),
    ("ack", "BucketController"),
    ("ack", "DBInstanceController"),
    ("ack", "RoleController"),
)


def builtin_controllers() -> list[type[Controller]]:
    found: list[type[Controller]] = []
    for module_name, class_name in BUILTIN:
        module = importlib.import_module(f"{__name__}.{module_name}")
        found.append(getattr(module, class_name))
    return found
