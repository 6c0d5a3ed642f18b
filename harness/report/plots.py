"""The report's pictures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402

from harness.report.usl import usl  # noqa: E402
from harness.report.metrics import level_time_scales, measurement_window  # noqa: E402

STAGE_COLOURS = {
    "data_source": "#4c72b0",
    "feature_set": "#55a868",
    "model": "#c44e52",
    "endpoint": "#8172b2",
    "inference": "#ccb974",
    "teardown": "#64b5cd",
}


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def throughput(metrics: dict, fit: dict | None, bound: float | None, path: Path, bounds: dict | None = None) -> Path:
    levels = [level for level in metrics["levels"] if level["throughput_per_hour"] is not None]
    n = np.array([level["level"] for level in levels], dtype=float)
    x = np.array([level["throughput_per_hour"] for level in levels])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(n, x, "o-", color="#4c72b0", label="measured", zorder=3)
    if len(n):
        per_pipeline = x[0] / n[0]
        ax.plot(n, per_pipeline * n, "--", color="grey", label="linear (ideal)")
        grid = np.linspace(1, max(n) * 2, 200)
        if fit:
            ax.plot(
                grid,
                usl(grid, fit["lambda"], fit["sigma"], fit["kappa"]),
                "-",
                color="#dd8452",
                label=f"USL fit (σ={fit['sigma']:.3g}, κ={fit['kappa']:.2g}, R²={fit['r2']:.2f})",
            )
        if bound:
            ax.axhline(bound, color="#c44e52", linestyle=":", label=f"quota bound {bound:.0f}/h")
        if bounds:
            levels_with_bound = sorted((int(k), v) for k, v in bounds.items() if v)
            ax.plot(
                [k for k, _ in levels_with_bound],
                [v for _, v in levels_with_bound],
                "s:",
                color="#8172b2",
                label="bound at N: min(N / uncontended time, quota)",
            )
    ax.set_xlabel("concurrent pipelines (N)")
    ax.set_ylabel("pipelines completed per hour (AWS time)")
    ax.set_title("Throughput against concurrency")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def latency(metrics: dict, path: Path) -> Path:
    levels = metrics["levels"]
    n = [level["level"] for level in levels]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for p, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^:")):
        values = [(level["pipeline_seconds"][p] or np.nan) / 60 for level in levels]
        ax.plot(n, values, style, label=f"pipeline {p}")
    ax.set_xlabel("concurrent pipelines (N)")
    ax.set_ylabel("pipeline duration (AWS minutes)")
    ax.set_title("Pipeline duration percentiles against concurrency")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def throttles(metrics: dict, path: Path) -> Path:
    levels = metrics["levels"]
    n = [level["level"] for level in levels]
    operations = sorted({op for level in levels for op, v in level["api"]["by_operation"].items() if v["throttled"]})
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if operations:
        bottom = np.zeros(len(levels))
        for op in operations:
            values = np.array([level["api"]["by_operation"].get(op, {}).get("throttled", 0) for level in levels])
            ax.bar([str(v) for v in n], values, bottom=bottom, label=op)
            bottom += values
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no throttled attempts at any level", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("concurrent pipelines (N)")
    ax.set_ylabel("throttled attempts")
    ax.set_title("Throttled attempts by operation")
    return _save(fig, path)


def timeline(events: pd.DataFrame, level: int, time_scale: float, path: Path) -> Path:
    ev = events[(events.level == level)]
    start = ev[ev.kind == "level_start"].mono_time.min()
    stages = ev[(ev.kind.isin(["stage_start", "stage_end"])) & (ev.worker >= 0)]
    fig, ax = plt.subplots(figsize=(9, max(3, 0.22 * level + 1.5)))
    open_stages = {}
    for row in stages.itertuples():
        key = (row.pipeline, row.stage)
        if row.kind == "stage_start":
            open_stages[key] = row.mono_time
        elif key in open_stages:
            began = open_stages.pop(key)
            colour = STAGE_COLOURS.get(row.stage, "#999999")
            if row.outcome == "failed":
                colour = "#000000"
            ax.barh(
                row.worker,
                (row.mono_time - began) / time_scale / 60,
                left=(began - start) / time_scale / 60,
                color=colour,
                height=0.7,
            )
    throttled = ev[(ev.kind == "api_attempt") & (ev.outcome == "throttled") & (ev.worker >= 0)]
    if len(throttled):
        ax.plot(
            (throttled.mono_time - start) / time_scale / 60,
            throttled.worker,
            "x",
            color="red",
            markersize=4,
            label="throttled attempt",
        )
    faults = ev[
        (ev.kind == "api_attempt")
        & (ev.worker >= 0)
        & ((ev.outcome == "exception") | ev.error_code.isin(["InternalFailure", "ServiceUnavailable", "InternalError"]))
    ]
    if len(faults):
        ax.plot(
            (faults.mono_time - start) / time_scale / 60,
            faults.worker,
            ".",
            color="#dd8452",
            markersize=4,
            label="5xx or unreachable",
        )
    partial = ev[ev.kind == "partial_state_failed"]
    if len(partial):
        ax.plot(
            (partial.mono_time - start) / time_scale / 60,
            partial.worker,
            "D",
            color="black",
            markersize=5,
            label="partial state failed",
        )
    window = measurement_window(ev[ev.kind == "level_start"], time_scale)
    if window:  # duration mode: throughput is measured in this window only
        ax.axvspan(
            (window[0] - start) / time_scale / 60,
            (window[1] - start) / time_scale / 60,
            color="#4c72b0",
            alpha=0.08,
            zorder=0,
            label="throughput window",
        )
    handles: list[Artist] = [plt.Rectangle((0, 0), 1, 1, color=c) for c in STAGE_COLOURS.values()]
    labels = list(STAGE_COLOURS)
    extra_handles, extra_labels = ax.get_legend_handles_labels()
    ax.legend(
        handles + extra_handles,
        labels + extra_labels,
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08 - 1.5 / max(4, 0.22 * level + 1.5) * 0.1),
        ncol=5,
        frameon=False,
    )
    ax.set_xlabel("AWS minutes since the level started")
    ax.set_ylabel("worker")
    ax.set_title(f"Pipelines by worker at N={level} (stages coloured; failed stages black)")
    return _save(fig, path)


def partial_state(events: pd.DataFrame, scales: dict[int, float], path: Path) -> Path:
    done = events[events.kind.isin(["partial_state_resolved", "partial_state_failed"])]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if len(done):
        for kind, colour in (("partial_state_resolved", "#55a868"), ("partial_state_failed", "#c44e52")):
            subset = done[done.kind == kind]
            ax.scatter(
                subset.level,
                subset.duration / subset.level.map(scales) / 60,
                color=colour,
                alpha=0.7,
                label=kind.replace("partial_state_", ""),
            )
        ax.legend(fontsize=8)
        ax.set_xscale("log", base=2)
    else:
        ax.text(0.5, 0.5, "no partial state was seen", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("concurrent pipelines (N)")
    ax.set_ylabel("AWS minutes until resolved / failed")
    ax.set_title("Partial state: how long the offline store took to appear")
    return _save(fig, path)


def arrivals(events: pd.DataFrame, metrics: dict, bound, path: Path) -> Path:
    """The open model: completions against arrival rate (the diagonal is keeping up), and how
    late pipelines started against the rate (each pipeline of a ramp, at the rate it came in)."""
    levels = [level for level in metrics["levels"] if level.get("arrivals")]
    fig, (done, late) = plt.subplots(1, 2, figsize=(11, 4.2))
    rates = [level["level"] for level in levels if not level["arrivals"].get("ramp")]
    if rates:
        done.plot(
            rates,
            [level["arrivals"]["completed_per_hour"] or 0 for level in levels if not level["arrivals"].get("ramp")],
            "o-",
            label="completed",
        )
        done.plot([0, max(rates)], [0, max(rates)], "--", color="grey", label="arrivals (keeping up)")
        late.plot(
            rates,
            [
                (level["arrivals"]["start_delay_seconds"]["p95"] or 0) / 60
                for level in levels
                if not level["arrivals"].get("ramp")
            ],
            "o-",
            label="p95 start delay",
        )
    scales = level_time_scales(metrics)
    for level in (level for level in levels if level["arrivals"].get("ramp")):
        scale = scales[level["level"]]
        came = events[(events.kind == "arrival") & (events.level == level["level"])]
        rate = [json.loads(d).get("rate") for d in came.detail]
        late.scatter(rate, came.duration / scale / 60, s=12, label="each pipeline of the ramp")
        if not rates:  # a ramp alone: arrivals due and pipelines completed over the ramp's time
            ended = events[
                (events.kind == "pipeline_end") & (events.level == level["level"]) & (events.outcome == "ok")
            ]
            start = events[(events.kind == "level_start") & (events.level == level["level"])].mono_time.min()
            due = np.sort((came.mono_time - came.duration - start).to_numpy()) / scale / 60
            finished = np.sort((ended.mono_time - start).to_numpy()) / scale / 60
            done.step(due, np.arange(1, len(due) + 1), where="post", label="due (arrivals)")
            done.step(finished, np.arange(1, len(finished) + 1), where="post", label="completed")
            done.set_xlabel("AWS minutes into the ramp")
            done.set_ylabel("pipelines")
    if rates:
        if bound:
            done.axhline(bound, color="#c44e52", linestyle=":", label=f"quota bound {bound:.0f}/h")
        done.set_xlabel("arrival rate (pipelines per AWS hour)")
        done.set_ylabel("completed per hour")
    done.legend(fontsize=8)
    late.set_xlabel("arrival rate (pipelines per AWS hour)")
    late.set_ylabel("AWS minutes started late")
    late.legend(fontsize=8)
    fig.suptitle("Pipelines arriving at a rate: does the account keep up?")
    return _save(fig, path)


def render_all(
    events: pd.DataFrame, metrics: dict, fit, bound, plots_dir: Path, bounds: dict | None = None
) -> dict[str, Path]:
    plots_dir.mkdir(exist_ok=True)
    top = max((level["level"] for level in metrics["levels"]), default=None)
    out = {
        "throughput": throughput(metrics, fit, bound, plots_dir / "throughput.png", bounds),
        "latency": latency(metrics, plots_dir / "latency.png"),
        "throttles": throttles(metrics, plots_dir / "throttles.png"),
        "partial_state": partial_state(events, level_time_scales(metrics), plots_dir / "partial_state.png"),
    }
    if any(level.get("arrivals") for level in metrics["levels"]):
        out["arrivals"] = arrivals(events, metrics, bound, plots_dir / "arrivals.png")
    if top is not None:
        out["timeline"] = timeline(events, top, level_time_scales(metrics)[top], plots_dir / "timeline.png")
    return out
