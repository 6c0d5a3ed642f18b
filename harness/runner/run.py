"""The run: a sweep over N. Each level runs N workers on fresh simulator state; the run folder
gets scenario.toml, events.db and the report built from them.

Stopping (Ctrl-C or SIGTERM, `request_stop`): no new pipelines or stages; waits inside stages
end at once and each in-flight pipeline tears down what it made. After the grace period (or a
second Ctrl-C, `request_abort`) teardowns stop waiting, and a tagged cleanup deletes whatever is
left. The run folder is completed and the report rendered either way.
"""
from __future__ import annotations

import secrets
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable
from pathlib import Path

from botocore.exceptions import ClientError

from harness.artifacts import AwsContext
from harness.artifacts.context import RUN_TAG
from harness.aws import Backend, ClientFactory
from harness.clock import Clock
from harness.events import Recorder, finalize
from harness.events.context import bound
from harness.pipelines.base import load_pipeline
from harness.rlimits import raise_open_file_limit
from harness.runner.aws_context import scenario_backend, scenario_context, shared_limiter_backend
from harness.runner.cleanup import cleanup_run
from harness.runner import arrivals
from harness.runner.abort import AbortWatch
from harness.runner.costguard import CostGuard
from harness.runner.executor import PipelineExecutor, StopSignals, failure_reason
from harness.runner.pools import ArrivalPool, ProcessPool, ThreadPool
from harness.runner.progress import Progress
from harness.runner.scenario import Scenario, check_shared_limiter
from harness.config import dumps_toml as toml_dumps
from harness.stopping import stop_on

# After the grace period, teardowns are told to stop waiting; this long (wall) later the level
# moves on to the cleanup even if some worker is still inside an AWS call.
ABORT_PATIENCE = 10.0


def new_run_id() -> str:
    """Sortable by time, unique: 20261126T060512Z-3fa9."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


def run_prefix(run_id: str) -> str:
    """The name prefix of every resource of a run: 'hx' + the run id's digits and hex."""
    stamp, _, suffix = run_id.partition("-")
    return "hx" + stamp[4:8] + stamp[9:15] + suffix.lower()


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    stopped_by: str | None = None
    pipelines: int = 0
    failed: int = 0
    leftovers: list = field(default_factory=list)
    report_failed: str | None = None  # why the report could not be rendered (the events are kept)


class Runner:
    def __init__(self, scenario: Scenario, reports_dir: str | Path = "reports", levels: list[int] | None = None,
                 out=sys.stderr, run_id: str | None = None, endpoint_url: str | None = None,
                 render_report: bool = True, allow_accounts: list[str] | None = None, clock: Clock | None = None):
        """clock: the run's clock; the default is the wall at the scenario's time scale (a dry run
        passes a manual clock that drives a manual-time simulator)."""
        self.scenario = scenario  # the level's own (its time scale), during a level
        self._base = scenario
        self._clock_given = clock is not None
        self.clock = clock or Clock(scenario.time_scale)
        self.levels = levels or scenario.levels
        self.run_id = run_id or new_run_id()
        self.prefix = run_prefix(self.run_id)
        self.run_dir = Path(reports_dir) / self.run_id
        self.out = out
        self.endpoint_url = endpoint_url  # a simulator already running (tests), or an AWS stand-in
        self.render_report = render_report
        self.allowed_accounts = list(scenario.allowed_accounts) + list(allow_accounts or [])
        self.signals = StopSignals(threading.Event(), threading.Event())
        self.stopped_by: str | None = None
        self.progress = Progress(out)
        self.simulator = None
        self.recorder: Recorder | None = None
        self._executor: PipelineExecutor | None = None
        self._counted = [0, 0]  # pipelines and failures counted from worker processes' events
        self._shared_limiter = None  # a Redis limiter backend, when the scenario names one
        self._ray = None  # the connection to a Ray cluster, with workers = "ray"
        self._finished_counts: dict[int, Counter] = {}  # each finished level's live counters
        self._after_level: Callable[[], None] = lambda: None

    # --- control -----------------------------------------------------------------------------
    def request_stop(self, reason: str = "SIGINT") -> None:
        """First Ctrl-C or SIGTERM: no new pipelines; in-flight ones tear down."""
        if self.signals.stop.is_set():
            self.request_abort(f"second {reason}")
            return
        self.stopped_by = reason
        self.signals.stop.set()
        self.progress.say(f"{reason}: stopping - no new pipelines; in-flight ones tear down "
                          f"(grace {self.scenario.grace_seconds:.0f} s AWS; again to stop waiting for them)")

    def _over_budget(self, spent_usd: float) -> None:
        self.say(f"max_cost_usd: the run has spent about ${spent_usd:.2f} of ${self.scenario.max_cost_usd:.2f}")
        self.request_stop("max_cost_usd")

    def _predict_sustainable_rate(self) -> None:
        """The open model: what `harness plan` predicts, recorded so the report can show it beside
        the measured rate (a dry run on a private simulator, a few seconds)."""
        from harness.runner.plan import make_plan
        try:
            predicted = make_plan(self._base, max(self.levels))["sustainable_per_hour"]
        except Exception as err:  # noqa: BLE001 - a prediction that cannot be made is not a failed run
            self.say(f"no prediction of the sustainable rate: {err}")
            return
        if predicted:
            self.say(f"plan: the highest sustainable arrival rate is predicted at {predicted:.0f} pipelines/hour")
            self.recorder.set_meta(predicted_sustainable_per_hour=predicted)

    def _threshold_failed(self, expression: str) -> None:
        self.recorder.record("threshold_abort", check=expression)
        self.request_stop(f"threshold {expression!r} failed")

    def _live_counts(self) -> dict:
        """Level -> live counters (pipelines done and failed, throttled attempts, ...)."""
        live = dict(self._finished_counts)
        if self.progress.level is not None:
            live[self.progress.level] = Counter(self.progress.counts)
        return live

    def request_abort(self, reason: str = "grace period over") -> None:
        """Teardowns stop waiting; the tagged cleanup deletes whatever is left."""
        if not self.signals.abort.is_set():
            self.signals.abort.set()
            self.progress.say(f"{reason}: teardowns stop waiting; the cleanup deletes what is left")

    def say(self, text: str) -> None:
        self.progress.say(text)

    # --- the run -----------------------------------------------------------------------------
    def prepare_folder(self) -> None:
        """Made and written before any resource exists, so an unusable folder costs nothing."""
        try:
            self.run_dir.mkdir(parents=True, exist_ok=False)
            resolved = {"run_id": self.run_id, "levels": self.levels, **self.scenario.resolved()}
            (self.run_dir / "scenario.toml").write_text(toml_dumps(resolved))
        except OSError as err:
            raise OSError(f"run folder {self.run_dir} is not writable: {err.strerror or err}") from None

    def guard_account(self) -> None:
        """Real AWS: identify the account and refuse before anything is written anywhere."""
        if self.scenario.backend != "aws":
            return
        if self.endpoint_url is None and self.scenario.time_scale != 1.0:
            raise ValueError(f"{self.scenario.source}: time_scale = {self.scenario.time_scale!r} is not allowed; "
                             "expected 1.0 with backend = \"aws\" (AWS runs in real time)")
        from harness.aws.account import check_account
        sts = ClientFactory(self._backend(), self.scenario.retry()).client("sts")
        check_account(sts, self.scenario.region, self.allowed_accounts, say=self.say)

    def run(self) -> RunResult:
        scenario = self.scenario
        check_shared_limiter(scenario)
        self.guard_account()
        if scenario.level_time_scales and self.endpoint_url is not None:
            raise ValueError(f"{scenario.source}: level_time_scale needs the simulator the run starts itself; a "
                             "running simulator (--endpoint-url) keeps the time scale it was started with")
        raise_open_file_limit()  # kept-alive connections: a socket each, hundreds at high N
        self._open_ray()  # a cluster that does not answer stops the run here, before its folder exists
        try:
            self.prepare_folder()
        except OSError:
            self._close_ray()
            raise
        self.recorder = Recorder(self.run_dir / "events.db", self.run_id)
        self.recorder.listeners.append(self.progress.observe)
        self._executor = PipelineExecutor(scenario, self.recorder, self.prefix, self.signals, self.progress)
        self.recorder.set_meta(run_id=self.run_id, scenario=scenario.name, levels=self.levels,
                               time_scale=scenario.time_scale, backend=scenario.backend,
                               profile=scenario.profile, policy=scenario.policy, prefix=self.prefix,
                               started=time.time(), complete=False, seed=scenario.seed,
                               pipelines=scenario.pipelines)
        self.say(f"run {self.run_id}: {scenario.name} on {scenario.backend}"
                 f"{' (' + scenario.profile + ')' if scenario.backend == 'sim' else ''}, policy {scenario.policy},"
                 f" levels {', '.join(map(str, self.levels))}, {self._time_scales_text()}")
        if scenario.arrivals and scenario.backend == "sim":
            self._predict_sustainable_rate()
        result = RunResult(self.run_id, self.run_dir)
        watch = AbortWatch(scenario.abort_thresholds, self._live_counts, self._threshold_failed).start()
        if scenario.abort_thresholds:
            self._executor.after_pipeline = watch.check  # at once, not at the next look
            self._after_level = watch.check
        guard = None
        if scenario.max_cost_usd is not None:
            guard = CostGuard(self.run_dir / "events.db", scenario.max_cost_usd, scenario.time_scale,
                              scenario.params.get("instance_type", "ml.m5.large"), self._over_budget,
                              interval=min(2.0, 30 * scenario.time_scale),  # every 30 AWS s at most
                              level_time_scales={n: scenario.time_scale_at(n) for n in self.levels}).start()
        try:
            self._start_backend()
            self._connect_shared_limiter()
            self._say_ray()
            for level in self.levels:
                if self.signals.stop.is_set():
                    break
                self._run_level(level)
        finally:
            watch.close()
            if guard is not None:
                guard.stop()
                self.recorder.set_meta(cost_usd=guard.spent_usd, max_cost_usd=scenario.max_cost_usd)
            result.leftovers = self._final_cleanup()
            end = {"outcome": self.stopped_by or "complete"}
            if self.simulator is not None:  # what the simulator itself still holds, by its own count
                try:
                    end["sim"] = self.simulator.stats()
                except OSError:
                    pass
            self.recorder.record("run_end", **end)
            self.recorder.set_meta(complete=self.stopped_by is None, stopped_by=self.stopped_by,
                                   ended=time.time())
            self.recorder.close()
            finalize(self.run_dir / "events.db")
            self.progress.close()
            self._close_ray()
            if self.simulator is not None:
                self.simulator.stop()
        result.stopped_by = self.stopped_by
        result.pipelines = self._executor.tally.pipelines + self._counted[0]
        result.failed = self._executor.tally.failed + self._counted[1]
        if self.render_report:
            result.report_failed = self._render()
        return result

    def _start_backend(self) -> None:
        scenario = self.scenario
        if scenario.backend == "sim" and self.endpoint_url is None:
            from harness.sim import Simulator
            self.simulator = Simulator(scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale).start()
            self.endpoint_url = self.simulator.endpoint_url

    def _connect_shared_limiter(self) -> None:
        """A Redis limiter is reached before the first pipeline: a wrong URL stops the run here
        (on_unreachable = "fail") or is a warning at its start ("local"), not in the middle."""
        self._shared_limiter = shared_limiter_backend(self.scenario, self.endpoint_url, self.recorder)
        if self._shared_limiter is None:
            return
        from harness.aws.limiter.redis_backend import LimiterUnreachable, without_password
        try:
            self._shared_limiter.check()
        except LimiterUnreachable:
            if self.scenario.limiter.on_unreachable == "fail":
                raise
            self._shared_limiter.now()  # falls back, with the warning
        else:
            self.say(f"limiter: shared through {without_password(self.scenario.limiter.redis_url)} "
                     f"(namespace {self._shared_limiter.namespace})")
        self.recorder.set_meta(shared_limiter=self._shared_limiter.shared)

    def _open_ray(self) -> None:
        if self.scenario.workers == "ray":
            from harness.runner.ray_workers import RayConnection
            self._ray = RayConnection(self.scenario.ray_address).open()

    def _say_ray(self) -> None:
        if self._ray is None:
            return
        where = self.scenario.ray_address or "a cluster on this machine, started for the run"
        nodes = self._ray.nodes()
        self.say(f"workers: {self.scenario.processes} Ray workers on {where} ({nodes} node{'s' * (nodes != 1)})")
        self.recorder.set_meta(ray_nodes=nodes)

    def _close_ray(self) -> None:
        if self._ray is not None:
            self._ray.close()

    def _backend(self) -> Backend:
        return scenario_backend(self.scenario, self.endpoint_url)

    def context(self) -> AwsContext:
        return scenario_context(self.scenario, self.endpoint_url, self.run_id, self.prefix, self.recorder,
                                max(self.levels), limiter_backend=self._shared_limiter, clock=self.clock)

    def _prepare_account(self, ctx: AwsContext) -> None:
        s3 = ctx.client("s3")
        if self.scenario.account.bucket:  # the account's own bucket: the run keeps to its prefix
            s3.head_bucket(Bucket=ctx.bucket)
            return
        # outside us-east-1 S3 wants the region named (IllegalLocationConstraintException otherwise)
        where = ({} if self.scenario.region == "us-east-1" else
                 {"CreateBucketConfiguration": {"LocationConstraint": self.scenario.region}})
        try:
            s3.create_bucket(Bucket=ctx.bucket, **where)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou",):
                raise
        s3.put_bucket_tagging(Bucket=ctx.bucket, Tagging={"TagSet": [{"Key": RUN_TAG, "Value": self.run_id}]})

    def _pool(self, ctx: AwsContext, level: int):
        scenario = self.scenario
        plan = {"scenario": scenario, "run_id": self.run_id, "run_dir": str(self.run_dir.resolve()),
                "endpoint_url": self.endpoint_url, "prefix": self.prefix, "max_level": max(self.levels)}
        if scenario.workers == "processes":
            return ProcessPool(plan, level, scenario.processes, self.signals)
        if scenario.workers == "ray":
            from harness.runner.ray_workers import RayPool

            def lost(message: str) -> None:
                self.say(message)
                with bound(level=level):
                    self.recorder.record("worker_error", error_code="ray_worker_lost", error=message)
            return RayPool(plan, level, scenario.processes, self.signals, lost)
        pipelines = {spec: load_pipeline(spec) for spec in scenario.pipelines}
        if scenario.arrivals:  # `level` is an arrival rate, pipelines per AWS hour (a ramp's highest)
            schedule = (arrivals.ramping(scenario.start_rate, scenario.arrival_stages) if scenario.arrival_stages
                        else arrivals.constant(level, scenario.duration_seconds))
            return ArrivalPool(lambda i, due, rate: self._executor.run_arrival(ctx, level, i, due, rate, pipelines),
                               schedule, scenario.max_in_flight, ctx.clock, self.signals.stop)
        return ThreadPool(lambda i: self._executor.run_worker(ctx, level, i, pipelines), level)

    def _time_scales_text(self) -> str:
        scales = {n: self._base.time_scale_at(n) for n in self.levels}
        if len(set(scales.values())) == 1:
            return f"time scale {self._base.time_scale:g}"
        return "time scales " + ", ".join(f"{scale:g} at N={n}" for n, scale in scales.items())

    def _at_time_scale(self, scale: float) -> None:
        """The level's own time scale: its scenario and clock follow it."""
        if scale == self.scenario.time_scale:
            return
        self.scenario = replace(self._base, time_scale=scale)
        if not self._clock_given:
            self.clock = Clock(scale)

    def _level_limiter(self, level: int) -> None:
        """A Redis limiter for this level: its state is kept at the level's time scale, and where
        the run owns its simulator (a fresh account each level) under this run and level alone."""
        if self._shared_limiter is None or not self._shared_limiter.shared:
            return  # none, or Redis was out at the start: this run goes on with its own (warned once)
        scenario = self.scenario
        if self.simulator is not None and not self._base.limiter.namespace:
            # the level's own scenario carries it, so that worker processes and Ray workers use it too
            self.scenario = scenario = replace(scenario, limiter=replace(scenario.limiter,
                                                                         namespace=f"harness:{self.run_id}:n{level}"))
        self._shared_limiter = shared_limiter_backend(scenario, self.endpoint_url, self.recorder)

    def _run_level(self, level: int) -> None:
        self._at_time_scale(self._base.time_scale_at(level))
        self._level_limiter(level)
        scenario = self.scenario
        if self.simulator is not None:  # fresh state for every level, same seed
            self.simulator.reset(time_scale=scenario.time_scale)
        ctx = self.context()
        total = level * scenario.iterations if not scenario.duration_seconds else 0
        label = f"{level} arriving/h" if scenario.arrivals else f"N={level}"
        self.progress.start_level(level, total, scenario.duration_seconds * scenario.time_scale
                                  if scenario.duration_seconds else None, label)
        started = time.monotonic()
        with bound(level=level):
            self.recorder.record("level_start", workers=level, ramp_up_seconds=scenario.ramp_up_seconds,
                                 duration_seconds=scenario.duration_seconds, time_scale=scenario.time_scale)
            self._prepare_account(ctx)
        pool = self._pool(ctx, level)
        level_done = threading.Event()
        processes = scenario.workers in ("processes", "ray")  # their events reach events.db, not the progress
        if processes:
            threading.Thread(target=self._follow_progress, args=(level, level_done), daemon=True).start()
        dashboards = ThreadPool(lambda k: self._dashboard(ctx, level, k, level_done), scenario.dashboard.workers,
                                name="dashboard")
        pool.start()
        dashboards.start()
        self._wait_for(pool)
        level_done.set()
        pool.close()
        if processes:
            self._count_from_events(level)
        dashboards.wait(5)
        stats = self.simulator.stats() if self.simulator is not None else None
        with bound(level=level):
            self.recorder.record("level_end", duration=time.monotonic() - started,
                                 **({"sim": stats} if stats else {}))
        self.recorder.flush()
        c = self.progress.counts
        self._finished_counts[level] = Counter(c)
        self._after_level()  # worker processes' failures, counted from their events just now
        self.progress.end_level()
        self.say(f"{label}: {c['done']} done, {c['failed']} failed in {time.monotonic() - started:.0f}s wall "
                 f"({(time.monotonic() - started) / scenario.time_scale / 60:.0f} min AWS), "
                 f"{c['throttled']} throttled attempts, {c['partial_state_detected']} partial states")
        with bound(level=level):
            cleanup_run(ctx, self.prefix, self.run_id)

    def _wait_for(self, pool) -> None:
        """Until the workers are done; once stopping, the grace period, then abort."""
        grace_until = abort_until = None
        while not pool.wait(0.5):
            now = time.monotonic()
            if self.signals.stop.is_set() and grace_until is None:
                grace_until = now + self.scenario.grace_seconds * self.scenario.time_scale + 5
            if grace_until is not None and now > grace_until:
                self.request_abort()
            if self.signals.abort.is_set():
                abort_until = abort_until or now + ABORT_PATIENCE
                if now > abort_until:
                    self.say("workers still inside AWS calls: leaving them to the cleanup")
                    return

    def _follow_progress(self, level: int, done: threading.Event) -> None:
        """Worker processes record into events.db; the live counters are read back from it."""
        from harness.events import load_events
        while not done.wait(self.progress.interval / 2):
            try:
                events = load_events(self.run_dir, ["pipeline_start", "pipeline_end", "api_attempt",
                                                    "partial_state_detected", "partial_state_failed"])
            except Exception:  # noqa: BLE001 - a busy database: try again next time
                continue
            self.progress.set_counts(self._level_counts(events, level))

    @staticmethod
    def _level_counts(events, level: int) -> dict:
        ev = events[events.level == level]
        ends = ev[ev.kind == "pipeline_end"]
        return {"running": int((ev.kind == "pipeline_start").sum() - len(ends)),
                "done": int((ends.outcome == "ok").sum()), "failed": int((ends.outcome == "failed").sum()),
                "stopped": int((ends.outcome == "stopped").sum()),
                "throttled": int(((ev.kind == "api_attempt") & (ev.outcome == "throttled")).sum()),
                "partial_state_detected": int((ev.kind == "partial_state_detected").sum()),
                "partial_state_failed": int((ev.kind == "partial_state_failed").sum())}

    def _count_from_events(self, level: int) -> None:
        from harness.events import load_events
        counts = self._level_counts(load_events(self.run_dir), level)
        self.progress.set_counts(counts)
        self._counted[0] += counts["done"] + counts["failed"] + counts["stopped"]
        self._counted[1] += counts["failed"]

    def _dashboard(self, ctx: AwsContext, level: int, k: int, done: threading.Event) -> None:
        """A dashboard user: polls Meta's lists while the pipelines run."""
        from harness.meta import CachedMeta, Meta
        from harness.stopping import Stopped
        meta = Meta(ctx)
        if self.scenario.dashboard.cached:
            meta = CachedMeta(meta, recorder=self.recorder)
        with bound(level=level, worker=-(k + 1), stage="dashboard"), stop_on(self.signals.stop):
            while not done.is_set() and not self.signals.stop.is_set():
                try:
                    meta.feature_sets()
                    meta.endpoints()
                    meta.models()
                except Stopped:
                    return
                except Exception as err:  # noqa: BLE001
                    self.recorder.record("worker_error", error_code=failure_reason(err), error=str(err)[:300])
                done.wait(self.scenario.dashboard.poll_seconds * self.scenario.time_scale)

    def _final_cleanup(self) -> list:
        """Whatever still carries the run's tag goes; what cannot be deleted is reported."""
        if self.endpoint_url is None and self.scenario.backend == "sim":
            return []
        try:
            ctx = self.context()
            cleanup_run(ctx, self.prefix, self.run_id, say=lambda line: self.say("cleanup: " + line))
            from harness.runner.cleanup import find_run_resources
            return find_run_resources(ctx, self.prefix, self.run_id)
        except Exception as err:  # noqa: BLE001 - the backend may be gone; say so, keep the events
            self.say(f"cleanup could not finish: {err}")
            self.recorder.record("cleanup", outcome="failed", error=str(err)[:300])
            return []

    def _render(self) -> str | None:
        """None once the report is written, else why not."""
        from harness.report import render
        try:
            paths = render(self.run_dir)
            self.say(f"report: {paths['html']}")
            return None
        except Exception as err:  # noqa: BLE001 - the events are safe; the report can be rebuilt
            why = f"{type(err).__name__}: {err}"
            self.say(f"report could not be rendered ({why}); rebuild with: harness report {self.run_dir}")
            return why
