"""Watch-fed copies of live objects: one informer (list, then watch) per kind.

The reconciler compares Git with the cluster on every trigger; listing every kind from the API
server each time would be slow and would miss the moment a hand change happens. Like Argo CD's
cluster cache and client-go's informers, `LiveCache` lists each kind once, then follows its
watch stream, keeping an in-memory copy and calling `on_change(kind, old, new)` for every
difference. It relists after a 410 Expired and after the API server comes back, reporting the
outage (`healthy`, `last_error`, and `on_health` when it starts and ends) instead of failing.

While the API server is away each informer retries with a back-off: 1 s, doubling, capped at
30 s (client-go's reflector backs off the same way, to 30 s). The first failure of an outage is
logged as a warning with the schedule; retries at debug level; the return at info. When one
informer reaches the server again the others are woken at once rather than left to sleep out
their back-off, so recovery costs one successful request, not up to 30 s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lab.cluster.client import (
    ApiRejected,
    ClusterClient,
    ClusterError,
    ClusterUnavailable,
    UnknownKind,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KindKey = tuple[str, str]  # (apiVersion, kind)
ObjKey = tuple[str, str]  # (namespace, name)
ChangeHandler = Callable[[KindKey, "Obj | None", "Obj | None"], None]
HealthHandler = Callable[[bool, str], None]  # (healthy, the error while not) on each flip

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0


def _key(obj: Obj) -> ObjKey:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


@dataclass
class _Informer:
    kind: KindKey
    objects: dict[ObjKey, Obj] = field(default_factory=dict)
    synced: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    last_error: str = ""


class LiveCache:
    """In-memory copies of every object of the kinds it was asked to follow."""

    def __init__(
        self,
        client: ClusterClient,
        on_change: ChangeHandler | None = None,
        *,
        watch_timeout: int = 20,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        on_health: HealthHandler | None = None,
    ) -> None:
        self.client = client
        self.on_change = on_change
        self.on_health = on_health
        self.watch_timeout = watch_timeout
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self._informers: dict[KindKey, _Informer] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._retry = threading.Condition()  # wakes sleeping informers when one gets through
        self._was_healthy = True

    # --- following kinds -------------------------------------------------------------------

    def ensure(self, api_version: str, kind: str) -> bool:
        """Follow a kind (once); False if the cluster does not serve it."""
        key = (api_version, kind)
        with self._lock:
            if key in self._informers:
                return True
            try:
                if self.client.namespaced(api_version, kind) is None:
                    return False
            except ClusterError as exc:
                # Discovery needs the API server: while it is away, follow the kind later.
                log.debug("cannot follow %s yet: %s", kind, exc)
                return False
            informer = _Informer(key)
            self._informers[key] = informer
            informer.thread = threading.Thread(
                target=self._run, args=(informer,), name=f"informer-{kind}", daemon=True
            )
            informer.thread.start()
            return True

    def kinds(self) -> list[KindKey]:
        with self._lock:
            return list(self._informers)

    def wait_synced(self, timeout: float = 10.0) -> bool:
        """Every followed kind has been listed at least once."""
        with self._lock:
            informers = list(self._informers.values())
        return all(i.synced.wait(timeout) for i in informers)

    def stop(self) -> None:
        self._stop.set()
        with self._retry:
            self._retry.notify_all()
        self.client.interrupt_watches()
        with self._lock:
            informers = list(self._informers.values())
        for informer in informers:
            if informer.thread is not None:
                informer.thread.join(timeout=self.watch_timeout + 20)

    # --- reading ---------------------------------------------------------------------------

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> Obj | None:
        informer = self._informers.get((api_version, kind))
        if informer is None:
            return None
        return informer.objects.get((namespace, name))

    def items(self, api_version: str, kind: str) -> list[Obj]:
        informer = self._informers.get((api_version, kind))
        return list(informer.objects.values()) if informer else []

    def all_objects(self) -> Iterator[tuple[KindKey, Obj]]:
        with self._lock:
            informers = list(self._informers.values())
        for informer in informers:
            for obj in list(informer.objects.values()):
                yield informer.kind, obj

    @property
    def healthy(self) -> bool:
        return not any(i.last_error for i in self._informers.values())

    @property
    def last_error(self) -> str:
        for informer in self._informers.values():
            if informer.last_error:
                return informer.last_error
        return ""

    # --- the informer loop -----------------------------------------------------------------

    def _notify(self, kind: KindKey, old: Obj | None, new: Obj | None) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(kind, old, new)
        except Exception:
            log.exception("change handler failed for %s", kind)

    def _relist(self, informer: _Informer) -> str:
        items, rv = self.client.list(*informer.kind)
        fresh = {_key(o): o for o in items}
        old = informer.objects
        informer.objects = fresh
        for key, obj in fresh.items():
            before = old.get(key)
            if before is None or (before.get("metadata") or {}).get("resourceVersion") != (
                obj.get("metadata") or {}
            ).get("resourceVersion"):
                self._notify(informer.kind, before, obj)
        for key, obj in old.items():
            if key not in fresh:
                self._notify(informer.kind, obj, None)
        return rv

    def _health_changed(self) -> None:
        """Tell `on_health` when the cache as a whole turns unhealthy or healthy again."""
        with self._lock:
            healthy = self.healthy
            if healthy == self._was_healthy:
                return
            self._was_healthy = healthy
            error = self.last_error
        if self.on_health is not None:
            try:
                self.on_health(healthy, error)
            except Exception:
                log.exception("health handler failed")

    def _unserved(self, informer: _Informer) -> bool:
        """After a 404: is the kind no longer served (its CRD was deleted)? Then, as Argo CD's
        cluster cache does, its objects are gone (each reported deleted) and the kind is no
        longer followed; `ensure` follows it again once it is served. Not an outage: the
        cache stays healthy. False if discovery still serves it (or cannot be asked)."""
        self.client.forget_discovery()
        try:
            if self.client.namespaced(*informer.kind) is not None:
                return False
        except ClusterError:
            return False
        with self._lock:
            if self._informers.get(informer.kind) is informer:
                del self._informers[informer.kind]
        gone, informer.objects = informer.objects, {}
        for obj in gone.values():
            self._notify(informer.kind, obj, None)
        if informer.last_error:
            informer.last_error = ""
            self._health_changed()
        informer.synced.set()
        log.info("%s (%s) is no longer served: not followed", informer.kind[1], informer.kind[0])
        return True

    def _failed(self, informer: _Informer, exc: Exception, backoff: float) -> float:
        """Record an informer's failure, sleep its back-off (or until another informer gets
        through), and return the next back-off."""
        if self._stop.is_set():
            return backoff  # stopping: the watch was cut on purpose
        first = not informer.last_error
        informer.last_error = str(exc)
        informer.synced.set()  # waiting for it must not hang: the error is reported
        if first:
            log.warning(
                "%s: %s; retrying in %g s, doubling up to %g s",
                informer.kind[1],
                exc,
                backoff,
                self.max_backoff,
            )
        else:
            log.debug("%s: still failing (%s); next try in %g s", informer.kind[1], exc, backoff)
        self._health_changed()
        with self._retry:
            if not self._stop.is_set():
                self._retry.wait(backoff)
        return min(self.max_backoff, backoff * 2)

    def _run(self, informer: _Informer) -> None:
        backoff = self.first_backoff
        rv = ""
        while not self._stop.is_set():
            try:
                if not rv:
                    rv = self._relist(informer)
                    informer.synced.set()
                    if informer.last_error:
                        log.info("%s: the API server answers again", informer.kind[1])
                        informer.last_error = ""
                        with self._retry:
                            self._retry.notify_all()  # the others need not sleep it out
                        self._health_changed()
                    backoff = self.first_backoff
                for event in self.client.watch(
                    *informer.kind, resource_version=rv, timeout_seconds=self.watch_timeout
                ):
                    if self._stop.is_set():
                        return
                    meta = event.object.get("metadata") or {}
                    rv = str(meta.get("resourceVersion") or rv)
                    if event.type == "BOOKMARK":
                        continue
                    key = _key(event.object)
                    before = informer.objects.get(key)
                    if event.type == "DELETED":
                        informer.objects.pop(key, None)
                        self._notify(informer.kind, before, None)
                    else:
                        informer.objects[key] = event.object
                        self._notify(informer.kind, before, event.object)
            except ApiRejected as exc:
                if exc.code == 410:
                    rv = ""  # too old: list again
                    continue
                if exc.code == 404 and self._unserved(informer):
                    return  # its CRD is gone: not an outage (see _unserved)
                rv = ""
                backoff = self._failed(informer, exc, backoff)
            except UnknownKind as exc:  # discovery no longer lists the kind (list, relist)
                if self._unserved(informer):
                    return
                rv = ""
                backoff = self._failed(informer, exc, backoff)
            except (ClusterUnavailable, ClusterError) as exc:
                rv = ""
                backoff = self._failed(informer, exc, backoff)
            except Exception as exc:  # an informer thread must never die
                log.exception("%s: unexpected error in the watch loop", informer.kind[1])
                rv = ""
                backoff = self._failed(informer, exc, backoff)
