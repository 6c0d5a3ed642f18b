"""Running pipelines: a worker runs pipelines back to back; a pipeline runs its stages, then its
teardown; every step is an event.

Two stop signals reach a worker (threading or multiprocessing events):
- `stop` (Ctrl-C, SIGTERM): no new pipeline or stage starts, and every wait inside a stage ends
  at once (`harness.stopping`); the pipeline goes on to its teardown.
- `abort` (the grace period is over, or a second Ctrl-C): the teardown's waits end too; the
  run's tagged cleanup deletes what is left.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from harness.artifacts import AwsContext, PartialStateError
from harness.aws.throttling import THROTTLE_CODES
from harness.artifacts.errors import ArtifactFailed, NotReady
from harness.clock import Clock
from harness.events import Recorder
from harness.events.context import bound
from harness.pipelines.base import Pipeline, PipelineRun
from harness.runner.scenario import Scenario
from harness.stopping import StopSignal, Stopped, stop_on

if TYPE_CHECKING:
    from harness.runner.progress import Progress


def failure_reason(err: BaseException) -> str:
    """A short category for a failed pipeline, so reports can say *why* pipelines fail."""
    if isinstance(err, Stopped):
        return "stopped"
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
        if code in THROTTLE_CODES:
            return "throttling"
        if code == "ResourceLimitExceeded":
            return "resource_limit"
        return failed_call(err)
    return f"error:{type(err).__name__}"


def failed_call(err: ClientError) -> str:
    """`service.Operation: Code`: the AWS call that failed and AWS's error code, or `HTTP <status>`
    for a code that is only a number (botocore's code for an answer it could not parse, e.g. an
    HTML 404 page)."""
    code = err.response.get("Error", {}).get("Code") or ""
    if not code or code.isdigit():
        code = f"HTTP {err.response.get('ResponseMetadata', {}).get('HTTPStatusCode') or code or '?'}"
    service = client_service(err)
    return f"{service + '.' if service else ''}{err.operation_name}: {code}"


def client_service(err: ClientError) -> str | None:
    """The service of the client that raised err, named as api_attempt events name it. A
    ClientError names only the operation; the client is `self` in the deepest client frame of its
    traceback (botocore raises it in the client's own method, in whatever thread made the call)."""
    for frame, _ in reversed(list(traceback.walk_tb(err.__traceback__))):
        client = frame.f_locals.get("self")
        if isinstance(client, BaseClient):
            service: str = client.meta.service_model.service_id.hyphenize()
            return service
    return None


def pipeline_name(level: int, worker: int, iteration: int) -> str:
    """A pipeline's id in the run's events: its level, worker (or arrival) and iteration."""
    return f"n{level}-w{worker:02d}-{iteration:03d}"


class RunSignal(StopSignal, Protocol):
    """A stop signal the runner (or its relay in a worker) also sets: a threading or a
    multiprocessing event."""

    def set(self) -> None: ...


@dataclass
class StopSignals:
    stop: RunSignal  # no new pipelines or stages; waits inside stages end
    abort: RunSignal  # teardowns stop waiting too


class Tally:
    """Pipelines finished and failed, across the worker threads of this process."""

    def __init__(self) -> None:
        self.pipelines = self.failed = 0
        self._lock = threading.Lock()

    def add(self, pipelines: int, failed: int) -> None:
        with self._lock:
            self.pipelines += pipelines
            self.failed += failed


class PipelineExecutor:
    def __init__(
        self,
        scenario: Scenario,
        recorder: Recorder,
        prefix: str,
        signals: StopSignals,
        progress: Progress | None = None,
    ) -> None:
        self.scenario, self.recorder, self.prefix = scenario, recorder, prefix
        self.signals, self.progress = signals, progress
        self.tally = Tally()
        self.after_pipeline: Callable[[], None] | None = None  # e.g. the abort thresholds' check
        # may this pipeline (level, pipeline id) start? False: none of this worker's starts again
        # (the cost guard's max_cost_usd)
        self.admit: Callable[[int, str], bool] | None = None
        self.before_stage: Callable[[], object] | None = None  # e.g. the cost guard's look

    def run_worker(self, ctx: AwsContext, level: int, worker: int, pipelines: dict[str, Pipeline]) -> None:
        """One worker of a level: spread over the ramp-up, then pipelines back to back until the
        level's iterations or duration are done, or the run stops."""
        scenario, stop = self.scenario, self.signals.stop
        rng = random.Random(f"{scenario.seed}:{level}:{worker}")
        ctx = ctx.for_worker()
        clock = ctx.clock
        specs, weights = list(scenario.pipelines), list(scenario.pipelines.values())
        with bound(level=level, worker=worker):
            start = clock.now()  # the level's start: every worker stops starting pipelines together
            if scenario.ramp_up_seconds and level > 1:
                try:
                    with stop_on(stop):
                        clock.sleep(scenario.ramp_up_seconds * worker / level)
                except Stopped:
                    return
            iteration = 0
            while not stop.is_set():
                if scenario.duration_seconds:
                    if clock.now() - start >= scenario.duration_seconds:
                        break
                elif iteration >= scenario.iterations:
                    break
                iteration += 1
                spec = rng.choices(specs, weights)[0]
                if not self._admitted(level, worker, iteration):
                    break
                self.run_pipeline(ctx, pipelines[spec], level, worker, iteration, rng)

    def run_arrival(
        self, ctx: AwsContext, level: int, index: int, due: float, rate: float, pipelines: dict[str, Pipeline]
    ) -> None:
        """One arrival of the open model: record how late it started against when it was due
        (AWS seconds) and the arrival rate then, then run one pipeline."""
        scenario = self.scenario
        rng = random.Random(f"{scenario.seed}:{level}:{index}")
        ctx = ctx.for_worker()
        specs, weights = list(scenario.pipelines), list(scenario.pipelines.values())
        with bound(level=level, worker=index):
            if not self._admitted(level, index, 1):
                return
            late = max(0.0, ctx.clock.now() - due)
            self.recorder.record("arrival", duration=ctx.clock.wall(late), rate=round(rate, 2))
            self.run_pipeline(ctx, pipelines[rng.choices(specs, weights)[0]], level, index, 1, rng)

    def run_pipeline(
        self, ctx: AwsContext, pipeline: Pipeline, level: int, worker: int, iteration: int, rng: random.Random
    ) -> str:
        """Stages under the stop signal, then the teardown under the abort signal; returns the
        outcome: ok, failed or stopped."""
        pipeline_id = pipeline_name(level, worker, iteration)
        run = PipelineRun(
            ctx.for_pipeline(pipeline_id),
            pipeline_id,
            f"{self.prefix}-n{level}w{worker}i{iteration}",
            dict(self.scenario.params),
            random.Random(rng.random()),
            abort=self.signals.abort,
        )
        outcome, reason = "ok", None
        clock = ctx.clock
        started, on_the_machine = clock.now(), time.monotonic()
        if self.progress is not None:
            self.progress.pipeline_started()
        with bound(pipeline=pipeline_id):
            self.recorder.record("pipeline_start", name=pipeline.name)
            try:
                with stop_on(self.signals.stop):
                    for stage in pipeline.stages:
                        if self.before_stage is not None:
                            self.before_stage()
                        if self.signals.stop.is_set():
                            raise Stopped("stop requested")
                        self._stage(clock, stage.name, partial(stage.run, run))
            except Stopped:
                outcome, reason = "stopped", "stop requested"
            except Exception as err:  # noqa: BLE001 - a failed pipeline is data, the run goes on
                outcome, reason = "failed", failure_reason(err)
                self.recorder.record(
                    "worker_error",
                    error_code=reason,
                    error=str(err)[:500],
                    traceback=traceback.format_exc(limit=6)[-2000:],
                )
            if pipeline.teardown is not None:
                try:
                    with stop_on(self.signals.abort):
                        self._stage(clock, "teardown", partial(pipeline.teardown, run))
                except Stopped:
                    self.recorder.record(
                        "worker_error",
                        stage="teardown",
                        error_code="stopped",
                        error="grace period over: teardown cut short, cleanup deletes the rest",
                    )
                except Exception as err:  # noqa: BLE001
                    self.recorder.record(
                        "worker_error", stage="teardown", error_code=failure_reason(err), error=str(err)[:500]
                    )
                    if outcome == "ok":
                        outcome, reason = "failed", "teardown:" + failure_reason(err)
            self.recorder.record(
                "pipeline_end",
                outcome=outcome,
                error_code=reason,
                duration=clock.wall(clock.now() - started),
                name=pipeline.name,
            )
        self.tally.add(1, outcome == "failed")
        if self.progress is not None:
            self.progress.pipeline_ended(outcome == "ok", time.monotonic() - on_the_machine)  # for the ETA
        if self.after_pipeline is not None:
            self.after_pipeline()
        return outcome

    def _admitted(self, level: int, worker: int, iteration: int) -> bool:
        return self.admit is None or self.admit(level, pipeline_name(level, worker, iteration))

    def _stage(self, clock: Clock, name: str, body: Callable[[], None]) -> None:
        """Durations are the run clock's (in wall seconds, as every event's): on a manual clock
        they are the AWS time the stage took, whatever the machine was doing."""
        started = clock.now()
        with bound(stage=name):
            self.recorder.record("stage_start")
            try:
                body()
            except Exception as err:
                self.recorder.record(
                    "stage_end",
                    outcome="stopped" if isinstance(err, Stopped) else "failed",
                    error_code=failure_reason(err),
                    duration=clock.wall(clock.now() - started),
                )
                raise
            self.recorder.record("stage_end", outcome="ok", duration=clock.wall(clock.now() - started))
