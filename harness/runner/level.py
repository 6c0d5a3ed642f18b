"""One level of a run: N workers (or an arrival rate) on fresh simulator state, from the level's
start to its cleanup. The run (harness/runner/run.py) loops over its levels with this."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.artifacts import AwsContext
from harness.clock import Clock
from harness.events import Recorder
from harness.events.context import bound
from harness.pipelines.base import PipelineRun, load_pipeline
from harness.runner import arrivals
from harness.runner.aws_context import scenario_context, shared_limiter_store
from harness.runner.cleanup import cleanup_run
from harness.runner.executor import PipelineExecutor, StopSignals, failure_reason
from harness.runner.orders import WorkOrder
from harness.runner.pools import ArrivalPool, ProcessPool, ThreadPool, WorkerPool
from harness.runner.progress import LevelShape, Progress
from harness.runner.resources import prepare_bucket
from harness.runner.scenario import Scenario
from harness.stopping import Stopped, stop_on

if TYPE_CHECKING:
    import pandas as pd

    from harness.aws.limiter import LimiterStore
    from harness.aws.limiter.redis_store import RedisStore
    from harness.sim import Simulator

# After the grace period, teardowns are told to stop waiting; this long (wall) later the level
# moves on to the cleanup even if some worker is still inside an AWS call.
ABORT_PATIENCE = 10.0
COUNTED = ("pipeline_start", "pipeline_end", "api_attempt", "partial_state_detected", "partial_state_failed")


@dataclass
class RunState:
    """What every level of a run shares."""

    base: Scenario  # the run's scenario; a level may run at its own time scale
    run_id: str
    run_dir: Path
    prefix: str
    max_level: int
    recorder: Recorder
    progress: Progress
    signals: StopSignals
    executor: PipelineExecutor
    endpoint_url: str | None
    simulator: Simulator | None  # the embedded simulator, reset for every level
    limiter_store: RedisStore | None  # the Redis limiter, or None
    clock: Clock | None  # a clock given to the run (a dry run's); else each level's wall clock
    request_abort: Callable[[], None]
    request_stop: Callable[[str], None]
    say: Callable[[str], None]
    finished: dict[int, Counter[str]] = field(default_factory=dict)  # each finished level's live counters
    counted: list[int] = field(default_factory=lambda: [0, 0])  # pipelines, failures from worker processes
    planned_pipeline_seconds: float | None = None  # one pipeline alone by the plan (AWS s), for the ETA

    def context(self, scenario: Scenario, limiter_store: LimiterStore | None = None) -> AwsContext:
        return scenario_context(
            scenario,
            self.endpoint_url,
            self.run_id,
            self.prefix,
            self.recorder,
            self.max_level,
            limiter_store=limiter_store,
            clock=self.clock or Clock(scenario.time_scale),
        )


class LevelRun:
    def __init__(self, run: RunState, level: int) -> None:
        self.run, self.level = run, level
        self.scenario = self._level_scenario()
        self.limiter_store = self._level_limiter()

    def _level_scenario(self) -> Scenario:
        """The run's scenario at this level's time scale, with this level's limiter namespace where
        the run owns its simulator (a fresh account each level): worker processes and Ray workers
        get it with their work order."""
        base, run = self.run.base, self.run
        scenario = replace(base, time_scale=base.time_scale_at(self.level))
        shared = run.limiter_store is not None and run.limiter_store.shared
        if shared and run.simulator is not None and not base.limiter.namespace:
            scenario = replace(
                scenario, limiter=replace(scenario.limiter, namespace=f"harness:{run.run_id}:n{self.level}")
            )
        return scenario

    def _level_limiter(self) -> RedisStore | None:
        """The Redis limiter at this level's time scale (its state is kept at it); none, or Redis
        out at the run's start: the run goes on with its own (warned once)."""
        store = self.run.limiter_store
        if store is None or not store.shared:
            return store
        return shared_limiter_store(self.scenario, self.run.endpoint_url, self.run.recorder)

    def run_level(self, after_level: Callable[[], None] = lambda: None) -> None:
        """after_level: checks on the level's counters (abort thresholds), before its cleanup."""
        run, scenario, level = self.run, self.scenario, self.level
        virtual = scenario.time == "virtual"
        if run.simulator is not None:  # fresh state for every level, same seed
            run.simulator.reset(time_scale=scenario.time_scale, manual_time=virtual)
        ctx = run.context(scenario, self.limiter_store)
        if virtual:  # one worker runs at a time, in a fixed order: draws (backoff jitter) repeat too
            random.seed(f"{scenario.seed}:{level}")
            ctx.clock.new_series()  # the simulator handles this level's requests in the order sent
        total = level * scenario.iterations if not scenario.duration_seconds else 0
        label = f"{level} arriving/h" if scenario.arrivals else f"N={level}"
        run.progress.start_level(
            level,
            total,
            scenario.duration_seconds * scenario.time_scale if scenario.duration_seconds else None,
            label,
            self._shape(virtual),
        )
        started, began = time.monotonic(), ctx.clock.now()
        with bound(level=level):
            run.recorder.record(
                "level_start",
                workers=level,
                ramp_up_seconds=scenario.ramp_up_seconds,
                duration_seconds=scenario.duration_seconds,
                time_scale=scenario.time_scale,
            )
        prepared = self._prepare_bucket(ctx)
        set_up = prepared and (scenario.setup is None or self._set_up(ctx))
        pool = self.pool(ctx) if set_up else ThreadPool(lambda i: None, 0)  # no pipelines without it
        level_done = threading.Event()
        elsewhere = scenario.workers in ("processes", "ray")  # their events reach events.db, not the progress
        if elsewhere:
            threading.Thread(target=self._follow_progress, args=(level_done,), daemon=True).start()
        # on virtual time the dashboards end when the last worker ends, at that instant of AWS time
        finished = getattr(pool, "finished", None)
        over: Callable[[float], bool] = (lambda _: finished()) if virtual and finished else level_done.wait
        dashboards = ThreadPool(
            lambda k: self._dashboard(ctx, k, over),
            scenario.dashboard.workers,
            name="dashboard",
            clock=ctx.clock,
        )  # made before either pool starts: on virtual time, the order of turns is fixed here
        pool.start()
        dashboards.start()
        self._wait_for(pool, ctx.clock)
        level_done.set()
        pool.close()
        if elsewhere:
            self._count_from_events()
        dashboards.wait(5)
        stats = run.simulator.stats() if run.simulator is not None else None
        sim: dict[str, Any] = {"sim": stats} if stats else {}
        with bound(level=level):
            run.recorder.record(
                "level_end",
                duration=ctx.clock.wall(ctx.clock.now() - began),
                wall_seconds=time.monotonic() - started,  # the machine's time, whatever the clock
                **sim,
            )
        run.recorder.flush()
        counts = run.progress.counts
        run.finished[level] = Counter(counts)
        after_level()  # worker processes' failures, counted from their events just now
        run.progress.end_level()
        wall, aws = time.monotonic() - started, ctx.clock.now() - began
        run.say(
            f"{label}: {counts['done']} done, {counts['failed']} failed in {wall:.0f}s wall "
            f"({aws / 60:.0f} min AWS{', virtual' if virtual else ''}), {counts['throttled']} throttled attempts, "
            f"{counts['partial_state_detected']} partial states"
        )
        with bound(level=level):
            cleanup_run(ctx, run.prefix, run.run_id)

    def _shape(self, virtual: bool) -> LevelShape:
        """The level's ETA in wall seconds: its workers' last start (executor.run_worker spreads
        them over the ramp-up), their pipelines each, and the plan's length of one. On virtual
        time AWS seconds are not the machine's, so only the level's own lengths count."""
        scenario, level = self.scenario, self.level
        if virtual:
            return LevelShape(0.0, scenario.iterations)
        planned = self.run.planned_pipeline_seconds
        return LevelShape(
            scenario.ramp_up_seconds * (level - 1) / level * scenario.time_scale,
            scenario.iterations,
            planned * scenario.time_scale if planned else None,
        )

    def _prepare_bucket(self, ctx: AwsContext) -> bool:
        """The level's bucket, its calls under the run's stop signal as the pipelines' are (a
        Ctrl-C ends their backoff). False when the run stopped meanwhile: no pipelines."""
        try:
            with bound(level=self.level), stop_on(self.run.signals.stop):
                prepare_bucket(ctx, self.scenario, self.run.run_id)
            return True
        except Stopped:
            return False

    def _set_up(self, ctx: AwsContext) -> bool:
        """The scenario's setup, once, before the level's pipelines. It failing stops the run: its
        pipelines would fail for want of what it makes."""
        run, scenario = self.run, self.scenario
        setup = load_pipeline(scenario.setup or "")
        here = PipelineRun(ctx.for_pipeline("setup"), "setup", f"{run.prefix}-setup", dict(scenario.params))
        try:
            with bound(level=self.level, stage="setup"), stop_on(run.signals.stop):
                for stage in setup.stages:
                    stage.run(here)
            return True
        except Stopped:
            return False  # the run is stopping (Ctrl-C during the setup): no pipelines, nothing failed
        except Exception as err:  # noqa: BLE001 - said, recorded, and the run stops
            with bound(level=self.level, stage="setup"):
                run.recorder.record("worker_error", error_code=failure_reason(err), error=str(err)[:500])
            run.say(f"setup {scenario.setup} failed: {err}")
            run.request_stop("setup failed")
            return False

    def pool(self, ctx: AwsContext) -> WorkerPool:
        """The level's workers: threads here, worker processes, Ray workers, or arrivals at a rate."""
        run, scenario, level = self.run, self.scenario, self.level
        order = WorkOrder(
            scenario, run.run_id, str(run.run_dir.resolve()), run.endpoint_url, run.prefix, run.max_level, level
        )
        if scenario.workers == "processes":
            return ProcessPool(order, scenario.processes, run.signals)
        if scenario.workers == "ray":
            from harness.runner.ray_workers import RayPool

            def lost(message: str) -> None:
                run.say(message)
                with bound(level=level):
                    run.recorder.record("worker_error", error_code="ray_worker_lost", error=message)

            return RayPool(order, scenario.processes, run.signals, lost)
        pipelines = {spec: load_pipeline(spec) for spec in scenario.pipelines}
        if scenario.arrivals:  # `level` is an arrival rate, pipelines per AWS hour (a ramp's highest)
            schedule = (
                arrivals.ramping(scenario.start_rate, scenario.arrival_stages)
                if scenario.arrival_stages
                else arrivals.constant(level, scenario.duration_seconds)
            )
            return ArrivalPool(
                lambda i, due, rate: run.executor.run_arrival(ctx, level, i, due, rate, pipelines),
                schedule,
                scenario.max_in_flight,
                ctx.clock,
                run.signals.stop,
            )
        return ThreadPool(lambda i: run.executor.run_worker(ctx, level, i, pipelines), level, clock=ctx.clock)

    def _wait_for(self, pool: WorkerPool, clock: Clock) -> None:
        """Until the workers are done; once stopping, the grace period (AWS time on the run's
        clock, and 5 wall seconds more), then abort."""
        signals, scenario = self.run.signals, self.scenario
        grace_until = abort_until = None
        while not pool.wait(0.5):
            now = time.monotonic()
            if signals.stop.is_set() and grace_until is None:
                clock.interrupt()  # virtual time: sleepers look at their signal (request_stop did too)
                grace_until = (clock.now() + scenario.grace_seconds, now + 5)
            if grace_until is not None and clock.now() > grace_until[0] and now > grace_until[1]:
                self.run.request_abort()
            if signals.abort.is_set():
                abort_until = abort_until or now + ABORT_PATIENCE
                if now > abort_until:
                    self.run.say("workers still inside AWS calls: leaving them to the cleanup")
                    return

    def _follow_progress(self, done: threading.Event) -> None:
        """Worker processes record into events.db; the live counters are read back from it."""
        from harness.events import load_events

        while not done.wait(self.run.progress.interval / 2):
            try:
                events = load_events(self.run.run_dir, list(COUNTED))
            except Exception:  # noqa: BLE001 - a busy database: try again next time
                continue
            self.run.progress.set_counts(level_counts(events, self.level))

    def _count_from_events(self) -> None:
        from harness.events import load_events

        counts = level_counts(load_events(self.run.run_dir), self.level)
        self.run.progress.set_counts(counts)
        self.run.counted[0] += counts["done"] + counts["failed"] + counts["stopped"]
        self.run.counted[1] += counts["failed"]

    def _dashboard(self, ctx: AwsContext, k: int, over: Callable[[float], bool]) -> None:
        """A dashboard user: polls Meta's lists while the pipelines run. `over(wall_timeout)`
        says, within its timeout, whether the level's workers are done."""
        from harness.meta import CachedMeta, Meta
        from harness.stopping import Stopped

        run, scenario = self.run, self.scenario
        meta = Meta(ctx)
        if scenario.dashboard.cached:
            meta = CachedMeta(meta, recorder=run.recorder)
        with bound(level=self.level, worker=-(k + 1), stage="dashboard"), stop_on(run.signals.stop):
            while not over(0.0) and not run.signals.stop.is_set():
                try:
                    meta.feature_sets()
                    meta.endpoints()
                    meta.models()
                except Stopped:
                    return
                except Exception as err:  # noqa: BLE001
                    run.recorder.record("worker_error", error_code=failure_reason(err), error=str(err)[:300])
                try:
                    ctx.clock.sleep_or_wake(over, scenario.dashboard.poll_seconds)
                except Stopped:
                    return


def level_counts(events: pd.DataFrame, level: int) -> dict[str, int]:
    """A level's live counters, from its recorded events."""
    ev = events[events.level == level]
    ends = ev[ev.kind == "pipeline_end"]
    return {
        "running": int((ev.kind == "pipeline_start").sum() - len(ends)),
        "done": int((ends.outcome == "ok").sum()),
        "failed": int((ends.outcome == "failed").sum()),
        "stopped": int((ends.outcome == "stopped").sum()),
        "throttled": int(((ev.kind == "api_attempt") & (ev.outcome == "throttled")).sum()),
        "partial_state_detected": int((ev.kind == "partial_state_detected").sum()),
        "partial_state_failed": int((ev.kind == "partial_state_failed").sum()),
    }
