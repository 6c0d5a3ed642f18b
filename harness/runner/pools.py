"""Worker pools: a level's N workers as threads in this process, or as threads spread over K
worker processes (or K Ray workers: harness/runner/ray_workers.py). Each answers `wait(timeout)`
in one call, whatever N is.

Worker processes are detached from the terminal (`harness.detach`): a Ctrl-C reaches the runner
only, which tells them to stop through the run's stop signals. They share the runner's limiter
through a manager process, and they tear down their pipelines should the runner die.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait as wait_for_any
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.detach import detach, exit_with_parent, held_interrupts
from harness.runner.orders import WorkOrder

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess
    from multiprocessing.synchronize import Event as ProcessEvent

    from harness.aws.limiter import LimiterStore
    from harness.aws.limiter.shared import SharedLimiterServer
    from harness.clock import Clock
    from harness.events import Recorder
    from harness.runner.executor import StopSignals
    from harness.stopping import StopSignal

RELAY_SECONDS = 0.25  # how soon a stop reaches worker processes and Ray workers, at most (wall)
# how a worker process reaches the runner's limiter server: the server's address, its auth key
LimiterAddress = tuple[str | bytes | tuple[str, int], bytes]


class WorkerPool(Protocol):
    def start(self) -> None: ...

    def wait(self, timeout: float) -> bool:
        """True once every worker has finished; waits at most `timeout` seconds."""

    def close(self) -> None:
        """Let go of whatever is still running (after the grace period)."""


class ThreadPool:
    """`count` threads running `target(i)`; a countdown says when the last one is done. On a
    virtual clock they are its actors, in line in the order of `i`."""

    def __init__(self, target: Callable[[int], None], count: int, name: str = "worker", clock: Clock | None = None):
        make = clock.thread if clock is not None else _plain_thread
        self._threads = [make(self._run, (target, i), f"{name}-{i}") for i in range(count)]
        self._running = count
        self._finished = threading.Condition()

    def _run(self, target: Callable[[int], None], i: int) -> None:
        try:
            target(i)
        finally:
            with self._finished:
                self._running -= 1
                if self._running == 0:
                    self._finished.notify_all()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait(self, timeout: float) -> bool:
        with self._finished:
            return self._finished.wait_for(lambda: self._running == 0, timeout)

    def finished(self) -> bool:
        return self._running == 0

    def close(self) -> None:
        pass  # daemon threads: they end with the process


def _plain_thread(target: Callable[..., None], args: tuple[Any, ...], name: str) -> threading.Thread:
    return threading.Thread(target=target, args=args, name=name, daemon=True)


class ArrivalPool:
    """The open model, as k6's arrival-rate executors: pipelines arrive on a schedule (a constant
    rate, or ramping stages), each on its own thread. At most `max_in_flight` run at
    once; one that arrives when all are busy waits in line and starts when one finishes. Each is
    handed the time it was due, so its start delay counts from there: a slow account shows up as
    queueing, not as fewer arrivals (no coordinated omission)."""

    def __init__(
        self,
        run_one: Callable[[int, float, float], None],
        schedule: list[tuple[float, float]],
        max_in_flight: int,
        clock: Clock,
        stop: StopSignal,
    ) -> None:
        """schedule: (AWS seconds after the start, the rate then) for each pipeline, in order
        (harness/runner/arrivals.py); run_one(index, due, rate)."""
        self._run_one, self._schedule = run_one, schedule
        self._max, self._clock, self._stop = max_in_flight, clock, stop
        self._lock = threading.Condition()
        self._waiting: list[tuple[int, float, float]] = []
        self._running = 0
        self._arriving = True
        self._scheduler = clock.thread(self._arrive, name="arrivals")

    def start(self) -> None:
        self._scheduler.start()

    def _arrive(self) -> None:
        from harness.stopping import Stopped, stop_on

        began = self._clock.now()
        try:
            for index, (offset, rate) in enumerate(self._schedule):
                if self._stop.is_set():
                    break
                due = began + offset
                with stop_on(self._stop):
                    self._clock.sleep(max(0.0, due - self._clock.now()))
                with self._lock:
                    self._waiting.append((index, due, rate))
                    self._dispatch()
        except Stopped:
            pass
        finally:
            with self._lock:
                self._arriving = False
                if self._stop.is_set():
                    self._waiting.clear()  # due but never started: a stopping run starts nothing
                self._lock.notify_all()

    def _dispatch(self) -> None:
        """Under the lock: start whoever waits, while there is room."""
        while self._waiting and self._running < self._max and not self._stop.is_set():
            index, due, rate = self._waiting.pop(0)
            self._running += 1
            self._clock.thread(self._one, (index, due, rate), f"arrival-{index}").start()

    def _one(self, index: int, due: float, rate: float) -> None:
        try:
            self._run_one(index, due, rate)
        finally:
            with self._lock:
                self._running -= 1
                if self._stop.is_set():
                    self._waiting.clear()  # due but never started: a stopping run starts nothing
                self._dispatch()
                self._lock.notify_all()

    def wait(self, timeout: float) -> bool:
        with self._lock:
            return self._lock.wait_for(self.finished, timeout)

    def finished(self) -> bool:
        return not self._arriving and not self._running and (not self._waiting or self._stop.is_set())

    def close(self) -> None:
        pass  # daemon threads: they end with the process


class ProcessPool:
    """`processes` worker processes, each running its share of a level's workers as threads,
    recording into the run's events.db and pacing through one limiter served from here.

    The runner's stop signals are threading events (set by a signal relay, never under a lock
    the relay could need); `wait` mirrors them into multiprocessing events the children see."""

    def __init__(self, order: WorkOrder, processes: int, signals: StopSignals) -> None:
        self._order, self._signals = order, signals
        self._count = processes
        self._spawn = multiprocessing.get_context("spawn")
        self._remote = (self._spawn.Event(), self._spawn.Event())  # stop, abort, as the children see them
        self._processes: list[SpawnProcess] = []
        self._limiter: SharedLimiterServer | None = None

    def start(self) -> None:
        limiter: LimiterAddress | None = None  # each worker process reaches the scenario's Redis limiter on its own
        if not self._order.scenario.limiter.redis_url:
            from harness.aws.limiter.shared import SharedLimiterServer

            server = self._limiter = SharedLimiterServer(self._spawn, self._order.scenario.time_scale).start()
            if server.address is None:
                raise RuntimeError("the limiter server did not start: it has no address")
            limiter = (server.address, server.authkey)
        self._relay()
        for p, share in enumerate(self._order.shares(self._count)):
            self._processes.append(
                self._spawn.Process(
                    target=process_main, args=(share, *self._remote, limiter), name=f"workers-{p}", daemon=True
                )
            )
        with held_interrupts():  # the children inherit the block and detach before unblocking
            for process in self._processes:
                process.start()

    def _relay(self) -> None:
        for local, remote in zip((self._signals.stop, self._signals.abort), self._remote, strict=False):
            if local.is_set() and not remote.is_set():
                remote.set()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            self._relay()
            alive = [p.sentinel for p in self._processes if p.is_alive()]
            left = deadline - time.monotonic()
            if not alive or left <= 0:
                return not alive
            wait_for_any(alive, min(left, RELAY_SECONDS))

    def close(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()
            process.join(5)
        if self._limiter is not None:
            self._limiter.stop()


def process_main(order: WorkOrder, stop: ProcessEvent, abort: ProcessEvent, limiter: LimiterAddress | None) -> None:
    """A worker process: detach from the terminal, then run this process's share of the level's
    workers as threads. Orphaned (the runner killed), it stops and tears down on its own.
    stop, abort: the runner's signals as multiprocessing events; limiter: the address and key of
    the runner's limiter server (None: the scenario's Redis limiter)."""
    detach()

    def orphaned() -> None:
        stop.set()
        abort.set()

    exit_with_parent(orphaned)
    from harness.aws.limiter.shared import connect
    from harness.events import Recorder
    from harness.runner.aws_context import shared_limiter_store
    from harness.runner.executor import StopSignals

    recorder = Recorder(Path(order.run_dir) / "events.db", order.run_id)
    try:
        store = connect(*limiter) if limiter else shared_limiter_store(order.scenario, order.endpoint_url, recorder)
        run_share(order, recorder, StopSignals(stop, abort), store)
    finally:
        recorder.close()


def run_share(
    order: WorkOrder,
    recorder: Recorder,
    signals: StopSignals,
    limiter_store: LimiterStore | None,
    **where: str,
) -> None:
    """One process's share of a level's workers, as threads, until they are done. `where` (host,
    node, ...) goes on the `worker_process` event with the pid."""
    import os
    import socket
    from harness.events import otel
    from harness.events.context import bound
    from harness.pipelines.base import load_pipeline
    from harness.runner.aws_context import scenario_context
    from harness.runner.executor import PipelineExecutor

    scenario, level, workers = order.scenario, order.level, order.workers
    # this process's share of the live metrics: its own events, exported from here
    telemetry = scenario.telemetry
    metrics = otel.start(order.run_id, telemetry.otlp_endpoint, telemetry.export_interval_seconds, scenario.time_scale)
    if metrics is not None:
        recorder.subscribers.append(metrics.observe)
    try:
        with bound(level=level):
            process: dict[str, Any] = {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "workers": len(workers),
                **where,
            }
            recorder.record("worker_process", **process)
        ctx = scenario_context(
            scenario,
            order.endpoint_url,
            order.run_id,
            order.prefix,
            recorder,
            order.max_level,
            limiter_store=limiter_store,
        )
        executor = PipelineExecutor(scenario, recorder, order.prefix, signals)
        pipelines = {spec: load_pipeline(spec) for spec in scenario.pipelines}
        pool = ThreadPool(
            lambda i: executor.run_worker(ctx, level, workers[i], pipelines), len(workers), clock=ctx.clock
        )
        pool.start()
        while not pool.wait(1.0):
            pass
    finally:
        if metrics is not None:
            recorder.subscribers.remove(metrics.observe)
            metrics.close()
