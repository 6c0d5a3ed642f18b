"""The test's pipeline N times at once on its simulator account, through the harness's runner,
and what the run measured: a team's "16 at once, none fails, p95 under 2 minutes" in its own CI.

    result = aws_sim.run_at_once(my_pipeline, n=16, params={"rows": 100})
    assert result.failed == 0, result
    assert result.p95_seconds < 120

The pipeline is what a scenario's `pipelines` names (docs/own-code.md, "Your own pipeline code,
unmodified"): a top-level function of an importable module (`function:module:name`: called with
`name` if it takes one, and `params` for its other parameters), a command as a list of arguments
(`command:`, `{name}` and `{key}` of params substituted), or any spec string (a built-in
pipeline, `module:function` returning a harness Pipeline). Every botocore client it makes is
routed to the simulator, paced and retried by the run's policy, and recorded.

The run starts from a fresh account (the simulator is reset, as for each level of a harness run):
what must exist first is made by `setup`, a pipeline spec run once before the N. Users' own code
reads the machine's clock, so it runs on the wall at the account's time scale; a harness
pipeline runs on virtual time (docs/virtual-time.md), where the simulator is on manual time and
no AWS second is waited out.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from harness.pytest_plugin.fixtures import AwsSim

PipelineSpec = Union[str, Sequence[str], Callable[..., Any]]
USERS_CODE = ("function:", "command:")


@dataclass(frozen=True)
class AtOnce:
    """What a run of N at once measured. Durations are AWS seconds (on the wall, wall seconds
    divided by the time scale)."""

    n: int
    completed: int
    failed: int
    failure_reasons: dict[str, int]  # error code -> pipelines that failed with it
    p50_seconds: float | None  # pipeline duration, completed pipelines
    p95_seconds: float | None
    throttled: int  # attempts the account answered as throttled (each retried or failed)
    queued_seconds: float  # AWS seconds the pipelines waited in the run's limiter and for concurrency slots
    time: str  # "virtual" or "wall"
    run_dir: Path  # the run folder: events.db, scenario.toml, metrics.json (`harness report` renders it)
    level: dict[str, Any] = field(repr=False)  # the level's metrics (harness/report/metrics.py level_metrics)
    metrics: dict[str, Any] = field(repr=False)  # the whole run's (run_metrics), as metrics.json has them


def pipeline_spec(pipeline: PipelineSpec, what: str = "pipeline") -> str:
    """The scenario's name for the pipeline: a spec string as given, a command's arguments as
    `command:`, a function as `function:module:name`."""
    if isinstance(pipeline, str):
        return pipeline
    if isinstance(pipeline, Sequence):
        if not pipeline or not all(isinstance(arg, str) for arg in pipeline):
            raise ValueError(f"run_at_once: {what} {pipeline!r} is not a command (a non-empty list of strings)")
        return "command:" + shlex.join(pipeline)
    if callable(pipeline):
        module, name = getattr(pipeline, "__module__", None), getattr(pipeline, "__qualname__", "")
        if not module or module == "__main__" or not name.isidentifier():
            # each pipeline imports it by name, under the instrumentation (harness/pipelines/own_code.py)
            raise ValueError(
                f"run_at_once: {what} {pipeline!r} is not allowed; expected a top-level function of an "
                "importable module (not a lambda, a nested function or a method), a command as a list "
                "of arguments, or a pipeline spec string"
            )
        return f"function:{module}:{name}"
    raise ValueError(
        f"run_at_once: {what} {pipeline!r} is not allowed; expected a function, a command as a list "
        "of arguments, or a pipeline spec string"
    )


def run_at_once(
    sim: AwsSim,
    pipeline: PipelineSpec,
    n: int = 4,
    *,
    params: dict[str, Any] | None = None,
    setup: PipelineSpec | None = None,
    policy: str = "harness",
    time: str | None = None,
    reports_dir: str | Path | None = None,
) -> AtOnce:
    """Run `pipeline` n times at once on `sim`'s account and return what the run measured.

    params: the scenario's [params]. setup: run once before the N (what onboarding makes).
    policy: the retry policy of every client (harness, botocore-standard, botocore-adaptive,
    botocore-legacy, none). time: "virtual" or "wall"; None: virtual where the pipeline allows
    it (not users' own code). reports_dir: where the run folder goes (the test's tmp_path)."""
    from harness.events import load_events, load_meta
    from harness.report.metrics import run_metrics
    from harness.runner.run import Runner
    from harness.runner.scenario import parse_scenario

    spec = pipeline_spec(pipeline)
    if time is None:
        time = "wall" if spec.startswith(USERS_CODE) else "virtual"
    account = sim.account
    source = f"run_at_once({spec!r}, n={n!r}) in {sim.test}"
    options: dict[str, Any] = {
        "profile": sim.profile,
        "region": account.region,
        "seed": account.seed,
        "time": time,
        "time_scale": account.time_scale,
        "policy": policy,
        "levels": [n],
        "pipelines": spec,
        "params": dict(params or {}),
        "ramp_up_seconds": 0,
        # the harness's table knows the test's quotas, as one synced from the account would
        "quota": [{k: v for k, v in asdict(q).items() if v is not None} for q in account.quota_rows()],
    }
    if setup is not None:
        options["setup"] = pipeline_spec(setup, "setup")
    scenario = parse_scenario(options, source, "run_at_once")
    virtual = time == "virtual"
    sim.server.reset(sim.profile, account.seed, 1.0 if virtual else account.time_scale, manual_time=virtual)
    reports = Path(reports_dir) if reports_dir is not None else sim.folder.parent / "runs"
    result = Runner(scenario, reports, [n], endpoint_url=sim.endpoint_url).run()
    if result.stopped_by:
        raise RuntimeError(f"{source}: the run stopped ({result.stopped_by}); its folder: {result.run_dir}")

    metrics = run_metrics(load_events(result.run_dir / "events.db"), load_meta(result.run_dir))
    (result.run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    level = metrics["levels"][0]
    durations, waits = level["pipeline_seconds"], level["waits"]
    return AtOnce(
        n=n,
        completed=level["completed"],
        failed=level["failed"],
        failure_reasons=level["failure_reasons"],
        p50_seconds=durations["p50"],
        p95_seconds=durations["p95"],
        throttled=level["api"]["throttled"],
        queued_seconds=waits["limiter_seconds_total"] + waits["quota_wait_seconds_total"],
        time=time,
        run_dir=result.run_dir,
        level=level,
        metrics=metrics,
    )
