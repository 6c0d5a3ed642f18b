"""Metrics per concurrency level, from raw events (percentiles from raw values, never buckets).

Durations in the output are AWS seconds (wall seconds / time_scale); `wall_seconds` says what a
level took on the clock. Throughput is steady-state where the level ran in duration mode (a
window after the ramp-up, see window_throughput) and completed / level time otherwise (batch).
Dashboard workers (negative worker ids) are left out of per-pipeline demand so the pipelines' own
needs are measured.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from harness.report import enforced

PERCENTILES = (50, 95, 99)


def _pct(values) -> dict:
    values = np.asarray([v for v in values if v is not None and not pd.isna(v)], dtype=float)
    if values.size == 0:
        return {f"p{p}": None for p in PERCENTILES} | {"mean": None, "max": None, "count": 0}
    return {f"p{p}": float(np.percentile(values, p)) for p in PERCENTILES} | {
        "mean": float(values.mean()),
        "max": float(values.max()),
        "count": int(values.size),
    }


def _details(frame: pd.DataFrame) -> list[dict]:
    return [json.loads(d) if isinstance(d, str) and d else {} for d in frame["detail"]]


def level_metrics(events: pd.DataFrame, level: int, time_scale: float, virtual: bool = False) -> dict:
    """virtual: the run was on virtual time (harness.virtual_time): no call's time is the machine's."""
    ev = events[events.level == level]
    aws = 1.0 / time_scale
    starts, ends = ev[ev.kind == "level_start"], ev[ev.kind == "level_end"]
    wall = None
    if len(starts):
        last = ends.mono_time.max() if len(ends) else ev.mono_time.max()
        wall = float(last - starts.mono_time.min())  # on virtual time: AWS seconds (its scale is 1)
    machine = _details(ends)[0].get("wall_seconds") if len(ends) else None  # the machine's own time
    pipelines = ev[ev.kind == "pipeline_end"]
    ok = pipelines[pipelines.outcome == "ok"]
    failed = pipelines[pipelines.outcome == "failed"]
    stopped = pipelines[pipelines.outcome == "stopped"]
    n_pipelines = max(1, len(pipelines))

    own = ev[(ev.worker.isna()) | (ev.worker >= 0)]
    attempts = own[own.kind == "api_attempt"]
    by_op = {}
    for (service, operation), group in attempts.groupby(["service", "operation"]):
        throttled = int((group.outcome == "throttled").sum())
        by_op[f"{service}.{operation}"] = {
            "attempts": int(len(group)),
            "attempts_per_pipeline": len(group) / n_pipelines,
            "throttled": throttled,
            "throttle_rate": throttled / len(group),
            "errors": int((group.outcome.isin(["error", "exception"])).sum()),
            "latency_seconds": _pct(group.duration * aws),
        }
    stages = {}
    stage_ends = ev[(ev.kind == "stage_end") & (ev.worker >= 0)]
    for stage, group in stage_ends.groupby("stage"):
        stages[stage] = _pct(group.duration * aws) | {"failed": int((group.outcome == "failed").sum())}

    partial = ev[ev.kind.str.startswith("partial_state")]
    resolved = partial[partial.kind == "partial_state_resolved"]
    limiter = ev[ev.kind == "limiter_wait"]
    quota_wait = ev[ev.kind == "quota_wait"]
    holds = {}
    for (service, operation), group in ev[ev.kind == "quota_hold"].groupby(["service", "operation"]):
        # holds_per_pipeline: an Athena query holds an active-query slot each, many per pipeline
        holds[f"{service}.{operation}"] = _pct(group.duration * aws) | {"holds_per_pipeline": len(group) / n_pipelines}

    # each finished pipeline's time less its own waits for concurrency slots: what it would have
    # taken had no quota been full (the capacity plan's D when every level was contended)
    waited = {p: float(d) for p, d in quota_wait.groupby("pipeline").duration.sum().items()}
    unqueued = [max(0.0, float(d) - waited.get(p, 0.0)) for p, d in zip(ok.pipeline, ok.duration, strict=False)]

    queries = ev[ev.kind == "query"]
    sim = None
    if len(ends):
        detail = _details(ends.tail(1))[0]
        sim = detail.get("sim")
    batch = len(ok) / (wall * aws / 3600.0) if wall else None
    window = measurement_window(starts, time_scale)
    method, throughput = "batch", batch
    if window:
        method, throughput = window_throughput(ok, window, time_scale)

    failure_reasons = failed.error_code.fillna("unknown").value_counts().to_dict()
    return {
        "level": int(level),
        "time_scale": time_scale,
        "pipelines": int(len(pipelines)),
        "completed": int(len(ok)),
        "failed": int(len(failed)),
        "stopped": int(len(stopped)),
        "failure_reasons": {str(k): int(v) for k, v in failure_reasons.items()},
        "wall_seconds": machine if machine is not None else wall,
        "aws_seconds": wall * aws if wall else None,
        "throughput_per_hour": throughput,
        "throughput_method": method,
        "batch_throughput_per_hour": batch,
        "steady_window_aws_seconds": (window[1] - window[0]) * aws if window else None,
        "pipeline_seconds": _pct(ok.duration * aws),
        "pipeline_seconds_without_quota_waits": _pct([d * aws for d in unqueued]),
        "stage_seconds": stages,
        "api": {
            "attempts": int(len(attempts)),
            "attempts_per_pipeline": len(attempts) / n_pipelines,
            "throttled": int((attempts.outcome == "throttled").sum()),
            # a concurrency quota full (e.g. 4 feature groups creating): refused, not throttled
            "limit_rejected": int(len(enforced.refusals(attempts))),
            "throttle_rate": float((attempts.outcome == "throttled").mean()) if len(attempts) else 0.0,
            "retries": int((own.kind == "retry").sum()),
            "by_operation": by_op,
        },
        "waits": {
            "limiter_seconds_total": float(limiter.duration.sum() * aws),
            "limiter_seconds_per_pipeline": float(limiter.duration.sum() * aws / n_pipelines),
            "quota_wait_seconds_total": float(quota_wait.duration.sum() * aws),
            "quota_wait_seconds_per_pipeline": float(quota_wait.duration.sum() * aws / n_pipelines),
            "quota_hold_seconds": holds,
            # AWS seconds per pipeline spent waiting for each concurrency quota's slot
            "quota_wait_by_quota": {
                f"{service}.{operation}": float(group.duration.sum() * aws / n_pipelines)
                for (service, operation), group in quota_wait.groupby(["service", "operation"])
            },
        },
        "partial_state": {
            "detected": int((partial.kind == "partial_state_detected").sum()),
            "resolved": int(len(resolved)),
            "failed": int((partial.kind == "partial_state_failed").sum()),
            "seconds_to_resolve": _pct(resolved.duration * aws),
        },
        "queries": {
            "count": int(len(queries)),
            "failed": int((queries.outcome != "SUCCEEDED").sum()),
            "seconds": _pct(queries.duration * aws),
        },
        # writes another writer beat to it (Glue ConcurrentModificationException), retried
        "contention": int((ev.kind == "contention").sum()),
        "arrivals": arrival_metrics(ev, starts, ok, aws),
        # what the account enforced where it refused or throttled (harness/report/enforced.py)
        "enforced": enforced.observed(ev, attempts, time_scale),
        "simulator": simulator_health(sim, machine if machine is not None else wall),
        "overhead": measurement_overhead(
            attempts, n_pipelines, ok.duration.mean() * aws if len(ok) else None, aws, virtual
        ),
    }


# Above this share of pipeline time, a level's figures measure the harness and the simulator
# as much as the account: the report says so and suggests a slower time scale.
OVERHEAD_WARN_SHARE = 0.05


def measurement_overhead(
    attempts: pd.DataFrame, n_pipelines: int, pipeline_seconds: float | None, aws: float, virtual: bool = False
) -> dict | None:
    """How much of the calls' time was the measurement itself: each attempt's round trip minus
    what the simulator says was the profile's latency (its x-sim-injected-ms header). The rest
    is split at the simulator's door (x-sim-served-ms): `simulator` is its own work and its
    queue for moto, `client` is the harness's CPU and GIL and the transport. At a time scale of
    1/60 one wall millisecond of it is 60 ms of AWS time added to a call.

    None off the simulator (no header). `aws_seconds_per_pipeline` adds up every call, so where a
    pipeline's calls overlap (PutRecord from many threads) it is an upper bound."""
    if attempts.empty:
        return None
    details = _details(attempts)
    injected = pd.Series([d.get("injected") for d in details], index=attempts.index, dtype=float)
    served = pd.Series([d.get("served") for d in details], index=attempts.index, dtype=float)
    known = injected.notna() & served.notna()
    if not known.any():
        return None
    duration = attempts.duration[known]
    extra = (duration - injected[known]).clip(lower=0.0)
    simulator = (served[known] - injected[known]).clip(lower=0.0)
    client = (duration - served[known]).clip(lower=0.0)
    if virtual:  # the clock stood still while both worked: neither added any time to a call
        simulator = client = extra * 0.0
    per_pipeline = float(extra.sum() * aws / n_pipelines)
    share = per_pipeline / pipeline_seconds if pipeline_seconds else None

    def ms(values) -> dict:
        return {k: (v * 1000.0 if k != "count" and v is not None else v) for k, v in _pct(values).items()}

    return {
        "calls": int(known.sum()),
        "per_call_wall_ms": ms(extra),
        "simulator_wall_ms": ms(simulator),
        "client_wall_ms": ms(client),
        "aws_seconds_per_pipeline": per_pipeline,
        "share_of_pipeline": share,
        "high": bool(share is not None and share > OVERHEAD_WARN_SHARE),
    }


def measurement_window(starts: pd.DataFrame, time_scale: float) -> tuple[float, float] | None:
    """The steady-state window of a duration-mode level (monotonic seconds): from the end of the
    ramp-up (every worker busy) to when workers stop starting pipelines. None in batch mode."""
    if not len(starts):
        return None
    detail = _details(starts.head(1))[0]
    ramp, duration = detail.get("ramp_up_seconds") or 0.0, detail.get("duration_seconds") or 0.0
    if duration <= ramp:
        return None
    begin = float(starts.mono_time.min())
    return begin + ramp * time_scale, begin + duration * time_scale


def window_throughput(ok: pd.DataFrame, window: tuple[float, float], time_scale: float) -> tuple[str, float]:
    """("steady", the fractional estimate) when the level was in steady state, else
    ("departures", pipelines that finished inside the window / its length).

    The fractional estimate assumes each pipeline's progress is spread evenly over its run. Past
    a binding quota the queue for it may still be building when the window closes: pipelines in
    flight then are mostly waiting, yet would be credited for their time. The departure count
    makes no such assumption but moves in whole pipelines. When the two differ by more than that
    resolution (two pipelines, or a tenth of the count), the level was not in steady state and
    the departures are what it delivered."""
    w0, w1 = window
    hours = (w1 - w0) / time_scale / 3600.0
    departed = int(((ok.mono_time >= w0) & (ok.mono_time < w1)).sum())
    steady = steady_throughput(ok, window, time_scale)
    if abs(steady * hours - departed) > max(2.0, 0.1 * departed):
        return "departures", departed / hours
    return "steady", steady


def steady_throughput(ok: pd.DataFrame, window: tuple[float, float], time_scale: float) -> float:
    """Pipelines per AWS hour completed inside the window. Each completed pipeline counts the
    fraction of its lifetime that fell inside (a pipeline is one unit of work spread over its
    run), so pipelines straddling the window's edges count in part: in steady state this is
    unbiased, and far less noisy than counting whole completions."""
    w0, w1 = window
    ends = ok.mono_time.to_numpy(dtype=float)
    lengths = np.maximum(ok.duration.to_numpy(dtype=float), 1e-9)
    overlap = np.clip(np.minimum(ends, w1) - np.maximum(ends - lengths, w0), 0.0, None)
    return float((overlap / lengths).sum() / ((w1 - w0) / time_scale / 3600.0))


def simulator_health(stats: dict | None, wall: float | None) -> dict | None:
    """Did the simulator itself saturate? Long queueing for moto means it was the bottleneck."""
    if not stats:
        return None
    queue = stats.get("queue", {})
    mean_ms = 1000 * queue.get("mean_seconds", 0.0)
    requests = stats.get("requests")
    return {
        "requests": requests,
        "requests_per_second": requests / wall if wall and requests is not None else None,
        "max_in_flight": stats.get("max_in_flight"),
        "queue_mean_ms": mean_ms,
        "queue_max_ms": 1000 * queue.get("max_seconds", 0.0),
        "saturated": mean_ms > 50.0,
        "operations": stats.get("operations", {}),
    }


def left_behind(events: pd.DataFrame) -> dict | None:
    """What the simulator still held when the run ended, by its own count ({kind: n}, only
    kinds with something left), or None when no simulator inventory was recorded (real AWS, or
    a simulator the run did not start)."""
    ends = events[events.kind == "run_end"]
    if ends.empty or not isinstance(ends.detail.iloc[-1], str):
        return None
    resources = (json.loads(ends.detail.iloc[-1]).get("sim") or {}).get("resources")
    if resources is None:
        return None
    return {kind: int(n) for kind, n in resources.items() if n}


SUSTAINED_DELAY_SHARE = 0.05  # start delays (p95) under this share of the pipeline time: the queue drained


def arrival_metrics(ev: pd.DataFrame, starts: pd.DataFrame, ok: pd.DataFrame, aws: float) -> dict | None:
    """The open model's level (an arrival rate): how many arrived, how late they started against
    when they were due, how many completed per hour of arrivals, and whether the queue drained
    (late starts stayed small, and the later half started no later than the earlier half)."""
    arrived = ev[ev.kind == "arrival"]
    if arrived.empty:
        return None
    details = _details(starts.tail(1))
    window = float(details[0].get("duration_seconds") or 0.0) if details else 0.0
    late = arrived.duration.to_numpy() * aws
    half = len(late) // 2
    mean_pipeline = float(ok.duration.mean() * aws) if len(ok) else None
    by_worker = dict(zip(arrived.worker, late, strict=False))
    response = [d * aws + by_worker.get(w, 0.0) for w, d in zip(ok.worker, ok.duration, strict=False)]
    p95_late = float(np.percentile(late, 95))
    growing = half > 0 and float(np.mean(late[half:])) > 2 * float(np.mean(late[:half])) + 1.0
    sustained = bool(mean_pipeline and p95_late <= SUSTAINED_DELAY_SHARE * mean_pipeline and not growing)
    # a ramp: the rate in force when pipelines first started late by more than the share
    rates = [d.get("rate") for d in _details(arrived)]
    late_from = None
    if mean_pipeline and len({r for r in rates if r is not None}) > 1:
        over = [r for r, wait in zip(rates, late, strict=False) if wait > SUSTAINED_DELAY_SHARE * mean_pipeline]
        late_from = over[0] if over else None
    return {
        "arrived": int(len(arrived)),
        "window_seconds": window,
        "ramp": len(set(rates)) > 1,
        "queue_grew_from_rate": late_from,
        "completed_per_hour": len(ok) / (window / 3600.0) if window else None,
        "start_delay_seconds": _pct(late),
        "response_seconds": _pct(response),
        "sustained": sustained,
    }


def level_time_scales(metrics: dict) -> dict[int, float]:
    """Each level's time scale (a scenario may change it from a level on)."""
    return {level["level"]: level.get("time_scale", metrics["time_scale"]) for level in metrics["levels"]}


def time_scales_text(metrics: dict) -> str:
    if metrics.get("time") == "virtual":
        return "on virtual time (AWS time moved only when every worker waited: no figure includes this machine's speed)"
    scales = level_time_scales(metrics)
    if len(set(scales.values())) <= 1:
        return f"time scale {metrics['time_scale']:g}"
    return "time scales " + ", ".join(f"{scale:g} at N={n}" for n, scale in scales.items())


def recorded_time_scales(events: pd.DataFrame, default: float) -> dict[int, float]:
    """Each level's time scale as its level_start recorded it (a scenario's level_time_scale),
    else the run's."""
    starts = events[events.kind == "level_start"]
    return {
        int(level): float(detail.get("time_scale", default))
        for level, detail in zip(starts.level, _details(starts), strict=False)
        if level == level
    }


def capacity_levels(levels: list[dict]) -> list[dict]:
    """The levels capacity figures (binding quota, raise, USL) come from: those where a pipeline
    completed. A level whose pipelines all failed measured how they failed, not the account."""
    return [level for level in levels if level["completed"]]


TOP_FAILURE_REASONS = 5


def top_failure_reasons(levels: list[dict]) -> list[dict]:
    """The run's most frequent failure reasons, most frequent first, with a count each."""
    counts: dict[str, int] = {}
    for level in levels:
        for reason, n in level["failure_reasons"].items():
            counts[reason] = counts.get(reason, 0) + n
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:TOP_FAILURE_REASONS]
    return [{"reason": reason, "count": n} for reason, n in ranked]


def run_metrics(events: pd.DataFrame, meta: dict) -> dict:
    time_scale = float(meta.get("time_scale", 1.0))
    levels = sorted(int(level) for level in events[events.kind == "level_start"].level.dropna().unique())
    scales = recorded_time_scales(events, time_scale)
    virtual = meta.get("time") == "virtual"
    per_level = [level_metrics(events, level, scales.get(level, time_scale), virtual) for level in levels]
    failed_levels = [level["level"] for level in per_level if level["failed"] and not level["completed"]]
    return {
        "schema_version": 1,
        "run_id": meta.get("run_id"),
        "scenario": meta.get("scenario"),
        "target": meta.get("target", meta.get("backend")),  # runs recorded before it was "target"
        "profile": meta.get("profile"),
        "policy": meta.get("policy"),
        "time_scale": time_scale,
        "time": meta.get("time", "wall"),  # runs recorded before virtual time were on the wall
        "complete": bool(meta.get("complete", False)),
        "stopped_by": meta.get("stopped_by"),
        # first, as the report puts it first: a run where nothing completed measured no capacity
        "every_level_failed": bool(failed_levels) and not capacity_levels(per_level),
        "failed_levels": failed_levels,
        "top_failure_reasons": top_failure_reasons(per_level),
        "left_behind": left_behind(events),
        # None: the limiter lived in the run; True: shared through Redis throughout; False: it fell back
        "shared_limiter": meta.get("shared_limiter"),
        # the open model: the rate `harness plan` predicted the account sustains, before the run
        "predicted_sustainable_per_hour": meta.get("predicted_sustainable_per_hour"),
        "limiter_fallbacks": int((events.kind == "limiter_fallback").sum()),
        # virtual time: time.sleep calls in pipelines, caught and slept on the clock
        "wall_sleeps": meta.get("wall_sleeps"),
        "levels": per_level,
    }
