"""The simulated nodes: what `kubectl get nodes` shows and what the scheduler packs pods onto.

Two worker nodes by default, each with 4 CPUs, 8 GiB of memory and room for 110 pods, named and
labelled like a small kind cluster's, so requests above a node's allocatable capacity leave a
pod Pending with "Insufficient cpu", as they would there.
"""

from __future__ import annotations

from typing import Any

KUBELET_VERSION = "v1.37.1"
CPU = "4"
MEMORY = "8Gi"
ALLOCATABLE_MEMORY = "7936Mi"
PODS = "110"


def node_name(index: int) -> str:
    return "lab-control-plane" if index == 0 else f"lab-worker{'' if index == 1 else index}"


def pod_cidr(index: int) -> str:
    return f"10.244.{index}.0/24"


def node_ip(index: int) -> str:
    return f"172.18.0.{index + 2}"


def node_object(index: int, now: str) -> dict[str, Any]:
    """Node `index` (0 is the control plane, tainted as kind's is not: it runs workloads too)."""
    name = node_name(index)
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }
    if index == 0:
        labels["node-role.kubernetes.io/control-plane"] = ""
    conditions = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {
            "podCIDR": pod_cidr(index),
            "podCIDRs": [pod_cidr(index)],
            "providerID": f"lab://{name}",
        },
        "status": {
            "capacity": {"cpu": CPU, "memory": MEMORY, "pods": PODS, "ephemeral-storage": "100Gi"},
            "allocatable": {
                "cpu": CPU,
                "memory": ALLOCATABLE_MEMORY,
                "pods": PODS,
                "ephemeral-storage": "100Gi",
            },
            "conditions": [
                {
                    "type": kind,
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
                for kind, status, reason, message in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": node_ip(index)},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": f"00000000-0000-4000-8000-{index:012d}",
                "containerRuntimeVersion": "containerd://2.1.4",
                "kernelVersion": "6.8.0-gitops-lab",
                "kubeProxyVersion": "",
                "kubeletVersion": KUBELET_VERSION,
                "machineID": f"{index:032x}",
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": f"00000000-0000-4000-8000-{index:012d}",
            },
        },
    }
