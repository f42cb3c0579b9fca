"""GitOps Lab: commit manifests, watch a reconciler sync them, inject drift, roll back, audit.

The package is layered (see docs/architecture.md): `lab.cluster` talks to Kubernetes (and holds
the embedded simulated cluster in `lab.cluster.sim`); `lab.engine` is the GitOps engine;
`lab.workspace` is the Lab facade; `lab.scenario`, `lab.ui` and `lab.cli` are faces over it.
"""

__version__ = "0.1.0"
