"""The simulated cloud's controllers: ACK's s3, rds and iam controllers on the cluster clock.

One controller per kind (Bucket, DBInstance, Role) reconciles its custom resources with the
simulated account (`lab.cluster.sim.cloud`) the way ACK's runtime does
(aws-controllers-k8s/runtime pkg/runtime/reconciler.go):

- read the resource in the cloud; missing -> add the `finalizers.<group>/<Kind>` finalizer and
  create it; present -> compare the spec's managed settings with the cloud's and set back
  what differs; a resource the custom resource does not own is `Resource already exists`
  unless the `services.k8s.aws/adoption-policy` annotation says adopt;
- status: `ackResourceMetadata` {arn, ownerAccountID, region}, the service's own fields
  (`dbInstanceStatus`, `endpoint`, `location`, `roleID`...) and ACK's conditions:
  `ACK.ResourceSynced` ("Resource synced successfully" / "Resource not synced"),
  `ACK.Terminal` with the cloud's error (`InvalidBucketName: The specified bucket is not
  valid.`), `ACK.Recoverable`, and `Ready` mirroring ResourceSynced (as recent ACK does);
- requeue: at the cloud's next state change while one is under way, else every resync
  period (`cloud.resyncSeconds`), which is when drift made in the console is noticed;
- deletion: delete the cloud resource (ACK's default policy) and then drop the finalizer;
  `services.k8s.aws/deletion-policy: retain` (on the object, or
  `<service>.services.k8s.aws/deletion-policy` on its namespace) leaves it in the account.

Beyond ACK, on purpose: Events say what happened, in words a learner can follow
(Creating, Created, Updated, DriftDetected naming who changed what in the console,
DriftCorrected, Deleting, Deleted, Retained, and the cloud's error code on a terminal
failure), and conditions keep their lastTransitionTime until their status really changes.
"""

from __future__ import annotations

import base64
import binascii
import copy
from typing import Any, ClassVar

from lab.cluster.sim.auth import User
from lab.cluster.sim.cloud.account import Account, describe_notes, next_transition
from lab.cluster.sim.cloud.iam import Roles
from lab.cluster.sim.cloud.rds import DBInstances
from lab.cluster.sim.cloud.s3 import S3Buckets
from lab.cluster.sim.cloud.service import CloudError, Difference, SecretLookup, Service, shown
from lab.cluster.sim.cloud.timings import CloudTimings
from lab.cluster.sim.controllers.events import NORMAL, WARNING, Source
from lab.cluster.sim.controllers.runtime import Controller, ControllerContext, Key, split_key
from lab.cluster.sim.store import Obj

REGION = "services.k8s.aws/region"
DEFAULT_REGION = "services.k8s.aws/default-region"
DELETION_POLICY = "services.k8s.aws/deletion-policy"
ADOPTION_POLICY = "services.k8s.aws/adoption-policy"

SYNCED = "ACK.ResourceSynced"
TERMINAL = "ACK.Terminal"
RECOVERABLE = "ACK.Recoverable"
READY = "Ready"
SYNCED_MESSAGE = "Resource synced successfully"
NOT_SYNCED_MESSAGE = "Resource not synced"
UNKNOWN_SYNCED_MESSAGE = (
    "Unable to determine if desired resource state matches latest observed state"
)
TERMINAL_REASON = "resource is in terminal condition"
NOT_MANAGED_MESSAGE = "Resource already exists"
NOT_MANAGED_REASON = (
    "This resource already exists but is not managed by ACK. To bring the resource under ACK "
    "management, you should explicitly adopt the resource by enabling the ResourceAdoption "
    "feature gate and populating the `services.k8s.aws/adoption-policy` and "
    "`services.k8s.aws/adoption-fields` annotations."
)
_IN_PROGRESS = ("creating", "backing-up", "modifying", "deleting")


class _Outcome:
    """What one reconcile found: the cloud record and the conditions to report."""

    def __init__(
        self,
        record: Obj | None,
        synced: str,
        *,
        message: str = "",
        reason: str = "",
        terminal: str = "",
        terminal_reason: str = "",
        recoverable: str = "",
        requeue: float | None = None,
    ) -> None:
        self.record = record
        self.synced = synced
        self.message = message
        self.reason = reason
        self.terminal = terminal
        self.terminal_reason = terminal_reason
        self.recoverable = recoverable
        self.requeue = requeue


def _annotations(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


class AckController(Controller):
    """Reconciles one ACK kind with the simulated account."""

    service: ClassVar[Service]
    field_manager = "controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.account = Account(self.registry.store, self.clock.now)
        self.source = Source(self.service.controller)

    # --- the loop --------------------------------------------------------------------------

    def sync(self, key: Key) -> float | None:
        service = self.service
        rtype = self.registry.catalog.by_key(service.cr_key)
        if rtype is None or rtype.custom is None:
            return None  # the CRD is not installed (or not established yet)
        ns, name = split_key(key)
        cr = self.get(service.cr_key, ns, name)
        if cr is None:
            return None
        timings = self.account.timings()
        if cr["metadata"].get("deletionTimestamp"):
            return self._finalize(cr, timings)
        outcome, cr = self._reconcile(cr, timings)
        self._write_status(cr, outcome, timings)
        return outcome.requeue

    def _reconcile(self, cr: Obj, timings: CloudTimings) -> tuple[_Outcome, Obj]:
        service = self.service
        meta = cr["metadata"]
        name = service.identifier(cr.get("spec") or {})
        desired = service.desired(cr.get("spec") or {}, self._secrets(meta.get("namespace", "")))
        if isinstance(desired, CloudError):
            return self._terminal(cr, desired, None, timings), cr
        record = self.account.get(service, name) if name else None
        if record is not None and (record.get("owner") or {}).get("uid") != meta.get("uid"):
            record = self._adopt(cr, record, name)
            if record is None:
                return self._not_managed(timings), cr
        if record is None:
            return self._create(cr, name, desired, timings)
        # updateResource: "Ensure the resource is always managed", so a finalizer someone
        # removed comes back before the resource can be deleted without its cloud side.
        cr = self._manage(cr)
        if record.get("state") in _IN_PROGRESS:
            return self._in_progress(record, timings), cr
        return self._update(cr, record, desired, timings), cr

    def _adopt(self, cr: Obj, record: Obj, name: str) -> Obj | None:
        adoption = _annotations(cr).get(ADOPTION_POLICY)
        if record.get("owner") or adoption not in ("adopt", "adopt-or-create"):
            return None
        meta = cr["metadata"]
        self.account.set_owner(self.service, name, _owner(meta), self.service.controller)
        self._event(cr, NORMAL, "Adopted", f"Adopted the existing {self.service.noun} {name}")
        return self.account.get(self.service, name)

    def _create(
        self, cr: Obj, name: str, desired: Obj, timings: CloudTimings
    ) -> tuple[_Outcome, Obj]:
        service = self.service
        meta = cr["metadata"]
        had_resource = bool(((cr.get("status") or {}).get("ackResourceMetadata") or {}).get("arn"))
        if had_resource and service.finalizer in (meta.get("finalizers") or []):
            deletion = self.account.last_deletion(service, name)
            who = (
                f" by {deletion['user']}"
                if deletion and deletion.get("source") == "console"
                else ""
            )
            where = " in the console" if who else ""
            self._event(
                cr,
                WARNING,
                "DriftDetected",
                f"The {service.noun} {name} was deleted{where}{who}; creating it again, as "
                f"the {service.kind} spec says",
            )
        problem = service.check_create(name, desired)
        if problem is not None:
            return self._terminal(cr, problem, None, timings), cr
        cr = self._manage(cr)
        region = self._region(cr, timings)
        record = self.account.create(
            service, name, desired, owner=_owner(meta), user=service.controller, region=region
        )
        self._event(cr, NORMAL, "Creating", f"Creating {service.noun} {name} in {region}")
        if record.get("state") in _IN_PROGRESS:
            return self._in_progress(record, timings), cr
        return self._synced(record, timings), cr

    def _update(self, cr: Obj, record: Obj, desired: Obj, timings: CloudTimings) -> _Outcome:
        service = self.service
        name = str(record["metadata"]["name"])
        diffs = service.differences(desired, record.get("config") or {})
        if not diffs:
            self._finish_correction(cr, record)
            return self._synced(record, timings)
        target = service.apply(record.get("config") or {}, diffs)
        problem = service.check_update(target) or self._cannot_shrink(desired, record)
        if problem is not None:
            return self._terminal(cr, problem, record, timings)
        fields = {d.field for d in diffs}
        notes = [n for n in record.get("consoleChanges") or [] if n.get("field") in fields]
        drifted = {n["field"] for n in notes}
        if notes:
            self._event(
                cr,
                WARNING,
                "DriftDetected",
                f"Changed in the console: {describe_notes(notes)}; setting it back to what "
                f"the {service.kind} spec says",
            )
        updates = [d for d in diffs if d.field not in drifted]
        if updates:
            self._event(cr, NORMAL, "Updated", f"Updating {name}: {_changes(updates)}")
        corrected = [d for d in diffs if d.field in drifted]
        record = (
            self.account.modify(
                service,
                name,
                diffs,
                user=service.controller,
                source=service.controller,
                correcting=[{"field": d.field, "want": d.want} for d in corrected],
            )
            or record
        )
        if record.get("state") in _IN_PROGRESS:
            return self._in_progress(record, timings)
        self._finish_correction(cr, record)
        return self._synced(record, timings)

    def _cannot_shrink(self, desired: Obj, record: Obj) -> CloudError | None:
        if isinstance(self.service, DBInstances):
            config = record.get("config") or {}
            return self.service.check_shrink(
                desired.get("allocatedStorage"),
                config.get("allocatedStorage"),
                config.get("engine"),
            )
        return None

    def _finish_correction(self, cr: Obj, record: Obj) -> None:
        corrected = self.account.finish_correction(self.service, str(record["metadata"]["name"]))
        if corrected:
            values = ", ".join(f"{c['field']} is {shown(c.get('want'))}" for c in corrected)
            self._event(
                cr,
                NORMAL,
                "DriftCorrected",
                f"Set back in the cloud: {values}, as the {self.service.kind} spec says",
            )

    # --- outcomes --------------------------------------------------------------------------

    def _synced(self, record: Obj, timings: CloudTimings) -> _Outcome:
        return _Outcome(record, "True", message=SYNCED_MESSAGE, requeue=timings.resync_seconds)

    def _in_progress(self, record: Obj, timings: CloudTimings) -> _Outcome:
        delay = next_transition(record, self.clock.now())
        name = record["metadata"]["name"]
        return _Outcome(
            record,
            "False",
            message=NOT_SYNCED_MESSAGE,
            reason=f"{self.service.noun} {name} is {record.get('state')}",
            requeue=delay if delay is not None else timings.resync_seconds,
        )

    def _terminal(
        self, cr: Obj, error: CloudError, record: Obj | None, timings: CloudTimings
    ) -> _Outcome:
        current = _condition(cr, TERMINAL)
        if current is None or current.get("message") != str(error):
            self._event(cr, WARNING, error.code or "Terminal", str(error))
        return _Outcome(
            record,
            "False",
            message=NOT_SYNCED_MESSAGE,
            reason=TERMINAL_REASON,
            terminal=str(error),
            requeue=timings.resync_seconds,
        )

    def _not_managed(self, timings: CloudTimings) -> _Outcome:
        return _Outcome(
            None,
            "False",
            message=NOT_SYNCED_MESSAGE,
            reason=TERMINAL_REASON,
            terminal=NOT_MANAGED_MESSAGE,
            terminal_reason=NOT_MANAGED_REASON,
            requeue=timings.resync_seconds,
        )

    # --- deletion --------------------------------------------------------------------------

    def _finalize(self, cr: Obj, timings: CloudTimings) -> float | None:
        service = self.service
        meta = cr["metadata"]
        if service.finalizer not in (meta.get("finalizers") or []):
            return None
        name = service.identifier(cr.get("spec") or {})
        record = self.account.get(service, name) if name else None
        if record is not None and (record.get("owner") or {}).get("uid") == meta.get("uid"):
            if self._deletion_policy(cr) == "retain":
                self.account.set_owner(service, name, None, service.controller)
                self._event(
                    cr,
                    NORMAL,
                    "Retained",
                    f"Deletion policy is retain: the {service.noun} {name} stays in the account",
                )
            elif record.get("state") == "deleting":
                outcome = self._in_progress(record, timings)
                self._write_status(cr, outcome, timings)
                return outcome.requeue
            else:
                problem = service.check_delete(record)
                if problem is not None:
                    self._event(cr, WARNING, problem.code, str(problem))
                    outcome = _Outcome(
                        record,
                        "Unknown",
                        message=UNKNOWN_SYNCED_MESSAGE,
                        reason=str(problem),
                        recoverable=str(problem),
                        requeue=timings.resync_seconds,
                    )
                    self._write_status(cr, outcome, timings)
                    return outcome.requeue
                remaining = self.account.delete(
                    service, name, user=service.controller, source=service.controller
                )
                if remaining is not None:
                    self._event(cr, NORMAL, "Deleting", f"Deleting {service.noun} {name}")
                    outcome = self._in_progress(remaining, timings)
                    self._write_status(cr, outcome, timings)
                    return outcome.requeue
                self._event(cr, NORMAL, "Deleted", f"Deleted {service.noun} {name}")
        elif record is None and name and self.registry.store.get(service.store_key, "", name):
            self.account.forget_deleted(service, name)
            self._event(cr, NORMAL, "Deleted", f"Deleted {service.noun} {name}")
        finalizers = [f for f in meta.get("finalizers") or [] if f != service.finalizer]
        updated = copy.deepcopy(cr)
        if finalizers:
            updated["metadata"]["finalizers"] = finalizers
        else:
            updated["metadata"].pop("finalizers", None)
        self.update(service.cr_key, updated)
        return None

    def _deletion_policy(self, cr: Obj) -> str:
        policy = _annotations(cr).get(DELETION_POLICY)
        if policy:
            return policy
        namespace = self.get("/namespaces", "", cr["metadata"].get("namespace", "")) or {}
        return _annotations(namespace).get(f"{self.service.service}.{DELETION_POLICY}", "delete")

    # --- writing ---------------------------------------------------------------------------

    def _manage(self, cr: Obj) -> Obj:
        """setResourceManaged: the finalizer goes on before anything is created."""
        finalizers = list(cr["metadata"].get("finalizers") or [])
        if self.service.finalizer in finalizers:
            return cr
        updated = copy.deepcopy(cr)
        updated["metadata"]["finalizers"] = [*finalizers, self.service.finalizer]
        return self.update(self.service.cr_key, updated)

    def _write_status(self, cr: Obj, outcome: _Outcome, timings: CloudTimings) -> None:
        record = outcome.record
        previous = cr.get("status") or {}
        region = str((record or {}).get("region") or self._region(cr, timings))
        metadata: Obj = {"ownerAccountID": timings.account_id, "region": region}
        if record is not None and record.get("arn"):
            metadata["arn"] = record["arn"]
        status: Obj = {"ackResourceMetadata": metadata}
        if record is not None:
            status.update(self.service.cr_status(record))
        now = self.ctx.now()
        wanted = [
            _make(SYNCED, outcome.synced, outcome.message, outcome.reason),
        ]
        if outcome.terminal:
            wanted.append(_make(TERMINAL, "True", outcome.terminal, outcome.terminal_reason))
        if outcome.recoverable:
            wanted.append(_make(RECOVERABLE, "True", outcome.recoverable, ""))
        wanted.append(_make(READY, outcome.synced, outcome.message, outcome.reason))
        status["conditions"] = [_keep_time(c, _condition(cr, c["type"]), now) for c in wanted]
        if self._just_created(previous, outcome):
            name = (record or {}).get("metadata", {}).get("name", "")
            self._event(cr, NORMAL, "Created", f"The {self.service.noun} {name} is available")
        if status != previous:
            self.update_status(self.service.cr_key, {**cr, "status": status})

    def _just_created(self, previous: Obj, outcome: _Outcome) -> bool:
        if outcome.synced != "True":
            return False
        for condition in previous.get("conditions") or []:
            if condition.get("type") == SYNCED:
                reason = str(condition.get("reason") or "")
                return reason.endswith((" is creating", " is backing-up"))
        return False

    def _event(self, cr: Obj, kind: str, reason: str, message: str) -> None:
        self.ctx.events.record(cr, kind, reason, message, source=self.source)

    # --- reading ---------------------------------------------------------------------------

    def _region(self, cr: Obj, timings: CloudTimings) -> str:
        known = ((cr.get("status") or {}).get("ackResourceMetadata") or {}).get("region")
        if known:
            return str(known)
        annotated = _annotations(cr).get(REGION)
        if annotated:
            return annotated
        namespace = self.get("/namespaces", "", cr["metadata"].get("namespace", "")) or {}
        return _annotations(namespace).get(DEFAULT_REGION) or timings.region

    def _secrets(self, namespace: str) -> SecretLookup:
        """SecretValueFromReference: the referenced key of an Opaque Secret."""

        def lookup(reference: Any) -> str | CloudError:
            ns = str(reference.get("namespace") or namespace)
            secret = self.get("/secrets", ns, str(reference.get("name") or ""))
            if secret is None:
                return CloudError("", "kubernetes secret not found")
            if (secret.get("type") or "Opaque") != "Opaque":
                return CloudError("", "only opaque secrets can be used")
            value = (secret.get("data") or {}).get(str(reference.get("key") or ""))
            if value is None:
                return CloudError("", "kubernetes secret not found")
            try:
                return base64.b64decode(value).decode("utf-8", errors="replace")
            except (binascii.Error, ValueError):
                return CloudError("", "kubernetes secret not found")

        return lookup


def _owner(meta: Obj) -> Obj:
    return {"namespace": meta.get("namespace", ""), "name": meta["name"], "uid": meta.get("uid")}


def _changes(diffs: list[Difference]) -> str:
    return "; ".join(f"{d.field} {shown(d.have)} -> {shown(d.want)}" for d in diffs)


def _condition(cr: Obj, kind: str) -> Obj | None:
    for condition in (cr.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


def _make(kind: str, status: str, message: str, reason: str) -> Obj:
    condition: Obj = {"type": kind, "status": status}
    if message:
        condition["message"] = message
    condition["reason"] = reason
    return condition


def _keep_time(new: Obj, old: Obj | None, now: str) -> Obj:
    """lastTransitionTime moves only when the status does (ACK moves it on every write)."""
    stamp = old.get("lastTransitionTime") if old and old.get("status") == new["status"] else None
    return {"lastTransitionTime": stamp or now, **new}


def _user(name: str) -> User:
    return User(f"system:serviceaccount:ack-system:{name}", ("system:serviceaccounts",))


class BucketController(AckController):
    name = "ack-s3-controller"
    service = S3Buckets()
    watches = (service.cr_key,)
    user = _user("ack-s3-controller")


class DBInstanceController(AckController):
    name = "ack-rds-controller"
    service = DBInstances()
    watches = (service.cr_key,)
    user = _user("ack-rds-controller")


class RoleController(AckController):
    name = "ack-iam-controller"
    service = Roles()
    watches = (service.cr_key,)
    user = _user("ack-iam-controller")
