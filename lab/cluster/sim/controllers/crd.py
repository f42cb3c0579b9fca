"""The apiextensions controllers: CRD names, establishment, and cleanup on deletion.

kube-apiserver runs these inside the API server; here they are one controller:

- naming (NamingConditionController): checks the requested names against every other CRD of
  the group, writes `status.acceptedNames` and `NamesAccepted` (NoConflicts, or
  PluralConflict / KindConflict / ... with `"widgets" is already in use`), and `Established:
  False, Installing` until the names are in;
- establishing (EstablishingController): a moment later, `Established: True,
  InitialNamesAccepted` - the registry serves the versions (catalog, discovery, OpenAPI) as
  soon as that status lands;
- finalizing (CRDFinalizer): a deleted CRD keeps its `customresourcecleanup` finalizer while
  `Terminating: True, InstanceDeletionInProgress`; every custom resource is deleted (their
  own finalizers honoured: the CRD waits for them), then `InstanceDeletionCompleted` and the
  finalizer goes, and with it the CRD, its types and their watches.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from lab.cluster.sim import auth, crds, errors
from lab.cluster.sim.controllers.runtime import Controller, Key
from lab.cluster.sim.registry import DeleteOptions
from lab.cluster.sim.store import Change, Obj

# How often a terminating CRD looks again at instances still waiting on their finalizers.
CLEANUP_POLL_SECONDS = 1.0


class CustomResourceDefinitionController(Controller):
    name = "apiextensions"
    watches = (crds.CRD_KEY,)
    user = auth.APISERVER
    field_manager = "kube-apiserver"

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        # A CRD's names can free or take names of the others of its group.
        group = (change.obj.get("spec") or {}).get("group")
        yield str(change.obj["metadata"]["name"])
        for other in self.registry.store.query(crds.CRD_KEY)[0]:
            if (other.get("spec") or {}).get("group") == group:
                yield str(other["metadata"]["name"])

    def sync(self, key: Key) -> float | None:
        crd = self.get(crds.CRD_KEY, "", key)
        if crd is None:
            return None
        if crds.is_terminating(crd):
            return self._finalize(crd)
        others = [
            c for c in self.registry.store.query(crds.CRD_KEY)[0] if c["metadata"]["name"] != key
        ]
        names, accepted, established = crds.names_and_conditions(crd, others)
        status = _status_copy(crd)
        status["acceptedNames"] = names
        now = self.ctx.now()
        crds.set_condition(status, accepted, now)
        crds.set_condition(status, established, now)
        if status != (crd.get("status") or {}):
            self.update_status(crds.CRD_KEY, {**crd, "status": status})
            return 0.0  # the establishing step follows at once
        if accepted["status"] == "True" and not crds.is_established(crd):
            crds.set_condition(status, crds.ESTABLISHED_TRUE, now)
            self.update_status(crds.CRD_KEY, {**crd, "status": status})
        return None

    def _finalize(self, crd: Obj) -> float | None:
        finalizers = list(crd["metadata"].get("finalizers") or [])
        if crds.CLEANUP_FINALIZER not in finalizers:
            return None
        now = self.ctx.now()
        status = _status_copy(crd)
        crds.set_condition(status, crds.DELETION_IN_PROGRESS, now)
        if status != (crd.get("status") or {}):
            crd = self.update_status(crds.CRD_KEY, {**crd, "status": status})
        if self._delete_instances(crd):
            return CLEANUP_POLL_SECONDS
        status = _status_copy(crd)
        crds.set_condition(status, crds.DELETION_COMPLETED, now)
        crd = self.update_status(crds.CRD_KEY, {**crd, "status": status})
        remaining = [
            f for f in crd["metadata"].get("finalizers") or [] if f != crds.CLEANUP_FINALIZER
        ]
        updated: dict[str, Any] = {**crd, "metadata": {**crd["metadata"], "finalizers": remaining}}
        if not remaining:
            updated["metadata"].pop("finalizers")
        self.update(crds.CRD_KEY, updated)
        return None

    def _delete_instances(self, crd: Obj) -> bool:
        """Delete every instance not yet deleting; True while any remains."""
        accepted = (crd.get("status") or {}).get("acceptedNames") or {}
        spec = crd.get("spec") or {}
        type_key = f"{spec.get('group', '')}/{accepted.get('plural') or ''}"
        rtype = self.registry.catalog.by_key(type_key)
        if rtype is None or rtype.custom is None:
            return False
        items, _ = self.registry.store.query(type_key)
        for item in items:
            meta = item["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            try:
                self.registry.delete(
                    self.request(),
                    rtype,
                    meta.get("namespace", ""),
                    meta["name"],
                    DeleteOptions(precondition_uid=meta.get("uid")),
                )
            except errors.ApiError as exc:
                if exc.code not in (404, 409):
                    raise
        return bool(self.registry.store.query(type_key)[0])


def _status_copy(crd: Obj) -> dict[str, Any]:
    return copy.deepcopy(dict(crd.get("status") or {}))
