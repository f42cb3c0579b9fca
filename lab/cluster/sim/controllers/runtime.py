"""How simulated controllers run: a work queue fed by the store, timers on the cluster clock.

Every controller of the embedded cluster (deployments, replica sets, the scheduler, the
kubelet, endpoints, the HPA...) is written the way kube-controller-manager's are: it says which
object types it watches and which keys a change concerns, and it has one `sync(key)` that looks
at the current state and moves the world one step towards the desired state. `sync` may ask to
be called again after some seconds (a pull finishing, a back-off ending, a progress deadline).

`ControllerManager` runs them all:
- a store listener turns every write into queued keys (it only enqueues: it runs under the
  store lock);
- one worker thread pops keys and calls `sync`; a key queued again while it is being synced is
  synced again afterwards, never concurrently;
- delayed keys wait in a timer heap measured on the cluster's `Clock`, so with a
  `ManualClock` a test advances time and calls `run_until_idle()` to get the same result every
  time, with no thread at all; an idle cluster's worker sleeps on a condition (about 0 % CPU).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lab.cluster.sim import errors
from lab.cluster.sim.auth import User
from lab.cluster.sim.clock import Clock, rfc3339
from lab.cluster.sim.registry import Registry, Request
from lab.cluster.sim.resources import ResourceType
from lab.cluster.sim.store import Change, Obj

log = logging.getLogger(__name__)

Key = str  # "namespace/name", or "name" for cluster-scoped objects


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace", "")
    return f"{ns}/{meta.get('name', '')}" if ns else str(meta.get("name", ""))


def split_key(key: Key) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return ns, name


class Requeue(Exception):
    """Raised inside `sync` to try the key again (after `after` seconds): a write conflicted."""

    def __init__(self, after: float = 0.0) -> None:
        super().__init__(after)
        self.after = after


@dataclass
class ControllerContext:
    """What a controller may use: the registry (as its own user), the clock, settings, events."""

    registry: Registry
    clock: Clock
    settings: Any  # lab.cluster.sim.settings.SimSettings (kept Any to avoid an import cycle)
    events: Any  # lab.cluster.sim.controllers.events.EventRecorder
    manager: ControllerManager

    def now(self) -> str:
        return rfc3339(self.clock.now())

    def rtype(self, type_key: str) -> ResourceType:
        found = self.registry.catalog.by_key(type_key)
        if found is None:
            raise KeyError(type_key)
        return found


class Controller:
    """Base of every simulated controller. Subclasses set `name`, `watches`, and `sync`."""

    name: ClassVar[str] = "controller"
    #: Store type keys whose changes may concern this controller ("apps/deployments", "/pods").
    watches: ClassVar[tuple[str, ...]] = ()
    #: Identity for writes: the user, and the field manager that lands in managedFields.
    user: ClassVar[User]
    field_manager: ClassVar[str] = "kube-controller-manager"

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.registry = ctx.registry
        self.clock = ctx.clock

    # --- what to do -------------------------------------------------------------------------

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        """Keys a change concerns; by default the changed object's own key."""
        return (key_of(change.obj),)

    def initial_keys(self) -> Iterable[Key]:
        """Keys to sync when the manager starts (existing objects after a restart)."""
        for type_key in self.watches[:1]:
            rtype = self.registry.catalog.by_key(type_key)
            if rtype is None:
                continue
            items, _ = self.registry.store.query(type_key)
            for obj in items:
                yield key_of(obj)

    def sync(self, key: Key) -> float | None:
        """Move `key` one step towards its desired state; seconds until the next look, or None."""
        raise NotImplementedError

    # --- writing as this controller ---------------------------------------------------------

    def request(self, *, dry_run: bool = False) -> Request:
        return Request(user=self.user, field_manager=self.field_manager, dry_run=dry_run)

    def create(self, type_key: str, ns: str, body: Obj) -> Obj:
        return self._guard(
            lambda: self.registry.create(self.request(), self.ctx.rtype(type_key), ns, body)
        )

    def update(self, type_key: str, obj: Obj, subresource: str = "") -> Obj:
        """PUT `obj` (carrying the resourceVersion it was read at); a conflict requeues."""
        meta = obj["metadata"]
        return self._guard(
            lambda: self.registry.update(
                self.request(),
                self.ctx.rtype(type_key),
                meta.get("namespace", ""),
                meta["name"],
                obj,
                subresource,
            )
        )

    def update_status(self, type_key: str, obj: Obj) -> Obj:
        return self.update(type_key, obj, "status")

    def delete(self, type_key: str, obj: Obj, *, grace_seconds: int | None = None) -> None:
        from lab.cluster.sim.registry import DeleteOptions

        meta = obj["metadata"]
        options = DeleteOptions(grace_seconds=grace_seconds, precondition_uid=meta.get("uid"))
        try:
            self._guard(
                lambda: self.registry.delete(
                    self.request(),
                    self.ctx.rtype(type_key),
                    meta.get("namespace", ""),
                    meta["name"],
                    options,
                )
            )
        except errors.ApiError as exc:
            if exc.code != 404:
                raise

    def _guard(self, action: Any) -> Obj:
        try:
            result: Obj = action()
        except errors.ApiError as exc:
            if exc.code == 409:
                raise Requeue() from exc
            raise
        return result

    def get(self, type_key: str, ns: str, name: str) -> Obj | None:
        return self.registry.store.get(type_key, ns, name)

    def query(self, type_key: str, ns: str | None = None, **labels: str) -> list[Obj]:
        items, _ = self.registry.store.query(type_key, ns, list(labels.items()))
        if labels:
            items = [
                o
                for o in items
                if all(
                    ((o.get("metadata") or {}).get("labels") or {}).get(k) == v
                    for k, v in labels.items()
                )
            ]
        return items


@dataclass(order=True)
class _Timer:
    due: float
    seq: int
    controller: str = field(compare=False)
    key: Key = field(compare=False)


class ControllerManager:
    """Runs controllers on one worker thread (or synchronously in tests)."""

    def __init__(self, registry: Registry, clock: Clock) -> None:
        self.registry = registry
        self.clock = clock
        self.controllers: dict[str, Controller] = {}
        self._by_type: dict[str, list[Controller]] = {}
        self._queue: OrderedDict[tuple[str, Key], None] = OrderedDict()
        self._timers: list[_Timer] = []
        self._timer_due: dict[tuple[str, Key], float] = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False
        self.errors: list[str] = []  # unexpected failures, kept for tests and the server log
        clock.on_advance(self._wake)

    # --- wiring ---------------------------------------------------------------------------

    def add(self, controller: Controller) -> Controller:
        self.controllers[controller.name] = controller
        for type_key in controller.watches:
            self._by_type.setdefault(type_key, []).append(controller)
        return controller

    def attach(self) -> None:
        """Listen to the store and queue every existing object once (as after a restart)."""
        self.registry.store.add_listener(self._on_change)
        for controller in self.controllers.values():
            for key in controller.initial_keys():
                self.enqueue(controller.name, key)

    def _on_change(self, type_key: str, change: Change) -> None:
        for controller in self._by_type.get(type_key, ()):
            try:
                keys = list(controller.keys_for(type_key, change))
            except Exception:
                log.exception("%s could not map a change of %s", controller.name, type_key)
                continue
            for key in keys:
                self.enqueue(controller.name, key)

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # --- queueing -------------------------------------------------------------------------

    def enqueue(self, controller: str, key: Key, after: float = 0.0) -> None:
        with self._cond:
            if after <= 0:
                self._queue[(controller, key)] = None
            else:
                due = self.clock.monotonic() + after
                current = self._timer_due.get((controller, key))
                if current is not None and current <= due:
                    return
                self._timer_due[(controller, key)] = due
                heapq.heappush(self._timers, _Timer(due, next(self._seq), controller, key))
            self._cond.notify_all()

    def _release_due_timers(self) -> None:
        now = self.clock.monotonic()
        while self._timers and self._timers[0].due <= now:
            timer = heapq.heappop(self._timers)
            if self._timer_due.get((timer.controller, timer.key)) != timer.due:
                continue  # superseded by an earlier timer for the same key
            del self._timer_due[(timer.controller, timer.key)]
            self._queue[(timer.controller, timer.key)] = None

    def _next_item(self) -> tuple[str, Key] | None:
        with self._cond:
            self._release_due_timers()
            if not self._queue:
                return None
            item, _ = self._queue.popitem(last=False)
            self._busy = True
            return item

    def _process(self, item: tuple[str, Key]) -> None:
        name, key = item
        controller = self.controllers.get(name)
        try:
            if controller is None:
                return
            try:
                after = controller.sync(key)
            except Requeue as again:
                after = again.after if again.after > 0 else None
                if after is None:
                    self.enqueue(name, key)
                    return
            except errors.ApiError as exc:
                if exc.code == 503 and self.registry.store.closed:
                    return
                log.warning("%s: %s %s", name, key, exc.message)
                self.errors.append(f"{name} {key}: {exc.message}")
                after = 5.0
            except Exception as exc:
                log.exception("%s failed on %s", name, key)
                self.errors.append(f"{name} {key}: {type(exc).__name__}: {exc}")
                after = 5.0
            if after is not None:
                self.enqueue(name, key, after)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    # --- running --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self.attach()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.registry.store.remove_listener(self._on_change)

    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self._next_item()
            if item is not None:
                self._process(item)
                continue
            with self._cond:
                if self._queue or self._stop.is_set():
                    continue
                timeout = None
                if self._timers:
                    timeout = max(0.0, self._timers[0].due - self.clock.monotonic())
                    if timeout == 0.0:
                        continue
                # A manual clock wakes us through on_advance; cap the wait so a missed wake
                # costs at most a second.
                self._cond.wait(timeout if timeout is not None else 1.0)

    def run_until_idle(self, max_steps: int = 100_000) -> int:
        """Process queued and due work in this thread until nothing is left (tests)."""
        steps = 0
        while steps < max_steps:
            item = self._next_item()
            if item is None:
                return steps
            self._process(item)
            steps += 1
        raise RuntimeError(f"controllers did not settle within {max_steps} steps")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """With the worker thread running: wait until no key is queued or being synced."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._queue and not self._busy and not self._due_now(), timeout
            )

    def _due_now(self) -> bool:
        return bool(self._timers) and self._timers[0].due <= self.clock.monotonic()

    def next_timer_in(self) -> float | None:
        """Seconds until the earliest delayed key (tests advance a manual clock by this)."""
        with self._cond:
            if not self._timers:
                return None
            return max(0.0, self._timers[0].due - self.clock.monotonic())
