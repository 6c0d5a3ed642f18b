"""The run: a sweep over N. Each level runs N workers on fresh simulator state
(harness/runner/level.py); the run folder gets scenario.toml and events.db, and the report is
built from them afterwards (`RunResult.render`).

Stopping (Ctrl-C or SIGTERM, `request_stop`): no new pipelines or stages; waits inside stages
end at once and each in-flight pipeline tears down what it made. After the grace period (or a
second Ctrl-C, `request_abort`) teardowns stop waiting, and a tagged cleanup deletes whatever is
left. The run folder is completed either way.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from harness.clock import Clock
from harness.virtual_time import VirtualClock, watch_wall_sleeps
from harness.events import Recorder, otel
from harness.rlimits import raise_open_file_limit
from harness.runner import folder
from harness.runner.abort import AbortWatch
from harness.runner.cleanup import cleanup_run, find_run_resources
from harness.runner.costguard import LOOK_LAG_SECONDS, CostGuard, Spend
from harness.runner.leftovers import Resource
from harness.runner.executor import PipelineExecutor, StopSignals
from harness.runner.level import LevelRun, RunState
from harness.runner.prices import instance_type, load_prices
from harness.runner.progress import Progress
from harness.runner.result import NotStarted, RunResult
from harness.runner.run_ids import new_run_id, run_prefix
from harness.runner.resources import connect_shared_limiter, embedded_simulator, guard_account, ray_cluster
from harness.runner.scenario import Scenario, check_max_cost, check_shared_limiter, on_its_time
from harness.stopping import Stopped

if TYPE_CHECKING:
    from harness.runner.ray_workers import RayConnection


class Runner:
    def __init__(
        self,
        scenario: Scenario,
        reports_dir: str | Path = "reports",
        levels: list[int] | None = None,
        out: TextIO | None = None,
        run_id: str | None = None,
        endpoint_url: str | None = None,
        allow_accounts: list[str] | None = None,
        clock: Clock | None = None,
        predicted_rate: float | None = None,
        plan_pipeline_seconds: Callable[[], float | None] | None = None,
    ) -> None:
        """clock: the run's clock; the default is each level's wall clock at its time scale (a dry run
        passes a manual clock that drives a manual-time simulator). predicted_rate: what `harness plan`
        predicts as the highest sustainable arrival rate, recorded beside the measured one.
        plan_pipeline_seconds: asked once the account is checked, the plan's length of one pipeline
        (AWS seconds; None where there is none) for the progress line's ETA (plan.py)."""
        scenario = on_its_time(scenario)
        check_max_cost(scenario)  # its region may have changed since it was read (--region)
        self.scenario = scenario
        if clock is None and scenario.time == "virtual":
            clock = VirtualClock(time_scale=1.0)
        self.clock = clock
        self.levels = levels or scenario.levels
        self.run_id = run_id or new_run_id()
        self.prefix = run_prefix(self.run_id)
        self.run_dir = Path(reports_dir) / self.run_id
        self.endpoint_url = endpoint_url  # a simulator already running (tests), or an AWS stand-in
        self.allowed_accounts = list(scenario.allowed_accounts) + list(allow_accounts or [])
        self.predicted_rate = predicted_rate
        self.plan_pipeline_seconds = plan_pipeline_seconds
        self.signals = StopSignals(threading.Event(), threading.Event())
        self.stopped_by: str | None = None
        self.progress = Progress(out)  # default: stderr as it is when the run starts, not at import
        self.state: RunState | None = None
        self.cost_decision: dict[str, object] | None = None  # what the cost guard decided, for the record
        self._after_level: Callable[[], None] = lambda: None
        self.begun = False  # the run folder exists (before it, a stop ends the run at once: NotStarted)

    # --- control -----------------------------------------------------------------------------
    def request_stop(self, reason: str = "SIGINT") -> None:
        """First Ctrl-C or SIGTERM: no new pipelines; in-flight ones tear down."""
        if self.signals.stop.is_set():
            self.request_abort(f"second {reason}")
            return
        self.stopped_by = reason
        self.signals.stop.set()
        if self.clock is not None:
            self.clock.interrupt()  # virtual time: its sleepers look at the signal now
        if not self.begun:
            self.say(f"{reason}: stopping - the run has not begun")
            return
        self.say(
            f"{reason}: stopping - no new pipelines; in-flight ones tear down "
            f"(grace {self.scenario.grace_seconds:.0f} s AWS; again to stop waiting for them)"
        )

    def request_abort(self, reason: str = "grace period over") -> None:
        """Teardowns stop waiting; the tagged cleanup deletes whatever is left."""
        if not self.signals.abort.is_set():
            self.signals.abort.set()
            if self.clock is not None:
                self.clock.interrupt()
            self.say(f"{reason}: teardowns stop waiting; the cleanup deletes what is left")

    def say(self, text: str) -> None:
        self.progress.say(text)

    def _over_budget(self, spend: Spend) -> None:
        """The cost guard's rule 2: what is running would pass max_cost_usd before its next look.
        A run already stopping (Ctrl-C, a threshold) goes on tearing down: the guard is not a
        second Ctrl-C, which would cut the teardowns short and leave resources billing."""
        if self.signals.stop.is_set():
            return
        self.cost_decision = {"decision": "stop", **asdict(spend)}
        self.say(
            f"max_cost_usd: what is running would pass ${self.scenario.max_cost_usd:g} "
            f"(about ${spend.spent_usd:.4f} spent)"
        )
        self.request_stop("max_cost_usd")

    def _no_new_pipelines(self, spend: Spend) -> None:
        """The cost guard's rule 1: the next pipeline would take the expected spend past it."""
        self.cost_decision = {"decision": "no new pipelines", **asdict(spend)}
        self.stopped_by = self.stopped_by or "max_cost_usd"
        self.say(
            f"max_cost_usd: no new pipelines: one more (about ${spend.expected_usd:.4f}) would take the "
            f"expected spend to ${spend.committed_usd + spend.expected_usd:.4f}, past "
            f"${self.scenario.max_cost_usd:g}; the pipelines in flight finish"
        )

    def _cost_guard(self, recorder: Recorder, executor: PipelineExecutor) -> CostGuard:
        """max_cost_usd's guard (costguard.py), asked by the runner's own workers before each
        pipeline, and on virtual time before each stage instead of every few wall seconds."""
        scenario = self.scenario
        assert scenario.max_cost_usd is not None
        virtual = self.clock is not None and self.clock.virtual
        interval = None if virtual else min(2.0, 30 * scenario.time_scale)  # every 30 AWS s at most
        guard = CostGuard(
            self.run_dir / "events.db",
            scenario.max_cost_usd,
            load_prices().region(scenario.region),
            instance_type(scenario.params),
            self._over_budget,
            self._no_new_pipelines,
            time_scale=scenario.time_scale,
            level_time_scales={n: scenario.time_scale_at(n) for n in self.levels},
            now=lambda: recorder.time_source() + recorder.clock_offset,  # the events' mono_time
            flush=recorder.flush,
            interval=interval,
            lookahead=0.0 if interval is None else interval + LOOK_LAG_SECONDS,
            gated=scenario.workers == "threads",
        )
        if scenario.workers == "threads":
            executor.admit = guard.admit
        if virtual:
            executor.before_stage = guard.look
        return guard.start()

    def _threshold_failed(self, recorder: Recorder, expression: str) -> None:
        recorder.record("threshold_abort", check=expression)
        self.request_stop(f"threshold {expression!r} failed")

    def _live_counts(self) -> dict[int, Counter[str]]:
        """Level -> live counters (pipelines done and failed, throttled attempts, ...)."""
        live = dict(self.state.finished) if self.state else {}
        if self.progress.level is not None:
            live[self.progress.level] = Counter(self.progress.counts)
        return live

    # --- the run -----------------------------------------------------------------------------
    def run(self) -> RunResult:
        scenario = self.scenario
        check_shared_limiter(scenario)
        try:
            guard_account(scenario, self.endpoint_url, self.allowed_accounts, self.say, self.signals.stop)
        except Stopped:
            raise NotStarted(self.stopped_by or "SIGINT") from None
        planned = self._planned_pipeline_seconds()
        if scenario.level_time_scales and self.endpoint_url is not None:
            raise ValueError(
                f"{scenario.source}: level_time_scale needs the simulator the run starts itself; a "
                "running simulator (--endpoint-url) keeps the time scale it was started with"
            )
        raise_open_file_limit()  # kept-alive connections: a socket each, hundreds at high N
        with contextlib.ExitStack() as held:
            ray = held.enter_context(ray_cluster(scenario))  # one that does not answer: no folder made
            # live metrics (off unless asked for); without the SDK, no folder made either. Closed
            # last, after the run's end is recorded: that export carries the final figures.
            telemetry = scenario.telemetry
            metrics = otel.start(
                self.run_id,
                telemetry.otlp_endpoint,
                telemetry.export_interval_seconds,
                scenario.time_scale,  # each level's own comes with its level_start
                say=self.say,
            )
            if metrics is not None:
                held.callback(metrics.close)
            folder.prepare(self.run_dir, {"run_id": self.run_id, "levels": self.levels, **scenario.resolved()})
            self.begun = True
            recorder = Recorder(self.run_dir / "events.db", self.run_id)
            recorder.listeners.append(self.progress.observe)
            if metrics is not None:
                recorder.subscribers.append(metrics.observe)
            if self.clock is not None and self.clock.virtual:
                recorder.time_source = self.clock.now  # scale 1: AWS seconds
                held.enter_context(watch_wall_sleeps())
            executor = PipelineExecutor(scenario, recorder, self.prefix, self.signals, self.progress)
            self._start(recorder)
            failed = partial(self._threshold_failed, recorder)  # may fire before self.state exists
            watch = AbortWatch(scenario.abort_thresholds, self._live_counts, failed).start()
            if scenario.abort_thresholds:
                executor.after_pipeline = watch.check  # at once, not at the next look
                self._after_level = watch.check
            guard = self._cost_guard(recorder, executor) if scenario.max_cost_usd is not None else None
            simulator = None
            try:
                simulator = held.enter_context(embedded_simulator(scenario, self.endpoint_url))
                endpoint_url = self.endpoint_url or (simulator.endpoint_url if simulator else None)
                limiter_store = connect_shared_limiter(scenario, endpoint_url, recorder, self.say)
                self.state = RunState(
                    scenario,
                    self.run_id,
                    self.run_dir,
                    self.prefix,
                    max(self.levels),
                    recorder,
                    self.progress,
                    self.signals,
                    executor,
                    endpoint_url,
                    simulator,
                    limiter_store,
                    self.clock,
                    self.request_abort,
                    self.request_stop,
                    self.say,
                    planned_pipeline_seconds=planned,
                )
                self._say_ray(ray, recorder)
                for level in self.levels:
                    if self.signals.stop.is_set() or (guard is not None and guard.closed):
                        break
                    LevelRun(self.state, level).run_level(self._after_level)
            finally:
                watch.close()
                if isinstance(self.clock, VirtualClock):
                    caught = self.clock.wall_sleeps
                    first = caught[0].splitlines()[-2].strip() if caught else None  # the caller's line
                    recorder.set_meta(wall_sleeps={"count": len(caught), "first": first})
                if guard is not None:
                    guard.stop()
                    recorder.set_meta(
                        cost_usd=guard.spent_usd, max_cost_usd=scenario.max_cost_usd, cost_guard=self.cost_decision
                    )
                leftovers = self._final_cleanup(recorder)
                folder.record_end(recorder, self.run_dir, self.stopped_by, simulator)
                self.progress.close()
        return RunResult(
            self.run_id,
            self.run_dir,
            self.stopped_by,
            executor.tally.pipelines + (self.state.counted[0] if self.state else 0),
            executor.tally.failed + (self.state.counted[1] if self.state else 0),
            leftovers,
        )

    def _planned_pipeline_seconds(self) -> float | None:
        """The plan's length of one pipeline, for the ETA: a dry run of some seconds, after the
        account check (a refused account is said at once) and under the stop signal (a Ctrl-C
        meanwhile ends the run at once, as during the check)."""
        if self.plan_pipeline_seconds is None:
            return None
        plan = self.plan_pipeline_seconds
        found: list[float | None] = []
        failed: list[str] = []

        def dry_run() -> None:
            try:
                found.append(plan())
            except Exception as err:  # noqa: BLE001 - no ETA from the plan is not a failed run
                failed.append(" ".join(str(err).split()))

        worker = threading.Thread(target=dry_run, name="plan-eta", daemon=True)
        worker.start()
        while worker.is_alive():
            if self.signals.stop.wait(0.1):
                raise NotStarted(self.stopped_by or "SIGINT")
        if failed:
            self.say(f"no ETA from the plan: {failed[0]}")
        planned = found[0] if found else None
        if planned:
            self.say(f"plan: one pipeline alone takes about {planned / 60:.0f} min AWS (a dry run, for the ETA)")
        return planned

    def _start(self, recorder: Recorder) -> None:
        scenario = self.scenario
        folder.record_start(recorder, self.run_id, self.prefix, scenario, self.levels, self.predicted_rate)
        self.say(
            f"run {self.run_id}: {scenario.name} on {scenario.target}"
            f"{' (' + scenario.profile + ')' if scenario.target == 'sim' else ''}, policy {scenario.policy},"
            f" levels {', '.join(map(str, self.levels))}, {folder.time_scales_text(scenario, self.levels)}"
        )
        if self.predicted_rate:
            self.say(
                f"plan: the highest sustainable arrival rate is predicted at {self.predicted_rate:.0f} pipelines/hour"
            )

    def _say_ray(self, ray: RayConnection | None, recorder: Recorder) -> None:
        if ray is None:
            return
        where = self.scenario.ray_address or "a cluster on this machine, started for the run"
        nodes = ray.nodes()
        self.say(f"workers: {self.scenario.processes} Ray workers on {where} ({nodes} node{'s' * (nodes != 1)})")
        recorder.set_meta(ray_nodes=nodes)

    def _final_cleanup(self, recorder: Recorder) -> list[Resource]:
        """Whatever still carries the run's tag goes; what cannot be deleted is reported."""
        state = self.state
        if state is None or state.endpoint_url is None and self.scenario.target == "sim":
            return []
        try:
            ctx = state.context(self.scenario, state.limiter_store)
            cleanup_run(ctx, self.prefix, self.run_id, say=lambda line: self.say("cleanup: " + line))
            return find_run_resources(ctx, self.prefix, self.run_id)
        except Exception as err:  # noqa: BLE001 - the target may be gone; say so, keep the events
            self.say(f"cleanup could not finish: {err}")
            recorder.record("cleanup", outcome="failed", error=str(err)[:300])
            return []
