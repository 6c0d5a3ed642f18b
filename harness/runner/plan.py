"""`harness plan`: what a scenario will do, before it does it, without calling AWS.

The expected calls come from a dry run, not from a hand-kept model: one pipeline of each kind
in the mix runs on a private simulator with the scenario's lifecycle timings (no quotas,
faults, latency or jitter, so it measures the pipeline's own demand) in virtual time: the
harness runs on a manual clock that moves the simulator's AWS clock with it, so the dry run
waits for nothing and counts the same calls however busy the machine is.
Scaled to N pipelines that gives the calls by operation, the resources made, the quota that
binds first (the bottleneck analysis), the run time in AWS time, and a cost estimate.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.clock import ManualClock
from harness.events import load_events, load_meta
from harness.report.bottleneck import analyse
from harness.report.metrics import run_metrics
from harness.runner.prices import instance_type, load_prices
from harness.runner.scenario import Scenario, SharedLimiter
from harness.profiles import load_profile

if TYPE_CHECKING:
    import pandas as pd

    from harness.sim import Simulator


class SimulatorTime(ManualClock):
    """A manual clock (AWS seconds) that moves a manual-time simulator's clock with it."""

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(time_scale=1.0)
        self.simulator = simulator

    def sleep(self, aws_seconds: float) -> None:
        super().sleep(aws_seconds)
        self.simulator.advance(aws_seconds)


def _dry_run_profile(scenario: Scenario, folder: Path) -> str:
    """The scenario's profile (for real AWS: aws-default) with only its lifecycle timings: every
    `*_seconds` of every lifecycle, no quota, no jitter, no failure."""
    name = scenario.profile if scenario.target == "sim" else "aws-default"
    source = load_profile(name)
    lines = ['quota_table = "none"', "jitter = 0.0"]
    for lifecycle in ("feature_group", "athena_query", "training_job", "endpoint"):
        timings = {k: v for k, v in asdict(getattr(source, lifecycle)).items() if k.endswith("_seconds")}
        lines += [f"[lifecycle.{lifecycle}]"] + [f"{key} = {value!r}" for key, value in timings.items()]
    path = folder / "dry-run.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _dry_runs(scenario: Scenario) -> Iterator[tuple[float, pd.DataFrame, Path]]:
    """One run of each pipeline in the mix on a private simulator: (its weight in the mix, its
    events, its run folder), while the folder exists."""
    from harness.runner.run import Runner
    from harness.sim import Simulator

    total_weight = sum(scenario.pipelines.values())
    with tempfile.TemporaryDirectory() as folder:
        profile = _dry_run_profile(scenario, Path(folder))
        with Simulator(profile, seed=scenario.seed) as sim:
            for spec, weight in scenario.pipelines.items():
                sim.reset(manual_time=True)
                single = replace(
                    scenario,
                    # the private simulator has none of the account's things: the run makes its own
                    account=replace(scenario.account, bucket=None, role_arn=None, training_image=None),
                    target="sim",
                    profile=profile,
                    time_scale=1.0,
                    pipelines={spec: 1.0},
                    iterations=1,
                    duration_seconds=0.0,
                    ramp_up_seconds=0.0,
                    arrivals=False,
                    levels=[1],
                    level_time_scales={},
                    workers="threads",  # one pipeline's demand is the same in a thread (no Ray cluster)
                    limiter=SharedLimiter(),
                    dashboard=replace(scenario.dashboard, workers=0),
                    max_cost_usd=None,  # the dry run measures a pipeline's demand; nothing is spent
                )
                result = Runner(
                    single, folder, [1], out=io.StringIO(), endpoint_url=sim.endpoint_url, clock=SimulatorTime(sim)
                ).run()
                events = load_events(result.run_dir)
                if result.failed:  # bad input more often than not (a user pipeline's params are not checked)
                    raise ValueError(
                        f"the dry run of pipeline {spec} failed{first_error(events)}; run it with "
                        "harness run to see more"
                    )
                yield weight / total_weight, events, result.run_dir
    if not scenario.pipelines:
        raise ValueError(f"{scenario.source}: no pipeline to dry-run (the scenario's pipelines are empty)")


def dry_run(scenario: Scenario) -> tuple[dict[str, float], dict[str, Any]]:
    """Per-pipeline calls by operation (weighted over the mix) and the dry run's metrics."""
    calls: dict[str, float] = {}
    metrics: dict[str, Any] | None = None
    for share, events, run_dir in _dry_runs(scenario):
        attempts = events[(events.kind == "api_attempt") & events.pipeline.notna()]
        for (service, operation), n in attempts.groupby(["service", "operation"]).size().items():
            key = f"{service}.{operation}"
            calls[key] = calls.get(key, 0.0) + n * share
        metrics = run_metrics(events, load_meta(run_dir))
    assert metrics is not None  # _dry_runs refuses an empty mix
    return calls, metrics


def operations_used(scenario: Scenario) -> set[str]:
    """Every call (service.Operation) a run of the scenario makes, its pipelines' and its own
    (the bucket, cleanup): what `harness doctor` checks the caller may do."""
    used: set[str] = set()
    for _, events, _ in _dry_runs(scenario):
        attempts = events[events.kind == "api_attempt"]
        used |= {f"{s}.{o}" for s, o in attempts[["service", "operation"]].drop_duplicates().itertuples(index=False)}
    if scenario.account.bucket:  # the dry run made a bucket of its own; this run uses the account's
        used -= {"s3.CreateBucket", "s3.DeleteBucket", "s3.PutBucketTagging"}
    return used


def first_error(events: pd.DataFrame) -> str:
    """': what the first failed pipeline raised', on one line (or '')."""
    errors = events[events.kind == "worker_error"]
    if errors.empty:
        return ""
    first = errors.iloc[0]
    error = json.loads(first.detail or "{}").get("error") or first.error_code
    return ": " + " ".join(str(error).split())


def make_plan(scenario: Scenario, n: int) -> dict[str, Any]:
    calls, metrics = dry_run(scenario)
    bottleneck = analyse(metrics, scenario.quota_table(), targets=(n,))
    level = metrics["levels"][0]
    duration = level["pipeline_seconds"]["p50"] or 0.0
    pipelines = planned_pipelines(scenario, n, duration)
    holds = level["waits"]["quota_hold_seconds"]
    table = scenario.quota_table()
    queueing = 0.0
    for key, hold in holds.items():
        service, operation = key.split(".", 1)
        quota = table.lookup(service, operation)
        if quota and quota.concurrency and n > quota.concurrency and hold.get("mean"):
            queueing = max(queueing, (math.ceil(n / quota.concurrency) - 1) * hold["mean"])
    if scenario.duration_seconds:  # starts stop at duration; the last pipelines then finish
        run_seconds = max(scenario.duration_seconds, scenario.ramp_up_seconds) + duration + queueing
    else:
        run_seconds = scenario.ramp_up_seconds + scenario.iterations * duration + queueing
    creates = {op: per * pipelines for op, per in calls.items() if op.split(".", 1)[1].startswith("Create")}
    sustainable = None
    if scenario.arrivals:  # the open model: n is an arrival rate; what rate can the account keep up with?
        bounds = [
            b
            for b in (
                bottleneck.get("bound_pipelines_per_hour"),
                3600.0 * scenario.max_in_flight / duration if duration else None,
            )
            if b
        ]
        sustainable = min(bounds) if bounds else None
    return {
        "sustainable_per_hour": sustainable,
        "scenario": scenario.name,
        "n": n,
        "pipelines": pipelines,
        "calls_per_pipeline": calls,
        "calls": {op: per * pipelines for op, per in sorted(calls.items(), key=lambda kv: -kv[1])},
        "resources_created": creates,
        "bottleneck": bottleneck,
        "pipeline_seconds": duration,
        "queueing_seconds": queueing,
        "run_seconds": run_seconds,
        "cost": cost(scenario, holds, calls, pipelines),
    }


def planned_pipelines(scenario: Scenario, n: int, duration: float) -> int:
    """Pipelines a level of N runs: N x iterations, or in duration mode each worker's pipelines
    from its start in the ramp-up until the duration is over (the last one started counts); in
    the open model, n per hour for the duration."""
    if scenario.arrivals:
        return math.ceil(n * scenario.duration_seconds / 3600.0)
    if not scenario.duration_seconds:
        return n * scenario.iterations
    if duration <= 0:
        return n
    total = 0
    for worker in range(n):
        start = scenario.ramp_up_seconds * worker / n if n > 1 else 0.0
        total += max(1, math.ceil((scenario.duration_seconds - start) / duration))
    return total


def cost(
    scenario: Scenario, holds: Mapping[str, Mapping[str, float | None]], calls: Mapping[str, float], pipelines: int
) -> dict[str, float | str | list[str]]:
    """The run's cost at the list prices of the scenario's region; a figure the region has no
    price for is NaN (and said so by format_plan), not another region's."""
    prices = load_prices().region(scenario.region)
    instance = instance_type(scenario.params)
    nan = float("nan")
    training_h = (holds.get("sagemaker.CreateTrainingJob") or {}).get("mean") or 0.0
    hosting_h = (holds.get("sagemaker.CreateEndpoint") or {}).get("mean") or 0.0
    training = pipelines * training_h / 3600 * prices.training.get(instance, nan)
    hosting = pipelines * hosting_h / 3600 * prices.hosting.get(instance, nan)
    writes = pipelines * calls.get("sagemaker-featurestore-runtime.PutRecord", 0.0)
    feature_store = writes / 1e6 * prices.feature_store.get("write_per_million", nan)
    return {
        "training_usd": training,
        "hosting_usd": hosting,
        "feature_store_usd": feature_store,
        "total_usd": training + hosting + feature_store,
        "instance_type": instance,
        "prices_date": prices.as_of or "no date",
        "prices_region": prices.region,
        "prices_source": prices.found_in,
        "prices_missing": prices.missing_for(instance),
        "excludes": "S3 storage and requests, Glue, Athena, data transfer",
    }


def format_plan(plan: dict[str, Any]) -> str:
    lines = [
        f"Plan: {plan['scenario']} at N={plan['n']} ({plan['pipelines']} pipelines), from a dry run on a "
        "private simulator (nothing was sent to AWS).",
        "",
        "Resources created:",
    ]
    for op, count in plan["resources_created"].items():
        lines.append(f"  {count:8.0f}  {op}")
    total = sum(plan["calls"].values())
    lines += ["", f"Expected API calls: {total:.0f} in all"]
    for op, count in plan["calls"].items():
        lines.append(f"  {count:8.0f}  {op}  ({100 * count / total:.1f}%)")
    binding = plan["bottleneck"].get("binding")
    lines.append("")
    if binding:
        need = binding.get("needed_for", {}).get(str(plan["n"]))
        lines.append(
            f"Quota predicted to bind first: {binding['quota']} (limit {binding['limit']:g}); it allows "
            f"{binding['max_pipelines_per_hour']:.0f} pipelines/hour"
            + (f"; N={plan['n']} needs {need['limit']:.3g} (x{need['raise_by']:.2f})" if need else "")
        )
    if plan.get("sustainable_per_hour"):
        lines.append(
            f"Highest sustainable arrival rate predicted: {plan['sustainable_per_hour']:.0f} pipelines/hour "
            "(the binding quota's bound, or max_in_flight pipelines of the uncontended length per hour)"
        )
    lines.append(
        f"Expected run time: {plan['run_seconds'] / 60:.0f} min in AWS time (a pipeline takes "
        f"{plan['pipeline_seconds'] / 60:.0f} min; queueing for concurrency quotas adds "
        f"{plan['queueing_seconds'] / 60:.0f} min)"
    )
    c = plan["cost"]
    lines.append(
        f"Cost estimate: ${c['total_usd']:.2f} (training ${c['training_usd']:.2f}, endpoints "
        f"${c['hosting_usd']:.2f}, feature store writes ${c['feature_store_usd']:.4f}) on {c['instance_type']}, "
        f"prices of {c['prices_date']} for {c['prices_region']}; excludes {c['excludes']}"
    )
    unpriced = [m for m in c.get("prices_missing", []) if not m.startswith("athena")]  # the plan leaves Athena out
    if unpriced:
        lines.append(f"  (nan: harness/prices.toml has no price in {c['prices_region']} for {', '.join(unpriced)})")
    return "\n".join(lines)


# A dry run takes seconds of the machine (5 to 15 for the shipped pipelines on a busy 2-core one):
# worth it for an ETA where a pipeline lasts half a wall minute or more (36 AWS minutes at 1/60),
# not where it lasts seconds.
ETA_MIN_TIME_SCALE = 1 / 60


def planned_pipeline_seconds(scenario: Scenario, levels: list[int]) -> float | None:
    """One pipeline's length alone by the plan (AWS seconds: the dry run's median), for the progress
    line's ETA until the run's own pipelines end. None where there is nothing to predict: a level
    with a clock of its own (a duration, arrivals), virtual time (its AWS seconds are not the
    machine's), or a time scale below ETA_MIN_TIME_SCALE. Raises what the dry run raises."""
    if scenario.time == "virtual" or scenario.duration_seconds or scenario.arrivals:
        return None
    if max(scenario.time_scale_at(n) for n in levels) < ETA_MIN_TIME_SCALE:
        return None
    _, metrics = dry_run(scenario)
    seconds: float | None = metrics["levels"][0]["pipeline_seconds"]["p50"]
    return seconds


def predict_sustainable_rate(scenario: Scenario, levels: list[int], say: Callable[[str], None]) -> float | None:
    """The open model: what `harness plan` predicts as the highest sustainable arrival rate, for a
    run to record beside the rate it measures (a dry run on a private simulator, a few seconds)."""
    if not scenario.arrivals or scenario.target != "sim":
        return None
    try:
        predicted: float | None = make_plan(scenario, max(levels))["sustainable_per_hour"]
    except Exception as err:  # noqa: BLE001 - a prediction that cannot be made is not a failed run
        say(f"no prediction of the sustainable rate: {err}")
        return None
    return predicted or None
