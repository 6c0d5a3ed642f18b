"""Workers on Ray, for a run that spans hosts (`workers = "ray"`, `ray_address`).

A level's N workers are split over K Ray workers, spread over the cluster's nodes; each runs its
share as threads, as a worker process does. What crosses hosts:
- **Pacing**: every Ray worker reaches the scenario's Redis limiter itself (required: a limiter
  in one host's memory cannot pace the others).
- **Events**: a worker's `ForwardingRecorder` sends its batches to the `RunHub` actor, which
  lives on the runner's host and commits them into the run's events.db. A worker returns only
  once its last batch is committed, so a level that ends holds every node's events.
- **Stopping**: the runner's stop and abort signals are set on the hub; workers read them every
  quarter second. A Ctrl-C reaches the runner only: the cluster's processes are not in the
  terminal's process group (a cluster started for the run blocks SIGINT in them, and a worker
  ignores it while it runs its share).

The runner's host must be a node of the cluster (the hub writes the run folder there), and the
target must be reachable from every node: real AWS, or a simulator every node can reach.
If the runner dies, Ray ends its job's workers with it: the tagged cleanup (`harness cleanup
--run-id`) deletes what they left.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypedDict, TypeVar

from harness.runner.orders import WorkOrder
from harness.runner.pools import RELAY_SECONDS

if TYPE_CHECKING:
    from types import ModuleType

    from ray import ObjectRef

    from harness.runner.executor import StopSignals

SEND_PATIENCE = 60.0  # wall seconds one batch of events may take to reach the hub before it is retried


class RayMissing(ValueError):
    pass


def _ray() -> ModuleType:
    """Ray, imported when a run uses it (installed with the harness's `ray` extra)."""
    try:
        import ray
    except ImportError:
        raise RayMissing('workers = "ray" needs Ray: pip install "ml-pipeline-stress-harness[ray]"') from None
    return ray


class RayConnection:
    """This process's connection to the cluster, for one run. Without an address, a cluster on
    this machine is started for the run and stopped with it."""

    def __init__(self, address: str | None):
        self.address = address
        self._connected = False  # by this run (a cluster it started goes with the connection)

    def open(self) -> "RayConnection":
        ray = _ray()
        if ray.is_initialized():
            return self
        self._check_reachable()
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine
        # ray.init installs its own SIGTERM handler (sys.exit): the runner keeps its own, which
        # stops the run cleanly
        handlers = (
            {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
            if threading.current_thread() is threading.main_thread()
            else {}
        )
        options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        if self.address is None:  # Ray's default object store is 30% of memory: events are all it holds
            options.update(object_store_memory=128 * 2**20)
        try:
            ray.init(address=self.address or "local", **options)  # "local": never one found running
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        self._connected = True
        return self

    def _check_reachable(self, patience: float = 5.0) -> None:
        """A head node that does not answer: said at once (ray.init would retry for minutes)."""
        if self.address in (None, "auto"):
            return  # "auto" looks for a cluster started on this machine, and says so quickly
        host, _, port = self.address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=patience).close()
        except OSError as err:
            raise ConnectionError(
                f"ray_address {self.address}: no Ray head node answers there "
                f"({err.strerror or err}); start one with `ray start --head`, or leave "
                "ray_address out to start a cluster on this machine for the run"
            ) from None

    def nodes(self) -> int:
        return len([node for node in _ray().nodes() if node.get("Alive")])

    def close(self) -> None:
        """Disconnect; a cluster started for the run stops with it."""
        if self._connected:
            _ray().shutdown()
            self._connected = False


_T = TypeVar("_T")


class RemoteMethod(Protocol[_T]):
    """An actor's method as its handle holds it: called with `.remote(...)`, it answers with a
    reference to what the method returns."""

    def remote(self, *args: object) -> ObjectRef[_T]: ...


class HubHandle(Protocol):
    """The RunHub actor as Ray hands it out, and as Ray workers are given it. (Ray's own
    ActorHandle gives a method `.remote` only if the method is marked with @ray.method.)"""

    @property
    def write(self) -> RemoteMethod[int]: ...

    @property
    def monotonic(self) -> RemoteMethod[float]: ...

    @property
    def signals(self) -> RemoteMethod[tuple[bool, bool]]: ...

    @property
    def set_signals(self) -> RemoteMethod[None]: ...

    @property
    def close(self) -> RemoteMethod[None]: ...


class WorkerEnded(TypedDict):
    """What a Ray worker returns: the events it could not send to the hub."""

    host: str
    spilled: int  # how many
    spill_path: str | None  # the file on its host that holds them


class RunHub:
    """The runner's end on the cluster (a Ray actor on the runner's host): takes the workers'
    event batches into events.db and tells them when to stop."""

    def __init__(self, db_path: str) -> None:
        from harness.events.forwarding import EventSink

        self._sink = EventSink(db_path)
        self._signals = (False, False)

    def write(self, sender: str, first: int, rows: list[tuple[object, ...]]) -> int:
        return self._sink.write(sender, first, rows)

    def monotonic(self) -> float:
        return time.monotonic()

    def signals(self) -> tuple[bool, bool]:
        return self._signals

    def set_signals(self, stop: bool, abort: bool) -> None:
        # signals only ever turn on: calls to a threaded actor may run out of order
        self._signals = (self._signals[0] or stop, self._signals[1] or abort)

    def close(self) -> None:
        self._sink.close()


class RayPool:
    """`count` Ray workers spread over the cluster's nodes, each running its share of a level's
    workers as threads; the `WorkerPool` interface."""

    def __init__(self, order: WorkOrder, count: int, signals: StopSignals, on_lost: Callable[[str], None]) -> None:
        """on_lost(message): a Ray worker ended in an error (its node died, say); its pipelines'
        events up to the last batch it sent are in the run folder."""
        self._order, self._signals, self._on_lost = order, signals, on_lost
        self._count = count
        self._hub: HubHandle | None = None
        self._running: list[ObjectRef[WorkerEnded]] = []
        self._relayed = (False, False)

    def start(self) -> None:
        ray = _ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        # several calls at once: a stop must not wait behind a slow write (the sink has its own lock)
        self._hub = (
            ray.remote(RunHub)
            .options(num_cpus=0, scheduling_strategy=here, max_concurrency=8)
            .remote(os.path.join(self._order.run_dir, "events.db"))
        )
        worker = ray.remote(ray_worker_main).options(num_cpus=0, max_retries=0, scheduling_strategy="SPREAD")
        self._running = [worker.remote(share, self._hub) for share in self._order.shares(self._count)]
        self._relay()

    def _relay(self) -> None:
        now = (self._signals.stop.is_set(), self._signals.abort.is_set())
        if now != self._relayed and self._hub is not None:
            self._hub.set_signals.remote(*now)
            self._relayed = now

    def wait(self, timeout: float) -> bool:
        ray = _ray()
        deadline = time.monotonic() + timeout
        while True:
            self._relay()
            if self._running:
                done, self._running = ray.wait(
                    self._running,
                    num_returns=len(self._running),
                    timeout=max(0.0, min(deadline - time.monotonic(), RELAY_SECONDS)),
                )
                for ref in done:
                    try:
                        ended: WorkerEnded = ray.get(ref)
                    except Exception as err:  # noqa: BLE001 - a lost node must not lose the level
                        self._on_lost(f"a Ray worker ended in an error: {_cause(err)}")
                        continue
                    if ended["spilled"]:
                        self._on_lost(
                            f"a Ray worker on {ended['host']} could not send {ended['spilled']} events: "
                            f"they are in {ended['spill_path']} on that host"
                        )
            if not self._running or time.monotonic() >= deadline:
                return not self._running

    def close(self) -> None:
        ray = _ray()
        for ref in self._running:  # still running after the grace period: let them go
            ray.cancel(ref, force=True)
        if self._hub is not None:
            try:
                ray.get(self._hub.close.remote(), timeout=30)
            except Exception as err:  # noqa: BLE001 - every batch it took is committed already
                self._on_lost(f"the run's event hub did not close cleanly: {_cause(err)}")
            finally:
                ray.kill(self._hub)


def ray_worker_main(order: WorkOrder, hub: HubHandle) -> WorkerEnded:
    """A Ray worker: its share of the level's workers, its events sent to the hub. Returns the
    events it could not send (kept in a file on its host), for the runner to report."""
    import ray
    from harness.events.forwarding import ForwardingRecorder, clock_offset
    from harness.runner.aws_context import shared_limiter_store
    from harness.runner.executor import StopSignals
    from harness.runner.pools import run_share

    previous = None
    if threading.current_thread() is threading.main_thread():  # the runner alone answers a Ctrl-C
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    recorder = None
    done = threading.Event()
    try:
        offset = clock_offset(lambda: ray.get(hub.monotonic.remote(), timeout=SEND_PATIENCE))
        recorder = ForwardingRecorder(
            lambda sender, first, rows: ray.get(hub.write.remote(sender, first, rows), timeout=SEND_PATIENCE),
            order.run_id,
            clock_offset=offset,
        )
        signals = StopSignals(threading.Event(), threading.Event())
        threading.Thread(target=_follow_signals, args=(hub, signals, done), name="signals", daemon=True).start()
        run_share(
            order,
            recorder,
            signals,
            shared_limiter_store(order.scenario, order.endpoint_url, recorder),
            node=ray.get_runtime_context().get_node_id(),
        )
    finally:
        done.set()
        if recorder is not None:
            recorder.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return {
        "host": socket.gethostname(),
        "spilled": recorder.spilled,
        "spill_path": str(recorder.spill_path) if recorder.spill_path else None,
    }


def _follow_signals(hub: HubHandle, signals: StopSignals, done: threading.Event) -> None:
    """The runner's stop and abort, read from the hub. A hub that stops answering means the
    runner is gone: stop and tear down, as an orphaned worker process does."""
    import ray

    silent_since = None
    while not done.wait(RELAY_SECONDS):
        try:
            stop, abort = ray.get(hub.signals.remote(), timeout=10)
            silent_since = None
        except Exception:  # noqa: BLE001 - the hub busy or gone: decide below
            silent_since = silent_since or time.monotonic()
            if time.monotonic() - silent_since < 30:
                continue
            stop = abort = True
        if stop:
            signals.stop.set()
        if abort:
            signals.abort.set()


def _cause(err: Exception) -> str:
    """A Ray task's error as one line: the worker's own exception, not Ray's wrapper."""
    cause = getattr(err, "cause", None) or err
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1][:300] if text else ''}"
