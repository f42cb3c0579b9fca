"""Watch-fed copies of live objects: one informer (list, then watch) per kind.

The reconciler compares Git with the cluster on every trigger; listing every kind from the API
server each time would be slow and would miss the moment a hand change happens. Like Argo CD's
cluster cache and client-go's informers, `LiveCache` lists each kind once, then follows its
watch stream, keeping an in-memory copy and calling `on_change(kind, old, new)` for every
difference. It relists after a 410 Expired and after the API server comes back, reporting the
outage (`healthy`, `last_error`) instead of failing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lab.cluster.client import ApiRejected, ClusterClient, ClusterError, ClusterUnavailable

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KindKey = tuple[str, str]  # (apiVersion, kind)
ObjKey = tuple[str, str]  # (namespace, name)
ChangeHandler = Callable[[KindKey, "Obj | None", "Obj | None"], None]


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
        max_backoff: float = 10.0,
    ) -> None:
        self.client = client
        self.on_change = on_change
        self.watch_timeout = watch_timeout
        self.max_backoff = max_backoff
        self._informers: dict[KindKey, _Informer] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()

    # --- following kinds -------------------------------------------------------------------

    def ensure(self, api_version: str, kind: str) -> bool:
        """Follow a kind (once); False if the cluster does not serve it."""
        key = (api_version, kind)
        with self._lock:
            if key in self._informers:
                return True
            if self.client.namespaced(api_version, kind) is None:
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

    def _run(self, informer: _Informer) -> None:
        backoff = 0.5
        rv = ""
        while not self._stop.is_set():
            try:
                if not rv:
                    rv = self._relist(informer)
                    informer.synced.set()
                    if informer.last_error:
                        log.info("%s: the API server answers again", informer.kind[1])
                    informer.last_error = ""
                    backoff = 0.5
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
                informer.last_error = str(exc)
                rv = ""
                self._stop.wait(backoff)
                backoff = min(self.max_backoff, backoff * 2)
            except (ClusterUnavailable, ClusterError) as exc:
                informer.last_error = str(exc)
                informer.synced.set()  # waiting for it must not hang: the error is reported
                rv = ""
                self._stop.wait(backoff)
                backoff = min(self.max_backoff, backoff * 2)
