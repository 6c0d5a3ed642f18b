"""Build every report file of a run folder from its events alone.

    render("reports/<run-id>") -> {"html": ..., "markdown": ..., "metrics": ..., ...}

The figures come from the events (metrics.py, bottleneck.py, usl.py); the report's sections are
defined once (sections.py) and written as HTML, Markdown and CSV (writers.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.events import load_events, load_meta
from harness.quotas import Quota, QuotaTable, load_table
from harness.report import plots, writers
from harness.report.bottleneck import analyse
from harness.report.junit import write_junit
from harness.report.metrics import capacity_levels, level_time_scales, run_metrics
from harness.report.sections import sections
from harness.report.thresholds import judge_run, scenario_thresholds
from harness.report.usl import fit_usl


def quota_table_of(run_dir: Path) -> QuotaTable:
    """The quota table the run used: the default table with the scenario's overrides."""
    import tomllib

    table = load_table()
    try:
        scenario = tomllib.loads((run_dir / "scenario.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return table
    overrides = [Quota(**row) for row in scenario.get("quota_overrides", [])]
    return table.overridden(overrides)


def integrity(events: pd.DataFrame) -> list[dict]:
    """Per level and operation: requests the simulator counted against attempts recorded.
    Equal numbers mean nothing the run did was lost."""
    rows = []
    for end in events[events.kind == "level_end"].itertuples():
        sim = (json.loads(end.detail) if isinstance(end.detail, str) else {}).get("sim")
        if not sim:
            continue
        starts = events[(events.kind == "level_start") & (events.level == end.level)]
        # written between the level's start and end: on virtual time the cleanups around it may
        # share their instants (calls without latency move no time), so instants alone do not tell
        attempts = events[
            (events.kind == "api_attempt")
            & (events.mono_time >= starts.mono_time.min())
            & (events.mono_time <= end.mono_time)
            & (events.id > starts.id.min())
            & (events.id < end.id)
        ]
        recorded = attempts.groupby(["service", "operation"]).size()
        recorded = {f"{s}.{o}": int(n) for (s, o), n in recorded.items()}
        for op in sorted(set(recorded) | set(sim.get("operations", {}))):
            served = sim.get("operations", {}).get(op, {}).get("requests", 0)
            rows.append(
                {
                    "level": int(end.level),
                    "operation": op,
                    "simulator": served,
                    "recorded": recorded.get(op, 0),
                    "match": served == recorded.get(op, 0),
                }
            )
    return rows


def render(run_dir: str | Path) -> dict[str, Path]:
    run_dir = Path(run_dir)
    events = load_events(run_dir)
    meta = load_meta(run_dir)
    metrics = run_metrics(events, meta)
    table = quota_table_of(run_dir)
    usable = [level for level in capacity_levels(metrics["levels"]) if level["throughput_per_hour"]]
    open_model = any(level.get("arrivals") for level in metrics["levels"])  # levels are arrival rates, not N
    fit = (
        None
        if open_model
        else fit_usl(
            [level["level"] for level in usable],
            [level["throughput_per_hour"] for level in usable],
            failed=metrics["failed_levels"],
        )
    )
    bottleneck = analyse(metrics, table)
    checks = integrity(events)
    metrics["usl"] = fit
    metrics["bottleneck"] = bottleneck
    metrics["integrity"] = {"rows": checks, "all_match": all(r["match"] for r in checks) if checks else None}
    # the run's own (absolute) thresholds, at the levels it was to run (-n, --levels: not the scenario's)
    verdicts = judge_run(scenario_thresholds(run_dir), metrics, [int(n) for n in meta.get("levels") or []])
    metrics["thresholds"] = [verdict.as_dict() for verdict in verdicts]
    plot_paths = plots.render_all(
        events,
        metrics,
        fit,
        bottleneck.get("bound_pipelines_per_hour"),
        run_dir / "plots",
        bottleneck.get("bound_by_level"),
    )

    paths = {"metrics": run_dir / "metrics.json", "markdown": run_dir / "summary.md", "html": run_dir / "report.html"}
    paths["metrics"].write_text(json.dumps(metrics, indent=2, default=str))
    content = sections(metrics, list(plot_paths))
    paths["markdown"].write_text(writers.markdown(content))
    paths["html"].write_text(writers.html_page(content, plot_paths))
    paths.update(writers.csv_tables(content, run_dir))
    seconds = sum(level["wall_seconds"] or 0.0 for level in metrics["levels"])
    paths["junit"] = write_junit(run_dir / "junit.xml", verdicts, metrics["scenario"], metrics["run_id"], seconds)
    for name, frame in csv_exports(events, metrics).items():
        path = run_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        paths[f"csv_{name}"] = path
    return paths


def csv_exports(events: pd.DataFrame, metrics: dict) -> dict[str, pd.DataFrame]:
    levels = pd.DataFrame(
        [
            {
                "level": level["level"],
                "pipelines": level["pipelines"],
                "completed": level["completed"],
                "failed": level["failed"],
                "throughput_per_hour": level["throughput_per_hour"],
                "wall_seconds": level["wall_seconds"],
                "pipeline_p50_s": level["pipeline_seconds"]["p50"],
                "pipeline_p95_s": level["pipeline_seconds"]["p95"],
                "pipeline_p99_s": level["pipeline_seconds"]["p99"],
                "attempts": level["api"]["attempts"],
                "throttled": level["api"]["throttled"],
                "throttle_rate": level["api"]["throttle_rate"],
                "retries": level["api"]["retries"],
                "partial_detected": level["partial_state"]["detected"],
                "partial_failed": level["partial_state"]["failed"],
                "queries": level["queries"]["count"],
                "queries_failed": level["queries"]["failed"],
                "query_p95_s": level["queries"]["seconds"]["p95"],
                "contention": level["contention"],
            }
            for level in metrics["levels"]
        ]
    )
    operations = pd.DataFrame(
        [
            {
                "level": level["level"],
                "operation": op,
                **{k: v for k, v in m.items() if k != "latency_seconds"},
                "latency_p95_s": m["latency_seconds"]["p95"],
            }
            for level in metrics["levels"]
            for op, m in level["api"]["by_operation"].items()
        ]
    )
    pipelines = events[events.kind == "pipeline_end"][
        ["level", "worker", "pipeline", "outcome", "error_code", "duration"]
    ].copy()
    scales = level_time_scales(metrics)
    pipelines["duration_aws_s"] = pipelines.pop("duration") / pipelines.level.map(scales).fillna(metrics["time_scale"])
    return {"levels": levels, "operations": operations, "pipelines": pipelines}
