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

Everything else comes from `extends` (aws-default by default). The offline store's timings are
not calibrated: no AWS answer dates them, and polling only bounds them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from harness.events import load_events, load_meta
from harness.report.enforced import merged, observed
from harness.report.metrics import recorded_time_scales

# fewer answers than this for an operation: its latency is left to the base profile (the median
# of 20 draws from AWS-like latency, p99/p50 about 7, is within 30% two times in three)
MIN_SAMPLES = 20
SERVER_FAULTS = ("InternalFailure", "InternalError", "ServiceUnavailable", "InternalServerException")
TIMEOUTS = ("ReadTimeoutError", "ConnectTimeoutError", "EndpointConnectionError")
LIFECYCLE_KEYS = {"feature_group": ("feature_group", "create_seconds"),
                  "training_job": ("training_job", "run_seconds"),
                  "endpoint": ("endpoint", "create_seconds")}


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
        latency.append({"service": service, "operation": operation, "p50_ms": round(float(np.percentile(ms, 50)), 2),
                        "p99_ms": round(float(np.percentile(ms, 99)), 2)})
    faults = []
    for (service, operation), group in attempts.groupby(["service", "operation"]):
        errors = group.error_code.isin(SERVER_FAULTS).mean()
        timeouts = group.error_code.isin(TIMEOUTS).mean()
        if errors or timeouts:
            faults.append({"service": service, "operation": operation, "error_rate": round(float(errors), 5),
                           "timeout_rate": round(float(timeouts), 5)})
    lifecycle: dict[str, dict] = {}
    seen = events[events.kind == "lifecycle"]
    resources = seen.detail.map(lambda d: json.loads(d).get("resource") if isinstance(d, str) and d else None)
    for resource, (table, key) in LIFECYCLE_KEYS.items():
        mine = seen[resources == resource]
        if len(mine):
            lifecycle.setdefault(table, {})[key] = round(float((mine.duration / scale[mine.index]).mean()), 1)
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
    return {"description": f"Calibrated from run {meta.get('run_id')} ({meta.get('backend')}, scenario "
                           f"{meta.get('scenario')}): latency, lifecycles, faults and inferred quotas; the rest "
                           f"from {extends}.",
            "extends": extends, "latency": latency, "fault": faults, "quota": quotas, "lifecycle": lifecycle,
            "_samples": samples}  # answers per operation (not written: the evidence behind `latency`)


def write(profile: dict, path: str | Path) -> Path:
    from harness.runner.toml_out import dumps
    path = Path(path)
    path.write_text(dumps({k: v for k, v in profile.items() if not k.startswith("_")}))
    from harness.sim.profile import load_profile
    load_profile(path)  # what was written must load as a profile
    return path
