"""The runner: N concurrent workers per level, each running pipelines back to back.

A run leaves reports/<run-id>/ with scenario.toml and events.db (and the report rendered from
them). A sweep runs its levels in turn, each on fresh simulator state. Stopping (Ctrl-C,
SIGTERM): no new pipelines or stages; each in-flight pipeline tears down what it made;
after the grace period a tagged cleanup deletes whatever is left.
"""
from __future__ import annotations

import random
import secrets
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from harness.artifacts import AwsContext, PartialStateError
from harness.artifacts.context import RUN_TAG
from harness.artifacts.errors import ArtifactFailed, NotReady
from harness.aws import Backend, ClientFactory, Limiter
from harness.events import Recorder
from harness.events.context import bound
from harness.pipelines.base import Pipeline, PipelineRun, load_pipeline
from harness.runner.cleanup import cleanup_run
from harness.runner.progress import Progress
from harness.runner.scenario import Scenario
from harness.runner.toml_out import dumps as toml_dumps


def new_run_id() -> str:
    """Sortable by time, unique: 20261126T060512Z-3fa9."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


def run_prefix(run_id: str) -> str:
    """The name prefix of every resource of a run: 'hx' + the run id's digits and hex."""
    stamp, _, suffix = run_id.partition("-")
    return "hx" + stamp[4:8] + stamp[9:15] + suffix.lower()


def failure_reason(err: BaseException) -> str:
    """A short category for a failed pipeline, so reports can say *why* pipelines fail."""
    if isinstance(err, PartialStateError):
        return "partial_state"
    if isinstance(err, NotReady):
        return "deadline"
    if isinstance(err, ArtifactFailed):
        return "aws_reported_failure"
    if isinstance(err, TimeoutError):
        return "quota_wait_timeout"
    if isinstance(err, ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        if code in ("ThrottlingException", "Throttling", "TooManyRequestsException", "SlowDown"):
            return "throttling"
        if code == "ResourceLimitExceeded":
            return "resource_limit"
        return f"aws_error:{code}"
    return f"error:{type(err).__name__}"


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    stopped_by: str | None = None
    pipelines: int = 0
    failed: int = 0
    leftovers: list = field(default_factory=list)


class Runner:
    def __init__(self, scenario: Scenario, reports_dir: str | Path = "reports", levels: list[int] | None = None,
                 out=sys.stderr, run_id: str | None = None, endpoint_url: str | None = None,
                 render_report: bool = True, allow_accounts: list[str] | None = None):
        self.scenario = scenario
        self.levels = levels or scenario.levels
        self.run_id = run_id or new_run_id()
        self.prefix = run_prefix(self.run_id)
        self.run_dir = Path(reports_dir) / self.run_id
        self.out = out
        self.endpoint_url = endpoint_url  # a simulator already running (tests), or an AWS stand-in
        self.render_report = render_report
        self.allowed_accounts = list(scenario.allowed_accounts) + list(allow_accounts or [])
        self.stop_event = threading.Event()
        self._process_stop = None  # the same signal for worker processes (workers = "processes")
        self.stopped_by: str | None = None
        self.progress = Progress(out)
        self.simulator = None
        self.recorder: Recorder | None = None
        self._counts = {"pipelines": 0, "failed": 0}
        self._count_lock = threading.Lock()

    # --- control -----------------------------------------------------------------------------
    def request_stop(self, reason: str = "SIGINT") -> None:
        if not self.stop_event.is_set():
            self.stopped_by = reason
            self.stop_event.set()
            if self._process_stop is not None:
                self._process_stop.set()
            self.progress.say(f"{reason}: stopping - no new pipelines; in-flight ones tear down "
                              f"(grace {self.scenario.grace_seconds:.0f} s)")

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
        self.guard_account()
        self.prepare_folder()
        self.recorder = Recorder(self.run_dir / "events.db", self.run_id)
        self.recorder.listeners.append(self.progress.observe)
        self.recorder.set_meta(run_id=self.run_id, scenario=scenario.name, levels=self.levels,
                               time_scale=scenario.time_scale, backend=scenario.backend,
                               profile=scenario.profile, policy=scenario.policy, prefix=self.prefix,
                               started=time.time(), complete=False, seed=scenario.seed,
                               pipelines=scenario.pipelines)
        self.say(f"run {self.run_id}: {scenario.name} on {scenario.backend}"
                 f"{' (' + scenario.profile + ')' if scenario.backend == 'sim' else ''}, policy {scenario.policy},"
                 f" levels {', '.join(map(str, self.levels))}, time scale {scenario.time_scale:g}")
        result = RunResult(self.run_id, self.run_dir)
        try:
            self._start_backend()
            for level in self.levels:
                if self.stop_event.is_set():
                    break
                self._run_level(level)
        finally:
            result.leftovers = self._final_cleanup()
            self.recorder.record("run_end", outcome=self.stopped_by or "complete")
            self.recorder.set_meta(complete=self.stopped_by is None, stopped_by=self.stopped_by,
                                   ended=time.time())
            self.recorder.close()
            self.progress.close()
            if self.simulator is not None:
                self.simulator.stop()
        result.stopped_by = self.stopped_by
        result.pipelines, result.failed = self._counts["pipelines"], self._counts["failed"]
        if self.render_report:
            self._render()
        return result

    def _start_backend(self) -> None:
        scenario = self.scenario
        if scenario.backend == "sim" and self.endpoint_url is None:
            from harness.sim import Simulator
            self.simulator = Simulator(scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale).start()
            self.endpoint_url = self.simulator.endpoint_url

    def _backend(self) -> Backend:
        if self.scenario.backend == "sim":
            return Backend.simulator(self.endpoint_url, self.scenario.region)
        return Backend.aws(self.scenario.region, self.scenario.aws_profile, self.endpoint_url)

    def _context(self, limiter_backend=None) -> AwsContext:
        scenario = self.scenario
        # Fresh per level (no carried adaptation); shared with worker processes through a backend.
        # Only the harness policy has one: under botocore's policies nothing is shared between
        # pipelines, and a full concurrency quota is met by ResourceLimitExceeded and retried.
        limiter = None
        if scenario.retry().uses_limiter:
            limiter = Limiter(scenario.quota_table(), scenario.time_scale, limiter_backend)
        factory = ClientFactory(self._backend(), scenario.retry(), self.recorder, limiter, scenario.time_scale,
                                max_pool_connections=max(64, 2 * max(self.levels)))
        return AwsContext(factory, bucket=f"{self.prefix}-data", run_id=self.run_id, limiter=limiter,
                          recorder=self.recorder, deadlines=scenario.deadlines)

    def _prepare_account(self, ctx: AwsContext) -> None:
        s3 = ctx.client("s3")
        try:
            s3.create_bucket(Bucket=ctx.bucket)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou",):
                raise
        s3.put_bucket_tagging(Bucket=ctx.bucket, Tagging={"TagSet": [{"Key": RUN_TAG, "Value": self.run_id}]})

    def _run_level(self, level: int) -> None:
        scenario = self.scenario
        if self.simulator is not None:
            self.simulator.reset()  # fresh state for every level, same seed
        ctx = self._context()
        pipelines = {spec: load_pipeline(spec) for spec in scenario.pipelines}
        total = level * scenario.iterations if not scenario.duration_seconds else 0
        self.progress.start_level(level, total, scenario.duration_seconds * scenario.time_scale
                                  if scenario.duration_seconds else None)
        started = time.monotonic()
        with bound(level=level):
            self.recorder.record("level_start", workers=level, ramp_up_seconds=scenario.ramp_up_seconds,
                                 duration_seconds=scenario.duration_seconds)
            self._prepare_account(ctx)
        level_done = threading.Event()
        shared = None
        if scenario.workers == "processes":
            shared, workers = self._worker_processes(level)
            threading.Thread(target=self._follow_progress, args=(level, level_done), daemon=True).start()
        else:
            workers = [threading.Thread(target=self._worker, args=(ctx, level, i, pipelines), daemon=True,
                                        name=f"worker-{i}") for i in range(level)]
        dashboards = [threading.Thread(target=self._dashboard, args=(ctx, level, k, level_done), daemon=True)
                      for k in range(scenario.dashboard.workers)]
        for worker in workers + dashboards:
            worker.start()
        self._join(workers)
        level_done.set()
        if shared is not None:
            for process in workers:
                if process.is_alive():
                    process.terminate()
                process.join(5)
            shared.stop()
            self._count_from_events(level)
        for thread in dashboards:
            thread.join(5)
        stats = self.simulator.stats() if self.simulator is not None else None
        with bound(level=level):
            self.recorder.record("level_end", duration=time.monotonic() - started,
                                 **({"sim": stats} if stats else {}))
        self.recorder.flush()
        c = self.progress.counts
        self.progress.end_level()
        self.say(f"N={level}: {c['done']} done, {c['failed']} failed in {time.monotonic() - started:.0f}s wall "
                 f"({(time.monotonic() - started) / scenario.time_scale / 60:.0f} min AWS), "
                 f"{c['throttled']} throttled attempts, {c['partial_state_detected']} partial states")
        with bound(level=level):
            cleanup_run(ctx, self.prefix, self.run_id)

    def _worker_processes(self, level: int):
        """`processes` processes, each running its share of the level's workers as threads; the
        limiter's state is served to all of them from here."""
        import multiprocessing

        from harness.aws.shared_limiter import SharedLimiterServer
        spawn = multiprocessing.get_context("spawn")
        if self._process_stop is None:
            self._process_stop = spawn.Event()
            if self.stop_event.is_set():
                self._process_stop.set()
        shared = SharedLimiterServer().start()
        count = min(self.scenario.processes, level)
        processes = []
        for p in range(count):
            plan = {"scenario": self.scenario, "run_id": self.run_id, "run_dir": str(self.run_dir),
                    "endpoint_url": self.endpoint_url, "level": level, "workers": list(range(p, level, count)),
                    "limiter": (shared.address, shared.authkey), "stop": self._process_stop}
            processes.append(spawn.Process(target=process_main, args=(plan,), name=f"workers-{p}", daemon=True))
        return shared, processes

    def _follow_progress(self, level: int, done: threading.Event) -> None:
        """Worker processes record into events.db; the live counters are read back from it."""
        from harness.events import load_events
        while not done.wait(self.progress.interval / 2):
            try:
                events = load_events(self.run_dir, ["pipeline_start", "pipeline_end", "api_attempt",
                                                    "partial_state_detected", "partial_state_failed"])
            except Exception:  # noqa: BLE001 - a busy database: try again next time
                continue
            self.progress.counts.update(self._level_counts(events, level))

    @staticmethod
    def _level_counts(events, level: int) -> dict:
        ev = events[events.level == level]
        ends = ev[ev.kind == "pipeline_end"]
        return {"running": int((ev.kind == "pipeline_start").sum() - len(ends)),
                "done": int((ends.outcome == "ok").sum()), "failed": int((ends.outcome == "failed").sum()),
                "throttled": int(((ev.kind == "api_attempt") & (ev.outcome == "throttled")).sum()),
                "partial_state_detected": int((ev.kind == "partial_state_detected").sum()),
                "partial_state_failed": int((ev.kind == "partial_state_failed").sum())}

    def _count_from_events(self, level: int) -> None:
        from harness.events import load_events
        counts = self._level_counts(load_events(self.run_dir), level)
        self.progress.counts.update(counts)
        with self._count_lock:
            self._counts["pipelines"] += counts["done"] + counts["failed"]
            self._counts["failed"] += counts["failed"]

    def _join(self, workers: list[threading.Thread]) -> None:
        deadline = None
        while any(t.is_alive() for t in workers):
            if self.stop_event.is_set() and deadline is None:
                deadline = time.monotonic() + self.scenario.grace_seconds * self.scenario.time_scale + 5
            if deadline is not None and time.monotonic() > deadline:
                self.say("grace period over: leaving the remaining pipelines to the cleanup")
                return
            for thread in workers:
                thread.join(0.2)

    def _worker(self, ctx: AwsContext, level: int, worker: int, pipelines: dict[str, Pipeline]) -> None:
        scenario = self.scenario
        rng = random.Random(f"{scenario.seed}:{level}:{worker}")
        ctx = ctx.for_worker()
        specs, weights = list(scenario.pipelines), list(scenario.pipelines.values())
        with bound(level=level, worker=worker):
            start = time.monotonic()  # the level's start: every worker stops starting pipelines together
            if scenario.ramp_up_seconds and level > 1:
                if self.stop_event.wait(scenario.ramp_up_seconds * scenario.time_scale * worker / level):
                    return
            iteration = 0
            while not self.stop_event.is_set():
                if scenario.duration_seconds:
                    if (time.monotonic() - start) / scenario.time_scale >= scenario.duration_seconds:
                        break
                elif iteration >= scenario.iterations:
                    break
                iteration += 1
                spec = rng.choices(specs, weights)[0]
                self._run_pipeline(ctx, pipelines[spec], level, worker, iteration, rng)

    def _run_pipeline(self, ctx: AwsContext, pipeline: Pipeline, level: int, worker: int, iteration: int,
                      rng: random.Random) -> None:
        pipeline_id = f"n{level}-w{worker:02d}-{iteration:03d}"
        run = PipelineRun(ctx.for_pipeline(pipeline_id), pipeline_id,
                          f"{self.prefix}-n{level}w{worker}i{iteration}", dict(self.scenario.params),
                          random.Random(rng.random()))
        outcome, reason = "ok", None
        started = time.monotonic()
        self.progress.pipeline_started()
        with bound(pipeline=pipeline_id):
            self.recorder.record("pipeline_start", name=pipeline.name)
            try:
                for stage in pipeline.stages:
                    if self.stop_event.is_set():
                        outcome, reason = "stopped", "stop requested"
                        break
                    self._stage(stage.name, lambda: stage.run(run))
            except Exception as err:  # noqa: BLE001 - a failed pipeline is data, the run goes on
                outcome, reason = "failed", failure_reason(err)
                self.recorder.record("worker_error", error_code=reason, error=str(err)[:500],
                                     traceback=traceback.format_exc(limit=6)[-2000:])
            if pipeline.teardown is not None:
                try:
                    self._stage("teardown", lambda: pipeline.teardown(run))
                except Exception as err:  # noqa: BLE001
                    self.recorder.record("worker_error", stage="teardown", error_code=failure_reason(err),
                                         error=str(err)[:500])
                    if outcome == "ok":
                        outcome, reason = "failed", "teardown:" + failure_reason(err)
            self.recorder.record("pipeline_end", outcome=outcome, error_code=reason,
                                 duration=time.monotonic() - started, name=pipeline.name)
        with self._count_lock:
            self._counts["pipelines"] += 1
            self._counts["failed"] += outcome == "failed"
        self.progress.pipeline_ended(outcome == "ok")

    def _stage(self, name: str, body) -> None:
        started = time.monotonic()
        with bound(stage=name):
            self.recorder.record("stage_start")
            try:
                body()
            except Exception as err:
                self.recorder.record("stage_end", outcome="failed", error_code=failure_reason(err),
                                     duration=time.monotonic() - started)
                raise
            self.recorder.record("stage_end", outcome="ok", duration=time.monotonic() - started)

    def _dashboard(self, ctx: AwsContext, level: int, k: int, done: threading.Event) -> None:
        """A dashboard user: polls Meta's lists while the pipelines run."""
        from harness.meta import CachedMeta, Meta
        meta = Meta(ctx)
        if self.scenario.dashboard.cached:
            meta = CachedMeta(meta, recorder=self.recorder)
        with bound(level=level, worker=-(k + 1), stage="dashboard"):
            while not done.is_set() and not self.stop_event.is_set():
                try:
                    meta.feature_sets()
                    meta.endpoints()
                    meta.models()
                except Exception as err:  # noqa: BLE001
                    self.recorder.record("worker_error", error_code=failure_reason(err), error=str(err)[:300])
                done.wait(self.scenario.dashboard.poll_seconds * self.scenario.time_scale)

    def _final_cleanup(self) -> list:
        """Whatever still carries the run's tag goes; what cannot be deleted is reported."""
        if self.endpoint_url is None and self.scenario.backend == "sim":
            return []
        try:
            ctx = self._context()
            cleanup_run(ctx, self.prefix, self.run_id, say=lambda line: self.say("cleanup: " + line))
            from harness.runner.cleanup import find_run_resources
            return find_run_resources(ctx, self.prefix, self.run_id)
        except Exception as err:  # noqa: BLE001 - the backend may be gone; say so, keep the events
            self.say(f"cleanup could not finish: {err}")
            self.recorder.record("cleanup", outcome="failed", error=str(err)[:300])
            return []

    def _render(self) -> None:
        try:
            from harness.report import render
        except ImportError:
            return
        try:
            paths = render(self.run_dir)
            self.say(f"report: {paths['html']}")
        except Exception as err:  # noqa: BLE001 - the events are safe; the report can be rebuilt
            self.say(f"report could not be rendered ({err}); rebuild with: harness report {self.run_dir}")


def process_main(plan: dict) -> None:
    """A worker process: its share of a level's workers, as threads, recording into the run's
    events.db and pacing through the runner's shared limiter."""
    import io

    from harness.aws.shared_limiter import connect
    scenario, level = plan["scenario"], plan["level"]
    runner = Runner(scenario, Path(plan["run_dir"]).parent, [level], out=io.StringIO(), run_id=plan["run_id"],
                    endpoint_url=plan["endpoint_url"], render_report=False)
    runner.stop_event = plan["stop"]
    runner.recorder = Recorder(runner.run_dir / "events.db", runner.run_id)
    try:
        ctx = runner._context(limiter_backend=connect(*plan["limiter"]))
        pipelines = {spec: load_pipeline(spec) for spec in scenario.pipelines}
        threads = [threading.Thread(target=runner._worker, args=(ctx, level, worker, pipelines), daemon=True)
                   for worker in plan["workers"]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        runner.recorder.close()
