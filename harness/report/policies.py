"""Several runs of one scenario under different retry policies, side by side."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from harness.report.compare import load_metrics  # noqa: E402

COLUMNS = ["policy", "N", "pipelines/h", "% of bound", "attempts", "% throttled", "failed", "p95 min",
           "partial failed"]


def rows(run_dirs: list[Path]) -> list[list[str]]:
    out = []
    for run_dir in run_dirs:
        metrics = load_metrics(run_dir)
        bounds = (metrics.get("bottleneck") or {}).get("bound_by_level", {})
        for level in metrics["levels"]:
            bound = bounds.get(str(level["level"]))
            x = level["throughput_per_hour"] or 0.0
            p95 = level["pipeline_seconds"]["p95"]
            out.append([metrics["policy"], str(level["level"]), f"{x:.1f}",
                        f"{100 * x / bound:.0f}%" if bound else "-", str(level["api"]["attempts"]),
                        f"{100 * level['api']['throttle_rate']:.2f}%", str(level["failed"]),
                        f"{p95 / 60:.1f}" if p95 else "-", str(level["partial_state"]["failed"])])
    return out


def fairness(run_dirs: list[Path]) -> str:
    """How the fight was kept fair, from the runs' own scenarios."""
    import tomllib
    scenarios = [tomllib.loads((d / "scenario.toml").read_text()) for d in run_dirs]
    scales = {s.get("time_scale") for s in scenarios}
    attempts = {s.get("max_attempts") for s in scenarios}
    seeds = {s.get("seed") for s in scenarios}
    return (f"Same seed ({', '.join(map(str, seeds))}), same profile, time scale {', '.join(map(str, scales))}, "
            f"max_attempts {', '.join(map(str, attempts))} per call for every policy. botocore's retry backoff "
            "is scaled by the time scale (as the harness scales its own); botocore-adaptive's client-side rate "
            "limiter keeps its wall-clock constants. '% of bound' is against the bottleneck analysis's bound "
            "for that N: min(N / uncontended pipeline time, the binding quota's throughput).")


def table(run_dirs: list[Path]) -> str:
    body = rows(run_dirs)
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(COLUMNS)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(COLUMNS)] + [line(r) for r in body] + ["", fairness(run_dirs)])


def plot(run_dirs: list[Path], path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for run_dir in run_dirs:
        metrics = load_metrics(run_dir)
        n = [l["level"] for l in metrics["levels"]]
        left.plot(n, [l["throughput_per_hour"] or 0 for l in metrics["levels"]], "o-", label=metrics["policy"])
        right.plot(n, [100 * l["api"]["throttle_rate"] for l in metrics["levels"]], "o-", label=metrics["policy"])
    if run_dirs:
        bounds = (load_metrics(run_dirs[0]).get("bottleneck") or {}).get("bound_by_level", {})
        if bounds:
            left.plot([int(k) for k in bounds], list(bounds.values()), ":", color="#c44e52", label="bound")
    left.set(xlabel="concurrent pipelines (N)", ylabel="pipelines/hour (AWS time)", title="Throughput by policy")
    right.set(xlabel="concurrent pipelines (N)", ylabel="% of attempts throttled", title="Throttling by policy")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(run_dirs: list[Path], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    text = table(run_dirs)
    (out_dir / "policies.txt").write_text(text + "\n")
    (out_dir / "policies.json").write_text(json.dumps({"runs": [str(d) for d in run_dirs],
                                                       "columns": COLUMNS, "rows": rows(run_dirs)}, indent=2))
    return {"table": out_dir / "policies.txt", "plot": plot(run_dirs, out_dir / "policies.png")}
