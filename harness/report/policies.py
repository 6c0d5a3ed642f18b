"""Several runs of one scenario under different retry policies, side by side: a table, a verdict
at the largest level, plots, and a self-contained HTML page (the report's policy page)."""

from __future__ import annotations

import html
import json
import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from harness.aws.policies import POLICIES  # noqa: E402
from harness.report.compare import load_metrics  # noqa: E402
from harness.report.writers import STYLE, html_table, image  # noqa: E402

COLUMNS = [
    "policy",
    "N",
    "pipelines/h",
    "% of bound",
    "attempts",
    "throttled",
    "% throttled",
    "limit refused",
    "failed",
    "p95 min",
    "partial failed",
]


def _bounds(metrics: dict) -> dict:
    return (metrics.get("bottleneck") or {}).get("bound_by_level", {}) or {}


def rows(runs: list[dict]) -> list[list[str]]:
    """One row per run and level; `runs` are the runs' metrics.json contents."""
    out = []
    for metrics in runs:
        bounds = _bounds(metrics)
        for level in metrics["levels"]:
            bound = bounds.get(str(level["level"]))
            x = level["throughput_per_hour"] or 0.0
            p95 = level["pipeline_seconds"]["p95"]
            out.append(
                [
                    metrics["policy"],
                    str(level["level"]),
                    f"{x:.1f}",
                    f"{100 * x / bound:.0f}%" if bound else "-",
                    str(level["api"]["attempts"]),
                    str(level["api"]["throttled"]),
                    f"{100 * level['api']['throttle_rate']:.2f}%",
                    str(level["api"].get("limit_rejected", 0)),
                    str(level["failed"]),
                    f"{p95 / 60:.1f}" if p95 else "-",
                    str(level["partial_state"]["failed"]),
                ]
            )
    return out


def verdict(runs: list[dict]) -> list[str]:
    """At the largest level every run reached: each policy against the bound, then the reference
    (the policy the shared limiter paces) against each other one (throughput ratio, throttled
    attempts)."""
    common = set.intersection(*({level["level"] for level in m["levels"]} for m in runs)) if runs else set()
    if not common:
        return []
    n = max(common)
    at = {
        m["policy"]: (next(level for level in m["levels"] if level["level"] == n), _bounds(m).get(str(n))) for m in runs
    }
    lines = []
    for policy, (level, bound) in at.items():
        x = level["throughput_per_hour"] or 0.0
        share = f", {100 * x / bound:.0f}% of the bound ({bound:.1f}/h)" if bound else ""
        lines.append(
            f"{policy} at N={n}: {x:.1f} pipelines/h{share}, {level['api']['throttled']} of "
            f"{level['api']['attempts']} attempts throttled ({100 * level['api']['throttle_rate']:.2f}%), "
            f"{level['api'].get('limit_rejected', 0)} refused by a full concurrency quota, "
            f"{level['failed']} pipelines failed."
        )
    reference = next((m["policy"] for m in runs if _shares_limiter(m)), None)
    if reference in at:
        mine, _ = at[reference]
        for other, (level, _) in at.items():
            if other == reference or not level["throughput_per_hour"]:
                continue
            ratio = (mine["throughput_per_hour"] or 0.0) / level["throughput_per_hour"]
            theirs, ours = level["api"]["throttled"], mine["api"]["throttled"]
            fewer = (
                "no throttled attempts on either side"
                if theirs == ours == 0
                else f"as many throttled attempts ({ours})"
                if theirs == ours
                else f"no throttled attempts against {theirs}"
                if not ours
                else f"{theirs / ours:.1f}x fewer throttled attempts ({ours} against {theirs})"
                if ours < theirs
                else f"{ours / theirs:.1f}x more throttled attempts ({ours} against {theirs})"
                if theirs
                else f"more throttled attempts ({ours} against none)"
            )
            lines.append(f"{reference} against {other} at N={n}: {ratio:.2f}x the throughput, {fewer}.")
    return lines


def fairness(run_dirs: list[Path]) -> str:
    """How the fight was kept fair, from the runs' own scenarios."""
    scenarios = [tomllib.loads((d / "scenario.toml").read_text()) for d in run_dirs]
    scales = {s.get("time_scale") for s in scenarios}
    virtual = all(s.get("time") == "virtual" for s in scenarios)
    when = "on virtual time" if virtual else f"time scale {', '.join(map(str, scales))}"
    attempts = {str(s.get("max_attempts")) for s in scenarios}
    seeds = {s.get("seed") for s in scenarios}
    profiles = {s.get("profile") for s in scenarios}
    steady = all(s.get("duration_seconds", 0) > s.get("ramp_up_seconds", 0) for s in scenarios)
    measure = (
        "Throughput is steady-state: completed work inside the window from the end of the ramp-up to "
        "the last pipeline start (pipelines finished in it, where a level had not reached steady state)"
        if steady
        else "Throughput is completed pipelines / level time (batch)"
    )
    return (
        f"Same seed ({', '.join(map(str, seeds))}), same profile ({', '.join(map(str, profiles))}), {when}, "
        + (
            "each policy's own default attempt budget (botocore legacy 5 attempts per call, standard and "
            "adaptive 3, harness 8), as a user who sets nothing gets it. "
            if attempts == {"sdk-default"}
            else f"max_attempts {', '.join(sorted(attempts))} per call for every policy. "
        )
        + "botocore's clocks (retry backoff, adaptive mode's rate limiter) run on the run's clock, as "
        "the harness's do. Each pipeline worker has its own botocore clients, as separate pipeline "
        "processes would; only the harness policy shares a limiter (rate pacing and concurrency slots), "
        "the others meet a full concurrency quota as ResourceLimitExceeded ('limit refused') and retry "
        f"the create. {measure}. '% of bound' is against the bottleneck analysis's bound for that N: "
        "min(N / mean uncontended pipeline time, the binding quota's throughput)."
    )


def table(body: list[list[str]], verdict_lines: list[str], fair: str) -> str:
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(COLUMNS)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=False))  # noqa: E731
    return "\n".join([line(COLUMNS)] + [line(r) for r in body] + [""] + verdict_lines + ["", fair])


def plot(runs: list[dict], path: Path) -> Path:
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    (speed, throttled), (p95, failed) = axes
    most_failed = 0
    bounds: dict[str, float | None] = {}  # the bound by level
    for metrics in runs:
        levels = metrics["levels"]
        n = [level["level"] for level in levels]
        label = metrics["policy"]
        speed.plot(n, [level["throughput_per_hour"] or 0 for level in levels], "o-", label=label)
        throttled.plot(n, [100 * level["api"]["throttle_rate"] for level in levels], "o-", label=label)
        p95.plot(n, [(level["pipeline_seconds"]["p95"] or 0) / 60 for level in levels], "o-", label=label)
        (line,) = failed.plot(n, [level["failed"] for level in levels], "o-", label=label)
        failed.plot(n, [level["partial_state"]["failed"] for level in levels], "x--", color=line.get_color())
        most_failed = max([most_failed] + [level["failed"] for level in levels])
        if _shares_limiter(metrics) or not bounds:  # the limiter-paced run's bound, else the first
            bounds = _bounds(metrics)
    if bounds:
        speed.plot([int(k) for k in bounds], list(bounds.values()), ":", color="black", lw=2, zorder=5, label="bound")
    speed.set(ylabel="pipelines/hour (AWS time)", title="Throughput by policy (dotted: the bound)")
    throttled.set(ylabel="% of attempts throttled", title="Throttling by policy")
    p95.set(ylabel="minutes (AWS time)", title="p95 pipeline duration")
    p95.set_ylim(0, p95.get_ylim()[1] * 1.15)  # from zero: seconds between policies look like seconds
    failed.set(
        ylabel="pipelines",
        title="Failed pipelines (dashed: of them, on partial state)",
        ylim=(0, max(1, most_failed) * 1.1),
    )
    for ax in axes.flat:
        ax.set_xlabel("concurrent pipelines (N)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def page(
    run_dirs: list[Path], runs: list[dict], body: list[list[str]], verdict_lines: list[str], fair: str, plot_path: Path
) -> str:
    scenario = runs[0]["scenario"] if runs else "-"
    answer = "".join(f"<li>{html.escape(line)}</li>" for line in verdict_lines)
    links = "".join(
        f'<li><a href="../{html.escape(d.name)}/report.html">{html.escape(m["policy"])}'
        f"</a> ({html.escape(d.name)})</li>"
        for d, m in zip(run_dirs, runs, strict=False)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Retry policies: {html.escape(str(scenario))}</title>
<style>{STYLE}</style></head><body>
<h1>Retry policies side by side: {html.escape(str(scenario))}</h1>
<div class="answer"><h2>At the largest level</h2><ul>{answer}</ul></div>
<figure>{image(plot_path)}</figure>
<h2>Every level</h2>{html_table(COLUMNS, body)}
<h2>How the fight was kept fair</h2><p>{html.escape(fair)}</p>
<h2>Each policy's own report</h2><ul>{links}</ul>
</body></html>
"""


def write(run_dirs: list[Path], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = [load_metrics(d) for d in run_dirs]
    body, verdict_lines, fair = rows(runs), verdict(runs), fairness(run_dirs)
    (out_dir / "policies.txt").write_text(table(body, verdict_lines, fair) + "\n")
    (out_dir / "policies.json").write_text(
        json.dumps(
            {"runs": [str(d) for d in run_dirs], "columns": COLUMNS, "rows": body, "verdict": verdict_lines}, indent=2
        )
    )
    plot_path = plot(runs, out_dir / "policies.png")
    (out_dir / "policies.html").write_text(page(run_dirs, runs, body, verdict_lines, fair, plot_path))
    return {"table": out_dir / "policies.txt", "plot": plot_path, "page": out_dir / "policies.html"}


def _shares_limiter(metrics: dict) -> bool:
    """The run's policy was paced by the shared limiter (its bound is the reference)."""
    policy = POLICIES.get(metrics.get("policy", ""))
    return policy is not None and policy.uses_limiter
