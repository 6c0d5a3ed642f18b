"""Virtual time against the wall: the main job's scenario at low N, where the wall-clock mode's
own overhead is small, run on the wall several times (its noise) and on virtual time (which
repeats itself, so one run is the figure; a second checks that). Printed, per level: p50, p95,
throughput and quota wait per pipeline, virtual beside the wall runs' mean and range.

    .venv/bin/python benchmarks/virtual_vs_wall.py [--levels 4,8] [--time-scale 1/120] [--wall-runs 3]

Run it on a quiet machine: the wall runs measure the machine too (that is the point).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {  # metrics.json, per level: what the table shows (AWS time)
    "p50 min": lambda level: level["pipeline_seconds"]["p50"] / 60,
    "p95 min": lambda level: level["pipeline_seconds"]["p95"] / 60,
    "pipelines/h": lambda level: level["throughput_per_hour"],
    "quota wait s/pipeline": lambda level: level["waits"]["quota_wait_seconds_per_pipeline"],
    # the wall's own overhead (harness and simulator CPU, as AWS time): 0 on virtual time
    "overhead % of pipeline": lambda level: 100 * ((level.get("overhead") or {}).get("share_of_pipeline") or 0.0),
}


def run(scenario: str, levels: str, reports: Path, *overrides: str) -> tuple[dict, float]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", scenario, "--levels", levels, "--reports", str(reports)]
        + list(overrides),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"harness run exited {done.returncode}:\n{done.stderr[-3000:]}")
    newest = max((p for p in reports.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    return json.loads((newest / "metrics.json").read_text()), time.monotonic() - began


def figures(metrics: dict) -> dict[int, dict[str, float]]:
    return {level["level"]: {name: get(level) for name, get in FIGURES.items()} for level in metrics["levels"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="stress")
    parser.add_argument("--levels", default="4,8")
    parser.add_argument("--time-scale", default="1/120")
    parser.add_argument("--wall-runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        reports = Path(folder)
        virtual, virtual_wall = run(args.scenario, args.levels, reports, "--time", "virtual")
        again, _ = run(args.scenario, args.levels, reports, "--time", "virtual")
        walls, wall_seconds = [], []
        for _ in range(args.wall_runs):
            metrics, took = run(args.scenario, args.levels, reports, "--time", "wall", "--time-scale", args.time_scale)
            walls.append(figures(metrics))
            wall_seconds.append(took)
    mine = figures(virtual)
    print(
        f"{args.scenario}, levels {args.levels}: virtual time ({virtual_wall:.0f} s wall; a second run "
        f"{'gave the same figures' if figures(again) == mine else 'DIFFERED'}) against {args.wall_runs} wall runs "
        f"at time scale {args.time_scale} ({', '.join(f'{s:.0f}' for s in wall_seconds)} s wall)\n"
    )
    print("| N | figure | virtual | wall mean | wall range | virtual vs wall mean |")
    print("|---|---|---|---|---|---|")
    for level, row in mine.items():
        for name, value in row.items():
            samples = [w[level][name] for w in walls]
            mean = statistics.fmean(samples)
            change = f"{(value - mean) / mean:+.1%}" if mean else "-"
            spread = f"{min(samples):.1f} to {max(samples):.1f}"
            print(f"| {level} | {name} | {value:.1f} | {mean:.1f} | {spread} | {change} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
