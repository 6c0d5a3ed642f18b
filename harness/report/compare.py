"""Comparing two runs: what moved, level by level, and the thresholds (thresholds.py) judged on
HEAD, relative ones against BASE's figure:

    throughput@32 >= 0.9*base        pipelines/hour at N=32, against BASE's at N=32
    p95(pipeline)@32 < 1.2*base      pipeline duration p95, against BASE's
    failed == 0                      an absolute threshold: HEAD's figure alone
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.report.thresholds import ThresholdError, measure, parse

__all__ = ["Check", "ThresholdError", "check", "load_metrics", "moved"]


@dataclass
class Check:
    expression: str
    base: float | None
    head: float | None
    limit: float | None
    passed: bool
    note: str = ""


def _measure(metrics: dict, n: int | None) -> str:
    """How a level's throughput was measured: "batch" (completed / level time) or "window"
    (steady state, whether by fractions or departures; the two estimate the same rate)."""
    levels = {level["level"]: level for level in metrics["levels"]}
    level = (levels.get(n) if n is not None else levels[max(levels)] if levels else None) or {}
    return "batch" if level.get("throughput_method", "batch") == "batch" else "window"


def check(expression: str, base: dict, head: dict) -> Check:
    threshold = parse(expression)
    head_value = measure(threshold, head)
    base_value = measure(threshold, base)
    limit: float | None
    if threshold.factor is None:
        limit = threshold.limit
    else:
        limit = None if base_value is None else threshold.factor * base_value
    passed = head_value is not None and limit is not None and threshold.passes(head_value, limit)
    note = ""
    measures = (_measure(base, threshold.level), _measure(head, threshold.level))
    if threshold.metric == "throughput" and threshold.relative and measures[0] != measures[1]:
        # A batch's rate includes its ramp-up and tail; a window's does not: about 1.5x apart at N=32.
        passed = False
        note = (
            f"base measured throughput as a {measures[0]}, head as a {measures[1]}: "
            "not comparable; make a new baseline from a run of the same scenario"
        )
    return Check(expression, base_value, head_value, limit, passed, note)


def load_metrics(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    path = run_dir / "metrics.json"
    if not path.exists():
        from harness.report.render import render

        render(run_dir)
    return json.loads(path.read_text())


def moved(base: dict, head: dict) -> list[list[str]]:
    """What changed, level by level: throughput, p95, throttle rate, failures."""
    rows = []
    base_levels = {level["level"]: level for level in base["levels"]}
    for level in head["levels"]:
        b = base_levels.get(level["level"])
        if b is None:
            continue
        for name, get in (
            ("throughput/h", lambda level: level["throughput_per_hour"]),
            ("p95 pipeline s", lambda level: level["pipeline_seconds"]["p95"]),
            ("throttle rate", lambda level: level["api"]["throttle_rate"]),
            ("failed", lambda level: level["failed"]),
        ):
            bv, hv = get(b), get(level)
            change = "-" if not bv or hv is None else f"{100 * (hv - bv) / bv:+.1f}%"
            rows.append(
                [
                    str(level["level"]),
                    name,
                    "-" if bv is None else f"{bv:.4g}",
                    "-" if hv is None else f"{hv:.4g}",
                    change,
                ]
            )
    return rows
