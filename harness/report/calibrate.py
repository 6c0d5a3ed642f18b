"""A simulator profile from a run's recorded events: how to make the simulator look like your own
account after one real run.

    harness calibrate RUN -o my-account.toml

- Latency per operation (p50 and p99 of the answers that came back), from each attempt's time
  on AWS: on the simulator the part it injected (`x-sim-injected-ms`), on AWS the whole attempt.
- Lifecycle durations from AWS's own timestamps (`lifecycle` events): feature group creation
  (CreationTime to LastModifiedTime at Created), training (TrainingStartTime to TrainingEndTime)
  and endpoint creation (CreationTime to LastModifiedTime at InService), as means.
- Fault rates per operation: the share of attempts answered 500/503 or timed out.
- Rate quotas inferred from the throttles observed (what got through while throttled), each
  marked as inferred with the evidence; concurrency quotas the account refused at, likewise.

- The offline store's timings, inferred: no AWS answer dates them, so each is bounded by the
  last two looks of the pipeline that waited for it (the one that saw it missing, the one that
  saw it there) and taken at the middle.
  - Building the store (OfflineStoreStatus Active, its Glue table and S3 prefix), from when the
    group was Created (its create call plus AWS's own creation time). The split between
    `offline_store_seconds` and `table_seconds` cannot be seen from outside: the base profile's
    proportion is kept.
  - Rows reaching the offline store (what Workbench waits 10-20 minutes for): the wait ends when
    the last record lands, the latest of many uniform delays, so the time from the last
    PutRecord to the Athena count that saw every row estimates `rows_max_seconds`;
    `rows_min_seconds` keeps the base profile's proportion to it.
  Only pipelines that waited count (one that found the store ready bounds it from above only),
  and at least MIN_WAITS of them.

Everything else comes from `extends` (aws-default by default).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from harness.events import load_events, load_meta
from harness.report.enforced import merged, observed
from harness.report.metrics import recorded_time_scales
from harness.profiles import load_profile

# fewer answers than this for an operation: its latency is left to the base profile (the median
# of 20 draws from AWS-like latency, p99/p50 about 7, is within 30% two times in three)
MIN_SAMPLES = 20
SERVER_FAULTS = ("InternalFailure", "InternalError", "ServiceUnavailable", "InternalServerException")
TIMEOUTS = ("ReadTimeoutError", "ConnectTimeoutError", "EndpointConnectionError")
MIN_WAITS = 3  # pipelines that waited for the offline store (or its rows) before its timing is calibrated
LIFECYCLE_KEYS = {
    "feature_group": ("feature_group", "create_seconds"),
    "training_job": ("training_job", "run_seconds"),
    "endpoint": ("endpoint", "create_seconds"),
}


def _scales(events: pd.DataFrame, meta: dict) -> pd.Series:
    """Each event's time scale (its level's, else the run's)."""
    default = float(meta.get("time_scale", 1.0))
    return events.level.map(recorded_time_scales(events, default)).fillna(default)


def _aws_ms(attempts: pd.DataFrame, scale: pd.Series) -> pd.Series:
    injected = attempts.detail.map(lambda d: json.loads(d).get("injected") if isinstance(d, str) and d else None)
    seconds = injected.where(injected.notna(), attempts.duration).astype(float)
    return 1000.0 * seconds / scale[attempts.index]


def calibrate(run_dir: str | Path, extends: str = "aws-default") -> dict:
    run_dir = Path(run_dir)
    events, meta = load_events(run_dir), load_meta(run_dir)
    scale = _scales(events, meta)
    attempts = events[events.kind == "api_attempt"]
    answered = attempts[attempts.outcome == "ok"]
    latency, samples = [], {}
    for (service, operation), group in answered.groupby(["service", "operation"]):
        samples[f"{service}.{operation}"] = len(group)
        if len(group) < MIN_SAMPLES:
            continue
        ms = _aws_ms(group, scale)
        latency.append(
            {
                "service": service,
                "operation": operation,
                "p50_ms": round(float(np.percentile(ms, 50)), 2),
                "p99_ms": round(float(np.percentile(ms, 99)), 2),
            }
        )
    faults = []
    for (service, operation), group in attempts.groupby(["service", "operation"]):
        errors = group.error_code.isin(SERVER_FAULTS).mean()
        timeouts = group.error_code.isin(TIMEOUTS).mean()
        if errors or timeouts:
            faults.append(
                {
                    "service": service,
                    "operation": operation,
                    "error_rate": round(float(errors), 5),
                    "timeout_rate": round(float(timeouts), 5),
                }
            )
    lifecycle: dict[str, dict] = {}
    seen = events[events.kind == "lifecycle"]
    resources = seen.detail.map(lambda d: json.loads(d).get("resource") if isinstance(d, str) and d else None)
    for resource, (table, key) in LIFECYCLE_KEYS.items():
        mine = seen[resources == resource]
        if len(mine):
            lifecycle.setdefault(table, {})[key] = round(float((mine.duration / scale[mine.index]).mean()), 1)
    offline = offline_store_timings(events, scale, load_profile(extends).feature_group)
    if offline:
        lifecycle.setdefault("feature_group", {}).update(offline)
    quotas = []
    levels = []
    for level in sorted(int(n) for n in events[events.kind == "level_start"].level.dropna().unique()):
        ev = events[events.level == level]
        level_scale = float(scale[ev.index].iloc[0]) if len(ev) else 1.0
        levels.append({"level": level, "enforced": observed(ev, ev[ev.kind == "api_attempt"], level_scale)})
    for key, evidence in sorted(merged(levels).items()):
        service, operation = key.split(".", 1)
        row = {"service": service, "operation": operation}
        if evidence["kind"] == "rate":
            row |= {"rate": round(evidence["enforced"], 3), "burst": max(1.0, round(evidence["enforced"], 3))}
            why = f"{evidence['throttled']} throttled calls"
        else:
            row |= {"concurrency": int(evidence["enforced"])}
            why = f"{evidence['refused']} creates refused"
        quotas.append(row | {"source": f"inferred from run {meta.get('run_id')}: {why} at N={evidence['level']}"})
    return {
        "description": f"Calibrated from run {meta.get('run_id')} ({meta.get('target', meta.get('backend'))}, scenario "
        f"{meta.get('scenario')}): latency, lifecycles, faults and inferred quotas; the rest "
        f"from {extends}.",
        "extends": extends,
        "latency": latency,
        "fault": faults,
        "quota": quotas,
        "lifecycle": lifecycle,
        "_samples": samples,
    }  # answers per operation (not written: the evidence behind `latency`)


def _between_looks(looks: pd.Series, seen_at: float) -> float | None:
    """The middle of the last look before `seen_at` (it saw the thing missing) and the last look
    at or before it (it saw it there); None without two looks."""
    before = looks[looks <= seen_at + 1e-6].sort_values()
    return float(before.iloc[-2:].mean()) if len(before) >= 2 else None


def offline_store_timings(events: pd.DataFrame, scale: pd.Series, base) -> dict:
    """The offline store's build time and rows delay (AWS seconds), inferred from the waits for
    them; {} for whichever too few pipelines waited for. `base`: the base profile's feature group
    lifecycle (the proportions that cannot be observed)."""
    waits = events[(events.kind == "partial_state_resolved") & events.pipeline.notna()]
    waited_for = waits.detail.map(lambda d: json.loads(d).get("artifact", "") if isinstance(d, str) and d else "")
    waits = waits[waited_for.str.startswith("FeatureSet ")]
    store, rows = [], []
    for pipeline, mine in events[events.pipeline.isin(set(waits.pipeline))].groupby("pipeline"):
        ok = mine[(mine.kind == "api_attempt") & (mine.outcome == "ok")]
        for index, wait in waits[waits.pipeline == pipeline].iterrows():
            wall = float(scale[index])  # wall seconds per AWS second
            if waited_for[index].endswith(" offline rows"):
                counts = mine[mine.kind == "query"]
                landed = _between_looks(counts.mono_time - counts.duration, wait.mono_time)
                puts = ok[ok.operation == "PutRecord"].mono_time
                if landed is not None and len(puts):
                    rows.append((landed - float(puts.max())) / wall)
                continue
            created = ok[ok.operation == "CreateFeatureGroup"]
            building = mine[(mine.kind == "lifecycle") & mine.detail.str.contains('"feature_group"', na=False)]
            looks = mine[(mine.kind == "api_attempt") & (mine.operation == "DescribeFeatureGroup")]
            ready = _between_looks(looks.mono_time - looks.duration, wait.mono_time)
            if ready is not None and len(created) and len(building):
                created_at = float(created.mono_time.iloc[0] - created.duration.iloc[0] / 2) + float(
                    building.duration.iloc[0]
                )
                store.append((ready - created_at) / wall)
    timings: dict[str, float] = {}
    if len(store) >= MIN_WAITS:
        built = float(np.mean(store))
        share = base.offline_store_seconds / max(1e-9, base.offline_store_seconds + base.table_seconds)
        timings |= {"offline_store_seconds": round(built * share, 1), "table_seconds": round(built * (1 - share), 1)}
    if len(rows) >= MIN_WAITS:
        latest = float(np.mean(rows))
        timings |= {
            "rows_min_seconds": round(latest * base.rows_min_seconds / max(1e-9, base.rows_max_seconds), 1),
            "rows_max_seconds": round(latest, 1),
        }
    return timings


def write(profile: dict, path: str | Path) -> Path:
    from harness.config import dumps_toml as dumps

    path = Path(path)
    path.write_text(dumps({k: v for k, v in profile.items() if not k.startswith("_")}))
    from harness.profiles import load_profile

    load_profile(path)  # what was written must load as a profile
    return path
