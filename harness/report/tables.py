"""The report's tables, as (header, rows) of text: levels, quotas, measurement health, integrity."""

from __future__ import annotations

from harness.report.answers import _fmt


def level_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    header = [
        "N",
        "done",
        "failed",
        "pipelines/h",
        "p50 min",
        "p95 min",
        "p99 min",
        "attempts/pipeline",
        "throttled",
        "retries",
        "limiter wait s/pipeline",
        "quota wait s/pipeline",
        "partial seen/failed",
        "wall s",
    ]
    rows = []
    for level in metrics["levels"]:
        p = level["pipeline_seconds"]
        rows.append(
            [
                str(level["level"]),
                str(level["completed"]),
                str(level["failed"]),
                _fmt(level["throughput_per_hour"]),
                _fmt(p["p50"] and p["p50"] / 60),
                _fmt(p["p95"] and p["p95"] / 60),
                _fmt(p["p99"] and p["p99"] / 60),
                _fmt(level["api"]["attempts_per_pipeline"]),
                f"{level['api']['throttled']} ({100 * level['api']['throttle_rate']:.1f}%)",
                str(level["api"]["retries"]),
                _fmt(level["waits"]["limiter_seconds_per_pipeline"]),
                _fmt(level["waits"]["quota_wait_seconds_per_pipeline"]),
                f"{level['partial_state']['detected']}/{level['partial_state']['failed']}",
                _fmt(level["wall_seconds"], 0),
            ]
        )
    if any(level["queries"]["count"] or level["contention"] for level in metrics["levels"]):
        # pipelines that query Athena and write shared metadata: how long queries took, and collisions
        header[-1:-1] = ["Athena queries/pipeline (p95 s)", "metadata collisions"]
        for row, level in zip(rows, metrics["levels"], strict=True):
            row[-1:-1] = [
                f"{_fmt(level['queries']['count'] / max(1, level['pipelines']))} "
                f"({_fmt(level['queries']['seconds']['p95'])})",
                str(level["contention"]),
            ]
    return header, rows


def bottleneck_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    header = ["quota", "limit", "demand per pipeline", "max pipelines/h", "raise for N=64", "source"]
    rows = []
    for row in (metrics.get("bottleneck") or {}).get("quotas", [])[:12]:
        need = row.get("needed_for", {}).get("64")
        rows.append(
            [
                row["quota"],
                f"{row['limit']:g}",
                f"{row['demand_per_pipeline']:.2f} {row['unit']}",
                _fmt(row["max_pipelines_per_hour"], 0),
                f"x{need['raise_by']:.2f}" if need else "-",
                row["source"],
            ]
        )
    return header, rows


def health_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    """Was each level a measurement of the account? The simulator's queue for moto, and the
    time per call beyond the profile's latency (harness CPU, GIL, transport, moto's work)."""
    header = [
        "N",
        "requests/s",
        "max in flight",
        "queue mean ms",
        "overhead ms/call p50 (p95)",
        "of it in the simulator / client, mean ms",
        "overhead share of pipeline time",
        "simulator saturated",
    ]
    rows = []
    for level in metrics["levels"]:
        sim, over = level.get("simulator") or {}, level.get("overhead") or {}
        if not sim and not over:
            continue
        per_call = over.get("per_call_wall_ms") or {}
        share = over.get("share_of_pipeline")
        rows.append(
            [
                str(level["level"]),
                _fmt(sim.get("requests_per_second")),
                str(sim.get("max_in_flight", "-")),
                _fmt(sim.get("queue_mean_ms"), 2),
                f"{_fmt(per_call.get('p50'), 2)} ({_fmt(per_call.get('p95'), 2)})" if per_call else "-",
                f"{_fmt((over.get('simulator_wall_ms') or {}).get('mean'), 2)} / "
                f"{_fmt((over.get('client_wall_ms') or {}).get('mean'), 2)}"
                if per_call
                else "-",
                (_fmt(100 * share, 1, "%") + (" (high)" if over.get("high") else "")) if share is not None else "-",
                "yes" if sim.get("saturated") else ("no" if sim else "-"),
            ]
        )
    return header, rows


def integrity_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    """Requests the simulator counted against attempts the harness recorded, per level and operation."""
    rows = [
        [str(r["level"]), r["operation"], str(r["simulator"]), str(r["recorded"]), "yes" if r["match"] else "NO"]
        for r in (metrics.get("integrity") or {}).get("rows", [])
    ]
    return ["N", "operation", "simulator", "recorded", "match"], rows
