"""Which quota binds first, by the operational laws.

For each quota: the demand one pipeline puts on it (calls per pipeline, or AWS seconds holding
a concurrency slot) gives the highest pipeline throughput the quota allows:
    rate quota        X_max = rate / calls_per_pipeline              (utilisation law)
    concurrency quota X_max = limit / hold_seconds_per_pipeline      (Little's law)
The smallest X_max binds first; at level N the throughput bound is also at most N / D (the
pipelines cannot finish faster than one uncontended pipeline takes). For a target N concurrent
pipelines with an uncontended pipeline time D, the needed throughput is N / D, and each quota must
rise to demand * N / D.
"""

from __future__ import annotations

from harness.quotas import QuotaTable
from harness.report import enforced
from harness.report.metrics import capacity_levels


def account_says(rows: list[dict], seen: dict) -> None:
    """Where the account enforced less than the table says, plan on what it enforced; the row
    keeps the table's figure (`table_limit`) and says why (`enforced`)."""
    for row in rows:
        if row.get("source") == "what-if":  # a limit someone asks about: what the account did then is moot
            continue
        key, kind = row["quota"].rsplit(" ", 1)
        evidence = seen.get(key)
        if not evidence or evidence["kind"] != kind or evidence["enforced"] >= enforced.DISAGREE * row["limit"]:
            continue
        scale = evidence["enforced"] / row["limit"]
        row.update(
            table_limit=row["limit"],
            limit=evidence["enforced"],
            enforced=evidence,
            max_pipelines_per_hour=row["max_pipelines_per_hour"] * scale,
        )


QUEUED_SHARE = 0.05  # the least contended level queued this much of its time: take D without the queue


def uncontended_time(base: dict) -> tuple[float | None, str]:
    """D, the mean time of one pipeline that queues for nothing, and where it came from: the least
    contended level's pipelines as measured, or, where they too queued for concurrency slots
    (every level was past a quota), their time less their own waits for those slots."""
    plain = (base["pipeline_seconds"] or {}).get("mean")
    without = (base.get("pipeline_seconds_without_quota_waits") or {}).get("mean")
    n = base["level"]
    if plain and without is not None and plain - without > QUEUED_SHARE * plain:
        return without, (
            f"the pipelines at N={n} less their waits for concurrency slots ({plain - without:.0f} of "
            f"{plain:.0f} AWS s each): even the least contended level queued"
        )
    return plain, f"the pipelines at N={n}, the least contended level, as measured"


def analyse(metrics: dict, table: QuotaTable, targets=(32, 64, 128)) -> dict:
    levels = capacity_levels(metrics["levels"])  # a level where nothing completed gives no demand or D
    if not levels:
        return {
            "quotas": [],
            "binding": None,
            "pipeline_seconds_uncontended": None,
            "uncontended_from": None,
            "bound_pipelines_per_hour": None,
            "bound_by_level": {},
        }
    base = levels[0]  # the least contended level gives the pipeline's own demand and duration
    n_ok = base["completed"]
    # the mean, as Little's law has it: N pipelines of mean time D complete N / D per second
    duration, uncontended_from = uncontended_time(base)
    rows = []
    for key, op in base["api"]["by_operation"].items():
        service, operation = key.split(".", 1)
        quota = table.lookup(service, operation)
        if quota is None or quota.rate is None:
            continue
        ok_calls = op["attempts"] - op["throttled"]
        per_pipeline = ok_calls / n_ok
        if per_pipeline <= 0:
            continue
        rows.append(
            {
                "quota": f"{service}.{operation} rate",
                "kind": "rate",
                "limit": quota.rate,
                "demand_per_pipeline": per_pipeline,
                "unit": "calls",
                "max_pipelines_per_hour": 3600.0 * quota.rate / per_pipeline,
                "source": quota.source,
            }
        )
    for key, hold in base["waits"]["quota_hold_seconds"].items():
        service, operation = key.split(".", 1)
        quota = table.lookup(service, operation)
        # slot-seconds per pipeline: the mean hold, times the holds a pipeline makes (at least one;
        # fewer only where some pipelines had not reached the step when the level ended)
        demand = (hold.get("mean") or 0.0) * max(1.0, hold.get("holds_per_pipeline") or 1.0)
        if quota is None or quota.concurrency is None or not demand:
            continue
        rows.append(
            {
                "quota": f"{service}.{operation} concurrency",
                "kind": "concurrency",
                "limit": quota.concurrency,
                "demand_per_pipeline": demand,
                "unit": "slot-seconds",
                "max_pipelines_per_hour": 3600.0 * quota.concurrency / demand,
                "source": quota.source,
            }
        )
    account_says(rows, enforced.merged(levels))
    rows.sort(key=lambda r: r["max_pipelines_per_hour"])
    for row in rows:
        row["needed_for"] = {}
        if duration:
            for n in targets:
                needed_x = n / duration  # pipelines per AWS second
                needed = needed_x * row["demand_per_pipeline"]
                row["needed_for"][str(n)] = {"limit": needed, "raise_by": needed / row["limit"]}
    binding = rows[0] if rows else None
    quota_bound = binding["max_pipelines_per_hour"] if binding else None
    # Asymptotic bounds: N pipelines of uncontended duration D can finish at most N/D per hour,
    # and never faster than the binding quota allows.
    bounds = {}
    for level in levels:
        n = level["level"]
        population = 3600.0 * n / duration if duration else None
        candidates = [b for b in (population, quota_bound) if b]
        bounds[str(n)] = min(candidates) if candidates else None
    return {
        "quotas": rows,
        "binding": binding,
        "pipeline_seconds_uncontended": duration,
        "uncontended_from": uncontended_from,
        "bound_pipelines_per_hour": quota_bound,
        "bound_by_level": bounds,
    }
