"""The simulated AWS account: its resources, kept as hidden objects in the cluster's store.

Each bucket, DB instance and role is one object under a type key no Kubernetes path serves
(`simcloud.gitops-lab.dev/s3buckets`, ...), so it survives restarts with the rest of the
cluster's state and only the console API and the cloud controllers can reach it. One more
object, `simcloud.gitops-lab.dev/accounts/default`, holds the account's activity log (what
CloudTrail would show: who did what, from the console or as a controller).

Slow operations are scheduled, not run by a thread: a record lists its pending transitions
(`creating` until 12:00:05, then `available`) and every read settles the ones that are due,
so the cloud moves on the cluster's clock (a manual one in tests) and costs nothing while
nobody looks. Console edits are remembered per field until a controller puts the field back,
which is how drift gets a name attached to it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from lab.cluster.sim.clock import rfc3339
from lab.cluster.sim.cloud.service import (
    API_GROUP,
    API_VERSION,
    CloudError,
    Difference,
    Edit,
    Obj,
    Service,
    shown,
)
from lab.cluster.sim.cloud.timings import CloudTimings
from lab.cluster.sim.settings import CONFIGMAP, NAMESPACE
from lab.cluster.sim.store import Store

ACTIVITY_KEY = f"{API_GROUP}/accounts"
ACTIVITY_NAME = "default"
ACTIVITY_KEPT = 500
CONSOLE = "console"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def settle(record: Obj, now: datetime) -> Obj | None:
    """The record with every transition due by `now` applied; None once it is deleted."""
    transitions = list(record.get("transitions") or [])
    if not transitions or _parse(transitions[0]["at"]) > now:
        return record
    result = copy.deepcopy(record)
    remaining = []
    for step in transitions:
        if _parse(step["at"]) > now:
            remaining.append(step)
            continue
        if step["state"] == "deleted":
            return None
        result["state"] = step["state"]
        applied = step.get("apply") or {}
        result["config"] = {**result.get("config", {}), **applied}
        pending = {k: v for k, v in (result.get("pending") or {}).items() if k not in applied}
        if pending:
            result["pending"] = pending
        else:
            result.pop("pending", None)
    result["transitions"] = remaining
    return result


def next_transition(record: Mapping[str, Any], now: datetime) -> float | None:
    """Seconds until the record's next scheduled change, or None."""
    transitions = record.get("transitions") or []
    if not transitions:
        return None
    return max(0.0, (_parse(transitions[0]["at"]) - now).total_seconds())


class Account:
    """Reads and writes the account's records (thread-safe through the store's lock)."""

    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now

    def timings(self) -> CloudTimings:
        settings = self.store.get("/configmaps", NAMESPACE, CONFIGMAP) or {}
        return CloudTimings.from_data(settings.get("data"))

    # --- reads ------------------------------------------------------------------------------

    def get(self, service: Service, name: str) -> Obj | None:
        """The record as it is now (a copy: the store's objects are never changed in place)."""
        record = self.store.get(service.store_key, "", name)
        if record is None:
            return None
        return settle(copy.deepcopy(record), self.now())

    def resources(self, service: Service) -> list[Obj]:
        now = self.now()
        found = (settle(copy.deepcopy(r), now) for r in self.store.query(service.store_key)[0])
        return [r for r in found if r is not None]

    def activity(self, since: str = "") -> list[Obj]:
        log = self.store.get(ACTIVITY_KEY, "", ACTIVITY_NAME) or {}
        entries = list(log.get("events") or [])
        if since:
            entries = [e for e in entries if str(e.get("time", "")) > since]
        return entries

    def last_deletion(self, service: Service, name: str) -> Obj | None:
        entry: Obj
        for entry in reversed(self.activity()):
            if (
                entry.get("service") == service.service
                and entry.get("resource") == name
                and str(entry.get("action", "")).startswith("Delete")
            ):
                return entry
        return None

    # --- writes -----------------------------------------------------------------------------

    def _save(self, service: Service, record: Obj) -> Obj:
        body = {k: v for k, v in record.items() if k != "metadata"}
        body["metadata"] = {"name": record["metadata"]["name"]}
        return self.store.put(service.store_key, body)

    def _log(
        self,
        service: Service,
        name: str,
        user: str,
        action: str,
        *,
        source: str,
        changes: Iterable[Edit | Difference] = (),
        arn: str = "",
    ) -> None:
        entry: Obj = {
            "time": rfc3339(self.now()),
            "user": user,
            "source": source,
            "service": service.service,
            "action": action,
            "resource": name,
        }
        if arn:
            entry["arn"] = arn
        listed = [
            {"field": c.field, "from": c.before if isinstance(c, Edit) else c.have, "to": _after(c)}
            for c in changes
        ]
        if listed:
            entry["changes"] = listed
        with self.store.lock:
            log = self.store.get(ACTIVITY_KEY, "", ACTIVITY_NAME)
            events = list((log or {}).get("events") or [])
            events.append(entry)
            self.store.put(
                ACTIVITY_KEY,
                {
                    "apiVersion": API_VERSION,
                    "kind": "AccountActivity",
                    "metadata": {"name": ACTIVITY_NAME},
                    "events": events[-ACTIVITY_KEPT:],
                },
            )

    def create(
        self,
        service: Service,
        name: str,
        config: Mapping[str, Any],
        *,
        owner: Mapping[str, Any],
        user: str,
        region: str,
    ) -> Obj:
        """Create a resource (as a controller): it starts in its first state and moves on."""
        timings = self.timings()
        now = self.now()
        full = service.cloud_defaults(config)
        steps = service.creation_steps(full, timings)
        record: Obj = {
            "apiVersion": API_VERSION,
            "kind": service.record_kind,
            "metadata": {"name": name},
            "arn": service.arn(name, timings, full),
            "region": region,
            "ownerAccountID": timings.account_id,
            "createdAt": rfc3339(now),
            "state": "creating",
            "config": full,
            "facts": service.facts(name, full, timings, f"{owner.get('uid', '')}/{name}"),
            "owner": dict(owner),
            "systemTags": [
                {"key": "services.k8s.aws/controller-version", "value": f"{service.service}-v1"},
                {"key": "services.k8s.aws/namespace", "value": str(owner.get("namespace", ""))},
            ],
            "transitions": [
                {"at": _iso(now + timedelta(seconds=delay)), "state": state}
                for delay, state in steps
            ],
        }
        with self.store.lock:
            stored = self._save(service, settle(record, now) or record)
        self._log(service, name, user, _action(service, "create"), source=user, arn=record["arn"])
        return stored

    def modify(
        self,
        service: Service,
        name: str,
        changes: list[Difference],
        *,
        user: str,
        source: str,
        correcting: list[Obj] | None = None,
    ) -> Obj | None:
        """Set managed settings; slow ones go through `modifying`. Clears console notes for
        the fields it sets, and remembers `correcting` (drift being undone) until
        `finish_correction` is called once the resource is available again."""
        timings = self.timings()
        now = self.now()
        with self.store.lock:
            record = self.get(service, name)
            if record is None:
                return None
            fast = [c for c in changes if not c.slow]
            slow = [c for c in changes if c.slow]
            record["config"] = service.apply(record.get("config") or {}, fast)
            if slow:
                target = service.apply(record["config"], slow)
                applied = {k: v for k, v in target.items() if record["config"].get(k) != v}
                record["state"] = "modifying"
                record["pending"] = {**(record.get("pending") or {}), **applied}
                at = now + timedelta(seconds=timings.db_modify_seconds)
                record["transitions"] = [
                    *(record.get("transitions") or []),
                    {"at": _iso(at), "state": "available", "apply": applied},
                ]
            touched = {c.field for c in changes}
            notes = [n for n in record.get("consoleChanges") or [] if n["field"] not in touched]
            if notes:
                record["consoleChanges"] = notes
            else:
                record.pop("consoleChanges", None)
            if correcting:
                record["correcting"] = [*(record.get("correcting") or []), *correcting]
            stored = self._save(service, settle(record, now) or record)
        self._log(
            service,
            name,
            user,
            _action(service, "modify"),
            source=source,
            changes=changes,
            arn=str(record.get("arn", "")),
        )
        return stored

    def finish_correction(self, service: Service, name: str) -> list[Obj]:
        """Drift corrections that are complete (the resource is available): taken off."""
        with self.store.lock:
            record = self.get(service, name)
            if record is None or record.get("state") != "available":
                return []
            done = list(record.pop("correcting", None) or [])
            if done:
                self._save(service, record)
            return done

    def console_edit(
        self, service: Service, name: str, body: Mapping[str, Any], user: str
    ) -> Obj | CloudError:
        """A change made "by hand in the console": applied, logged, and noted per field."""
        timings = self.timings()
        now = self.now()
        with self.store.lock:
            record = self.get(service, name)
            if record is None:
                return not_found(service, name)
            result = service.console_edit(record, body)
            if isinstance(result, CloudError):
                return result
            config, edits = result
            if not edits:
                return record
            slow = {e.field for e in edits if e.slow}
            record["config"] = {k: v for k, v in config.items() if k not in slow} | {
                k: v for k, v in (record.get("config") or {}).items() if k in slow
            }
            if slow:
                applied = {k: config[k] for k in slow}
                record["state"] = "modifying"
                record["pending"] = {**(record.get("pending") or {}), **applied}
                at = now + timedelta(seconds=timings.db_modify_seconds)
                record["transitions"] = [
                    *(record.get("transitions") or []),
                    {"at": _iso(at), "state": "available", "apply": applied},
                ]
            notes = list(record.get("consoleChanges") or [])
            for edit in edits:
                notes.append(
                    {
                        "time": rfc3339(now),
                        "user": user,
                        "field": edit.field,
                        "from": edit.before,
                        "to": edit.after,
                    }
                )
            record["consoleChanges"] = notes
            record["lastModifiedBy"] = user
            stored = self._save(service, record)
        self._log(
            service,
            name,
            user,
            _action(service, "modify"),
            source=CONSOLE,
            changes=edits,
            arn=str(record.get("arn", "")),
        )
        return service.view(stored)

    def delete(self, service: Service, name: str, *, user: str, source: str) -> Obj | None:
        """Delete a resource: gone at once, or `deleting` for the service's delay."""
        timings = self.timings()
        now = self.now()
        delay = service.delete_seconds(timings)
        with self.store.lock:
            record = self.get(service, name)
            if record is None:
                return None
            if delay <= 0:
                self.store.remove(service.store_key, "", name)
                gone: Obj | None = None
            else:
                record["state"] = "deleting"
                at = now + timedelta(seconds=delay)
                record["transitions"] = [{"at": _iso(at), "state": "deleted"}]
                gone = self._save(service, record)
        self._log(
            service,
            name,
            user,
            _action(service, "delete"),
            source=source,
            arn=str(record.get("arn", "")),
        )
        return gone

    def forget_deleted(self, service: Service, name: str) -> None:
        """Drop a record whose deletion has completed (settle says it is gone)."""
        with self.store.lock:
            record = self.store.get(service.store_key, "", name)
            if record is not None and settle(record, self.now()) is None:
                self.store.remove(service.store_key, "", name)

    def set_owner(
        self, service: Service, name: str, owner: Mapping[str, Any] | None, user: str
    ) -> None:
        """Adopt a resource for a custom resource, or release it (deletion policy retain)."""
        with self.store.lock:
            record = self.get(service, name)
            if record is None:
                return
            if owner is None:
                record.pop("owner", None)
            else:
                record["owner"] = dict(owner)
            self._save(service, record)
        action = "ReleaseResource" if owner is None else "AdoptResource"
        self._log(service, name, user, action, source=user, arn=str(record.get("arn", "")))


def not_found(service: Service, name: str) -> CloudError:
    codes = {
        "s3": ("NoSuchBucket", "The specified bucket does not exist"),
        "rds": ("DBInstanceNotFound", f"DBInstance {name} not found."),
        "iam": ("NoSuchEntity", f"The role with name {name} cannot be found."),
    }
    code, message = codes.get(service.service, ("NotFound", f"{name} not found"))
    return CloudError(code, message, 404)


def _after(change: Edit | Difference) -> Any:
    return change.after if isinstance(change, Edit) else change.want


_ACTIONS = {
    ("s3", "create"): "CreateBucket",
    ("s3", "modify"): "PutBucketConfiguration",
    ("s3", "delete"): "DeleteBucket",
    ("rds", "create"): "CreateDBInstance",
    ("rds", "modify"): "ModifyDBInstance",
    ("rds", "delete"): "DeleteDBInstance",
    ("iam", "create"): "CreateRole",
    ("iam", "modify"): "UpdateRole",
    ("iam", "delete"): "DeleteRole",
}


def _action(service: Service, verb: str) -> str:
    return _ACTIONS.get((service.service, verb), verb)


def describe_notes(notes: Iterable[Mapping[str, Any]]) -> str:
    """'versioning.status from Enabled to Suspended by mallory' for an Event."""
    parts = [
        f"{n.get('field')} from {shown(n.get('from'))} to {shown(n.get('to'))} by {n.get('user')}"
        for n in notes
    ]
    return "; ".join(parts)
